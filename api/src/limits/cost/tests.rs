//! What queries cost: pages, diffs, past snapshots, aliases, fragments, and the
//! introspection queries of mainstream clients.

use super::*;

fn model() -> CostModel {
    CostModel::new(&crate::graphql::sdl())
}

fn context() -> CostContext {
    CostContext {
        max_groups: 900,
        snapshots: 3,
        current: 3,
        index_ready: true,
    }
}

fn analyse(query: &str) -> Result<Analysis, CostError> {
    check_nesting(query)?;
    let doc = async_graphql::parser::parse_query(query).expect("parses");
    model().analyse(
        &doc,
        None,
        &Variables::default(),
        &context(),
        &Limits::default(),
    )
}

#[test]
fn a_page_costs_in_proportion_to_first() {
    let q = |first: u32| {
        analyse(&format!(
            "{{ organisations(first: {first}) {{ edges {{ node {{ orgId name }} }} }} }}"
        ))
        .unwrap()
        .cost
    };
    // The field, its weight, `edges`, and per edge `node` with two fields.
    assert_eq!(q(10), 1 + QUERY_WEIGHT + 1 + 10 * 3);
    let large = q(1000);
    assert_eq!(large, 1 + QUERY_WEIGHT + 1 + 1000 * 3);
    // Past the largest page, the cost is the largest page's.
    assert_eq!(q(100_000), large);
}

