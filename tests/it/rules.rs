//! SOURCES.md's rules on files the samples do not show, with aggregates worked out by
//! hand: Windows-1252 with commas and CRLF, a BOM, quoted line breaks, thousands
//! separators, legacy and Arabic region names, duplicates across files and families,
//! broken JSON, an XLSX with a title row and text dates.

use std::sync::Arc;

use ess_ingest::{IngestJob, SourceFile};
use ess_query::{AggregateRequest, Dimension, Filter, OrganisationsRequest, SnapshotEngine};
use ess_schemas::measures::Sums;
use ess_schemas::{Family, Status};
use object_store::ObjectStore;
use object_store::memory::InMemory;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

/// Windows-1252, `,`, CRLF; `é` is 0xE9, `ê` 0xEA, a no-break space 0xA0.
const COOPS_A: &[u8] = b"Raison sociale,Numero immatriculation,Date de creation,R\xe9gion,Province,Secteur,Nombre d'adh\xe9rents,Dont femmes,Emplois permanents,Emplois femmes,Emplois hommes,Statut\r\n\
\"Coop\xe9rative A, \"\"la premi\xe8re\"\"\r\nsuite\",C1,31/12/2010,Souss-Massa,Tiznit,Argane,1\xa0200,600,10,4,6,Active\r\n\
Coop\xe9rative B,C2,2015,,Province de Berkane,P\xeache,15,-3,N/D,2,?,En liquidation\r\n\
Coop\xe9rative C,C3,vers 1990,Grand Casablanca,,Inconnu,7,7,5,2,2,Dissoute\r\n\
,,,,,,,,,,,\r\n\
Coop\xe9rative D,C4,01/02/2003,Atlantide,,Agriculture,x,,,,,Suspendue\r\n\
\r\n\r\n";

/// UTF-8 with BOM, `;`, LF, fewer columns.
const COOPS_B: &str = "\u{FEFF}N° immatriculation;Raison sociale;Région;Secteur;Emplois femmes;Emplois hommes\n\
C2;Coopérative B (mise à jour);Oriental;Pêche;3;4\n\
C5;;Souss-Massa;Argane;1;1\n\
;Coopérative sans numéro;;;;\n\
C6;Coopérative F;جهة سوس ماسة;argane;0;0\n";

const MUTUALS_ARRAY: &str = r#"[
 {"id": 7.0, "denomination": "Mutuelle X", "categorie": "Mutuelle de santé",
  "siege": {"region": "Fès-Meknès", "province": "Sefrou"}, "date_agrement": "2001-05-06",
  "adherents": "12 000", "effectif": {"total": 20, "femmes": 5, "hommes": 15}, "statut": "agréée"},
 "not an object",
 {"id": "M2", "denomination": "Mutuelle Y", "siege": "Rabat", "effectif": [1, 2],
  "statut": "retrait d'agrément"}
]"#;

const MUTUALS_LINES: &str = "{\"id\": 7, \"denomination\": \"Mutuelle X bis\", \"effectif\": {\"femmes\": 1, \"hommes\": 1}}\n{broken\n";

fn associations() -> Vec<u8> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Associations").unwrap();
    ws.write_string(0, 0, "Extraction du registre").unwrap();
    let headers = ess_ingest::input_fields::ASSOCIATION_HEADER_ROW;
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(2, c as u16, *h).unwrap();
    }
    let date = Format::new().set_num_format("yyyy-mm-dd");
    ws.write_string(3, 0, "A1").unwrap();
    ws.write_string(3, 1, "Assoc 1").unwrap();
    ws.write_string(3, 3, "Santé / Culture").unwrap();
    ws.write_string(3, 4, "Souss Massa").unwrap();
    ws.write_string(3, 5, "Agadir").unwrap();
    ws.write_datetime_with_format(3, 6, ExcelDateTime::from_ymd(2010, 1, 1).unwrap(), &date)
        .unwrap();
    ws.write_number(3, 7, 10).unwrap();
    ws.write_number(3, 8, 1).unwrap();
    ws.write_number(3, 9, 2).unwrap();
    ws.write_number(3, 10, 3).unwrap();
    ws.write_string(3, 11, "Oui").unwrap();
    ws.write_string(4, 0, "A2").unwrap();
    ws.write_string(4, 2, "جمعية").unwrap();
    ws.write_string(4, 3, "Autre").unwrap();
    ws.write_string(4, 6, "15/03/1999").unwrap();
    ws.write_string(4, 7, "1 000").unwrap();
    wb.save_to_buffer().unwrap()
}

