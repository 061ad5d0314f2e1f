#!/usr/bin/env python3
"""ess against DuckDB on the same files: ingest, cold and warm dashboard queries over
HTTP, a row search, and throughput under 32 connections. Writes a Markdown table into
BENCHMARKS.md between the results markers. Bounded in time; talks to 127.0.0.1 only."""

import argparse, http.client, json, os, platform, re, shutil, statistics, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
REFERENCE = ROOT / "schemas" / "reference"

QUERIES = {
    "by region": '{ aggregate(groupBy: [REGION]) { rows { region { code } organisations members employeesWomen } } }',
    "region × family": '{ aggregate(groupBy: [REGION, FAMILY]) { rows { region { code } family organisations members } } }',
    "sector × gender, one region": '{ aggregate(groupBy: [SECTOR], filter: {region: ["MA-09"]}) { rows { sector { code } organisations employeesWomen employeesMen womenEmploymentShare genderCoverage } } }',
    "by founding year": '{ aggregate(groupBy: [FOUNDED_YEAR]) { rows { foundedYear organisations } } }',
    "search, first page": '{ organisations(search: "tifaouine 12", first: 20) { edges { node { orgId name regionCode } } pageInfo { hasNextPage } } }',
}

DUCK = {
    "by region": "select region_code, count(*), sum(members_total), sum(employees_women) from orgs group by 1 order by 1",
    "region × family": "select region_code, family, count(*), sum(members_total) from orgs group by 1, 2 order by 1, 2",
    "sector × gender, one region": """select sector_code, count(*), sum(employees_women), sum(employees_men),
        sum(case when employees_women is not null and employees_men is not null then employees_women end)
          / nullif(sum(case when employees_women is not null and employees_men is not null then employees_women + employees_men end), 0),
        avg(case when employees_women is not null and employees_men is not null then 1.0 else 0 end)
        from orgs where region_code = 'MA-09' group by 1 order by 1""",
    "by founding year": "select founded_year, count(*) from orgs group by 1 order by 1",
    "search, first page": "select org_id, name, region_code from orgs where search_key like '%tifaouine%' and search_key like '%12%' order by org_id limit 21",
}

# New searches: each asked once (no cache can help), common names and rare numbers.
NAMES = ["al amal", "tifaouine", "al baraka", "nour", "tamount", "azaghar", "ennakhil", "zitoune",
         "al khair", "tiwizi", "assafaa", "al massira", "tissir", "imilchil", "al fath", "ait baha"]
NEW_SEARCHES = [f"{NAMES[i % len(NAMES)]} {(i * 7919) % 100000}" for i in range(40)] + \
               [f"{(i * 104729) % 1000000:06d}" for i in range(20)]


def new_search_gql(term):
    return '{ organisations(search: %s, first: 20) { edges { node { orgId name regionCode } } pageInfo { hasNextPage } } }' % json.dumps(term)


def new_search_sql(term):
    words = " and ".join(f"search_key like '%{w}%'" for w in term.split())
    return f"select org_id, name, region_code from orgs where {words} order by org_id limit 21"


# Seconds of warm repeats of one DuckDB query, past its first five.
WARM_BUDGET_S = 15


def orgs_view(parts):
    """The snapshot's organisations for DuckDB, with the text an analyst would search in.

    The files hold no search key (ess computes its own from the names). Lower-cased,
    name then identifier: for the benchmark's searches (ASCII words and digits; the
    synthetic names' accents are in "Coopérative" alone) it matches the same
    organisations as ess's key. (`strip_accents` as well made DuckDB's searches at 10M
    about four times slower: 13.6 s against 3.1 s, both timed while the benchmark ran.)
    """
    return (f"create view orgs as select *, lower(name) || ' | ' || lower(source_id) "
            f"as search_key from read_parquet({parts!r})")


