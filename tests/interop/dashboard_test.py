#!/usr/bin/env python3
"""Browser test of the public dashboard (`GET /`), as a person and a screen reader use it.

    python3 tests/interop/dashboard_test.py BASE_URL EXPECTED_AGGREGATES_JSON SCREENSHOT_DIR

BASE_URL is a running `ess demo` (the 1,034 sample organisations) on this machine;
EXPECTED_AGGREGATES_JSON is shared/samples/expected_aggregates.json. The test drives
Debian's Chromium through Playwright for Python (pinned in tests/requirements.txt; no
browser is downloaded) and runs axe-core, installed from npm into a fixed temporary
directory on first use (`npm install --no-save --prefix <dir> axe-core@<AXE_VERSION>`)
and reused after. It checks, and prints as one JSON object on the last line of stdout:

 1. the page loads with no console error and no failed request (under the page's CSP);
 2. choosing filters in the UI changes the headline figures to the expected aggregates
    (no filter: the total; family = cooperative; then region MA-03 from the tile map,
    and that view's sector table; a province; a founding-year range), and a status or
    a sector to the figures of its row in the unfiltered chart;
 3. the Arabic view is right to left and names the regions in Arabic, switched
    without reloading;
 4. the page's URL reopens the same view (controls and figures) in a new page;
 5. each chart's CSV link downloads the numbers of the chart's table;
 6. axe-core finds no serious or critical violation in FR, AR and EN (all reported);
 7. at 360 px wide the page does not scroll sideways;
 8. the snapshot selector lists the snapshots (and a past one, when there is one,
    shows its numbers and the changes since the one before);
 9. the first full render time (navigation start to `performance.mark("ess:rendered")`)
    and the bytes the first load transferred (compressed as sent);
10. screenshots fr.png, ar.png, en.png (1280 wide, full page) and phone-fr.png (360).

Exits 0 when every check passes, 1 with the failures on stderr (and in the JSON)
otherwise, 2 when it cannot run (no Playwright, no Chromium, no npm).

The page contract it relies on (api/assets/dashboard/README.md): `html[data-state]`
("loading" | "ready" | "error") and `html[data-rendered]` (the query string drawn);
controls `#f-snapshot #f-family #f-region #f-province #f-sector #f-status #f-from #f-to
#f-measure input[name=scale] #f-reset`, language links `a[data-lang]`; headline figures
`[data-kpi=<measure>][data-value]`; charts `section[data-chart=<key>]` with a table
`table[data-table]` whose rows are `tr[data-key]` and cells `td[data-field][data-value]`
("" when unknown), a CSV link `a[data-csv]`, a citation `[data-citation]` with its
link `a[data-citation-url]`; region tiles `button[data-region]`; the changes
`[data-diff]`.
"""

import csv
import io
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

AXE_VERSION = "4.14.1"
DEADLINE_S = 120  # the whole browser run, after the installs
TRANSFER_BUDGET = 250_000  # bytes the first load may transfer, compressed as sent
WAIT_S = 15  # one wait for the page

MEASURES = [
    "organisations",
    "members",
    "membersWomen",
    "employees",
    "employeesWomen",
    "employeesMen",
    "genderCoverage",
    "womenEmploymentShare",
]
INT_MEASURES = MEASURES[:6]
CHARTS = ["region", "sector", "year", "family", "status"]

ARABIC = re.compile(r"[\u0600-\u06FF]")
DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


def log(msg):
    print(f"dashboard_test: {msg}", file=sys.stderr, flush=True)


class Failure(Exception):
    pass


class Deadline(Exception):
    pass


# ------------------------------------------------------------------ set-up