async fn engine() -> (SnapshotEngine, ess_ingest::IngestOutcome) {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let outcome = IngestJob::builder()
        .store(store.clone())
        .source(SourceFile::bytes(
            Family::Cooperative,
            "coops_a.csv",
            COOPS_A,
        ))
        .source(SourceFile::bytes(
            Family::Mutual,
            "mutuals.json",
            MUTUALS_ARRAY,
        ))
        .source(SourceFile::bytes(
            Family::Cooperative,
            "coops_b.csv",
            COOPS_B,
        ))
        .source(SourceFile::bytes(
            Family::Association,
            "assoc.xlsx",
            associations(),
        ))
        .source(SourceFile::bytes(
            Family::Mutual,
            "mutuals.ndjson",
            MUTUALS_LINES,
        ))
        .build()
        .unwrap()
        .run()
        .await
        .unwrap();
    let engine = SnapshotEngine::open(store, outcome.manifest.clone())
        .await
        .unwrap();
    (engine, outcome)
}

#[tokio::test]
async fn the_report_reconciles_file_by_file() {
    let (_, outcome) = engine().await;
    let counts: Vec<(&str, u64, u64, u64, u64)> = outcome
        .report
        .files
        .iter()
        .map(|f| {
            (
                f.file.as_str(),
                f.rows_read,
                f.accepted,
                f.rejected,
                f.superseded,
            )
        })
        .collect();
    assert_eq!(
        counts,
        vec![
            ("coops_a.csv", 4, 4, 0, 1),
            ("mutuals.json", 3, 2, 1, 1),
            ("coops_b.csv", 4, 2, 2, 0),
            ("assoc.xlsx", 2, 2, 0, 0),
            ("mutuals.ndjson", 2, 1, 1, 0),
        ]
    );
    let a = &outcome.report.files[0];
    assert_eq!(a.encoding.as_deref(), Some("windows-1252"));
    assert_eq!(a.delimiter.as_deref(), Some(","));
    assert_eq!(a.flags["legacy_region"], 1);
    assert_eq!(a.flags["invalid_number"], 2, "C2's -3 and C4's x");
    assert_eq!(
        outcome.report.files[2].encoding.as_deref(),
        Some("UTF-8 with BOM")
    );
    assert_eq!(outcome.report.organisations, 9);
    assert_eq!(outcome.manifest.quarantine_rows, 4);
}

#[tokio::test]
async fn aggregates_by_family_and_region() {
    let (engine, _) = engine().await;
    let out = engine
        .aggregate(&AggregateRequest {
            group_by: vec![Dimension::Family],
            filter: Filter::default(),
        })
        .await
        .unwrap();
    let by_family = |f: Family| {
        out.groups()
            .unwrap()
            .into_iter()
            .find(|g| g.key.family == Some(f))
            .unwrap()
            .sums
    };
    assert_eq!(
        by_family(Family::Cooperative),
        Sums {
            organisations: 5,
            members: 1207,
            members_women: 607,
            employees: 22,
            employees_women: 9,
            employees_men: 12,
            gender_known: 4,
            gender_known_women: 9,
            gender_known_men: 12,
        }
    );
    let coops = by_family(Family::Cooperative);
    assert_eq!(coops.gender_coverage(), Some(0.8));
    assert_eq!(coops.women_employment_share(), Some(9.0 / 21.0));
    let mutuals = by_family(Family::Mutual);
    assert_eq!(
        (
            mutuals.organisations,
            mutuals.members,
            mutuals.employees,
            mutuals.gender_known
        ),
        (2, 0, 2, 1)
    );
    let assoc = by_family(Family::Association);
    assert_eq!(
        (assoc.organisations, assoc.members, assoc.employees),
        (2, 1010, 3)
    );
    assert_eq!(assoc.women_employment_share(), Some(1.0 / 3.0));
    assert_eq!(out.total().unwrap().organisations, 9);

    let regions = engine
        .aggregate(&AggregateRequest {
            group_by: vec![Dimension::Region],
            filter: Filter {
                families: vec![Family::Cooperative],
                ..Filter::default()
            },
        })
        .await
        .unwrap();
    let got: Vec<(Option<String>, i64)> = regions
        .groups()
        .unwrap()
        .into_iter()
        .map(|g| (g.key.region, g.sums.organisations))
        .collect();
    assert_eq!(
        got,
        vec![
            (Some("MA-02".into()), 1),
            (Some("MA-06".into()), 1),
            (Some("MA-09".into()), 2),
            (None, 1),
        ],
        "the unresolved cooperative is grouped under null, last"
    );
}

