//! How an answer is cited: the dataset, the snapshot (id and date), the registries it
//! was made from, the licence, and a permanent link that gives the same numbers again
//! later (it names the snapshot, which never changes).

use ess_schemas::columns::registry_label;
use ess_schemas::layout::Manifest;
use ess_schemas::{Family, Lang};

use crate::export::{ExportKind, ExportParams};

/// The dataset's title in French, Arabic and English.
pub const TITLE: [&str; 3] = [
    "Organisations de l'économie sociale et solidaire du Maroc",
    "هيئات الاقتصاد الاجتماعي والتضامني بالمغرب",
    "Organisations of Morocco's social and solidarity economy",
];

/// The publisher, as citations and portal metadata name it.
pub const PUBLISHER: &str = "ESS Open Data";

/// The licence of the data: its SPDX id, name and URL.
pub const LICENCE: (&str, &str, &str) = (
    "CC-BY-4.0",
    "Creative Commons Attribution 4.0 International",
    "https://creativecommons.org/licenses/by/4.0/",
);

/// A citation: the text to quote, and the link that reproduces the numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Citation {
    /// The whole reference, link included.
    pub text: String,
    /// The permanent link.
    pub url: String,
}

/// The title in `lang`.
pub fn title(lang: Lang) -> &'static str {
    TITLE[lang.index()]
}

/// The citation of the numbers `params` asks of `manifest`'s snapshot, with the
/// permanent link of that export on the server at `base`.
pub fn cite_export(
    manifest: &Manifest,
    base: &str,
    params: &ExportParams,
    kind: ExportKind,
) -> Citation {
    let url = params.permanent_url(base, &manifest.snapshot_id, kind);
    cite(manifest, params.lang, url, params.census)
}

/// The citation of numbers from `manifest`'s snapshot that `url` reproduces;
/// `census`: they are set beside the 2024 census, which is credited.
pub fn cite(manifest: &Manifest, lang: Lang, url: String, census: bool) -> Citation {
    let date = manifest
        .created_at
        .get(..10)
        .unwrap_or(&manifest.created_at);
    let sources: Vec<String> = Family::ALL
        .iter()
        .filter_map(|family| {
            let files: Vec<&str> = manifest
                .sources
                .iter()
                .filter(|s| s.family == family.as_str())
                .map(|s| s.file.as_str())
                .collect();
            (!files.is_empty())
                .then(|| format!("{} ({})", registry_label(*family, lang), files.join(", ")))
        })
        .collect();
    let id = &manifest.snapshot_id;
    let credit = if census {
        format!("{}. ", ess_schemas::census::CREDIT[lang.index()])
    } else {
        String::new()
    };
    let text = match lang {
        Lang::Fr => format!(
            "{PUBLISHER}, « {} », instantané {id} du {date}. Sources : {}. Licence CC BY 4.0. {credit}{url}",
            title(lang),
            sources.join(" ; ")
        ),
        Lang::Ar => format!(
            "{PUBLISHER}، «{}»، النسخة {id} بتاريخ {date}. المصادر: {}. الترخيص CC BY 4.0. {credit}{url}",
            title(lang),
            sources.join("؛ ")
        ),
        Lang::En => format!(
            "{PUBLISHER}, \"{}\", snapshot {id} of {date}. Sources: {}. Licence CC BY 4.0. {credit}{url}",
            title(lang),
            sources.join("; ")
        ),
    };
    Citation { text, url }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ess_schemas::layout::SourceRef;

    #[test]
    fn a_citation_names_the_snapshot_its_date_sources_and_link() {
        let manifest = Manifest {
            format: 2,
            snapshot_id: "000003".into(),
            sequence: 3,
            created_at: "2026-12-04T10:00:00.000Z".into(),
            run_id: "r".into(),
            rows: 1,
            rows_by_family: Default::default(),
            organisations_parquet: Vec::new(),
            first_founded_year: None,
            quarantine_parquet: String::new(),
            quarantine_rows: 0,
            report: String::new(),
            rollup_parquet: None,
            sources: ["cooperatives_2024.csv", "cooperatives_2025_q1.csv"]
                .into_iter()
                .map(|f| SourceRef {
                    family: "cooperative".into(),
                    file: f.into(),
                    bytes: 1,
                    sha256: String::new(),
                })
                .chain([SourceRef {
                    family: "mutual".into(),
                    file: "mutuals_acaps.json".into(),
                    bytes: 1,
                    sha256: String::new(),
                }])
                .collect(),
            writer: String::new(),
            downloads: Vec::new(),
        };
        let url = "https://ess.example/export/aggregate.csv?snapshot=000003&groupBy=region";
        let c = cite(&manifest, Lang::Fr, url.into(), false);
        assert_eq!(
            c.text,
            "ESS Open Data, « Organisations de l'économie sociale et solidaire du Maroc », \
             instantané 000003 du 2026-12-04. Sources : registre des coopératives \
             (cooperatives_2024.csv, cooperatives_2025_q1.csv) ; registre des mutuelles \
             (mutuals_acaps.json). Licence CC BY 4.0. https://ess.example/export/aggregate.csv?snapshot=000003&groupBy=region"
        );
        assert_eq!(c.url, url);
        let ar = cite(&manifest, Lang::Ar, url.into(), false);
        assert!(ar.text.contains("سجل التعاونيات") && ar.text.contains("000003"));
        let census = cite(&manifest, Lang::En, url.into(), true);
        assert!(census.text.contains("HCP, RGPH 2024"), "{}", census.text);
        assert!(!c.text.contains("HCP"));
    }
}
