#!/usr/bin/env python3
"""The costs of downloads and exports, at N synthetic cooperatives:

- the ingest with this build and with a build from before the download files
  (alternated, three runs each, `/usr/bin/time -v`), and the bytes the download
  files add to the store;
- a remote read: polars `scan_parquet` over HTTP of the cooperative file (a group-by
  on two columns, by ranges) against the same query on the local file, and DuckDB's
  `read_parquet` on the local file;
- a whole download of `organisations.parquet` (MB/s, and the server's memory);
- `/export/aggregate.csv` (by region and sector) against the same GraphQL aggregate;
- `/export/organisations.csv` of every organisation (its time, the server's peak
  memory above its resident memory) against DuckDB writing the same rows as CSV
  from the local Parquet (`COPY (… ORDER BY org_id) TO … (HEADER)`).

Talks to 127.0.0.1 only; writes its results between the downloads markers of
BENCHMARKS.md.
"""

import argparse, http.client, json, os, re, shutil, statistics, subprocess, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from delta import (OUT, machine_and_command, run_timed, serve, status_kib, synth,  # noqa: E402
                   wait_index, write_between_markers)


def get(port, path, sink=None):
    """(seconds, bytes) of a GET, its body read in 1 MiB reads."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    t0 = time.perf_counter()
    c.request("GET", path)
    r = c.getresponse()
    if r.status != 200:
        sys.exit(f"GET {path}: {r.status} {r.read()[:300]!r}")
    n = 0
    while True:
        chunk = r.read(1 << 20)
        if not chunk:
            break
        n += len(chunk)
        if sink:
            sink(chunk)
    return time.perf_counter() - t0, n


def peak_during(pid, fn):
    """Runs fn while sampling the server's resident memory; (result, peak MiB)."""
    import threading
    peak, stop = [status_kib(pid, "VmRSS")], threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], status_kib(pid, "VmRSS"))
            time.sleep(0.02)

    t = threading.Thread(target=sample)
    t.start()
    try:
        out = fn()
    finally:
        stop.set()
        t.join()
    return out, peak[0] / 1024


def best(fn, n=5):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_scale(ess, baseline, n):
    import duckdb, polars as pl
    res = {"n": n}
    csv = synth(ess, n, 1)
    runs = {"new": [], "old": []}
    for _ in range(3):
        # The new build last: its store is the one served below.
        for which, binary in (("old", baseline), ("new", ess)):
            store = OUT / f"downloads-ingest-{n}"
            shutil.rmtree(store, ignore_errors=True)
            runs[which].append(run_timed([binary, "ingest", "--store", store, "--cooperatives", csv]))
    res["ingest"] = runs
    store = OUT / f"downloads-ingest-{n}"
    size = lambda p: sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    res["table_bytes"] = size(store / "organisations")
    res["download_bytes"] = sum(size(d) for d in (store / "snapshots").glob("*/downloads"))

    server, port, _ = serve(ess, store, extra=["--rate-limit", "0", "--request-timeout", "3600s"])
    try:
        wait_index(port)
        c = http.client.HTTPConnection("127.0.0.1", port)
        c.request("GET", "/downloads")
        files = {f["name"]: f for f in json.loads(c.getresponse().read())["files"]}
        coop = files["organisations-cooperative.parquet"]
        url = f"http://127.0.0.1:{port}/downloads/{coop['url'].split('/downloads/')[1]}"
        local = next((store / "snapshots").glob("*/downloads/organisations-cooperative.parquet"))
        q = lambda src: (pl.scan_parquet(src).group_by("region_code")
                         .agg(pl.len(), pl.col("members_total").sum()).collect())
        assert q(url).sort("region_code").equals(q(str(local)).sort("region_code"))
        res["polars_remote_s"] = best(lambda: q(url))
        res["polars_local_s"] = best(lambda: q(str(local)))
        con = duckdb.connect()
        res["duckdb_local_s"] = best(lambda: con.sql(
            f"select region_code, count(*), sum(members_total) from read_parquet('{local}') group by 1").fetchall())

        rss = status_kib(server.pid, "VmRSS") / 1024
        (secs, got), peak = peak_during(server.pid, lambda: get(port, "/downloads/000001/organisations.parquet"))
        res["download"] = {"seconds": secs, "bytes": got, "rss_mib": rss, "peak_mib": peak}

        agg_path = "/export/aggregate.csv?groupBy=region,sector"
        get(port, agg_path)
        res["export_aggregate_s"] = best(lambda: get(port, agg_path), 20)
        gq = json.dumps({"query": "{ aggregate(groupBy: [REGION, SECTOR]) { rows { region { code } sector { code } organisations members } } }"})

        def graphql():
            c = http.client.HTTPConnection("127.0.0.1", port)
            c.request("POST", "/graphql", gq, {"Content-Type": "application/json"})
            c.getresponse().read()
        res["graphql_aggregate_s"] = best(graphql, 20)

        rss = status_kib(server.pid, "VmRSS") / 1024
        (secs, got), peak = peak_during(server.pid, lambda: get(port, "/export/organisations.csv"))
        res["export_organisations"] = {"seconds": secs, "bytes": got, "rss_mib": rss, "peak_mib": peak}
        out_csv = OUT / f"duckdb-export-{n}.csv"
        table = list((store / "organisations").glob("*/*.parquet"))
        t0 = time.perf_counter()
        con.sql(f"copy (select * from read_parquet({[str(p) for p in table]}) order by org_id) to '{out_csv}' (header)")
        res["duckdb_export_s"] = time.perf_counter() - t0
        res["duckdb_export_bytes"] = out_csv.stat().st_size
        out_csv.unlink()
    finally:
        server.terminate()
        server.wait()
    shutil.rmtree(store, ignore_errors=True)
    return res


