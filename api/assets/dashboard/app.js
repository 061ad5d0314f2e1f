// The dashboard: filters and view in the URL, one GraphQL request per filter,
// figures, charts and tables drawn from its answer. Switching language, measure or
// scale redraws from the answer already in hand (names and citations come in FR, AR
// and EN at once), with no request.

import { t, setLang, lang, LANGS, int, pct, date, bytes } from "/assets/i18n.js";
import { fetchDashboard, fetchDiff } from "/assets/api.js";
import { h, table, source, bars, tileMap, yearChart, plotted, MEASURES, REGION_CODES } from "/assets/charts.js";

const FAMILIES = ["cooperative", "association", "mutual"];
const STATUSES = ["active", "in_liquidation", "dissolved", "unknown"];
const SCALES = ["count", "population"];

// ---------------------------------------------------------------- state and URL

/** The URL's keys, in the order they are written; filters use the CSV export's names. */
const KEYS = ["snapshot", "lang", "family", "region", "province", "sector", "status", "foundedFrom", "foundedTo", "measure", "scale"];
const DEFAULT = {
  snapshot: "",
  lang: "fr",
  family: "",
  region: "",
  province: "",
  sector: "",
  status: "",
  foundedFrom: "",
  foundedTo: "",
  measure: "organisations",
  scale: "count",
};
const FILTER_KEYS = ["family", "region", "province", "sector", "status", "foundedFrom", "foundedTo"];

const YEAR = /^\d{4}$/;

function parse(search) {
  const p = new URLSearchParams(search);
  const st = { ...DEFAULT };
  for (const k of KEYS) {
    const v = p.get(k);
    if (v != null) st[k] = v.trim();
  }
  if (!LANGS.includes(st.lang)) st.lang = DEFAULT.lang;
  if (st.family && !FAMILIES.includes(st.family)) st.family = "";
  if (st.status && !STATUSES.includes(st.status)) st.status = "";
  if (!(st.measure in MEASURES)) st.measure = DEFAULT.measure;
  if (!SCALES.includes(st.scale)) st.scale = DEFAULT.scale;
  if (st.foundedFrom && !YEAR.test(st.foundedFrom)) st.foundedFrom = "";
  if (st.foundedTo && !YEAR.test(st.foundedTo)) st.foundedTo = "";
  if (st.snapshot && !/^[0-9A-Za-z_-]{1,40}$/.test(st.snapshot)) st.snapshot = "";
  return st;
}

function serialize(st) {
  const p = new URLSearchParams();
  for (const k of KEYS) {
    if (k === "snapshot" || k === "lang") {
      if (st[k]) p.set(k, st[k]);
    } else if (st[k] !== DEFAULT[k]) p.set(k, st[k]);
  }
  return p.toString();
}

/** The GraphQL filter of the state (null for everything). */
function filterOf(st) {
  const f = {};
  if (st.family) f.family = [st.family.toUpperCase()];
  if (st.region) f.region = [st.region];
  if (st.province) f.province = [st.province];
  if (st.sector) f.sector = [st.sector];
  if (st.status) f.status = [st.status];
  if (st.foundedFrom || st.foundedTo) {
    f.foundedYear = {};
    if (st.foundedFrom) f.foundedYear.from = Number(st.foundedFrom);
    if (st.foundedTo) f.foundedYear.to = Number(st.foundedTo);
  }
  return Object.keys(f).length ? f : null;
}

/** The same filter on cooperatives only; null when it lets none in. */
function coopFilterOf(st) {
  if (st.family && st.family !== "cooperative") return null;
  return { ...(filterOf(st) || {}), family: ["COOPERATIVE"] };
}

/** What the numbers depend on (language, measure and scale do not). */
function dataKey(st) {
  return JSON.stringify([st.snapshot, ...FILTER_KEYS.map((k) => st[k])]);
}

let st = parse(location.search);
let ref = null; // { regions: Map, provinces: Map, sectors: Map, snapshots: [] }
const answers = new Map(); // dataKey -> dashboard answer
const diffs = new Map(); // snapshot id -> diff
let seq = 0;
let firstDone = false;
let shown = null; // the answer on screen

