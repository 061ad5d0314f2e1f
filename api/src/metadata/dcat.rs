//! A snapshot as a DCAT-AP dataset in JSON-LD, for open-data portals that harvest
//! (CKAN's `ckanext-dcat`, data.europa.eu): title and description in French, Arabic
//! and English, publisher, licence, temporal and spatial coverage, and one
//! distribution per download with its URL, media type, size and SHA-256. The
//! `@context` is inline, so no harvester needs the network to read it.

use ess_schemas::Lang;
use ess_schemas::layout::Manifest;
use serde_json::{Value, json};

use crate::citation::{LICENCE, PUBLISHER, title};
use crate::downloads::{DCAT, url};
use crate::metadata::{description, registry_sources};

/// Morocco in the EU's country authority table (DCAT-AP's vocabulary for
/// `dct:spatial`).
const MOROCCO: &str = "http://publications.europa.eu/resource/authority/country/MAR";

/// The DCAT description of `manifest`'s snapshot. `base`: the server's public
/// address; `first_year`: the earliest founding year among its organisations (the
/// start of its temporal coverage; its end is the snapshot's date).
pub fn dcat(manifest: &Manifest, base: &str, first_year: Option<i32>) -> Value {
    let id = &manifest.snapshot_id;
    let file_url = |name: &str| url(base, manifest, name);
    let langs = |f: fn(Lang) -> &'static str| {
        [Lang::Fr, Lang::Ar, Lang::En]
            .into_iter()
            .map(|l| json!({"@value": f(l), "@language": l.tag()}))
            .collect::<Vec<_>>()
    };
    let date = manifest
        .created_at
        .get(..10)
        .unwrap_or(&manifest.created_at);
    let mut temporal = json!({
        "@type": "dct:PeriodOfTime",
        "dcat:endDate": {"@value": date, "@type": "xsd:date"},
    });
    if let Some(year) = first_year {
        temporal["dcat:startDate"] =
            json!({"@value": format!("{year:04}-01-01"), "@type": "xsd:date"});
    }
    let distributions: Vec<Value> = manifest
        .downloads
        .iter()
        .map(|d| {
            json!({
                "@id": file_url(&d.name),
                "@type": "dcat:Distribution",
                "dct:title": d.name,
                "dcat:accessURL": {"@id": file_url(&d.name)},
                "dcat:downloadURL": {"@id": file_url(&d.name)},
                "dcat:mediaType": {"@id": format!("https://www.iana.org/assignments/media-types/{}", d.media_type)},
                "dcat:byteSize": {"@value": d.bytes.to_string(), "@type": "xsd:nonNegativeInteger"},
                "spdx:checksum": {
                    "@type": "spdx:Checksum",
                    "spdx:algorithm": {"@id": "spdx:checksumAlgorithm_sha256"},
                    "spdx:checksumValue": {"@value": d.sha256, "@type": "xsd:hexBinary"},
                },
                "dct:license": {"@id": LICENCE.2},
            })
        })
        .collect();
    json!({
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "foaf": "http://xmlns.com/foaf/0.1/",
            "spdx": "http://spdx.org/rdf/terms#",
            "xsd": "http://www.w3.org/2001/XMLSchema#",
        },
        "@id": format!("{}#dataset", file_url(DCAT)),
        "@type": "dcat:Dataset",
        "dct:identifier": format!("ess-morocco-organisations-{id}"),
        "dct:title": langs(title),
        "dct:description": langs(description),
        "dct:publisher": {"@id": base, "@type": "foaf:Agent", "foaf:name": PUBLISHER},
        "dct:license": {"@id": LICENCE.2},
        "dct:issued": {"@value": manifest.created_at, "@type": "xsd:dateTime"},
        "dct:temporal": temporal,
        "dct:spatial": {"@id": MOROCCO},
        "dct:source": registry_sources(manifest, Lang::En),
        "dcat:version": id,
        "dcat:keyword": ["économie sociale et solidaire", "coopératives", "associations", "mutuelles", "social and solidarity economy", "cooperatives", "Morocco"],
        "dcat:landingPage": {"@id": base},
        "dcat:distribution": distributions,
    })
}
