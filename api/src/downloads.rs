//! The files a snapshot offers for download: those its commit records (every
//! organisation, one file per family, the quarantine, the ingest report; each with
//! its size, rows and SHA-256), and its portal metadata (`datapackage.json`,
//! `dcat.jsonld`), made when asked for from the commit and the server's address.
//!
//! A file is found by its public name in this list and nowhere else: no name a
//! client sends is ever turned into a store path.

use bytes::Bytes;
use ess_ingest::downloads::sha256_hex;
use ess_query::{AggregateRequest, Dimension, Filter};
use ess_schemas::layout::{DownloadFile, Manifest};

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
    let mut files = stored(served.manifest(), base);
    files.extend(made(served, base).await?);
    Ok(files)
}

/// The file of `served`'s snapshot named `name`, if it has one. A stored file is
/// found in the commit alone (what every range request of a remote reader asks); the
/// portal metadata is made only when it is the file asked for.
pub async fn find(served: &Served, base: &str, name: &str) -> ess_query::Result<Option<Listed>> {
    if let Some(file) = stored(served.manifest(), base)
        .into_iter()
        .find(|f| f.name == name)
    {
        return Ok(Some(file));
    }
    if name != DATAPACKAGE && name != DCAT {
        return Ok(None);
    }
    Ok(made(served, base)
        .await?
        .into_iter()
        .find(|f| f.name == name))
}

/// The files the snapshot's commit records.
fn stored(manifest: &Manifest, base: &str) -> Vec<Listed> {
    manifest
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
        .collect()
}

/// The Data Package and the DCAT description, made now.
async fn made(served: &Served, base: &str) -> ess_query::Result<Vec<Listed>> {
    let manifest = served.manifest();
    let first_year = first_founding_year(served).await?;
    Ok([
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
    ]
    .into_iter()
    .map(|(name, value, media_type)| {
        let bytes = Bytes::from(serde_json::to_vec_pretty(&value).expect("JSON serialises"));
        Listed {
            name: name.into(),
            url: url(base, manifest, name),
            bytes: bytes.len() as u64,
            rows: None,
            sha256: sha256_hex(&bytes),
            media_type: media_type.into(),
            body: Body::Made(bytes),
        }
    })
    .collect())
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