const $ = (sel) => document.querySelector(sel);
const root = document.documentElement;

// ---------------------------------------------------------------- names

function named(list) {
  return new Map(list.map((x) => [x.code, x]));
}
function nameOf(map, code) {
  const x = map && map.get(code);
  return x ? x[lang()] || x.fr : code;
}
function regionNames() {
  return new Map(REGION_CODES.map((c) => [c, nameOf(ref.regions, c)]));
}
function familyLabel(f) {
  return t(f);
}
function statusLabel(s) {
  return t(`st_${s}`);
}
function areaName(area) {
  if (!area || area === "MA") return t("country");
  return area
    .split("+")
    .map((code) => (ref.regions.has(code) ? nameOf(ref.regions, code) : ref.provinces.has(code) ? nameOf(ref.provinces, code) : code))
    .join(", ");
}

/** The state's selection in words: "Coopératives · Fès-Meknès · instantané 000001 du …". */
function scopeText(answer) {
  const parts = [];
  parts.push(st.family ? familyLabel(st.family) : t("everything"));
  if (st.region) parts.push(nameOf(ref.regions, st.region));
  if (st.province) parts.push(nameOf(ref.provinces, st.province));
  if (st.sector) parts.push(nameOf(ref.sectors, st.sector));
  if (st.status) parts.push(statusLabel(st.status));
  if (st.foundedFrom || st.foundedTo) {
    parts.push(`${t("founded")} ${st.foundedFrom || "…"}–${st.foundedTo || "…"}`);
  }
  const snap = answer && answer.all.snapshot;
  if (snap) parts.push(t("snapshotOf", { id: snap.id, date: date(snap.createdAt) }));
  return parts.join(" · ");
}

// ---------------------------------------------------------------- static text and controls

function applyLanguage() {
  setLang(st.lang);
  root.lang = st.lang;
  root.dir = st.lang === "ar" ? "rtl" : "ltr";
  document.title = t("pageTitle");
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  for (const a of document.querySelectorAll("a[data-lang]")) {
    const other = { ...st, lang: a.dataset.lang };
    a.href = `?${serialize(other)}`;
    if (a.dataset.lang === st.lang) a.setAttribute("aria-current", "true");
    else a.removeAttribute("aria-current");
  }
}

function fillSelect(select, options, value) {
  const old = select.value;
  select.replaceChildren(...options.map(([v, label]) => h("option", { value: v }, label)));
  select.value = value;
  if (select.value !== value) select.value = old;
}

function byName(a, b) {
  return a[1].localeCompare(b[1], lang());
}

function syncControls() {
  if (!ref) return;
  const snapshots = ref.snapshots.map((s, i) => [
    s.id,
    `${s.id} — ${date(s.createdAt)} — ${t("orgCount", { n: int(s.organisations) })}${i === 0 ? ` (${t("latest")})` : ""}`,
  ]);
  fillSelect($("#f-snapshot"), snapshots, st.snapshot);
  fillSelect($("#f-family"), [["", t("allF")], ...FAMILIES.map((f) => [f, familyLabel(f)])], st.family);
  fillSelect($("#f-region"), [["", t("allF")], ...[...ref.regions.keys()].map((c) => [c, nameOf(ref.regions, c)])], st.region);
  const provinces = [...ref.provinces.values()]
    .filter((p) => !st.region || p.region.code === st.region)
    .map((p) => [p.code, p[lang()] || p.fr])
    .sort(byName);
  fillSelect($("#f-province"), [["", t("allF")], ...provinces], st.province);
  const sectors = [...ref.sectors.values()].map((s) => [s.code, s[lang()] || s.fr]).sort(byName);
  fillSelect($("#f-sector"), [["", t("allM")], ...sectors], st.sector);
  fillSelect($("#f-status"), [["", t("allM")], ...STATUSES.map((s) => [s, statusLabel(s)])], st.status);
  fillSelect(
    $("#f-measure"),
    Object.keys(MEASURES).map((m) => [m, t(m)]),
    st.measure,
  );
  // A year being typed is left alone (its change applies it).
  for (const [id, v] of [["#f-from", st.foundedFrom], ["#f-to", st.foundedTo]]) {
    const input = $(id);
    if (input !== document.activeElement && input.value !== v) input.value = v;
  }
  for (const r of document.querySelectorAll('input[name="scale"]')) r.checked = r.value === st.scale;
}

