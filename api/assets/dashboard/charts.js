// Charts and tables, drawn by hand: a tile map of the 12 regions, bars, a column
// chart of founding years, and under each an HTML table of its numbers, its CSV
// link and its citation. Only DOM APIs (no innerHTML with data, no style attribute):
// the page runs under a Content-Security-Policy without 'unsafe-inline'.

import { t, int, pct, pctSmall, ratio } from "/assets/i18n.js";

const SVG = "http://www.w3.org/2000/svg";

/** An element: `h("td", { class: "n", "data-value": 3 }, "3")`. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v == null || v === false) continue;
      if (k === "class") el.className = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function s(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  return el;
}

/** The measures a chart can show, as counts or per inhabitant (the census field `perKey`). */
export const MEASURES = {
  organisations: {
    count: (r) => r.organisations,
    perKey: "organisationsPer100kInhabitants",
    perLabel: () => t("organisationsPer100kInhabitants", { n: int(100000) }),
    perFormat: ratio,
  },
  members: {
    count: (r) => r.members,
    perKey: "membersPer1000Inhabitants",
    perLabel: () => t("membersPer1000Inhabitants", { n: int(1000) }),
    perFormat: ratio,
  },
  membersWomen: {
    count: (r) => r.membersWomen,
    perKey: "membersWomenPer1000Women",
    perLabel: () => t("membersWomenPer1000Women", { n: int(1000) }),
    perFormat: ratio,
  },
  employees: {
    count: (r) => r.employees,
    perKey: "employeesShareOfEmployed",
    perLabel: () => t("employeesShareOfEmployed"),
    perFormat: pctSmall,
  },
};
for (const m of Object.values(MEASURES)) m.per = (r) => r.census?.[m.perKey] ?? null;

/**
 * What a chart plots: `view.measure`, `view.scale` ("count" | "population"),
 * `view.womenUnknown(row, item)` (true when women members are not reported).
 * Returns { value(item) -> number|null, format(v), label }.
 */
export function plotted(view) {
  const m = MEASURES[view.measure] || MEASURES.organisations;
  const unknownWomen = (item) => view.measure === "membersWomen" && view.womenUnknown(item);
  if (view.scale === "population") {
    return {
      value: (item) => (unknownWomen(item) ? null : m.per(item.row)),
      format: m.perFormat,
      label: m.perLabel(),
    };
  }
  return {
    value: (item) => (unknownWomen(item) ? null : m.count(item.row)),
    format: int,
    label: t(view.measure),
  };
}

// ---------------------------------------------------------------- tables

function cell(field, value, format) {
  return h("td", { "data-field": field, "data-value": value == null ? "" : value, class: value == null ? "unknown" : null }, format(value));
}

function columns(view) {
  const cols = [
    ["organisations", (r) => r.organisations, int, t("organisations")],
    ["members", (r) => r.members, int, t("members")],
    ["membersWomen", (r, item) => (view.womenUnknown(item) ? null : r.membersWomen), int, view.womenLabel],
    ["employees", (r) => r.employees, int, t("employees")],
    ["employeesWomen", (r) => r.employeesWomen, int, t("employeesWomen")],
    ["employeesMen", (r) => r.employeesMen, int, t("employeesMen")],
    ["genderCoverage", (r) => r.genderCoverage ?? null, pct, t("genderCoverage")],
    ["womenEmploymentShare", (r) => r.womenEmploymentShare ?? null, pct, t("womenEmploymentShare")],
  ];
  if (view.scale === "population") {
    cols.push(["population", (r) => r.census?.population ?? null, int, t("population")]);
    for (const [key, m] of Object.entries(MEASURES)) {
      cols.push([
        m.perKey,
        (r, item) => (key === "membersWomen" && view.womenUnknown(item) ? null : m.per(r)),
        m.perFormat,
        m.perLabel(),
      ]);
    }
  }
  return cols;
}

/**
 * The table of a chart: one row per item (`{ key, label, row }`), then the total.
 * Rows carry `data-key`, cells `data-field` and `data-value` (raw, "" when unknown).
 */
