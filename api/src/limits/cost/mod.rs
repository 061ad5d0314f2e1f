//! What a GraphQL request may cost, found from its document before anything runs.
//!
//! The cost of a request is the work its answer takes, counted in fields answered:
//! each field selected costs 1, and a list multiplies what is selected under it by
//! how long it can be — `edges` by the connection's `first`, an aggregate's `rows` by
//! the groups its `groupBy` can have in the served snapshot, `snapshots` by the
//! snapshots there are, an introspection list by the schema's own sizes. Some fields
//! carry the weight of the work behind them: a `diff` streams two whole snapshots, a
//! search without an index (a past snapshot's, or while the served one's is built)
//! scans every organisation, and a past snapshot is opened. A request also has a
//! bounded depth, number of aliases, number of root fields and number of fields
//! written, and its text a bounded nesting (checked before it is parsed, so that no
//! document can exhaust the parser's stack).
//!
//! Fragments are costed once each (per place they can be spread in), so a document
//! that spreads fragments into each other exponentially is priced in linear time,
//! and refused; a fragment spread inside itself is refused; and the walk's depth is
//! bounded whatever the document, so no recursion here goes as deep as a client
//! likes.
//!
//! The standard introspection queries of graphql-js 16 and 17, graphql-core 3.3,
//! Python's `gql` and Apollo's tools cost a few thousand and always pass
//! (`tests/it/limits.rs` runs each).

use std::collections::HashMap;

use async_graphql::parser::types::{
    BaseType, ExecutableDocument, Field, Selection, SelectionSet, Type, TypeKind,
    TypeSystemDefinition,
};
use async_graphql::{Name, Positioned, Value as ConstValue, Variables};

use crate::limits::Limits;

/// The type a field returns.
#[derive(Debug, Clone)]
struct Returns {
    /// The named type, lists and non-null stripped.
    named: String,
    /// Whether it is a list.
    list: bool,
}

/// The list sizes of the introspection types, from the schema itself.
#[derive(Debug, Clone, Copy)]
struct IntrospectionSizes {
    types: u64,
    fields_per_type: u64,
    args_per_field: u64,
    input_fields_per_type: u64,
    enum_values_per_type: u64,
}

/// Dimensions and their number of values (unknown included), for the groups an
/// aggregate can have.
const DIMENSION_VALUES: [(&str, u64); 6] = [
    ("FAMILY", 3),
    ("REGION", 13),
    ("PROVINCE", 76),
    ("SECTOR", 21),
    ("FOUNDED_YEAR", 150),
    ("STATUS", 4),
];

/// Weight of a diff: it streams both snapshots whole (at most two in a request under
/// the default `--max-cost`, and always among the expensive requests).
pub const DIFF_WEIGHT: u64 = 20_000;
/// Weight of a search that scans the snapshot (no index): always expensive.
pub const SCAN_WEIGHT: u64 = 10_000;
/// Weight of opening a past snapshot (its rollup is read).
pub const PAST_SNAPSHOT_WEIGHT: u64 = 2_000;
/// Weight of an aggregate or a page of organisations, on top of its fields.
pub const QUERY_WEIGHT: u64 = 10;
/// Rows of a diff: families × regions (unknown included).
const DIFF_ROWS: u64 = 3 * 13;
/// Files of a snapshot's report, at most in practice.
const REPORT_FILES: u64 = 16;
/// Files a snapshot offers for download (`crate::downloads`).
const DOWNLOAD_FILES: u64 = 8;
/// Page size when `first` is not given.
const DEFAULT_FIRST: u64 = 20;
/// A list of objects the model does not size (there is none today; a test checks).
const UNSIZED_LIST: u64 = 100;
/// Levels of selections and fragments the walk goes down, at most. Far above any
/// depth allowed, it only stops documents before they can exhaust a stack.
const WALK_LEVELS: usize = 256;

/// Deepest nesting of `{`, `[` and `(` in a document's text.
pub const MAX_NESTING: usize = 64;

/// The schema's fields and the sizes of its lists: built once per server.
#[derive(Debug, Clone)]
pub struct CostModel {
    fields: HashMap<String, HashMap<String, Returns>>,
    introspection: IntrospectionSizes,
    regions: u64,
    provinces: u64,
    sectors: u64,
}

/// What a request's cost depends on in the snapshot it will run on.
#[derive(Debug, Clone, Default)]
pub struct CostContext {
    /// Groups of the served snapshot's rollup: the most rows an aggregate can have.
    pub max_groups: u64,
    /// Snapshots in the store.
    pub snapshots: u64,
    /// The served snapshot's sequence number.
    pub current: u64,
    /// Whether the served snapshot's search index is ready.
    pub index_ready: bool,
}