/** Drops the state's codes that the reference lists do not know. */
function validateAgainstReference() {
  if (st.region && !ref.regions.has(st.region)) st.region = "";
  if (st.province && !ref.provinces.has(st.province)) st.province = "";
  if (st.province) st.region = ref.provinces.get(st.province).region.code;
  if (st.sector && !ref.sectors.has(st.sector)) st.sector = "";
  if (st.snapshot && !ref.snapshots.some((s) => s.id === st.snapshot)) st.snapshot = ref.snapshots[0] ? ref.snapshots[0].id : "";
}

function wireControls() {
  const on = (sel, fn) => $(sel).addEventListener("change", fn);
  on("#f-snapshot", (e) => commit({ snapshot: e.target.value }));
  on("#f-family", (e) => commit({ family: e.target.value }));
  on("#f-region", (e) => pickRegion(e.target.value));
  on("#f-province", (e) => {
    const province = e.target.value;
    const p = province && ref.provinces.get(province);
    commit(p ? { province, region: p.region.code } : { province: "" });
  });
  on("#f-sector", (e) => commit({ sector: e.target.value }));
  on("#f-status", (e) => commit({ status: e.target.value }));
  const years = () => {
    const from = $("#f-from").value.trim();
    const to = $("#f-to").value.trim();
    const bad = (from && !YEAR.test(from)) || (to && !YEAR.test(to)) || (from && to && Number(from) > Number(to));
    const err = $("#years-error");
    err.hidden = !bad;
    for (const el of [$("#f-from"), $("#f-to")]) {
      if (bad) el.setAttribute("aria-invalid", "true");
      else el.removeAttribute("aria-invalid");
    }
    if (!bad) commit({ foundedFrom: from, foundedTo: to });
  };
  on("#f-from", years);
  on("#f-to", years);
  on("#f-measure", (e) => commit({ measure: e.target.value }));
  for (const r of document.querySelectorAll('input[name="scale"]')) r.addEventListener("change", (e) => commit({ scale: e.target.value }));
  $("#f-reset").addEventListener("click", () => {
    $("#years-error").hidden = true;
    commit(Object.fromEntries(FILTER_KEYS.map((k) => [k, ""])));
  });
  $("#filter-form").addEventListener("submit", (e) => e.preventDefault());
  for (const a of document.querySelectorAll("a[data-lang]")) {
    a.addEventListener("click", (e) => {
      if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
      e.preventDefault();
      commit({ lang: a.dataset.lang });
    });
  }
  $("#retry").addEventListener("click", () => update());
  window.addEventListener("popstate", () => {
    st = parse(location.search);
    if (ref) validateAgainstReference();
    update();
  });
}

/** Picks region `code` ("" for all): the province stays only if it lies in that region. */
function pickRegion(code) {
  const p = st.province && ref.provinces.get(st.province);
  commit({ region: code, province: p && p.region.code === code ? st.province : "" });
}

/** Applies a change of state: new URL (a history entry), then figures. */
function commit(change) {
  const before = serialize(st);
  st = { ...st, ...change };
  const after = serialize(st);
  if (after !== before) history.pushState(null, "", `?${after}`);
  update();
}

// ---------------------------------------------------------------- loading