#[tokio::test]
async fn rows_keep_their_flags_and_provenance() {
    let (engine, _) = engine().await;
    let all = engine
        .organisations(&OrganisationsRequest {
            first: 100,
            ..OrganisationsRequest::default()
        })
        .await
        .unwrap()
        .organisations()
        .unwrap();
    let org = |id: &str| {
        all.iter()
            .find(|o| o.org_id == id)
            .unwrap_or_else(|| panic!("{id}"))
    };
    let flags = |id: &str| {
        org(id)
            .quality_flags
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
    };

    let c1 = org("cooperative:C1");
    assert!(c1.name.contains("\"la première\"") && c1.name.contains("suite"));
    assert_eq!((c1.source_row, c1.members_total), (2, Some(1200)));
    assert_eq!(c1.province_code.as_deref(), Some("MA-TIZ"));
    assert_eq!(
        flags("cooperative:C3"),
        [
            "invalid_date",
            "unknown_sector",
            "employment_mismatch",
            "legacy_region"
        ]
    );
    assert_eq!(org("cooperative:C3").source_row, 5);
    assert_eq!(org("cooperative:C3").status, Status::Dissolved);
    assert_eq!(
        flags("cooperative:C4"),
        ["invalid_number", "unresolved_place", "unknown_status"]
    );
    assert_eq!(org("cooperative:C4").source_row, 7);
    let c2 = org("cooperative:C2");
    assert_eq!(
        (c2.source_file.as_str(), c2.source_row),
        ("coops_b.csv", 2),
        "last wins"
    );
    assert_eq!(c2.region_code.as_deref(), Some("MA-02"));
    assert_eq!(c2.employees_total, Some(7));
    assert_eq!(org("cooperative:C6").region_code.as_deref(), Some("MA-09"));

    let m7 = org("mutual:7");
    assert_eq!(
        (m7.name.as_str(), m7.source_file.as_str()),
        ("Mutuelle X bis", "mutuals.ndjson")
    );
    let m2 = org("mutual:M2");
    assert_eq!(
        (m2.region_code.clone(), m2.employees_total, m2.status),
        (None, None, Status::Dissolved)
    );

    let a1 = org("association:A1");
    assert_eq!(a1.sector_code, "HEALTH");
    assert_eq!(a1.activities, ["Santé", "Culture"]);
    assert_eq!(
        (a1.region_code.as_deref(), a1.province_code.as_deref()),
        (Some("MA-09"), Some("MA-AGD"))
    );
    assert_eq!(
        (a1.source_row, a1.volunteers, a1.public_utility),
        (4, Some(3), Some(true))
    );
    let a2 = org("association:A2");
    assert_eq!(
        (a2.name.as_str(), a2.founded_year, a2.members_total),
        ("جمعية", Some(1999), Some(1000))
    );
    assert_eq!(a2.sector_code, "OTHER");
    assert!(a2.quality_flags.is_empty());
    assert_eq!(all.len(), 9);
}