export function table(id, caption, items, total, view) {
  const cols = columns(view);
  const captionId = `${id}-caption`;
  const head = h("tr", null, h("th", { scope: "col" }, view.dimensionLabel), cols.map((c) => h("th", { scope: "col" }, c[3])));
  const body = items.map((item) =>
    h(
      "tr",
      { "data-key": item.key },
      h("th", { scope: "row", class: item.unknown ? "unknown" : null }, item.label),
      cols.map(([field, get, format]) => cell(field, get(item.row, item), format)),
    ),
  );
  const foot = total
    ? h(
        "tr",
        { "data-key": "total" },
        h("th", { scope: "row" }, t("total")),
        cols.map(([field, get, format]) => cell(field, get(total, { key: "total", row: total }), format)),
      )
    : null;
  const tableEl = h(
    "table",
    { "data-table": id, "aria-labelledby": captionId },
    h("caption", { id: captionId }, caption),
    h("thead", null, head),
    h("tbody", null, body),
    foot ? h("tfoot", null, foot) : null,
  );
  return h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-labelledby": captionId }, tableEl);
}

// ---------------------------------------------------------------- sources

/** The CSV links and the citation of one aggregate. */
export function source(chartTitle, citation) {
  if (!citation) return h("div", { class: "source" });
  const { text, url } = citation;
  const excel = url + (url.includes("?") ? "&" : "?") + "format=excel-fr";
  const at = text.lastIndexOf(url);
  const before = at >= 0 ? text.slice(0, at) : text + " ";
  return h(
    "div",
    { class: "source" },
    h(
      "p",
      { class: "csv-links" },
      h("a", { href: url, "data-csv": "", download: "" }, t("csv"), h("span", { class: "sr-only" }, ` — ${chartTitle}`)),
      h("a", { href: excel, "data-csv-excel": "", download: "" }, t("csvExcel"), h("span", { class: "sr-only" }, ` — ${chartTitle}`)),
    ),
    h(
      "details",
      { class: "cite" },
      h("summary", null, t("cite"), h("span", { class: "sr-only" }, ` — ${chartTitle}`)),
      h("p", { "data-citation": "" }, before, h("a", { href: url, "data-citation-url": "" }, url)),
    ),
  );
}

// ---------------------------------------------------------------- bars

/** Horizontal bars (family, sector, status); unknown items last, hatched. */
export function bars(items, plot) {
  const values = items.map((it) => plot.value(it));
  const max = Math.max(0, ...values.filter((v) => v != null));
  const list = h("ol", { class: "bars", "aria-hidden": "true" });
  items.forEach((item, i) => {
    const v = values[i];
    const fill = h("span", { class: "bar-fill" + (item.unknown ? " is-unknown" : "") });
    fill.style.width = `${max > 0 && v != null ? Math.max((v / max) * 100, v > 0 ? 0.5 : 0) : 0}%`;
    list.append(
      h(
        "li",
        { class: "bar-row" },
        h("span", { class: "bar-label" + (item.unknown ? " unknown" : "") }, item.label),
        h("span", { class: "bar-track" }, fill),
        h("span", { class: "bar-value" + (v == null ? " unknown" : "") }, plot.format(v)),
      ),
    );
  });
  return list;
}

// ---------------------------------------------------------------- tile map

/** The 12 regions, north to south; their places are in style.css (grid areas). */
export const REGION_CODES = ["MA-01", "MA-02", "MA-03", "MA-04", "MA-05", "MA-06", "MA-07", "MA-08", "MA-09", "MA-10", "MA-11", "MA-12"];

const CLASSES = 5;

function bucket(v, max) {
  if (v == null) return "is-unknown";
  if (v <= 0 || max <= 0) return "q0";
  return `q${Math.min(CLASSES, Math.max(1, Math.ceil((v / max) * CLASSES)))}`;
}

/**
 * The tile map. `items` by region code; `selected`: the region filter; `inFilter(code)`:
 * whether the filter lets the region in; `onPick(code)`.
 */