#[test]
fn diffs_and_past_snapshots_carry_their_weight() {
    let one = analyse("{ diff { total { added } } }").unwrap().cost;
    assert!(one >= DIFF_WEIGHT, "{one}");
    let aliased: String = (0..3)
        .map(|i| format!("d{i}: diff {{ total {{ added }} }} "))
        .collect();
    let err = analyse(&format!("{{ {aliased} }}")).unwrap_err();
    assert!(matches!(err, CostError::TooComplex { .. }), "{err}");

    let current = analyse(r#"{ organisations(search: "argan") { totalCount } }"#).unwrap();
    let past =
        analyse(r#"{ organisations(search: "argan", snapshot: "1") { totalCount } }"#).unwrap();
    assert!(past.cost >= current.cost + SCAN_WEIGHT + PAST_SNAPSHOT_WEIGHT);
    // `3` and `000003` are the served snapshot.
    let same = analyse(r#"{ organisations(search: "argan", snapshot: "000003") { totalCount } }"#)
        .unwrap();
    assert_eq!(same.cost, current.cost);
}

#[test]
fn aggregate_rows_are_priced_by_the_groups_they_can_have() {
    let by = |dims: &str| {
        analyse(&format!(
            "{{ aggregate(groupBy: [{dims}]) {{ rows {{ organisations members }} }} }}"
        ))
        .unwrap()
        .cost
    };
    assert!(by("REGION") < by("REGION, SECTOR"));
    // Capped by the snapshot's groups.
    assert_eq!(
        by("PROVINCE, SECTOR, FOUNDED_YEAR"),
        by("PROVINCE, SECTOR, STATUS")
    );
}

#[test]
fn fragment_bombs_are_priced_in_linear_time_and_refused() {
    // Each fragment spreads the next one twice: 2^40 fields once expanded.
    let mut q = String::from("query { regions { ...F0 } }\n");
    for i in 0..40 {
        q.push_str(&format!(
            "fragment F{i} on Region {{ ...F{} ...F{} }}\n",
            i + 1,
            i + 1
        ));
    }
    q.push_str("fragment F40 on Region { code }\n");
    let started = std::time::Instant::now();
    let err = analyse(&q).unwrap_err();
    assert!(matches!(err, CostError::TooComplex { .. }), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn cycles_and_long_chains_are_refused_without_exhausting_the_stack() {
    let err = analyse("query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }")
        .unwrap_err();
    assert!(matches!(err, CostError::FragmentCycle { .. }), "{err}");

    let mut q = String::from("query { ...F0 }\n");
    for i in 0..20_000 {
        q.push_str(&format!("fragment F{i} on Query {{ ...F{} }}\n", i + 1));
    }
    q.push_str("fragment F20000 on Query { regions { code } }\n");
    let err = analyse(&q).unwrap_err();
    assert!(matches!(err, CostError::TooDeep { .. }), "{err}");
}

#[test]
fn nesting_is_checked_before_parsing() {
    let deep = format!("{}{}", "{ a ".repeat(10_000), "}".repeat(10_000));
    assert_eq!(
        check_nesting(&deep),
        Err(CostError::NestedTooDeeply { max: MAX_NESTING })
    );
    let list = format!("{{ a(x: {}1{}) }}", "[".repeat(100), "]".repeat(100));
    assert!(check_nesting(&list).is_err());
    // Brackets in strings and comments do not count.
    let quoted = format!(
        "{{ organisations(search: \"{}\") {{ totalCount }} }} # {}",
        "{".repeat(1000),
        "[".repeat(1000)
    );
    assert_eq!(check_nesting(&quoted), Ok(()));
    let block = format!("{{ a(x: \"\"\"{}\"\"\") }}", "(".repeat(1000));
    assert_eq!(check_nesting(&block), Ok(()));
}

#[test]
fn aliases_root_fields_and_written_fields_are_bounded() {
    let roots: String = (0..17)
        .map(|i| format!("r{i}: regions {{ code }} "))
        .collect();
    let err = analyse(&format!("{{ {roots} }}")).unwrap_err();
    assert!(
        matches!(err, CostError::TooManyRootFields { fields: 17, .. }),
        "{err}"
    );

    // Aliases count where a fragment is spread, each time.
    let aliased: String = (0..10).map(|i| format!("c{i}: code ")).collect();
    let spreads: String = (0..7)
        .map(|i| format!("r{i}: regions {{ ...R }} "))
        .collect();
    let err = analyse(&format!(
        "{{ {spreads} }} fragment R on Region {{ {aliased} }}"
    ))
    .unwrap_err();
    assert!(
        matches!(err, CostError::TooManyAliases { aliases: 77, .. }),
        "{err}"
    );

    let many: String = (0..1001).map(|i| format!("f{i}: __typename ")).collect();
    let err = analyse(&format!("{{ regions {{ {many} }} }}")).unwrap_err();
    assert!(
        matches!(err, CostError::TooManyFields { fields: 1002, .. }),
        "{err}"
    );
}

#[test]
fn introspection_nested_past_the_standard_query_is_refused() {
    let mut q = String::from("{ __schema { types { ");
    for _ in 0..8 {
        q.push_str("fields { type { ");
    }
    q.push_str("name");
    q.push_str(&" } }".repeat(8));
    q.push_str(" } } }");
    let err = analyse(&q).unwrap_err();
    assert!(
        matches!(
            err,
            CostError::TooComplex { .. } | CostError::TooDeep { .. }
        ),
        "{err}"
    );
}

#[test]
fn every_list_of_objects_in_the_schema_is_sized() {
    let model = model();
    let walk = Walk {
        model: &model,
        doc: &async_graphql::parser::parse_query("{ __typename }").unwrap(),
        variables: &Variables::default(),
        context: &context(),
        memo: HashMap::new(),
        spreading: Vec::new(),
    };
    for (ty, fields) in &model.fields {
        for (name, r) in fields {
            // Lists of scalars and enums are leaves: one field, whatever their length.
            if !r.list || !model.fields.contains_key(&r.named) {
                continue;
            }
            let field = async_graphql::parser::parse_query(format!("{{ {name} }}")).unwrap();
            let Selection::Field(f) = &field
                .operations
                .iter()
                .next()
                .unwrap()
                .1
                .node
                .selection_set
                .node
                .items[0]
                .node
            else {
                unreachable!()
            };
            let (_, _, times) = walk.price(ty, &f.node, Scope::default(), Some(r));
            assert_ne!(
                times, UNSIZED_LIST,
                "{ty}.{name} is a list the cost model does not size"
            );
        }
    }
}