async function update() {
  const mine = ++seq;
  const asked = { ...st };
  applyLanguage();
  syncControls();
  let answer = answers.get(dataKey(asked));
  if (!answer) {
    root.dataset.state = "loading";
    $("#main").setAttribute("aria-busy", "true");
    $("#status").textContent = t("loading");
    let data;
    try {
      data = await fetchDashboard(filterOf(asked), coopFilterOf(asked), asked.snapshot, !ref);
    } catch (e) {
      if (mine !== seq) return;
      if (!ref && asked.snapshot) {
        // A snapshot this server does not have (an old link): show the one served.
        st = { ...st, snapshot: "" };
        return update();
      }
      showError(e);
      return;
    }
    if (!ref) {
      ref = {
        regions: named(data.regions),
        provinces: named(data.provinces),
        sectors: named(data.sectors),
        snapshots: data.snapshots,
      };
    }
    // Pinned to the snapshot answered, so that the URL reopens this view exactly.
    const pinned = { ...asked, snapshot: data.all.snapshot.id };
    answers.set(dataKey(pinned), data);
    if (answers.size > 40) answers.delete(answers.keys().next().value);
    if (mine !== seq) return;
    if (!st.snapshot) st.snapshot = pinned.snapshot;
    validateAgainstReference();
    if (dataKey(st) !== dataKey(pinned)) return update();
    answer = data;
    if (serialize(st) !== location.search.slice(1)) history.replaceState(null, "", `?${serialize(st)}`);
    applyLanguage();
    syncControls();
  }
  $("#error").hidden = true;
  shown = answer;
  render(answer);
  let diff = null;
  let diffError = null;
  const prev = previousSnapshot(answer.all.snapshot.id);
  if (prev) {
    diff = diffs.get(answer.all.snapshot.id);
    if (!diff) {
      try {
        diff = await fetchDiff(prev.id, answer.all.snapshot.id);
        diffs.set(answer.all.snapshot.id, diff);
      } catch (e) {
        // The figures stand without it: the changes section says what failed.
        diffError = e;
      }
      if (mine !== seq) return;
    }
  }
  renderChanges(diff, prev, diffError);
  $("#status").textContent = "";
  $("#main").removeAttribute("aria-busy");
  root.dataset.state = "ready";
  root.dataset.rendered = serialize(st);
  if (!firstDone) {
    firstDone = true;
    performance.mark("ess:rendered");
  }
}

function previousSnapshot(id) {
  const i = ref.snapshots.findIndex((s) => s.id === id);
  return i >= 0 && i + 1 < ref.snapshots.length ? ref.snapshots[i + 1] : null;
}

function showError(e) {
  root.dataset.state = "error";
  $("#main").removeAttribute("aria-busy");
  $("#status").textContent = "";
  $("#error-text").textContent = t("error", { msg: e && e.message ? e.message : String(e) });
  $("#error").hidden = false;
}

// ---------------------------------------------------------------- rendering

/** Cooperatives in the selection: only they report women members. */
function cooperatives(answer) {
  const row = answer.family.rows.find((r) => r.family === "COOPERATIVE");
  return row ? row.organisations : 0;
}

/** The key of a row of breakdown `b`: a code, a year, a status, or "unknown". */
function keyOf(b, row) {
  switch (b) {
    case "family":
      return row.family ? row.family.toLowerCase() : "unknown";
    case "region":
      return row.region ? row.region.code : "unknown";
    case "sector":
      return row.sector ? row.sector.code : "unknown";
    case "year":
      return row.foundedYear != null ? String(row.foundedYear) : "unknown";
    case "status":
      return row.status && row.status !== "unknown" ? row.status : "unknown";
    default:
      return "unknown";
  }
}

/**
 * The items of breakdown `b`, one per row: `{ key, row, label }` with `label(key, row)`,
 * or `{ key: "unknown", row, label, unknown: true }` for the group with no known value.
 */
function itemsOf(b, rows, label) {
  return rows.map((row) => {
    const key = keyOf(b, row);
    return key === "unknown" ? { key, row, label: t("unknown"), unknown: true } : { key, row, label: label(key, row) };
  });
}

/** Cooperatives per group of breakdown `b` (a Map), from the answer. */
function coopsPerGroup(answer, b) {
  answer.coopMaps ??= {};
  if (!answer.coopMaps[b]) {
    const agg = answer[`coop_${b}`];
    answer.coopMaps[b] = new Map(agg ? agg.rows.map((r) => [keyOf(b, r), r.organisations]) : []);
  }
  return answer.coopMaps[b];
}

/** Women members of the whole selection are unknown: it counts organisations, none a cooperative. */
function womenUnknownAll(answer) {
  if (st.family && st.family !== "cooperative") return true;
  return cooperatives(answer) === 0 && answer.all.total.organisations > 0;
}

