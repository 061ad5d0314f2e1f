//! The files a snapshot offers for download: those its commit records (every
//! organisation, one file per family, the quarantine, the ingest report; each with
//! its size, rows and SHA-256), and its portal metadata (`datapackage.json`,
//! `dcat.jsonld`), made when asked for from the commit and the server's address.
//!
//! A file is found by its public name in this list and nowhere else: no name a
//! client sends is ever turned into a store path.

use bytes::Bytes;
use ess_query::{AggregateRequest, Dimension, Filter};
use ess_schemas::layout::{DownloadFile, Manifest};
use sha2::{Digest, Sha256};

use crate::metadata;
use crate::state::Served;

/// The Data Package's name.
pub const DATAPACKAGE: &str = "datapackage.json";

/// The DCAT description's name.
pub const DCAT: &str = "dcat.jsonld";

/// One downloadable file.
#[derive(Debug, Clone)]
pub struct Listed {
    /// Its public name.
    pub name: String,
    /// Its absolute URL.
    pub url: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Rows, for tables.
    pub rows: Option<u64>,
    /// SHA-256, hex.
    pub sha256: String,
    /// Media type.
    pub media_type: String,
    /// Where its bytes are.
    pub body: Body,
}

/// Where a file's bytes are.
#[derive(Debug, Clone)]
pub enum Body {
    /// In the store, at this path.
    Stored(String),
    /// Made now.
    Made(Bytes),
}

/// A file's URL.
pub fn url(base: &str, manifest: &Manifest, name: &str) -> String {
    format!("{base}/downloads/{}/{name}", manifest.snapshot_id)
}

/// Every file of `served`'s snapshot, stored ones first.
pub async fn list(served: &Served, base: &str) -> ess_query::Result<Vec<Listed>> {
    let manifest = served.manifest();
    let mut files: Vec<Listed> = manifest
        .downloads
        .iter()
        .map(|d: &DownloadFile| Listed {
            name: d.name.clone(),
            url: url(base, manifest, &d.name),
            bytes: d.bytes,
            rows: d.rows,
            sha256: d.sha256.clone(),
            media_type: d.media_type.clone(),
            body: Body::Stored(d.path.clone()),
        })
        .collect();
    let first_year = first_founding_year(served).await?;
    for (name, value, media_type) in [
        (
            DATAPACKAGE,
            metadata::datapackage(manifest, base),
            "application/json",
        ),
        (
            DCAT,
            metadata::dcat(manifest, base, first_year),
            "application/ld+json",
        ),
    ] {
        let bytes = Bytes::from(serde_json::to_vec_pretty(&value).expect("JSON serialises"));
        files.push(Listed {
            name: name.into(),
            url: url(base, manifest, name),
            bytes: bytes.len() as u64,
            rows: None,
            sha256: Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            media_type: media_type.into(),
            body: Body::Made(bytes),
        });
    }
    Ok(files)
}

/// The earliest founding year of the snapshot's organisations (from its rollup).
async fn first_founding_year(served: &Served) -> ess_query::Result<Option<i32>> {
    let by_year = served
        .engine
        .aggregate(&AggregateRequest {
            group_by: vec![Dimension::FoundedYear],
            filter: Filter::default(),
        })
        .await?;
    Ok(by_year
        .group_list()
        .iter()
        .filter_map(|g| g.key.founded_year)
        .min())
}
