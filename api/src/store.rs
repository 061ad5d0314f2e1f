//! `STORE` and `FILE` arguments: a local directory, `file:///path`, `memory://`, or
//! `s3://bucket/prefix` configured by the standard `AWS_*` variables.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ess_ingest::{SourceData, SourceFile};
use ess_schemas::Family;
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;

/// Why a store or file argument cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The argument is not a path or URL of a supported scheme.
    #[error(
        "`{spec}` is not a store: give a directory, file:///path, memory:// or s3://bucket/prefix"
    )]
    Unsupported {
        /// The argument.
        spec: String,
    },
    /// A local directory could not be created or resolved.
    #[error("cannot use the directory `{path}`: {source}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The S3 client could not be configured.
    #[error(
        "cannot configure S3 for `{spec}`: {source}; set AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION (and AWS_ALLOW_HTTP=true for http endpoints)"
    )]
    S3 {
        /// The argument.
        spec: String,
        /// The cause.
        source: object_store::Error,
    },
    /// A registry file argument that cannot be read.
    #[error("`{spec}` is not a registry file: {reason}")]
    File {
        /// The argument.
        spec: String,
        /// Why.
        reason: String,
    },
}

/// The standard `AWS_*` settings, read once from the environment by `main`.
#[derive(Debug, Clone, Default)]
pub struct AwsSettings(pub Vec<(String, String)>);

impl AwsSettings {
    /// Every `AWS_*` variable of the process environment.
    pub fn from_env() -> Self {
        AwsSettings(
            std::env::vars()
                .filter(|(k, _)| k.starts_with("AWS_"))
                .collect(),
        )
    }
}

/// An opened store and how to name the objects in it.
#[derive(Debug, Clone)]
pub struct Store {
    /// The store, rooted at the argument's path or prefix.
    pub store: Arc<dyn ObjectStore>,
    /// The URL of the store root (no trailing slash), e.g. `file:///data/ess`.
    pub url: String,
}

impl Store {
    /// The directory of a local store.
    pub fn local_root(&self) -> Option<&Path> {
        self.url.strip_prefix("file://").map(Path::new)
    }

    /// The full location of an object, e.g. `s3://bucket/prefix/snapshots/…`.
    pub fn location(&self, path: &str) -> String {
        format!("{}/{path}", self.url)
    }
}

/// Opens a `STORE` argument. Local directories are created when missing.
pub fn open_store(spec: &str, aws: &AwsSettings) -> Result<Store, StoreError> {
    if spec.starts_with("memory://") {
        return Ok(Store {
            store: Arc::new(InMemory::new()),
            url: "memory://".into(),
        });
    }
    if let Some(rest) = spec.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_matches('/');
        if bucket.is_empty() {
            return Err(StoreError::Unsupported { spec: spec.into() });
        }
        let s3 = s3_store(spec, bucket, aws)?;
        let url = if prefix.is_empty() {
            format!("s3://{bucket}")
        } else {
            format!("s3://{bucket}/{prefix}")
        };
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            s3
        } else {
            Arc::new(crate::prefix::PrefixedStore::new(s3, prefix))
        };
        return Ok(Store { store, url });
    }
    let path = if let Some(rest) = spec.strip_prefix("file://") {
        PathBuf::from(rest)
    } else if spec.contains("://") {
        return Err(StoreError::Unsupported { spec: spec.into() });
    } else {
        PathBuf::from(spec)
    };
    open_local(&path)
}

fn open_local(path: &Path) -> Result<Store, StoreError> {
    let dir_err = |source| StoreError::Directory {
        path: path.to_owned(),
        source,
    };
    std::fs::create_dir_all(path).map_err(dir_err)?;
    let root = path.canonicalize().map_err(dir_err)?;
    let store = LocalFileSystem::new_with_prefix(&root).map_err(|e| StoreError::Directory {
        path: root.clone(),
        source: std::io::Error::other(e),
    })?;
    Ok(Store {
        store: Arc::new(store),
        url: format!("file://{}", root.display()),
    })
}

/// An S3 client for `bucket`, configured by the `AWS_*` settings.
fn s3_store(
    spec: &str,
    bucket: &str,
    aws: &AwsSettings,
) -> Result<Arc<dyn ObjectStore>, StoreError> {
    let mut builder = AmazonS3Builder::new().with_bucket_name(bucket);
    for (key, value) in &aws.0 {
        if let Ok(config_key) = key.to_ascii_lowercase().parse() {
            builder = builder.with_config(config_key, value);
        }
    }
    let store = builder.build().map_err(|source| StoreError::S3 {
        spec: spec.into(),
        source,
    })?;
    Ok(Arc::new(store))
}

/// A `FILE` argument: a local path, `file:///path`, or `s3://bucket/key`.
pub fn source_file(
    family: Family,
    spec: &str,
    aws: &AwsSettings,
) -> Result<SourceFile, StoreError> {
    if let Some(rest) = spec.strip_prefix("s3://") {
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() || key.is_empty() {
            return Err(StoreError::File {
                spec: spec.into(),
                reason: "an S3 file is s3://bucket/key".into(),
            });
        }
        let store = s3_store(spec, bucket, aws)?;
        let name = key.rsplit('/').next().unwrap_or(key).to_owned();
        return Ok(SourceFile {
            family,
            name,
            data: SourceData::Object {
                store,
                path: object_store::path::Path::from(key),
            },
        });
    }
    let path = match spec.strip_prefix("file://") {
        Some(rest) => PathBuf::from(rest),
        None if spec.contains("://") => {
            return Err(StoreError::File {
                spec: spec.into(),
                reason: "give a local path, file:///path or s3://bucket/key".into(),
            });
        }
        None => PathBuf::from(spec),
    };
    if !path.is_file() {
        return Err(StoreError::File {
            spec: spec.into(),
            reason: "no such file".into(),
        });
    }
    Ok(SourceFile::path(family, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_directories_are_created_and_named_by_url() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a/b");
        let store = open_store(target.to_str().unwrap(), &AwsSettings::default()).unwrap();
        assert!(target.is_dir());
        assert!(store.url.starts_with("file:///"), "{}", store.url);
        assert!(store.location("x.parquet").ends_with("/a/b/x.parquet"));
        let again = open_store(
            &format!("file://{}", target.display()),
            &AwsSettings::default(),
        )
        .unwrap();
        assert_eq!(again.url, store.url);
    }

    #[test]
    fn unsupported_schemes_and_missing_files_are_clear_errors() {
        let e = open_store("gs://bucket", &AwsSettings::default()).unwrap_err();
        assert!(e.to_string().contains("s3://bucket/prefix"), "{e}");
        let e = source_file(
            Family::Cooperative,
            "/no/such/file.csv",
            &AwsSettings::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("no such file"), "{e}");
        assert!(open_store("memory://", &AwsSettings::default()).is_ok());
    }

    #[test]
    fn s3_stores_take_their_prefix() {
        let aws = AwsSettings(vec![
            ("AWS_ENDPOINT_URL".into(), "http://127.0.0.1:1".into()),
            ("AWS_ALLOW_HTTP".into(), "true".into()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID".into(), "k".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "s".into()),
        ]);
        let s = open_store("s3://bucket/some/prefix/", &aws).unwrap();
        assert_eq!(s.url, "s3://bucket/some/prefix");
        assert_eq!(
            s.location("_manifests/x.json"),
            "s3://bucket/some/prefix/_manifests/x.json"
        );
    }
}