function viewOf(answer, dimensionLabel, b) {
  const coops = cooperatives(answer);
  const all = answer.all.total.organisations;
  const noWomen = womenUnknownAll(answer);
  const perGroup = b && b !== "family" ? coopsPerGroup(answer, b) : null;
  return {
    measure: st.measure,
    scale: st.scale,
    dimensionLabel,
    womenLabel: coops < all ? `${t("membersWomen")} (${t("cooperative").toLowerCase()})` : t("membersWomen"),
    // Women members are unknown where no cooperative is counted: only they report them.
    womenUnknown: (item) => {
      if (item && item.family) return item.family !== "cooperative";
      if (!item || item.key === "total" || !perGroup) return noWomen;
      return !perGroup.get(item.key);
    },
  };
}

function render(answer) {
  renderHeadline(answer);
  renderRegion(answer);
  renderBars(answer, "sector", t("bySector"), t("sector"), sectorItems(answer));
  renderYear(answer);
  renderBars(answer, "family", t("byFamily"), t("family"), familyItems(answer));
  renderBars(answer, "status", t("byStatus"), t("status"), statusItems(answer));
  renderDownloads(answer);
}

function kpi(key, label, value, display, notes, extraClass) {
  return h(
    "div",
    { class: `kpi${extraClass ? ` ${extraClass}` : ""}` },
    h("dt", null, label),
    h("dd", { class: `kpi-value${value == null ? " unknown" : ""}`, "data-kpi": key, "data-value": value == null ? "" : value }, display),
    ...notes.filter(Boolean).map((n) => h("dd", { class: "kpi-note" }, n)),
  );
}

function renderHeadline(answer) {
  const r = answer.all.total;
  const per = st.scale === "population" && r.census;
  const coops = cooperatives(answer);
  const womenKnown = !womenUnknownAll(answer);
  const perLine = (m) => (per ? `${MEASURES[m].perFormat(MEASURES[m].per(r))} — ${MEASURES[m].perLabel().toLowerCase()}` : null);
  const unsplit = r.employees - r.employeesWomen - r.employeesMen;
  const coverage = r.genderCoverage;
  const share = coverage ? r.womenEmploymentShare : null;
  const kpis = [
    kpi("organisations", t("organisations"), r.organisations, int(r.organisations), [perLine("organisations")]),
    kpi("members", t("members"), r.members, int(r.members), [perLine("members")]),
    kpi(
      "membersWomen",
      t("membersWomen"),
      womenKnown ? r.membersWomen : null,
      womenKnown ? int(r.membersWomen) : t("unknownLower"),
      [
        !womenKnown ? t("membersWomenNone") : coops < r.organisations ? t("membersWomenNote", { n: int(coops) }) : null,
        womenKnown ? perLine("membersWomen") : null,
      ],
    ),
    kpi(
      "employees",
      t("employees"),
      r.employees,
      int(r.employees),
      [splitNote(r), unsplit > 0 ? t("employeesUnsplit", { n: int(unsplit) }) : null, perLine("employees")],
      "kpi-wide",
    ),
    kpi("genderCoverage", t("genderCoverage"), coverage ?? null, pct(coverage ?? null, 0), [t("coverageNote")]),
    kpi(
      "womenEmploymentShare",
      t("womenEmploymentShare"),
      share ?? null,
      pct(share ?? null),
      [coverage ? t("shareNote", { p: pct(coverage, 0) }) : t("shareNoneNote")],
    ),
  ];
  $("#kpis").replaceChildren(...kpis);
  $("#scope").textContent = `${t("scope")}${t("colon")}${scopeText(answer)}`;
  const area = $("#census-area");
  if (per) {
    area.textContent = `${t("population")}${t("colon")}${t("perPopulationOf", { area: areaName(r.census.area), n: int(r.census.population) })}`;
    area.hidden = false;
  } else {
    area.hidden = true;
  }
  $("#headline-source").replaceChildren(source(t("headline"), answer.all[lang()]));
}

