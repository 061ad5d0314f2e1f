//! A snapshot as a Frictionless Data Package (v2 profile): its tables as resources
//! with their path (beside `datapackage.json`, so the package works downloaded as
//! well as on the server), size, SHA-256, rows and table schema (field descriptions
//! in French and English), and the licence and sources.

use ess_schemas::Lang;
use ess_schemas::columns::{ColumnDoc, ORGANISATION_COLUMNS, QUARANTINE_COLUMNS};
use ess_schemas::layout::{ALL_ORGANISATIONS_FILE, DownloadFile, Manifest, QUARANTINE_FILE};
use serde_json::{Value, json};

use crate::citation::{LICENCE, PUBLISHER, title};
use crate::downloads::{DATAPACKAGE, url};
use crate::metadata::{description, registry_sources};

/// The Data Package of `manifest`'s snapshot; `base` is the server's public address.
pub fn datapackage(manifest: &Manifest, base: &str) -> Value {
    let id = &manifest.snapshot_id;
    let resources: Vec<Value> = manifest.downloads.iter().map(resource).collect();
    json!({
        "$schema": "https://datapackage.org/profiles/2.0/datapackage.json",
        "name": format!("ess-morocco-organisations-{id}"),
        "id": url(base, manifest, DATAPACKAGE),
        "title": title(Lang::Fr),
        "description": description(Lang::Fr),
        "version": id,
        "created": manifest.created_at,
        "homepage": base,
        "keywords": ["économie sociale et solidaire", "coopératives", "associations", "mutuelles", "Maroc", "social and solidarity economy", "cooperatives", "Morocco"],
        "licenses": [{"name": LICENCE.0, "title": LICENCE.1, "path": LICENCE.2}],
        "contributors": [{"title": PUBLISHER, "roles": ["publisher"]}],
        "sources": registry_sources(manifest, Lang::Fr)
            .into_iter()
            .map(|title| json!({"title": title}))
            .collect::<Vec<_>>(),
        "resources": resources,
    })
}

fn resource(file: &DownloadFile) -> Value {
    let mut r = json!({
        "name": file.name.trim_end_matches(".parquet").trim_end_matches(".json"),
        "path": file.name,
        "mediatype": file.media_type,
        "bytes": file.bytes,
        "hash": format!("sha256:{}", file.sha256),
    });
    let columns: Option<&[ColumnDoc]> = if file.name == QUARANTINE_FILE {
        Some(QUARANTINE_COLUMNS)
    } else if file.name.ends_with(".parquet") {
        Some(ORGANISATION_COLUMNS)
    } else {
        None
    };
    let obj = r.as_object_mut().expect("an object");
    match columns {
        Some(columns) => {
            obj.insert("type".into(), json!("table"));
            obj.insert("format".into(), json!("parquet"));
            if let Some(rows) = file.rows {
                obj.insert("rows".into(), json!(rows));
            }
            let mut schema = json!({
                "$schema": "https://datapackage.org/profiles/2.0/tableschema.json",
                "fields": columns.iter().map(field).collect::<Vec<_>>(),
            });
            if columns == ORGANISATION_COLUMNS {
                schema["primaryKey"] = json!(["org_id"]);
            }
            obj.insert("schema".into(), schema);
            obj.insert("title".into(), json!(resource_title(&file.name)));
        }
        None => {
            // Not a table: frictionless reads a `report.json` as one of its own
            // reports unless told its type.
            obj.insert("type".into(), json!("json"));
            obj.insert("format".into(), json!("json"));
            obj.insert(
                "title".into(),
                json!("Rapport d'ingestion (comptes par fichier, rejets, doublons) / Ingest report (counts per file, rejections, duplicates)"),
            );
        }
    }
    r
}

fn resource_title(name: &str) -> String {
    match name {
        ALL_ORGANISATIONS_FILE => "Toutes les organisations / Every organisation".into(),
        QUARANTINE_FILE => {
            "Lignes rejetées des registres, avec leur motif / Registry rows rejected, with the reason".into()
        }
        other => {
            let family = other
                .trim_start_matches("organisations-")
                .trim_end_matches(".parquet");
            format!("Organisations : {family} / Organisations: {family}")
        }
    }
}

fn field(c: &ColumnDoc) -> Value {
    let mut f = json!({
        "name": c.name,
        "type": c.kind,
        "title": c.heading(Lang::Fr),
        "description": c.fr,
        "description_en": c.en,
        "title_en": c.heading(Lang::En),
        "title_ar": c.heading(Lang::Ar),
    });
    if c.kind == "array" {
        f["arrayItem"] = json!({"type": "string"});
    }
    f
}
