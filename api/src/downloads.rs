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
use serde::Serialize;

use crate::metadata;
use crate::state::AppState;

/// The Data Package's name.
pub const DATAPACKAGE: &str = "datapackage.json";

/// The DCAT description's name.
pub const DCAT: &str = "dcat.jsonld";

/// One downloadable file; serialised as `GET /downloads` lists it (without its body).
#[derive(Debug, Clone, Serialize)]
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
    #[serde(skip)]
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

/// Every file of `manifest`'s snapshot, stored ones first.
pub async fn list(
    state: &AppState,
    manifest: &Manifest,
    base: &str,
) -> ess_query::Result<Vec<Listed>> {
    let mut files = stored(manifest, base);
    files.extend(made(state, manifest, base, &[DATAPACKAGE, DCAT]).await?);
    Ok(files)
}

/// The file of `manifest`'s snapshot named `name`, if it has one. A stored file is
/// found in the commit alone (what every range request of a remote reader asks); the
/// portal metadata is made only when it is the file asked for.
pub async fn find(
    state: &AppState,
    manifest: &Manifest,
    base: &str,
    name: &str,
) -> ess_query::Result<Option<Listed>> {
    if let Some(file) = stored(manifest, base).into_iter().find(|f| f.name == name) {
        return Ok(Some(file));
    }
    let Some(made_name) = [DATAPACKAGE, DCAT].into_iter().find(|made| *made == name) else {
        return Ok(None);
    };
    Ok(made(state, manifest, base, &[made_name]).await?.pop())
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

/// The portal metadata named in `names` (the Data Package, the DCAT description),
/// made now, in that order.
async fn made(
    state: &AppState,
    manifest: &Manifest,
    base: &str,
    names: &[&str],
) -> ess_query::Result<Vec<Listed>> {
    let mut files = Vec::with_capacity(names.len());
    for &name in names {
        let (value, media_type) = if name == DCAT {
            let first_year = first_founding_year(state, manifest).await?;
            (
                metadata::dcat(manifest, base, first_year),
                "application/ld+json",
            )
        } else {
            (metadata::datapackage(manifest, base), "application/json")
        };
        let bytes = Bytes::from(serde_json::to_vec_pretty(&value).expect("JSON serialises"));
        files.push(Listed {
            name: name.into(),
            url: url(base, manifest, name),
            bytes: bytes.len() as u64,
            rows: None,
            sha256: sha256_hex(&bytes),
            media_type: media_type.into(),
            body: Body::Made(bytes),
        });
    }
    Ok(files)
}

/// The earliest founding year of the snapshot's organisations: from its commit (the
/// table files' statistics) without opening the snapshot, else from its rollup.
async fn first_founding_year(
    state: &AppState,
    manifest: &Manifest,
) -> ess_query::Result<Option<i32>> {
    if let Some(year) = manifest.first_founded_year {
        return Ok(year);
    }
    let served = state.snapshot(Some(&manifest.snapshot_id)).await?;
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