/** "of whom 1 794 women and 4 978 men", the two numbers marked for the tests. */
function splitNote(r) {
  const text = t("employeesSplit", { w: "\u0000w", m: "\u0000m" });
  return text.split(/(\u0000[wm])/).map((part) => {
    if (part === "\u0000w") return h("span", { "data-kpi": "employeesWomen", "data-value": r.employeesWomen }, int(r.employeesWomen));
    if (part === "\u0000m") return h("span", { "data-kpi": "employeesMen", "data-value": r.employeesMen }, int(r.employeesMen));
    return part;
  });
}

function section(key) {
  const el = $(`section[data-chart="${key}"]`);
  return {
    el,
    part: (name) => el.querySelector(`[data-part="${name}"]`),
  };
}

function caption(chartTitle, plot, answer) {
  return t("tableCaption", { chart: chartTitle, measure: plot.label, scope: scopeText(answer) });
}

function noteText(plot) {
  const notes = [`${plot.label}.`];
  if (st.measure === "membersWomen") notes.push(t("womenChartNote"));
  if (st.scale === "population") notes.push(t("perPopulationColumns"));
  return notes.join(" ");
}

function sortByValue(items, plot) {
  return items.sort((a, b) => {
    if (a.unknown !== b.unknown) return a.unknown ? 1 : -1;
    return (plot.value(b) ?? -1) - (plot.value(a) ?? -1) || a.label.localeCompare(b.label, lang());
  });
}

function sectorItems(answer) {
  return itemsOf("sector", answer.sector.rows, (code) => nameOf(ref.sectors, code));
}

function familyItems(answer) {
  // A known family's item names it (`family`): its women members are known only for cooperatives.
  const items = itemsOf("family", answer.family.rows, familyLabel).map((i) => (i.unknown ? i : { ...i, family: i.key }));
  return items.sort((a, b) => FAMILIES.indexOf(a.key) - FAMILIES.indexOf(b.key));
}

function statusItems(answer) {
  const items = itemsOf("status", answer.status.rows, (s) => (STATUSES.includes(s) ? statusLabel(s) : s));
  return items.sort((a, b) => STATUSES.indexOf(a.key) - STATUSES.indexOf(b.key));
}

function renderBars(answer, key, title, dimensionLabel, items) {
  const view = viewOf(answer, dimensionLabel, key);
  const plot = plotted(view);
  if (key === "sector") sortByValue(items, plot);
  const sec = section(key);
  sec.part("note").textContent = noteText(plot);
  sec.part("chart").replaceChildren(items.length ? bars(items, plot) : h("p", { class: "empty" }, t("noData")));
  sec.part("table").replaceChildren(table(key, caption(title, plot, answer), items, answer.all.total, view));
  sec.part("source").replaceChildren(source(title, answer[key][lang()]));
}

function renderRegion(answer) {
  const view = viewOf(answer, t("region"), "region");
  const plot = plotted(view);
  const items = itemsOf("region", answer.region.rows, (code) => nameOf(ref.regions, code));
  const byCode = new Map(items.filter((i) => !i.unknown).map((i) => [i.key, i]));
  const sec = section("region");
  const focused = document.activeElement && document.activeElement.closest ? document.activeElement.closest("button[data-region]") : null;
  sec.part("note").textContent = noteText(plot);
  sec.part("chart").replaceChildren(
    tileMap(regionNames(), byCode, plot, {
      selected: st.region,
      inFilter: (code) => !st.region || st.region === code,
      onPick: (code) => pickRegion(st.region === code ? "" : code),
    }),
  );
  if (focused) {
    // The tiles were drawn anew: keep the keyboard's place on the one it was on.
    const again = sec.el.querySelector(`button[data-region="${focused.dataset.region}"]`);
    if (again) again.focus({ preventScroll: true });
  }
  const unknown = items.find((i) => i.unknown);
  sec.part("unknown").textContent = unknown ? t("unknownRegion", { n: int(unknown.row.organisations) }) : "";
  sec.part("table").replaceChildren(table("region", caption(t("byRegion"), plot, answer), items, answer.all.total, view));
  sec.part("source").replaceChildren(source(t("byRegion"), answer.region[lang()]));
}