/// What a request was found to cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Analysis {
    /// Its cost.
    pub cost: u64,
    /// Its deepest selection.
    pub depth: usize,
    /// Aliased fields, fragments expanded.
    pub aliases: u64,
    /// Root fields, fragments expanded.
    pub root_fields: u64,
    /// Fields written.
    pub fields: usize,
}

/// A document over the limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CostError {
    /// Its text nests too deeply to be parsed.
    #[error("the query nests brackets more than {max} deep")]
    NestedTooDeeply {
        /// The limit.
        max: usize,
    },
    /// A selection too deep.
    #[error("the query is {depth} fields deep; at most {max} are allowed")]
    TooDeep {
        /// Its depth (or where the walk stopped).
        depth: usize,
        /// The limit.
        max: usize,
    },
    /// Too costly.
    #[error(
        "the query would cost {cost}; at most {max} is allowed. Ask for fewer fields, a smaller `first`, fewer `groupBy` dimensions, or split it; `limits::cost` in SECURITY.md says how a query is costed"
    )]
    TooComplex {
        /// Its cost.
        cost: u64,
        /// The limit.
        max: u64,
    },
    /// Too many aliases.
    #[error("the query has {aliases} aliased fields; at most {max} are allowed")]
    TooManyAliases {
        /// Aliased fields, fragments expanded.
        aliases: u64,
        /// The limit.
        max: u64,
    },
    /// Too many root fields.
    #[error("the query asks for {fields} root fields; at most {max} are allowed")]
    TooManyRootFields {
        /// Root fields, fragments expanded.
        fields: u64,
        /// The limit.
        max: u64,
    },
    /// Too many fields written.
    #[error("the query has {fields} fields; at most {max} are allowed")]
    TooManyFields {
        /// Fields written.
        fields: usize,
        /// The limit.
        max: usize,
    },
    /// A fragment spread inside itself.
    #[error("fragment `{name}` spreads itself")]
    FragmentCycle {
        /// The fragment (its name cut short).
        name: String,
    },
}

impl CostError {
    /// The error code clients see.
    pub fn code(&self) -> &'static str {
        match self {
            CostError::NestedTooDeeply { .. } | CostError::TooDeep { .. } => "QUERY_TOO_DEEP",
            CostError::TooComplex { .. } => "QUERY_TOO_COMPLEX",
            CostError::TooManyAliases { .. } => "TOO_MANY_ALIASES",
            CostError::TooManyRootFields { .. } => "TOO_MANY_ROOT_FIELDS",
            CostError::TooManyFields { .. } => "TOO_MANY_FIELDS",
            CostError::FragmentCycle { .. } => "GRAPHQL_VALIDATION_FAILED",
        }
    }
}

/// The types of the introspection system (GraphQL's own, as async-graphql serves
/// them), to cost introspection queries like any other.
const INTROSPECTION_SDL: &str = r#"
type __Schema { description: String types: [__Type!]! queryType: __Type! mutationType: __Type
  subscriptionType: __Type directives: [__Directive!]! }
type __Type { kind: __TypeKind! name: String description: String specifiedByURL: String
  isOneOf: Boolean fields(includeDeprecated: Boolean): [__Field!] interfaces: [__Type!]
  possibleTypes: [__Type!] enumValues(includeDeprecated: Boolean): [__EnumValue!]
  inputFields(includeDeprecated: Boolean): [__InputValue!] ofType: __Type }
type __Field { name: String! description: String args(includeDeprecated: Boolean): [__InputValue!]!
  type: __Type! isDeprecated: Boolean! deprecationReason: String }
type __InputValue { name: String! description: String type: __Type! defaultValue: String
  isDeprecated: Boolean! deprecationReason: String }
type __EnumValue { name: String! description: String isDeprecated: Boolean! deprecationReason: String }
type __Directive { name: String! description: String isRepeatable: Boolean!
  locations: [__DirectiveLocation!]! args(includeDeprecated: Boolean): [__InputValue!]! }
"#;

fn returns(ty: &Type) -> Returns {
    match &ty.base {
        BaseType::Named(name) => Returns {
            named: name.to_string(),
            list: false,
        },
        BaseType::List(inner) => Returns {
            list: true,
            ..returns(inner)
        },
    }
}

