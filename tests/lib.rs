//! Test support shared by the integration tests: a fault-injecting object store and a
//! real S3-compatible server (moto) on 127.0.0.1.

pub mod faulty;
pub mod moto;