export function tileMap(regionNames, itemsByCode, plot, { selected, inFilter, onPick }) {
  const values = REGION_CODES.map((c) => (itemsByCode.has(c) ? plot.value(itemsByCode.get(c)) : inFilter(c) ? 0 : null));
  const max = Math.max(0, ...values.filter((v) => v != null));
  const grid = h("div", { class: "tilemap" });
  REGION_CODES.forEach((code, i) => {
    const name = regionNames.get(code) || code;
    const outside = !inFilter(code);
    const v = values[i];
    const shown = outside ? t("tileOutside") : plot.format(v);
    const tile = h(
      "button",
      {
        type: "button",
        class: `tile ${outside ? "is-outside" : bucket(v, max)}`,
        "data-region": code,
        "aria-pressed": selected === code ? "true" : "false",
        onclick: () => onPick(code),
      },
      h("span", { class: "tile-name" }, name),
      h("span", { class: "sr-only" }, t("colon")),
      h("span", { class: "tile-value" }, shown),
      outside ? null : h("span", { class: "sr-only" }, ` ${plot.label}`),
    );
    grid.append(tile);
  });
  const legend = h("div", { class: "legend" }, h("span", { class: "legend-title" }, t("legend")));
  const legendList = h("ol", { class: "legend-scale" });
  legendList.append(h("li", null, h("span", { class: "swatch q0" }), plot.format(0)));
  for (let q = 1; q <= CLASSES; q++) {
    const hi = (max * q) / CLASSES;
    legendList.append(h("li", null, h("span", { class: `swatch q${q}` }), `≤ ${plot.format(hi)}`));
  }
  legend.append(legendList);
  return h("div", { class: "tilemap-wrap" }, grid, max > 0 ? legend : null);
}

// ---------------------------------------------------------------- years

/** Columns for founding years (a gap year is a true zero); unknown is told apart. */
export function yearChart(items, plot) {
  const known = items.filter((it) => !it.unknown);
  if (!known.length) return null;
  const years = known.map((it) => Number(it.key));
  const first = Math.min(...years);
  const last = Math.max(...years);
  const byYear = new Map(known.map((it) => [Number(it.key), plot.value(it)]));
  const n = last - first + 1;
  const values = [];
  for (let y = first; y <= last; y++) values.push([y, byYear.has(y) ? byYear.get(y) : 0]);
  const max = Math.max(0, ...values.map(([, v]) => v ?? 0));
  const W = 10;
  const H = 100;
  const svg = s("svg", { viewBox: `0 0 ${n * W} ${H}`, preserveAspectRatio: "none", class: "years-svg", focusable: "false" });
  svg.append(s("line", { x1: 0, y1: H, x2: n * W, y2: H, class: "axis-line" }));
  let peak = null;
  values.forEach(([y, v], i) => {
    if (v != null && (peak == null || v > peak[1])) peak = [y, v];
    const height = max > 0 && v != null ? (v / max) * (H - 2) : 0;
    const r = s("rect", { x: i * W + 1, y: H - height, width: W - 2, height, class: "year-bar" });
    const title = s("title");
    title.textContent = `${y}${t("colon")}${plot.format(v)}`;
    r.append(title);
    svg.append(r);
  });
  const ticks = [];
  const step = n > 40 ? 10 : n > 15 ? 5 : 1;
  for (let y = first; y <= last; y++) if (y === first || y === last || (y % step === 0 && y - first >= step / 2 && last - y >= step / 2)) ticks.push(y);
  const axis = h("div", { class: "year-axis" });
  for (const y of ticks) {
    const tick = h("span", { class: "year-tick" }, String(y));
    tick.style.insetInlineStart = `${((y - first + 0.5) / n) * 100}%`;
    axis.append(tick);
  }
  return h(
    "div",
    { class: "year-chart", "aria-hidden": "true" },
    peak && peak[1] > 0 ? h("p", { class: "year-peak" }, t("peak", { v: plot.format(peak[1]), year: peak[0] })) : null,
    h("div", { class: "year-plot" }, svg),
    axis,
  );
}