def render(results, command, started):
    out = machine_and_command(command, started) + [
           "| organisations | ingest (median of 3) | before the download files | download files | polars over HTTP / local / DuckDB local | whole download | aggregate CSV / GraphQL | every organisation as CSV | DuckDB, same CSV |",
           "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        nt = statistics.median(t for t, _ in r["ingest"]["new"])
        nm = statistics.median(m for _, m in r["ingest"]["new"])
        ot = statistics.median(t for t, _ in r["ingest"]["old"])
        om = statistics.median(m for _, m in r["ingest"]["old"])
        d, e = r["download"], r["export_organisations"]
        out.append(
            f"| {r['n']:,} | {nt:.1f} s, {nm:.0f} MiB | {ot:.1f} s, {om:.0f} MiB ({nt / ot:.2f}×) | "
            f"{r['download_bytes'] / 1e6:.0f} MB beside a {r['table_bytes'] / 1e6:.0f} MB table | "
            f"{r['polars_remote_s'] * 1e3:.0f} / {r['polars_local_s'] * 1e3:.0f} / {r['duckdb_local_s'] * 1e3:.0f} ms | "
            f"{d['bytes'] / 1e6:.0f} MB in {d['seconds']:.2f} s ({d['bytes'] / 1e6 / d['seconds']:.0f} MB/s), server {d['rss_mib']:.0f} → {d['peak_mib']:.0f} MiB | "
            f"{r['export_aggregate_s'] * 1e3:.1f} / {r['graphql_aggregate_s'] * 1e3:.1f} ms | "
            f"{e['bytes'] / 1e6:.0f} MB in {e['seconds']:.1f} s, server {e['rss_mib']:.0f} → {e['peak_mib']:.0f} MiB | "
            f"{r['duckdb_export_s']:.1f} s |")
    out.append("")
    for r in results:
        runs = lambda k: " / ".join(f"{t:.1f} s {m:.0f} MiB" for t, m in r["ingest"][k])
        out.append(f"- {r['n']:,}: ingest runs {runs('new')}; before {runs('old')}.")
    out.append("")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ess", required=True)
    ap.add_argument("--baseline", required=True)
    ap.add_argument("scales", nargs="*", type=int, default=[1_000_000, 10_000_000])
    a = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.time()
    results = []
    for n in a.scales:
        print(f"scale {n:,} …", file=sys.stderr, flush=True)
        results.append(bench_scale(Path(a.ess), Path(a.baseline), n))
        (OUT / "downloads.json").write_text(json.dumps(results, indent=1))
    command = "bench/downloads.sh --baseline OLD_ESS " + " ".join(map(str, a.scales))
    table = render(results, command, started)
    (OUT / "downloads.md").write_text(table)
    write_between_markers("downloads", table)
    print(table)


if __name__ == "__main__":
    main()
