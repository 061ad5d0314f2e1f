//! What open-data portals harvest about a snapshot: a Frictionless Data Package
//! ([`datapackage`](mod@datapackage)) and a DCAT-AP description in JSON-LD ([`dcat`](mod@dcat)), made from its
//! commit (the files it offers, their sizes and SHA-256) when asked for.

pub mod datapackage;
pub mod dcat;

use ess_schemas::columns::registry_label;
use ess_schemas::layout::Manifest;
use ess_schemas::{Family, Lang};

pub use datapackage::datapackage;
pub use dcat::dcat;

/// The dataset's description in `lang`.
pub fn description(lang: Lang) -> &'static str {
    match lang {
        Lang::Fr => {
            "Les coopératives, associations et mutuelles du Maroc, d'après leurs registres \
             officiels, normalisées selon des règles publiées (régions et provinces ISO 3166-2, \
             secteurs canoniques, membres et emplois par sexe), avec les lignes rejetées et \
             leur motif. Un instantané ne change jamais."
        }
        Lang::Ar => {
            "التعاونيات والجمعيات والتعاضديات بالمغرب، انطلاقا من سجلاتها الرسمية، موحدة وفق \
             قواعد منشورة (الجهات والأقاليم حسب ISO 3166-2، قطاعات موحدة، الأعضاء والأجراء حسب \
             الجنس)، مع الأسطر المرفوضة وسبب رفضها. لا تتغير أي نسخة بعد نشرها."
        }
        Lang::En => {
            "Morocco's cooperatives, associations and mutuals, from their official registries, \
             normalised by published rules (ISO 3166-2 regions and provinces, canonical \
             sectors, members and employees by sex), with the rejected rows and why. A \
             snapshot never changes."
        }
    }
}

/// The registry files of a snapshot: a title naming the registry, the file and its
/// SHA-256.
pub fn registry_sources(manifest: &Manifest, lang: Lang) -> Vec<String> {
    manifest
        .sources
        .iter()
        .filter_map(|s| {
            let family = Family::parse(&s.family)?;
            Some(format!(
                "{}: {} ({} bytes, SHA-256 {})",
                registry_label(family, lang),
                s.file,
                s.bytes,
                s.sha256
            ))
        })
        .collect()
}