def install_axe():
    """axe.min.js of AXE_VERSION, installed once into a fixed temporary directory."""
    root = os.path.join(tempfile.gettempdir(), f"ess-axe-core-{AXE_VERSION}")
    path = os.path.join(root, "node_modules", "axe-core", "axe.min.js")
    if os.path.exists(path):
        return path
    npm = shutil.which("npm")
    if not npm:
        raise SystemExit(2)
    os.makedirs(root, exist_ok=True)
    import fcntl

    with open(os.path.join(root, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(path):
            log(f"installing axe-core@{AXE_VERSION} into {root}")
            subprocess.run(
                [npm, "install", "--no-save", "--no-audit", "--no-fund", "--loglevel=error",
                 "--prefix", root, f"axe-core@{AXE_VERSION}"],
                check=True,
                timeout=300,
                stdout=sys.stderr,
            )
    if not os.path.exists(path):
        raise RuntimeError(f"npm did not install {path}")
    return path


def http_get(url, timeout=20):
    req = urllib.request.Request(url, headers={"accept-encoding": "identity"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, dict(r.headers), r.read()


def graphql(base, query, variables=None):
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    req = urllib.request.Request(
        f"{base}/graphql", data=body, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=20) as r:
        data = json.load(r)
    if data.get("errors"):
        raise Failure(f"GraphQL error: {data['errors']}")
    return data["data"]


# ------------------------------------------------------------------ page helpers


class Watch:
    """Console errors, page errors and failed requests of every page of a context."""

    def __init__(self):
        self.problems = []

    def attach(self, page, label):
        def console(msg):
            if msg.type == "error":
                self.problems.append(f"[{label}] console error: {msg.text}")

        def response(resp):
            if resp.status >= 400:
                self.problems.append(f"[{label}] HTTP {resp.status} for {resp.url}")

        page.on("console", console)
        page.on("pageerror", lambda e: self.problems.append(f"[{label}] page error: {e}"))
        page.on(
            "requestfailed",
            lambda r: self.problems.append(f"[{label}] request failed: {r.url} ({r.failure})"),
        )
        page.on("response", response)


def wait_ready(page, what="the page"):
    """Waits until the page has drawn the view its URL names (polled: the page's CSP
    forbids the eval that page.wait_for_function would need)."""
    end = time.monotonic() + WAIT_S
    last = None
    while time.monotonic() < end:
        last = page.evaluate(
            """() => { const r = document.documentElement;
                return { state: r.dataset.state || "", rendered: r.dataset.rendered ?? null,
                         search: location.search.slice(1),
                         error: (document.querySelector('#error-text') || {}).textContent || "" }; }"""
        )
        if last["state"] == "error":
            raise Failure(f"{what}: the page shows an error: {last['error']}")
        if last["state"] == "ready" and last["rendered"] == last["search"]:
            return last
        time.sleep(0.03)
    raise Failure(f"{what}: not rendered within {WAIT_S} s (last state {last})")


def kpis(page):
    got = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('[data-kpi]')].map(
              e => [e.dataset.kpi, { value: e.dataset.value, text: e.textContent }]))"""
    )
    out = {}
    for k, v in got.items():
        raw = v["value"]
        out[k] = None if raw in ("", None) else (float(raw) if k not in INT_MEASURES else int(float(raw)))
        if k in INT_MEASURES and out[k] is not None:
            shown = re.sub(r"\D", "", v["text"].translate(DIGITS))
            if shown != str(out[k]):
                raise Failure(f"headline {k}: data-value {out[k]} but text {v['text']!r}")
    return out


def compare(expected, got, what):
    diffs = []
    for m in MEASURES:
        e, g = expected.get(m), got.get(m)
        if m == "membersWomen" and g is None and e == 0:
            continue  # shown as unknown: no cooperative reports it here
        if e is None or g is None:
            if e != g:
                diffs.append(f"{m}: expected {e}, shown {g}")
        elif m in INT_MEASURES:
            if int(e) != int(g):
                diffs.append(f"{m}: expected {e}, shown {g}")
        elif not math.isclose(float(e), float(g), rel_tol=1e-9, abs_tol=1e-12):
            diffs.append(f"{m}: expected {e}, shown {g}")
    if diffs:
        raise Failure(f"{what}: " + "; ".join(diffs))


def controls(page):
    return page.evaluate(
        """() => Object.fromEntries(['f-snapshot','f-family','f-region','f-province','f-sector',
              'f-status','f-from','f-to','f-measure'].map(id => [id, document.getElementById(id).value])
              .concat([['scale', (document.querySelector('input[name=scale]:checked') || {}).value],
                       ['lang', document.documentElement.lang], ['dir', document.dir]]))"""
    )


def chart_table(page, chart):
    return page.evaluate(
        """(chart) => [...document.querySelectorAll(`section[data-chart="${chart}"] table[data-table] tbody tr[data-key]`)]
              .map(tr => ({ key: tr.dataset.key, label: tr.querySelector('th').textContent,
                            cells: Object.fromEntries([...tr.querySelectorAll('td[data-field]')]
                              .map(td => [td.dataset.field, td.dataset.value])) }))""",
        chart,
    )


def open_details(page):
    page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")


# ------------------------------------------------------------------ checks


def check_csv(page, chart, base):
    """The chart's CSV link gives the numbers of its table."""
    link = page.evaluate(
        """(chart) => { const s = document.querySelector(`section[data-chart="${chart}"]`);
              const a = s.querySelector('a[data-csv]'); const c = s.querySelector('a[data-citation-url]');
              const t = s.querySelector('[data-citation]');
              return { href: a && a.href, cite: c && c.href, text: t && t.textContent }; }""",
        chart,
    )
    if not link["href"]:
        raise Failure(f"chart {chart}: no CSV link")
    href = link["href"]
    q = urllib.parse.parse_qs(urllib.parse.urlparse(href).query)
    if "snapshot" not in q:
        raise Failure(f"chart {chart}: the CSV link is not pinned to a snapshot: {href}")
    if link["cite"] != href or not link["text"] or href not in link["text"]:
        raise Failure(f"chart {chart}: the citation does not give the CSV link ({link})")
    # The link names the server it came from; fetch it from BASE_URL all the same.
    parsed = urllib.parse.urlparse(href)
    url = base + parsed.path + ("?" + parsed.query if parsed.query else "")
    status, headers, body = http_get(url)
    text = body.decode("utf-8-sig")
    first, _, rest = text.partition("\n")
    if not first.startswith("# source:"):
        raise Failure(f"chart {chart}: the CSV does not start with its source: {first[:80]!r}")
    rows = list(csv.reader(io.StringIO(rest)))
    header, rows = rows[0], [r for r in rows[1:] if r]
    # The first column is the group's code (or year); the measures start at the first
    # column whose every value is an integer (the name column, if any, is text).
    start = next(
        (i for i in range(1, len(header)) if all(re.fullmatch(r"-?\d+", r[i] or "x") for r in rows)),
        None,
    )
    if start is None:
        raise Failure(f"chart {chart}: no organisations column in the CSV header {header}")
    table = {r["key"]: r for r in chart_table(page, chart)}
    seen = set()
    for r in rows:
        key = r[0]
        if key not in table:
            if "unknown" in table and "unknown" not in seen:
                key = "unknown"
            else:
                raise Failure(f"chart {chart}: CSV row {r[:3]} is not in the chart's table")
        seen.add(key)
        cells = table[key]["cells"]
        for i, m in enumerate(MEASURES):
            csv_v = r[start + i]
            shown = cells.get(m)
            if shown is None:
                raise Failure(f"chart {chart}: table has no {m} column")
            if m == "membersWomen" and shown == "" and csv_v in ("0", ""):
                continue  # the table says unknown (no cooperative in the group)
            if csv_v == "" or shown == "":
                if csv_v != shown:
                    raise Failure(f"chart {chart}, {key}, {m}: CSV {csv_v!r}, table {shown!r}")
            elif m in INT_MEASURES:
                if int(csv_v) != int(float(shown)):
                    raise Failure(f"chart {chart}, {key}, {m}: CSV {csv_v}, table {shown}")
            elif not math.isclose(float(csv_v), float(shown), rel_tol=1e-9, abs_tol=1e-12):
                raise Failure(f"chart {chart}, {key}, {m}: CSV {csv_v}, table {shown}")
    missing = set(table) - seen
    if missing:
        raise Failure(f"chart {chart}: table rows {sorted(missing)} are not in the CSV")
    return {"url": href, "rows": len(rows), "bytes": len(body)}


def run_axe(page, axe_source, label):
    open_details(page)
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source)  # through the DevTools protocol: the page's CSP does not apply
    result = page.evaluate(
        """async () => { const r = await axe.run(document, { resultTypes: ['violations'] });
              return r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.length, targets: v.nodes.slice(0, 3).map(n => n.target.join(' ')) })); }"""
    )
    serious = [v for v in result if v["impact"] in ("serious", "critical")]
    return {"view": label, "violations": result, "serious_or_critical": len(serious)}


def pick(page, selector, value, what):
    page.select_option(selector, value, timeout=WAIT_S * 1000)
    return wait_ready(page, what)


# ------------------------------------------------------------------ main


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    base = sys.argv[1].rstrip("/")
    expected = json.load(open(sys.argv[2], encoding="utf-8"))
    shots = sys.argv[3]
    os.makedirs(shots, exist_ok=True)
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        log("playwright is not installed (pip install -r tests/requirements.txt)")
        return 2
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(chromium):
        log("no Chromium (apt-get install chromium)")
        return 2
    try:
        axe_path = install_axe()
    except SystemExit:
        log("no npm: axe-core cannot be installed (apt-get install npm)")
        return 2
    except (subprocess.SubprocessError, OSError, RuntimeError) as e:
        log(f"axe-core@{AXE_VERSION} could not be installed from npm: {e}")
        return 2
    axe_source = open(axe_path, encoding="utf-8").read()

    report = {"base_url": base, "axe_core": AXE_VERSION, "checks": {}, "failures": []}
    checks = report["checks"]
    watch = Watch()

    def check(name, fn):
        t0 = time.monotonic()
        try:
            out = fn()
            checks[name] = {"ok": True, **(out or {})}
        except Deadline:
            raise
        except Exception as e:  # noqa: BLE001 - every failure is reported, then the next check runs
            checks[name] = {"ok": False, "error": f"{type(e).__name__}: {e}"}
            report["failures"].append(f"{name}: {e}")
            log(f"FAILED {name}: {e}")
        checks[name]["seconds"] = round(time.monotonic() - t0, 2)
        log(f"{name}: {'ok' if checks[name]['ok'] else 'FAILED'} ({checks[name]['seconds']} s)")

    def on_alarm(signum, frame):
        raise Deadline(f"the browser run took more than {DEADLINE_S} s")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(DEADLINE_S)
    started = time.monotonic()

    try:
        reference = graphql(
            base,
            "{ regions { code ar: name(lang: AR) fr: name(lang: FR) } snapshots { id createdAt organisations } }",
        )
        ar_names = {r["code"]: r["ar"] for r in reference["regions"]}
        snapshots = reference["snapshots"]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])

            def new_page(label, width=1280, height=900, mobile=False):
                ctx = browser.new_context(
                    viewport={"width": width, "height": height},
                    device_scale_factor=1,
                    is_mobile=mobile,
                    has_touch=mobile,
                    accept_downloads=False,
                )
                ctx.set_default_timeout(WAIT_S * 1000)
                ctx.set_default_navigation_timeout(WAIT_S * 1000 + 5000)
                pg = ctx.new_page()
                watch.attach(pg, label)
                return pg

            state = {}

            # 1 and 9: the first load, in a fresh context (no cache).
            def first_load():
                pg = new_page("first load")
                sizes = []
                pg.on("requestfinished", lambda r: sizes.append(r))
                pg.goto(f"{base}/", wait_until="load")
                wait_ready(pg, "first load")
                perf = pg.evaluate(
                    """() => { const m = performance.getEntriesByName('ess:rendered')[0];
                          const nav = performance.getEntriesByType('navigation')[0];
                          const res = performance.getEntriesByType('resource');
                          const sum = (k) => res.reduce((a, r) => a + (r[k] || 0), nav[k] || 0);
                          return { render_ms: m ? m.startTime : null, transfer: sum('transferSize'),
                                   encoded: sum('encodedBodySize'), decoded: sum('decodedBodySize'),
                                   requests: res.length + 1,
                                   files: [nav].concat(res).map(r => ({ url: r.name.replace(location.origin, ''),
                                     transfer: r.transferSize, encoded: r.encodedBodySize, decoded: r.decodedBodySize })) }; }"""
                )
                pw_bytes = 0
                for r in sizes:
                    try:
                        s = r.sizes()
                        pw_bytes += s["responseBodySize"] + s["responseHeadersSize"]
                    except Exception:  # noqa: BLE001 - a request with no sizes counts 0
                        pass
                if perf["render_ms"] is None:
                    raise Failure('the page never marked itself rendered (performance.mark("ess:rendered"))')
                if watch.problems:
                    raise Failure("; ".join(watch.problems))
                k = kpis(pg)
                compare({"organisations": expected["total"]}, {"organisations": k.get("organisations")}, "no filter")
                state["first"] = pg
                # Once more in a fresh context: the browser's cache is cold again, the
                # server's is warm (tells a cold server from a slow page).
                again = new_page("second load")
                again.goto(f"{base}/", wait_until="load")
                wait_ready(again, "second load")
                second = again.evaluate("() => performance.getEntriesByName('ess:rendered')[0].startTime")
                again.context.close()
                if perf["transfer"] > TRANSFER_BUDGET:
                    raise Failure(f"the first load transferred {perf['transfer']} bytes (budget {TRANSFER_BUDGET})")
                return {
                    "render_ms_second_load": round(second, 1),
                    "render_under_1s": perf["render_ms"] < 1000,
                    "render_ms": round(perf["render_ms"], 1),
                    "transfer_bytes": perf["transfer"],
                    "encoded_body_bytes": perf["encoded"],
                    "decoded_body_bytes": perf["decoded"],
                    "playwright_response_bytes": pw_bytes,
                    "requests": perf["requests"],
                    "files": perf["files"],
                    "organisations": k.get("organisations"),
                }

            check("first_load", first_load)
            report["render_ms"] = checks["first_load"].get("render_ms")
            report["transfer_bytes"] = checks["first_load"].get("transfer_bytes")

            # 2: filters chosen in the UI.
            def filters():
                pg = state.get("first") or new_page("filters")
                if "first" not in state:
                    pg.goto(f"{base}/")
                    wait_ready(pg)
                out = {}
                pick(pg, "#f-family", "cooperative", "family = cooperative")
                compare(expected["family"]["cooperative"], kpis(pg), "family = cooperative")
                out["family_cooperative"] = kpis(pg)["organisations"]
                # Region from the tile map (a button per region), by keyboard.
                pg.focus('button[data-region="MA-03"]')
                pg.keyboard.press("Enter")
                wait_ready(pg, "region MA-03 from the map")
                if pg.evaluate("() => document.activeElement && document.activeElement.dataset.region") != "MA-03":
                    raise Failure("the keyboard's focus left the tile it chose")
                c = controls(pg)
                if c["f-region"] != "MA-03" or c["f-family"] != "cooperative":
                    raise Failure(f"the map's tile did not set the region control: {c}")
                compare(expected["region_family"]["MA-03|cooperative"], kpis(pg), "MA-03|cooperative")
                pressed = pg.get_attribute('button[data-region="MA-03"]', "aria-pressed")
                if pressed != "true":
                    raise Failure("the chosen region's tile is not aria-pressed")
                q = urllib.parse.parse_qs(urllib.parse.urlparse(pg.url).query)
                if q.get("family") != ["cooperative"] or q.get("region") != ["MA-03"]:
                    raise Failure(f"the URL does not hold the filters: {pg.url}")
                out["region_family_MA-03|cooperative"] = kpis(pg)["organisations"]
                # The sector chart of that view: the expected per-sector numbers.
                table = {r["key"]: r["cells"] for r in chart_table(pg, "sector")}
                exp = expected.get("coop_fes_meknes_by_sector", {})
                for code, e in exp.items():
                    if code not in table:
                        raise Failure(f"sector {code} missing from the sector table of MA-03|cooperative")
                    got = {m: (None if table[code].get(m) in ("", None) else float(table[code][m])) for m in MEASURES}
                    compare(e, got, f"sector table {code} of MA-03|cooperative")
                if exp and set(table) - set(exp):
                    raise Failure(f"sector table has rows not expected: {sorted(set(table) - set(exp))}")
                out["sector_rows_checked"] = len(exp)
                # Back: the view before the region, from the browser's history.
                pg.go_back()
                wait_ready(pg, "back")
                if controls(pg)["f-region"] != "" or kpis(pg)["organisations"] != expected["family"]["cooperative"]["organisations"]:
                    raise Failure(f"going back did not bring back the family-only view: {controls(pg)}")
                pg.go_forward()
                wait_ready(pg, "forward")
                compare(expected["region_family"]["MA-03|cooperative"], kpis(pg), "MA-03|cooperative, forward")
                state["filtered_url"] = pg.url
                state["filtered_kpis"] = kpis(pg)
                state["filtered"] = pg
                return out

            check("filters", filters)

            # 5: the CSV link of each chart gives its table's numbers.
            def csv_links():
                pg = state.get("filtered")
                if not pg:
                    raise Failure("no filtered page (the filters check failed)")
                return {chart: check_csv(pg, chart, base) for chart in CHARTS}

            check("csv", csv_links)

            # 4: the shared URL reopens the same view.
            def shared_url():
                url = state.get("filtered_url")
                if not url:
                    raise Failure("no filtered URL (the filters check failed)")
                before = controls(state["filtered"])
                pg = new_page("shared URL")
                pg.goto(url)
                wait_ready(pg, "the shared URL")
                after = controls(pg)
                if after != before:
                    raise Failure(f"controls differ: {before} then {after}")
                if kpis(pg) != state["filtered_kpis"]:
                    raise Failure(f"figures differ: {state['filtered_kpis']} then {kpis(pg)}")
                if pg.url != url:
                    raise Failure(f"the reopened page rewrote its URL: {url} then {pg.url}")
                pg.context.close()
                return {"url": url, "controls": after}

            check("shared_url", shared_url)

            # 2 (more): a province, then a founding-year range.
            def more_filters():
                pg = new_page("more filters")
                pg.goto(f"{base}/?lang=fr")
                wait_ready(pg)
                out = {}
                # A status, then a sector: the figures of that row of the unfiltered chart.
                for chart, control in (("status", "#f-status"), ("sector", "#f-sector")):
                    rows = {r["key"]: r["cells"] for r in chart_table(pg, chart)}
                    key = max((k for k in rows if k != "unknown"), key=lambda k: int(rows[k]["organisations"]))
                    if chart == "status" and "dissolved" in rows:
                        key = "dissolved"
                    pick(pg, control, key, f"{chart} = {key}")
                    row = {m: (None if rows[key].get(m) in ("", None) else float(rows[key][m])) for m in MEASURES}
                    compare(row, kpis(pg), f"{chart} = {key} (its row of the unfiltered chart)")
                    out[chart] = key
                    pg.click("#f-reset")
                    wait_ready(pg, "reset")
                province = next((k for k in sorted(expected.get("province", {})) if k.startswith("MA-")), None)
                if province:
                    pick(pg, "#f-province", province, f"province {province}")
                    compare(expected["province"][province], kpis(pg), f"province {province}")
                    out["province"] = province
                    pg.click("#f-reset")
                    wait_ready(pg, "reset")
                    if kpis(pg)["organisations"] != expected["total"]:
                        raise Failure("reset did not bring back the total")
                years = [k for k in expected.get("year_family", {}) if re.fullmatch(r"\d{4}\|cooperative", k)]
                if years:
                    key = max(years, key=lambda k: expected["year_family"][k]["organisations"])
                    year = key.split("|")[0]
                    pick(pg, "#f-family", "cooperative", "family = cooperative")
                    pg.fill("#f-from", year)
                    pg.fill("#f-to", year)
                    pg.press("#f-to", "Tab")
                    # Leaving "from" applied it alone first: wait for both in the URL.
                    end = time.monotonic() + WAIT_S
                    while "foundedTo=" not in pg.url and time.monotonic() < end:
                        time.sleep(0.03)
                    wait_ready(pg, f"founded {year}")
                    if controls(pg)["f-from"] != year:
                        raise Failure("the founding-year control lost its value")
                    q = urllib.parse.parse_qs(urllib.parse.urlparse(pg.url).query)
                    if q.get("foundedFrom") != [year] or q.get("foundedTo") != [year]:
                        raise Failure(f"the URL does not hold the years: {pg.url}")
                    compare(expected["year_family"][key], kpis(pg), f"year_family {key}")
                    out["year_family"] = key
                pg.context.close()
                return out

            check("more_filters", more_filters)

            # 3: Arabic, right to left, without reloading.
            def arabic():
                pg = state.get("filtered") or new_page("arabic")
                if "filtered" not in state:
                    pg.goto(f"{base}/")
                    wait_ready(pg)
                pg.evaluate("() => { window.__essNoReload = 1; }")
                before = kpis(pg)
                pg.click('a[data-lang="ar"]')
                wait_ready(pg, "Arabic")
                if pg.evaluate("() => window.__essNoReload") != 1:
                    raise Failure("switching language reloaded the page")
                d = pg.evaluate("() => ({ dir: document.dir, lang: document.documentElement.lang })")
                if d != {"dir": "rtl", "lang": "ar"}:
                    raise Failure(f"the Arabic view is {d}")
                if kpis(pg) != before:
                    raise Failure("the figures changed with the language")
                tiles = pg.evaluate(
                    """() => Object.fromEntries([...document.querySelectorAll('button[data-region]')]
                          .map(b => [b.dataset.region, b.querySelector('.tile-name').textContent]))"""
                )
                rows = {r["key"]: r["label"] for r in chart_table(pg, "region")}
                for code, name in tiles.items():
                    if name != ar_names.get(code) or not ARABIC.search(name):
                        raise Failure(f"tile {code} reads {name!r}, not {ar_names.get(code)!r}")
                for code, label in rows.items():
                    if code in ar_names and label != ar_names[code]:
                        raise Failure(f"region table row {code} reads {label!r}")
                if "lang=ar" not in pg.url:
                    raise Failure(f"the URL does not hold the language: {pg.url}")
                return {"dir": d["dir"], "tiles": len(tiles), "example": tiles.get("MA-03")}

            check("arabic", arabic)

            # 8: the snapshot selector.
            def snapshot_selector():
                pg = new_page("snapshots")
                pg.goto(f"{base}/?lang=en")
                wait_ready(pg)
                options = pg.evaluate("() => [...document.querySelectorAll('#f-snapshot option')].map(o => o.value)")
                ids = [s["id"] for s in snapshots]
                if options != ids:
                    raise Failure(f"the selector lists {options}, the API {ids}")
                if controls(pg)["f-snapshot"] != ids[0]:
                    raise Failure("the latest snapshot is not the one selected")
                out = {"snapshots": ids}
                if len(ids) > 1:
                    past = snapshots[1]
                    pick(pg, "#f-snapshot", past["id"], f"snapshot {past['id']}")
                    if kpis(pg)["organisations"] != past["organisations"]:
                        raise Failure(f"snapshot {past['id']} shows {kpis(pg)['organisations']} organisations")
                    pick(pg, "#f-snapshot", ids[0], f"snapshot {ids[0]}")
                    diff = pg.evaluate(
                        "() => Object.fromEntries([...document.querySelectorAll('#changes [data-diff][data-value]')].map(e => [e.dataset.diff, Number(e.dataset.value)]))"
                    )
                    if set(diff) < {"added", "removed", "changed", "unchanged"}:
                        raise Failure(f"no changes shown since snapshot {past['id']}: {diff}")
                    out["diff"] = diff
                else:
                    if not pg.query_selector('#changes [data-diff="none"]'):
                        raise Failure("a single snapshot: the page should say there is nothing to compare")
                pg.context.close()
                return out

            check("snapshot_selector", snapshot_selector)

            # 6 and 10: axe in the three languages, and their screenshots.
            def accessibility():
                results = []
                for lang in ("fr", "ar", "en"):
                    pg = new_page(f"axe {lang}")
                    pg.goto(f"{base}/?lang={lang}")
                    wait_ready(pg, f"{lang} page")
                    pg.screenshot(path=os.path.join(shots, f"{lang}.png"), full_page=True)
                    results.append(run_axe(pg, axe_source, lang))
                    if lang == "fr":
                        # A filtered view per inhabitant, and the keyboard's focus on a tile.
                        pick(pg, "#f-family", "cooperative", "cooperative")
                        pg.check("#f-scale-population")
                        wait_ready(pg, "per inhabitant")
                        results.append(run_axe(pg, axe_source, "fr, cooperatives per inhabitant"))
                    pg.context.close()
                bad = [(r["view"], v["id"], v["impact"]) for r in results for v in r["violations"]
                       if v["impact"] in ("serious", "critical")]
                report["axe"] = results
                if bad:
                    raise Failure(f"axe-core: serious or critical violations {bad}")
                return {"views": [r["view"] for r in results],
                        "violations": sum(len(r["violations"]) for r in results)}

            check("axe", accessibility)

            # 7 and 10: a phone.
            def phone():
                out = {}
                for lang in ("fr", "ar"):
                    pg = new_page(f"phone {lang}", width=360, height=740, mobile=True)
                    pg.goto(f"{base}/?lang={lang}")
                    wait_ready(pg, f"phone {lang}")
                    w = pg.evaluate("() => document.documentElement.scrollWidth")
                    out[f"scroll_width_{lang}"] = w
                    if lang == "fr":
                        pg.screenshot(path=os.path.join(shots, "phone-fr.png"), full_page=True)
                    pg.context.close()
                    if w > 360:
                        raise Failure(f"at 360 px the {lang} page is {w} px wide")
                return out

            check("phone", phone)

            # 1 (again): nothing went wrong on any page.
            def clean():
                if watch.problems:
                    raise Failure("; ".join(watch.problems[:20]))
                return {}

            check("no_console_error_or_failed_request", clean)
            browser.close()
    except Deadline as e:
        report["failures"].append(str(e))
        log(str(e))
    except Exception as e:  # noqa: BLE001 - the server unreachable, the browser not starting…
        report["failures"].append(f"{type(e).__name__}: {e}")
        log(f"cannot run against {base}: {type(e).__name__}: {e}")
    finally:
        signal.alarm(0)

    report["seconds"] = round(time.monotonic() - started, 1)
    report["problems"] = watch.problems
    report["screenshots"] = sorted(f for f in os.listdir(shots) if f.endswith(".png"))
    report["ok"] = not report["failures"]
    print(json.dumps(report, ensure_ascii=False))
    if report["failures"]:
        log("FAILED:\n  " + "\n  ".join(report["failures"]))
        return 1
    log(f"all checks passed in {report['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
