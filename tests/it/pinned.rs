//! Whole answers pinned as `insta` snapshots (`tests/it/snapshots/`): the ingest
//! report of the samples and GraphQL answers on them, every field as a client sees
//! it. What changes from run to run (run id, duration, the snapshot's date, the
//! sizes of files that hold it, request ids) is redacted; everything else must stay
//! byte for byte. After a deliberate change, `cargo insta review` (or
//! `INSTA_UPDATE=always`) rewrites them.

use serde_json::Value;

use crate::http::sample_client;
use crate::support::published_samples;

/// Dates and times inside texts (citations name the snapshot's date).
const DATES: &str = r"\d{4}-\d{2}-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2})?)?";

#[tokio::test]
async fn the_ingest_report_of_the_samples() {
    let (_, outcome) = published_samples().await;
    assert!(outcome.report.reconciles());
    insta::assert_json_snapshot!("ingest_report", outcome.report, {
        ".run_id" => "[run id]",
        ".seconds" => "[seconds]",
    });
}

#[tokio::test]
async fn graphql_answers_on_the_samples() {
    let client = sample_client().await;
    let answer = |query: &'static str| {
        let client = &client;
        async move { client.graphql(query, Value::Null).await }
    };
    let census = answer(
        r#"{ aggregate(groupBy: [REGION], filter: {family: [COOPERATIVE]}) {
                  rows { region { code name(lang: EN) } organisations members membersWomen
                         employees employeesWomen employeesMen genderCoverage womenEmploymentShare
                         census { area population populationMunicipal populationWomen populationMen
                                  employed employedWomen employedMen employeesShareOfEmployed
                                  employeesWomenShareOfEmployedWomen employeesMenShareOfEmployedMen
                                  censusCooperativeMembers censusCooperativeMembersWomen
                                  censusCooperativeMembersMen } }
                  total { organisations members membersWomen census { area population } }
                  snapshot { id }
                  citation(lang: EN) { text url } } }"#,
    )
    .await;
    // The citation names the snapshot's date.
    let mut dated = insta::Settings::clone_current();
    dated.add_filter(DATES, "[date]");
    dated.bind(|| insta::assert_json_snapshot!("cooperatives_by_region_with_census", census));
    insta::assert_json_snapshot!(
        "snapshot",
        answer(
            "{ snapshot { id sequence organisations rejected
                   files { family file rowsRead accepted rejected superseded }
                   downloads { name url bytes rows mediaType } } }"
        )
        .await,
        { ".data.snapshot.downloads[].bytes" => "[bytes]" }
    );
    insta::assert_json_snapshot!(
        "search_page",
        answer(
            r#"{ organisations(search: "zitoune", first: 3) {
                  totalCount pageInfo { hasNextPage }
                  edges { node { orgId family sourceId name nameAr sectorCode activities
                    regionCode provinceCode foundedOn foundedYear status membersTotal
                    membersWomen employeesTotal employeesWomen employeesMen volunteers
                    publicUtility qualityFlags sourceFile sourceRow } } } }"#
        )
        .await
    );
    insta::assert_json_snapshot!(
        "an_unknown_region",
        answer(r#"{ aggregate(groupBy: [], filter: {region: ["MA-99"]}) { total { organisations } } }"#)
            .await,
        { ".errors[].extensions.requestId" => "[request id]" }
    );
}