function renderYear(answer) {
  const view = viewOf(answer, t("founded"), "year");
  const plot = plotted(view);
  const items = itemsOf("year", answer.year.rows, (year) => year).sort((a, b) =>
    a.unknown ? 1 : b.unknown ? -1 : Number(a.key) - Number(b.key),
  );
  const sec = section("year");
  sec.part("note").textContent = noteText(plot);
  sec.part("chart").replaceChildren(yearChart(items, plot) || h("p", { class: "empty" }, t("noData")));
  const unknown = items.find((i) => i.unknown);
  sec.part("unknown").textContent = unknown ? t("unknownYear", { n: int(unknown.row.organisations) }) : "";
  sec.part("table").replaceChildren(table("year", caption(t("byYear"), plot, answer), items, answer.all.total, view));
  sec.part("source").replaceChildren(source(t("byYear"), answer.year[lang()]));
}

function renderChanges(diff, prev, error) {
  const body = $("#changes [data-part=body]");
  if (error) {
    body.replaceChildren(h("p", { class: "field-error", "data-diff": "error" }, t("error", { msg: error.message || String(error) })));
    return;
  }
  if (!prev || !diff) {
    body.replaceChildren(h("p", { "data-diff": "none" }, t("firstSnapshot")));
    return;
  }
  const rows = diff.rows.filter((r) => {
    if (st.family && (r.family || "").toLowerCase() !== st.family) return false;
    if (st.region && (!r.region || r.region.code !== st.region)) return false;
    return true;
  });
  const filtered = Boolean(st.family || st.region);
  const sum = (list) =>
    list.reduce(
      (acc, r) => ({ added: acc.added + r.added, removed: acc.removed + r.removed, changed: acc.changed + r.changed, unchanged: acc.unchanged + r.unchanged }),
      { added: 0, removed: 0, changed: 0, unchanged: 0 },
    );
  const total = filtered ? sum(rows) : diff.total;
  const fields = ["added", "removed", "changed", "unchanged"];
  const summary = h(
    "dl",
    { class: "kpis kpis-diff" },
    fields.map((f) => h("div", { class: "kpi" }, h("dt", null, t(f)), h("dd", { class: "kpi-value", "data-diff": f, "data-value": total[f] }, int(total[f])))),
  );
  const perFamily = FAMILIES.map((f) => [f, sum(rows.filter((r) => (r.family || "").toLowerCase() === f))]).filter(
    ([f]) => !st.family || st.family === f,
  );
  const captionId = "diff-caption";
  const tbl = h(
    "div",
    { class: "table-wrap", tabindex: "0", role: "region", "aria-labelledby": captionId },
    h(
      "table",
      { "data-table": "diff", "aria-labelledby": captionId },
      h("caption", { id: captionId }, `${t("diffCaption")}. ${scopeText(shown)}.`),
      h("thead", null, h("tr", null, h("th", { scope: "col" }, t("family")), fields.map((f) => h("th", { scope: "col" }, t(f))))),
      h(
        "tbody",
        null,
        perFamily.map(([f, v]) =>
          h("tr", { "data-key": f }, h("th", { scope: "row" }, familyLabel(f)), fields.map((k) => h("td", { "data-field": k, "data-value": v[k] }, int(v[k])))),
        ),
      ),
      h("tfoot", null, h("tr", { "data-key": "total" }, h("th", { scope: "row" }, t("total")), fields.map((k) => h("td", { "data-field": k, "data-value": total[k] }, int(total[k]))))),
    ),
  );
  const others = st.province || st.sector || st.status || st.foundedFrom || st.foundedTo;
  body.replaceChildren(
    ...[
      h("p", null, t("diffBetween", { from: diff.from.id, fromDate: date(diff.from.createdAt), to: diff.to.id, toDate: date(diff.to.createdAt) })),
      summary,
      tbl,
      others ? h("p", { class: "help" }, t("diffScope")) : null,
    ].filter(Boolean),
  );
}

function renderDownloads(answer) {
  const list = answer.all.snapshot.downloads || [];
  $("#download-list").replaceChildren(
    ...list.map((d) =>
      h(
        "li",
        null,
        h("a", { href: d.url }, d.name),
        ` — ${bytes(d.bytes)}${d.rows != null ? `, ${t("rows", { n: int(d.rows) })}` : ""}`,
      ),
    ),
  );
}

// ---------------------------------------------------------------- start

wireControls();
update();