impl CostModel {
    /// The model of the schema whose SDL is `sdl`.
    pub fn new(sdl: &str) -> Self {
        let mut fields: HashMap<String, HashMap<String, Returns>> = HashMap::new();
        let (mut types, mut total_fields, mut total_args) = (0u64, 0u64, 0u64);
        let (mut input_fields, mut enum_values) = (0u64, 0u64);
        for text in [sdl, INTROSPECTION_SDL] {
            let doc = async_graphql::parser::parse_schema(text).expect("the schema's own SDL");
            for def in doc.definitions {
                let TypeSystemDefinition::Type(def) = def else {
                    continue;
                };
                let def = def.node;
                types += 1;
                match def.kind {
                    TypeKind::Object(object) => {
                        let of = fields.entry(def.name.node.to_string()).or_default();
                        for f in object.fields {
                            total_fields += 1;
                            total_args += f.node.arguments.len() as u64;
                            of.insert(f.node.name.node.to_string(), returns(&f.node.ty.node));
                        }
                    }
                    TypeKind::InputObject(input) => input_fields += input.fields.len() as u64,
                    TypeKind::Enum(e) => enum_values += e.values.len() as u64,
                    _ => {}
                }
            }
        }
        // The built-in scalars, which SDL does not list.
        types += 5;
        let per = |n: u64, of: u64| n.div_ceil(of.max(1)).max(1);
        let reference = ess_schemas::reference();
        CostModel {
            fields,
            introspection: IntrospectionSizes {
                types,
                fields_per_type: per(total_fields, types),
                args_per_field: per(total_args, total_fields),
                input_fields_per_type: per(input_fields, types),
                enum_values_per_type: per(enum_values, types),
            },
            regions: reference.regions().len() as u64,
            provinces: reference.provinces().len() as u64,
            sectors: reference.sectors().len() as u64,
        }
    }

    fn returns(&self, ty: Option<&str>, field: &str) -> Option<&Returns> {
        match field {
            "__schema" => Some(&SCHEMA_FIELD),
            "__type" => Some(&TYPE_FIELD),
            _ => self.fields.get(ty?)?.get(field),
        }
    }

    /// Checks `doc` against `limits` and prices it; `variables` are the request's.
    pub fn analyse(
        &self,
        doc: &ExecutableDocument,
        operation_name: Option<&str>,
        variables: &Variables,
        context: &CostContext,
        limits: &Limits,
    ) -> Result<Analysis, CostError> {
        let written = fields_written(doc);
        if written > limits.max_fields {
            return Err(CostError::TooManyFields {
                fields: written,
                max: limits.max_fields,
            });
        }
        let mut walk = Walk {
            model: self,
            doc,
            variables,
            context,
            memo: HashMap::new(),
            spreading: Vec::new(),
        };
        // The operation that will run (every one, when the name does not pick one:
        // execution then refuses the document anyway).
        let mut totals = Totals::default();
        for (name, op) in doc.operations.iter() {
            if operation_name.is_some_and(|wanted| name.map(Name::as_str) != Some(wanted)) {
                continue;
            }
            let t =
                walk.selection_set(Some("Query"), &op.node.selection_set, Scope::default(), 0)?;
            totals = totals.max(Totals {
                root_fields: t.fields_here,
                ..t
            });
        }
        let analysis = Analysis {
            cost: totals.cost,
            depth: totals.depth,
            aliases: totals.aliases,
            root_fields: totals.root_fields,
            fields: written,
        };
        if analysis.depth > limits.max_depth {
            return Err(CostError::TooDeep {
                depth: analysis.depth,
                max: limits.max_depth,
            });
        }
        if analysis.root_fields > limits.max_root_fields {
            return Err(CostError::TooManyRootFields {
                fields: analysis.root_fields,
                max: limits.max_root_fields,
            });
        }
        if analysis.aliases > limits.max_aliases {
            return Err(CostError::TooManyAliases {
                aliases: analysis.aliases,
                max: limits.max_aliases,
            });
        }
        if analysis.cost > limits.max_cost {
            return Err(CostError::TooComplex {
                cost: analysis.cost,
                max: limits.max_cost,
            });
        }
        Ok(analysis)
    }
}

static SCHEMA_FIELD: std::sync::LazyLock<Returns> = std::sync::LazyLock::new(|| Returns {
    named: "__Schema".into(),
    list: false,
});
static TYPE_FIELD: std::sync::LazyLock<Returns> = std::sync::LazyLock::new(|| Returns {
    named: "__Type".into(),
    list: false,
});