def wait_for_index(host, port, timeout=300):
    """Seconds until /healthz says the search index is ready."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        c = http.client.HTTPConnection(host, port)
        c.request("GET", "/healthz")
        if json.loads(c.getresponse().read()).get("search_index") == "ready":
            return time.perf_counter() - t0
        time.sleep(0.2)
    sys.exit("the search index was not ready in time")


def rss_mib(pid):
    return next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")) / 1024


def run_timed(cmd, **kw):
    """Runs cmd under /usr/bin/time -v; returns (seconds, peak RSS MiB, stdout)."""
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, **kw)
    secs = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{p.stderr[-3000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1)) / 1024
    return secs, rss, p.stdout


def ingest_stats(parts):
    """What an ingest of the cooperative CSV found: organisations, sums, and counts by
    region, province, sector, year, status and flags."""
    import duckdb
    con = duckdb.connect()
    con.execute(f"create view o as select * from read_parquet({parts!r})")
    stats = {"totals": con.execute("select count(*), count(distinct org_id), sum(members_total), sum(members_women), "
                                   "sum(employees_total), sum(employees_women), sum(employees_men) from o").fetchall()}
    for dim in ["region_code", "province_code", "sector_code", "founded_year", "status", "quality_flags"]:
        stats[dim] = con.execute(f"select {dim}, count(*) from o group by all order by all").fetchall()
    con.close()
    return stats


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def gql(conn, query):
    body = json.dumps({"query": query})
    t0 = time.perf_counter()
    conn.request("POST", "/graphql", body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    dt = (time.perf_counter() - t0) * 1e3
    if r.status != 200 or b'"errors"' in data:
        sys.exit(f"query failed: {data[:500]!r}")
    return dt


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")) / 1024 / 1024
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    import duckdb
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, {platform.system()} {platform.release()}; {rustc}; DuckDB {duckdb.__version__}"


def same_columns_sql(sql):
    """The same-work SQL without the lines between "-- same work only: begin" and
    "-- same work only: end"."""
    out, skipping = [], False
    for line in sql.splitlines(keepends=True):
        marker = line.strip()
        if marker == "-- same work only: begin":
            skipping = True
        elif marker == "-- same work only: end":
            skipping = False
        elif not skipping:
            out.append(line)
    if skipping or len(out) == len(sql.splitlines()):
        raise SystemExit("bench/duckdb_ingest.sql: unbalanced or missing '-- same work only' markers")
    return "".join(out)


def bench_scale(ess, n, warm_runs, wrk_secs):
    import duckdb
    data = OUT / f"data-{n}"
    store = OUT / f"store-{n}"
    duck_pq = OUT / f"duckdb-{n}.parquet"
    for p in (store,):
        shutil.rmtree(p, ignore_errors=True)
    res = {"n": n}

    # Data: n cooperatives in one CSV (the ingest comparison), plus associations and
    # mutuals for the query snapshot.
    t0 = time.perf_counter()
    subprocess.run([ess, "synth", "--out", data, "--cooperatives", str(n), "--associations", str(max(1000, n // 50)),
                    "--mutuals", str(max(100, n // 100)), "--seed", "1"], check=True, capture_output=True)
    res["synth_s"] = time.perf_counter() - t0
    csv = data / "cooperatives.csv"
    res["csv_mb"] = csv.stat().st_size / 1e6

    # Ingest: the cooperative CSV alone, ess vs DuckDB read_csv → Parquet.
    # Three runs of each, alternated (ess, DuckDB, ess, …): the machine is shared and
    # noisy, and alternating spreads a slow minute over both. The median run's time,
    # and every run's peak memory (the target is memory that does not grow with rows).
    dsql = (f"COPY (SELECT * FROM read_csv('{csv}', delim=';', header=true)) TO '{duck_pq}' "
            f"(FORMAT parquet, COMPRESSION zstd)")
    runs, duck_runs = [], []
    for _ in range(3):
        shutil.rmtree(OUT / f"ingest-{n}", ignore_errors=True)
        runs.append(run_timed([ess, "ingest", "--store", OUT / f"ingest-{n}", "--cooperatives", csv],
                              env={**os.environ, "RUST_LOG": "warn"})[:2])
        duck_runs.append(run_timed([sys.executable, "-c", f"import duckdb; duckdb.connect().execute({dsql!r})"])[:2])
    secs = statistics.median(r[0] for r in runs)
    rss = statistics.median(r[1] for r in runs)
    res["ess_ingest"] = (secs, rss, n / secs)
    res["ess_ingest_runs"] = runs
    ingest_info = json.loads(subprocess.run([ess, "info", "--store", OUT / f"ingest-{n}", "--json"], check=True,
                                            capture_output=True, text=True).stdout)
    ess_parts = [p.removeprefix("file://") for p in ingest_info["organisations_parquet"]]
    secs = statistics.median(r[0] for r in duck_runs)
    rss = statistics.median(r[1] for r in duck_runs)
    res["duck_ingest"] = (secs, rss, n / secs)
    res["duck_ingest_runs"] = duck_runs
    # The same work in DuckDB SQL: the same columns and rules, dedup, quarantine, rollup.
    duck_dir = OUT / f"duckdb-{n}"
    shutil.rmtree(duck_dir, ignore_errors=True)
    duck_dir.mkdir(parents=True)
    esql = (ROOT / "bench" / "duckdb_ingest.sql").read_text() \
        .replace("@CSV@", str(csv)).replace("@REF@", str(REFERENCE)).replace("@OUT@", str(duck_dir))
    (duck_dir / "ingest.sql").write_text(esql)
    secs, rss, _ = run_timed([sys.executable, "-c",
                              f"import duckdb; duckdb.connect().execute(open({str(duck_dir / 'ingest.sql')!r}).read())"])
    res["duck_same_ingest"] = (secs, rss, n / secs)
    # Both must have found the same organisations and numbers.
    ess_stats, duck_stats = ingest_stats(ess_parts), ingest_stats([str(duck_dir / "organisations.parquet")])
    res["same_numbers"] = ess_stats == duck_stats
    if not res["same_numbers"]:
        diff = {k: (ess_stats[k], duck_stats[k]) for k in ess_stats if ess_stats[k] != duck_stats[k]}
        print(f"ess and DuckDB's equivalent ingest disagree at {n:,}: {str(diff)[:2000]}", file=sys.stderr)
    # The same columns: read_csv → Parquet with ess's 22 columns by the same rules, row
    # by row; no quarantine, duplicates or rollup (the SQL above without its "same work
    # only" lines). Every accepted row, so as many rows as ess accepted.
    shutil.rmtree(duck_dir, ignore_errors=True)
    duck_dir.mkdir(parents=True)
    (duck_dir / "columns.sql").write_text(same_columns_sql(esql))
    secs, rss, _ = run_timed([sys.executable, "-c",
                              f"import duckdb; duckdb.connect().execute(open({str(duck_dir / 'columns.sql')!r}).read())"])
    res["duck_columns_ingest"] = (secs, rss, n / secs)
    report = json.loads(Path(ingest_info["report"].removeprefix("file://")).read_text())
    duck_rows = duckdb.sql(f"SELECT count(*) FROM '{duck_dir / 'organisations.parquet'}'").fetchone()[0]
    ess_cols = [c[0] for c in duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet({ess_parts[:1]!r})").fetchall()]
    duck_cols = [c[0] for c in duckdb.sql(f"DESCRIBE SELECT * FROM '{duck_dir / 'organisations.parquet'}'").fetchall()]
    res["columns_match"] = (duck_rows == report["families"]["cooperative"]["accepted"] and ess_cols == duck_cols)
    if not res["columns_match"]:
        print(f"DuckDB's same-columns ingest at {n:,}: {duck_rows} rows, {duck_cols}; ess accepted "
              f"{report['families']['cooperative']['accepted']}, {ess_cols}", file=sys.stderr)
    shutil.rmtree(OUT / f"ingest-{n}", ignore_errors=True)
    shutil.rmtree(duck_dir, ignore_errors=True)

    # The query snapshot: every family.
    files = json.loads((data / "synth_truth.json").read_text())["files"]
    args = [ess, "ingest", "--store", store]
    for family, path in files:
        args += [{"cooperative": "--cooperatives", "association": "--associations", "mutual": "--mutuals"}[family], path]
    subprocess.run(args, check=True, capture_output=True, env={**os.environ, "RUST_LOG": "warn"})
    info = json.loads(subprocess.run([ess, "info", "--store", store, "--json"], check=True, capture_output=True, text=True).stdout)
    res["orgs"] = info["rows"]
    parts = [p.removeprefix("file://") for p in info["organisations_parquet"]]

    # Serve: time to ready, then cold and warm latencies over HTTP.
    t0 = time.perf_counter()
    # One client asks everything here: the per-client rate limit is off (the load test,
    # bench/load.py, measures the server with it on).
    server = subprocess.Popen([ess, "serve", "--store", store, "--addr", "127.0.0.1:0", "--refresh", "0",
                               "--rate-limit", "0"],
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "RUST_LOG": "warn"})
    line = server.stdout.readline()
    res["ready_s"] = time.perf_counter() - t0
    host, port = re.search(r"listening on http://([\d.]+):(\d+)", line).groups()
    try:
        conn = http.client.HTTPConnection(host, int(port))
        res["q"] = {}
        res["index_s"] = wait_for_index(host, int(port)) + res["ready_s"]
        res["serve_mib"] = rss_mib(server.pid)
        news = [gql(conn, new_search_gql(t)) for t in NEW_SEARCHES]
        res["new_search"] = (pct(news, 0.5), pct(news, 0.95))
        for name, q in QUERIES.items():
            cold = gql(conn, q)
            warm = [gql(conn, q) for _ in range(warm_runs)]
            res["q"][name] = (cold, pct(warm, 0.5), pct(warm, 0.95))
        # Throughput: 32 connections, bounded in time, loopback only.
        lua = OUT / "post.lua"
        lua.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                       f'wrk.body = {json.dumps(json.dumps({"query": QUERIES["by region"]}))}\n')
        w = subprocess.run(["wrk", "-t2", "-c32", f"-d{wrk_secs}s", "--latency", "-s", lua, f"http://{host}:{port}/graphql"],
                           capture_output=True, text=True, check=True).stdout
        res["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", w).group(1))
        res["wrk_p50"] = re.search(r"^\s+50%\s+(\S+)", w, re.M).group(1)
    finally:
        server.terminate()
        server.wait(timeout=30)

    # DuckDB on the snapshot's Parquet: cold (new connection, first run) and warm.
    res["dq"] = {}
    for name, sql in DUCK.items():
        con = duckdb.connect()
        con.execute(orgs_view(parts))
        t0 = time.perf_counter(); con.execute(sql).fetchall(); cold = (time.perf_counter() - t0) * 1e3
        warm = []
        # Up to warm_runs repeats, but no more than WARM_BUDGET_S of them past the
        # fifth: a query of over a second (DuckDB's searches at 10M) would otherwise
        # take minutes alone.
        spent = time.perf_counter()
        while len(warm) < warm_runs and (len(warm) < 5 or time.perf_counter() - spent < WARM_BUDGET_S):
            t0 = time.perf_counter(); con.execute(sql).fetchall(); warm.append((time.perf_counter() - t0) * 1e3)
        res["dq"][name] = (cold, pct(warm, 0.5), pct(warm, 0.95))
        res.setdefault("dq_runs", {})[name] = len(warm)
        con.close()
    con = duckdb.connect()
    con.execute(orgs_view(parts))
    news = []
    for t in NEW_SEARCHES[::3]:
        t0 = time.perf_counter(); con.execute(new_search_sql(t)).fetchall(); news.append((time.perf_counter() - t0) * 1e3)
    res["duck_new_search"] = (pct(news, 0.5), pct(news, 0.95))
    con.close()
    return res


def warm_runs_of(r):
    """The warm repeats asked for in the run that measured `r`."""
    return r.get("warm_runs", 200)


def render(results, machine_line, command, started):
    out = [f"Machine: {machine_line}.", f"Command: `{command}` ({time.time() - started:.0f} s in all, "
           f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).", ""]
    if len(results) > 1:
        mem = ", ".join(f"{r['n']:,} rows {r['ess_ingest'][1]:.0f} MiB (runs: "
                        + " / ".join(f"{m:.0f}" for _, m in r["ess_ingest_runs"]) + ")" for r in results)
        out.append(f"Peak memory of `ess ingest`, median of three runs: {mem}.\n")
    for r in results:
        n = r["n"]
        out.append(f"### {n:,} cooperative rows ({r['orgs']:,} organisations in the query snapshot)\n")
        ei, di = r["ess_ingest"], r["duck_ingest"]
        out.append("| ingest of the cooperative CSV ({:.0f} MB) | seconds | rows/s | peak memory |".format(r["csv_mb"]))
        out.append("| --- | ---: | ---: | ---: |")
        out.append(f"| ess (normalise, dedup, quarantine, Parquet + rollup), median of 3 runs | {ei[0]:.1f} | {ei[2]:,.0f} | {ei[1]:.0f} MiB |")
        ds = r["duck_same_ingest"]
        out.append(f"| DuckDB, the same work in SQL (`bench/duckdb_ingest.sql`: same columns and rules, dedup, quarantine, rollup) | {ds[0]:.1f} | {ds[2]:,.0f} | {ds[1]:.0f} MiB |")
        out.append(f"| ratio ess / DuckDB, the same work | **{ei[0] / ds[0]:.2f}× the time** | {ei[2] / ds[2]:.2f}× | {ei[1] / ds[1]:.2f}× |")
        dc = r["duck_columns_ingest"]
        out.append(f"| DuckDB `read_csv` → Parquet with the same 22 columns by the same rules, row by row (the same SQL without quarantine, duplicates or rollup) | {dc[0]:.1f} | {dc[2]:,.0f} | {dc[1]:.0f} MiB |")
        out.append(f"| ratio ess / DuckDB, the same columns | **{ei[0] / dc[0]:.2f}× the time** | {ei[2] / dc[2]:.2f}× | {ei[1] / dc[1]:.2f}× |")
        out.append(f"| DuckDB `read_csv` → Parquet, a plain copy (`SELECT *`: the CSV's columns as text and numbers, no rules), median of 3 runs | {di[0]:.1f} | {di[2]:,.0f} | {di[1]:.0f} MiB |")
        out.append(f"| ratio ess / DuckDB, the plain copy | {ei[0] / di[0]:.2f}× the time | {ei[2] / di[2]:.2f}× | {ei[1] / di[1]:.2f}× |\n")
        runs = r["ess_ingest_runs"]
        out.append("ess's three runs: " + ", ".join(f"{t:.1f} s / {m:.0f} MiB" for t, m in runs)
                   + "; DuckDB's plain copy, alternated with them: "
                   + ", ".join(f"{t:.1f} s / {m:.0f} MiB" for t, m in r["duck_ingest_runs"]) + ".\n")
        out.append("ess and DuckDB's same-work SQL found " + ("**the same** organisations, sums and counts by region, province, "
                   "sector, year, status and quality flags." if r["same_numbers"] else "**different** numbers (see the run's log).")
                   + (" DuckDB's same-columns run wrote ess's columns, one row for each row ess accepted." if r["columns_match"]
                      else " DuckDB's same-columns run **did not** write ess's columns and accepted rows (see the run's log)."))
        out.append("")
        out.append(f"`ess serve` ready in {r['ready_s'] * 1e3:.0f} ms. Throughput, `by region` over HTTP, "
                   f"32 connections (wrk): **{r['rps']:,.0f} requests/s** (p50 {r['wrk_p50']}).\n")
        out.append("| query | ess cold ms | ess warm p50 / p95 ms | DuckDB cold ms | DuckDB warm p50 / p95 ms | cold: DuckDB / ess | warm p50: DuckDB / ess |")
        out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for name in QUERIES:
            e, d = r["q"][name], r["dq"][name]
            out.append(f"| {name} | {e[0]:.1f} | {e[1]:.2f} / {e[2]:.2f} | {d[0]:.1f} | {d[1]:.2f} / {d[2]:.2f} "
                       f"| {d[0] / e[0]:.2f}× | {d[1] / e[1]:.0f}× |")
        short = {k: v for k, v in r.get("dq_runs", {}).items() if v < warm_runs_of(r)}
        if short:
            out.append("")
            out.append("DuckDB's warm figures come from fewer repeats where " + ", ".join(
                f"{k} ({v} runs)" for k, v in short.items()) + f" took past {WARM_BUDGET_S} s of repeats.")
        if "new_search" in r:
            e, d = r["new_search"], r["duck_new_search"]
            out.append("")
            out.append(f"New searches, each asked once ({len(NEW_SEARCHES)} for ess, every third for DuckDB; a name and a "
                       f"number, or an id fragment): ess p50 / p95 **{e[0]:.1f} / {e[1]:.1f} ms**, DuckDB "
                       f"{d[0]:.1f} / {d[1]:.1f} ms ({d[0] / e[0]:.0f}× at p50). The search index was ready "
                       f"{r['index_s']:.1f} s after start (the server answers from the first 100 ms, scanning "
                       f"until then); `ess serve` then held {r['serve_mib']:.0f} MiB.")
        out.append("")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ess", required=True)
    ap.add_argument("scales", nargs="*", type=int, default=[1_000_000, 10_000_000])
    ap.add_argument("--warm-runs", type=int, default=200)
    ap.add_argument("--wrk-seconds", type=int, default=10)
    a = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.time()
    results = []
    for n in a.scales:
        print(f"scale {n:,} …", file=sys.stderr, flush=True)
        results.append(bench_scale(Path(a.ess), n, a.warm_runs, a.wrk_seconds) | {"warm_runs": a.warm_runs})
    command = "bench/run.sh " + " ".join(map(str, a.scales))
    table = render(results, machine(), command, started)
    (OUT / "results.md").write_text(table)
    (OUT / "results.json").write_text(json.dumps(results, indent=1))
    md = ROOT / "BENCHMARKS.md"
    text = md.read_text()
    text = re.sub(r"<!-- results:start -->.*<!-- results:end -->",
                  lambda _: f"<!-- results:start -->\n{table}\n<!-- results:end -->", text, flags=re.S)
    md.write_text(text)
    print(table)


if __name__ == "__main__":
    main()
