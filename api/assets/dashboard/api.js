// The public API, as the page uses it: one GraphQL endpoint (POST), nothing else.
// Every number the page shows comes from the queries below, and every chart's
// citation links the CSV export that gives the same numbers again.

/** The GraphQL endpoint, next to the page (so a path prefix needs no change). */
const ENDPOINT = new URL("graphql", document.baseURI).href;

export class ApiError extends Error {}

/** Runs `query` with `variables`; the `data`, or an ApiError. */
export async function gql(query, variables) {
  let response;
  try {
    response = await fetch(ENDPOINT, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ query, variables }),
    });
  } catch (e) {
    throw new ApiError(String(e && e.message ? e.message : e));
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`HTTP ${response.status}`);
  }
  if (body.errors && body.errors.length) {
    throw new ApiError(body.errors.map((e) => e.message).join("; "));
  }
  if (!response.ok || !body.data) throw new ApiError(`HTTP ${response.status}`);
  return body.data;
}

const NAMES = "code fr: name(lang: FR) ar: name(lang: AR) en: name(lang: EN)";

/** Regions, provinces, sectors and snapshots: asked for once. */
const REFERENCE = `
  regions { ${NAMES} }
  provinces { ${NAMES} region { code } }
  sectors { ${NAMES} }
  snapshots { id createdAt organisations }`;

const MEASURES = `organisations members membersWomen employees employeesWomen employeesMen
  genderCoverage womenEmploymentShare
  census { area population employed populationWomen organisationsPer100kInhabitants
    membersPer1000Inhabitants membersWomenPer1000Women employeesShareOfEmployed }`;

const CITED = `fr: citation(lang: FR) { text url }
  ar: citation(lang: AR) { text url }
  en: citation(lang: EN) { text url }`;

/** The page's breakdowns: alias, dimension, and the row field naming the group. */
export const BREAKDOWNS = [
  { key: "family", dimension: "FAMILY", field: "family" },
  { key: "region", dimension: "REGION", field: "region { code }" },
  { key: "sector", dimension: "SECTOR", field: "sector { code }" },
  { key: "year", dimension: "FOUNDED_YEAR", field: "foundedYear" },
  { key: "status", dimension: "STATUS", field: "status" },
];

function dashboardQuery(withReference) {
  const parts = BREAKDOWNS.map(
    (b) => `${b.key}: aggregate(groupBy: [${b.dimension}], filter: $f, snapshot: $s) {
    rows { ${b.field} ${MEASURES} } ${CITED} }`,
  );
  // Cooperatives per group: only they report women members, so a group without
  // any has its women members unknown (not zero).
  const coops = BREAKDOWNS.filter((b) => b.key !== "family").map(
    (b) => `coop_${b.key}: aggregate(groupBy: [${b.dimension}], filter: $fc, snapshot: $s) @include(if: $coops) {
    rows { ${b.field} organisations } }`,
  );
  return `query Dashboard($f: OrganisationFilter, $fc: OrganisationFilter, $coops: Boolean!, $s: String) {
  ${withReference ? REFERENCE : ""}
  all: aggregate(groupBy: [], filter: $f, snapshot: $s) {
    total { ${MEASURES} } ${CITED}
    snapshot { id createdAt downloads { name url bytes rows } } }
  ${parts.join("\n  ")}
  ${coops.join("\n  ")}
}`;
}

/**
 * The aggregates of `filter` in `snapshot` (null: the one served), and the reference
 * lists if asked; `coopFilter`: the same filter on cooperatives only (null when the
 * filter has none).
 */
export function fetchDashboard(filter, coopFilter, snapshot, withReference) {
  return gql(dashboardQuery(withReference), {
    f: filter,
    fc: coopFilter || {},
    coops: Boolean(coopFilter),
    s: snapshot || null,
  });
}

const DIFF = `query Changes($from: String!, $to: String!) {
  diff(from: $from, to: $to) {
    from { id createdAt } to { id createdAt }
    total { added removed changed unchanged }
    rows { family region { code } added removed changed unchanged }
  }
}`;

/** What changed from snapshot `from` to snapshot `to`. */
export function fetchDiff(from, to) {
  return gql(DIFF, { from, to }).then((d) => d.diff);
}