/// Checks, before parsing, that `{`, `[` and `(` nest at most [`MAX_NESTING`] deep
/// (outside strings and comments): the parser recurses once per level.
pub fn check_nesting(query: &str) -> Result<(), CostError> {
    let bytes = query.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(CostError::NestedTooDeeply { max: MAX_NESTING });
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// Field selections as written, each fragment once: a loop over every selection set,
/// with a stack of its own.
fn fields_written(doc: &ExecutableDocument) -> usize {
    let mut stack: Vec<&SelectionSet> = doc
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node)
        .chain(doc.fragments.values().map(|f| &f.node.selection_set.node))
        .collect();
    let mut fields = 0;
    while let Some(set) = stack.pop() {
        for s in &set.items {
            match &s.node {
                Selection::Field(f) => {
                    fields += 1;
                    stack.push(&f.node.selection_set.node);
                }
                Selection::InlineFragment(f) => stack.push(&f.node.selection_set.node),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    fields
}

/// What the enclosing field tells the lists under it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
struct Scope {
    /// `edges` of a connection: its `first`.
    edges: Option<u64>,
    /// `rows` of an aggregate: the groups it can have.
    rows: Option<u64>,
}

/// A selection set's sums.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    cost: u64,
    depth: usize,
    aliases: u64,
    /// Fields at this level (through fragments).
    fields_here: u64,
    root_fields: u64,
}

impl Totals {
    fn add(self, o: Totals) -> Totals {
        Totals {
            cost: self.cost.saturating_add(o.cost),
            depth: self.depth.max(o.depth),
            aliases: self.aliases.saturating_add(o.aliases),
            fields_here: self.fields_here.saturating_add(o.fields_here),
            root_fields: self.root_fields.max(o.root_fields),
        }
    }

    fn max(self, o: Totals) -> Totals {
        Totals {
            cost: self.cost.max(o.cost),
            depth: self.depth.max(o.depth),
            aliases: self.aliases.max(o.aliases),
            fields_here: self.fields_here.max(o.fields_here),
            root_fields: self.root_fields.max(o.root_fields),
        }
    }
}

struct Walk<'a> {
    model: &'a CostModel,
    doc: &'a ExecutableDocument,
    variables: &'a Variables,
    context: &'a CostContext,
    /// A fragment's totals where spread with a scope.
    memo: HashMap<(&'a str, Scope), Totals>,
    /// The fragments being costed (a spread of one of them is a cycle).
    spreading: Vec<&'a str>,
}

impl<'a> Walk<'a> {
    fn selection_set(
        &mut self,
        ty: Option<&str>,
        set: &'a Positioned<SelectionSet>,
        scope: Scope,
        level: usize,
    ) -> Result<Totals, CostError> {
        if level > WALK_LEVELS {
            return Err(CostError::TooDeep {
                depth: level,
                max: WALK_LEVELS,
            });
        }
        let mut totals = Totals::default();
        for selection in &set.node.items {
            let t = match &selection.node {
                Selection::Field(field) => self.field(ty, &field.node, scope, level)?,
                Selection::InlineFragment(inline) => {
                    let on = inline
                        .node
                        .type_condition
                        .as_ref()
                        .map(|c| c.node.on.node.as_str())
                        .or(ty);
                    self.selection_set(on, &inline.node.selection_set, scope, level + 1)?
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    self.fragment(name, scope, level)?
                }
            };
            totals = totals.add(t);
        }
        Ok(totals)
    }

    fn fragment(&mut self, name: &'a str, scope: Scope, level: usize) -> Result<Totals, CostError> {
        if let Some(t) = self.memo.get(&(name, scope)) {
            return Ok(*t);
        }
        if self.spreading.contains(&name) {
            return Err(CostError::FragmentCycle {
                name: name.chars().take(40).collect(),
            });
        }
        // An unknown fragment costs nothing here; validation refuses it.
        let Some(fragment) = self.doc.fragments.get(name) else {
            return Ok(Totals::default());
        };
        self.spreading.push(name);
        let on = fragment.node.type_condition.node.on.node.as_str();
        let t = self.selection_set(Some(on), &fragment.node.selection_set, scope, level + 1);
        self.spreading.pop();
        let t = t?;
        self.memo.insert((name, scope), t);
        Ok(t)
    }

    fn field(
        &mut self,
        ty: Option<&str>,
        field: &'a Field,
        scope: Scope,
        level: usize,
    ) -> Result<Totals, CostError> {
        let name = field.name.node.as_str();
        let returns = self.model.returns(ty, name);
        let (weight, below, times) = self.price(ty.unwrap_or(""), field, scope, returns);
        let children = if field.selection_set.node.items.is_empty() {
            Totals::default()
        } else {
            let child_ty = returns.map(|r| r.named.as_str());
            self.selection_set(child_ty, &field.selection_set, below, level + 1)?
        };
        Ok(Totals {
            cost: 1u64
                .saturating_add(weight)
                .saturating_add(times.saturating_mul(children.cost)),
            depth: 1 + children.depth,
            aliases: u64::from(field.alias.is_some()).saturating_add(children.aliases),
            fields_here: 1,
            root_fields: 0,
        })
    }

    /// A field's own weight, the scope of its selections, and how many times they
    /// are answered.
    fn price(
        &self,
        ty: &str,
        field: &'a Field,
        scope: Scope,
        returns: Option<&Returns>,
    ) -> (u64, Scope, u64) {
        let m = self.model;
        let size = &m.introspection;
        let name = field.name.node.as_str();
        let times = match (ty, name) {
            ("OrganisationConnection", "edges") => scope.edges.unwrap_or(DEFAULT_FIRST),
            ("Aggregate", "rows") => scope.rows.unwrap_or(self.context.max_groups),
            ("SnapshotDiff", "rows") => DIFF_ROWS,
            ("Query", "regions") => m.regions,
            ("Query", "provinces") => m.provinces,
            ("Query", "sectors") => m.sectors,
            ("Query", "snapshots") => self.context.snapshots,
            ("Snapshot", "files") => REPORT_FILES,
            ("Snapshot", "downloads") => DOWNLOAD_FILES,
            ("__Schema", "types") => size.types,
            ("__Schema", "directives") => 8,
            ("__Type", "fields") => size.fields_per_type,
            ("__Type", "inputFields") => size.input_fields_per_type,
            ("__Type", "enumValues") => size.enum_values_per_type,
            ("__Type", "interfaces" | "possibleTypes") => 1,
            ("__Field" | "__Directive", "args") => size.args_per_field,
            _ if returns.is_some_and(|r| r.list) => UNSIZED_LIST,
            _ => 1,
        };
        if ty != "Query" {
            return (0, Scope::default(), times);
        }
        let past = self
            .argument(field, "snapshot")
            .and_then(|v| match v {
                ConstValue::String(s) => ess_query::catalog::parse_snapshot_id(&s),
                _ => None,
            })
            .is_some_and(|seq| seq != self.context.current);
        let past_weight = if past { PAST_SNAPSHOT_WEIGHT } else { 0 };
        match name {
            "aggregate" => {
                let rows = self.groups(field);
                (
                    QUERY_WEIGHT + past_weight,
                    Scope {
                        rows: Some(rows),
                        ..scope
                    },
                    times,
                )
            }
            "organisations" => {
                let first = match self.argument(field, "first") {
                    Some(ConstValue::Number(n)) => {
                        n.as_u64().unwrap_or(1).clamp(1, ess_query::MAX_PAGE as u64)
                    }
                    _ => DEFAULT_FIRST,
                };
                let searching = matches!(
                    self.argument(field, "search"),
                    Some(ConstValue::String(s)) if !s.trim().is_empty()
                );
                let scan = if searching && (past || !self.context.index_ready) {
                    SCAN_WEIGHT
                } else {
                    0
                };
                (
                    QUERY_WEIGHT + past_weight + scan,
                    Scope {
                        edges: Some(first),
                        ..scope
                    },
                    times,
                )
            }
            "diff" => (DIFF_WEIGHT, scope, times),
            _ => (0, scope, times),
        }
    }

    /// The groups an aggregate's `groupBy` can have in the served snapshot.
    fn groups(&self, field: &Field) -> u64 {
        let cap = self.context.max_groups.max(1);
        let Some(ConstValue::List(dims)) = self.argument(field, "groupBy") else {
            return cap;
        };
        dims.iter()
            .map(|d| match d {
                ConstValue::Enum(n) => DIMENSION_VALUES
                    .iter()
                    .find(|(name, _)| *name == n.as_str())
                    .map_or(cap, |(_, values)| *values),
                _ => cap,
            })
            .fold(1u64, u64::saturating_mul)
            .min(cap)
    }

    /// An argument's value, variables resolved.
    fn argument(&self, field: &Field, name: &str) -> Option<ConstValue> {
        let value = field.get_argument(name)?;
        value
            .node
            .clone()
            .into_const_with(|var| self.variables.get(&var).cloned().ok_or(()))
            .ok()
    }
}

#[cfg(test)]
mod tests;
