#!/usr/bin/env python3
"""The Delta Lake table's costs: ingest time and peak memory against a build from
before the table (alternated), a diff's time and peak memory between two snapshots of
N organisations, and `ess serve`'s time to ready from a local store and from S3 (moto
on 127.0.0.1). Bounded in time; talks to 127.0.0.1 only.

Writes its results between the delta markers of BENCHMARKS.md.
"""

import argparse, http.client, json, os, re, shutil, socket, statistics, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
QUIET = {**os.environ, "RUST_LOG": "warn"}


def run_timed(cmd, env=None):
    """(seconds, peak RSS MiB) of cmd, under /usr/bin/time -v."""
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v", *map(str, cmd)], capture_output=True, text=True, env=env or QUIET)
    secs = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{p.stderr[-3000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1)) / 1024
    return secs, rss


def synth(ess, n, seed):
    data = OUT / f"delta-data-{n}-{seed}"
    if not (data / "synth_truth.json").exists():
        subprocess.run([ess, "synth", "--out", data, "--cooperatives", str(n), "--seed", str(seed)], check=True,
                       capture_output=True)
    return data / "cooperatives.csv"


def status_kib(pid, key):
    return next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith(key))


def serve(ess, store, env=None, extra=()):
    """Starts `ess serve`; returns (process, port, seconds to the listening line)."""
    t0 = time.perf_counter()
    p = subprocess.Popen([ess, "serve", "--store", store, "--addr", "127.0.0.1:0", "--refresh", "0", *extra],
                         stdout=subprocess.PIPE, text=True, env=env or QUIET)
    line = p.stdout.readline()
    ready = time.perf_counter() - t0
    m = re.search(r"listening on http://[\d.]+:(\d+)", line)
    if not m:
        p.kill()
        sys.exit(f"ess serve did not start: {line}")
    return p, int(m.group(1)), ready


def wait_index(port, timeout=900):
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        c = http.client.HTTPConnection("127.0.0.1", port)
        c.request("GET", "/healthz")
        if json.loads(c.getresponse().read()).get("search_index") == "ready":
            return
        time.sleep(0.5)
    sys.exit("the search index was not ready in time")


def gql(port, query, timeout=3600):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    t0 = time.perf_counter()
    c.request("POST", "/graphql", json.dumps({"query": query}), {"Content-Type": "application/json"})
    body = json.loads(c.getresponse().read())
    return time.perf_counter() - t0, body


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def moto():
    port = free_port()
    p = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port)
            c.request("PUT", "/bench")
            c.getresponse().read()
            break
        except OSError:
            time.sleep(0.1)
    env = {**QUIET, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ALLOW_HTTP": "true",
           "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    return p, env


def bench_scale(ess, baseline, n):
    res = {"n": n}
    csv1, csv2 = synth(ess, n, 1), synth(ess, n, 2)
    res["csv_mb"] = csv1.stat().st_size / 1e6
    # Ingest, alternated with the build from before the table.
    runs = {"new": [], "old": []}
    for _ in range(3):
        for which, binary in (("new", ess), ("old", baseline)):
            if binary is None:
                continue
            store = OUT / f"delta-ingest-{n}"
            shutil.rmtree(store, ignore_errors=True)
            runs[which].append(run_timed([binary, "ingest", "--store", store, "--cooperatives", csv1]))
    shutil.rmtree(OUT / f"delta-ingest-{n}", ignore_errors=True)
    res["ingest"] = runs

    # Two snapshots of N: seed 1, then seed 2 (the same ids, other values).
    store = OUT / f"delta-store-{n}"
    shutil.rmtree(store, ignore_errors=True)
    for csv in (csv1, csv2):
        subprocess.run([ess, "ingest", "--store", store, "--cooperatives", csv], check=True, capture_output=True,
                       env=QUIET)
    server, port, ready = serve(ess, store, extra=["--request-timeout", "3600s"])
    try:
        res["ready_local_s"] = ready
        wait_index(port)
        before = status_kib(server.pid, "VmRSS") / 1024
        hwm_before = status_kib(server.pid, "VmHWM") / 1024
        secs, body = gql(port, '{ diff(from: "1", to: "2") { total { added removed changed unchanged } } }')
        if "errors" in body:
            sys.exit(f"the diff failed: {body}")
        res["diff"] = {"seconds": secs, "rss_before_mib": before, "hwm_before_mib": hwm_before,
                       "hwm_after_mib": status_kib(server.pid, "VmHWM") / 1024,
                       "total": body["data"]["diff"]["total"]}
    finally:
        server.terminate()
        server.wait()

    # From S3 (moto): an ingest, then `ess serve`'s time to ready.
    m, env = moto()
    try:
        t0 = time.perf_counter()
        subprocess.run([ess, "ingest", "--store", "s3://bench/ess", "--cooperatives", csv1], check=True,
                       capture_output=True, env=env)
        res["ingest_s3_s"] = time.perf_counter() - t0
        server, port, ready = serve(ess, "s3://bench/ess", env=env)
        server.terminate()
        server.wait()
        res["ready_s3_s"] = ready
    finally:
        m.terminate()
        m.wait()
    shutil.rmtree(store, ignore_errors=True)
    return res


def machine_and_command(command, started):
    """The lines every results table starts with: the machine, and the command that
    produced it with its duration and date."""
    import platform
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "")
    return [f"Machine: {os.cpu_count()} cores ({cpu}), Linux {platform.release()}.",
            f"Command: `{command}` ({time.time() - started:.0f} s in all, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).",
            ""]


def write_between_markers(name, table):
    """Puts `table` between BENCHMARKS.md's `<!-- name:start -->` and `:end` markers."""
    md = ROOT / "BENCHMARKS.md"
    text = md.read_text()
    text = re.sub(rf"<!-- {name}:start -->.*<!-- {name}:end -->",
                  lambda _: f"<!-- {name}:start -->\n{table}\n<!-- {name}:end -->", text, flags=re.S)
    md.write_text(text)


def render(results, command, started):
    out = machine_and_command(command, started)
    out.append("| organisations | ingest, Delta (median of 3) | ingest, before the table (median of 3) | ratio | diff of two snapshots | diff's peak memory above the server's | `ess serve` ready, local | from S3 (moto) |")
    out.append("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        new, old = r["ingest"]["new"], r["ingest"]["old"]
        nt, nm = statistics.median(t for t, _ in new), statistics.median(m for _, m in new)
        if old:
            ot, om = statistics.median(t for t, _ in old), statistics.median(m for _, m in old)
            old_cell, ratio = f"{ot:.1f} s, {om:.0f} MiB", f"{nt / ot:.2f}× time, {nm / om:.2f}× memory"
        else:
            old_cell, ratio = "–", "–"
        d = r["diff"]
        out.append(f"| {r['n']:,} | {nt:.1f} s, {nm:.0f} MiB | {old_cell} | {ratio} | {d['seconds']:.1f} s | "
                   f"{max(0.0, d['hwm_after_mib'] - d['rss_before_mib']):.0f} MiB (server {d['rss_before_mib']:.0f} → peak {d['hwm_after_mib']:.0f}) | "
                   f"{r['ready_local_s'] * 1e3:.0f} ms | {r['ready_s3_s'] * 1e3:.0f} ms |")
    out.append("")
    for r in results:
        runs = " / ".join(f"{t:.1f} s {m:.0f} MiB" for t, m in r["ingest"]["new"])
        olds = " / ".join(f"{t:.1f} s {m:.0f} MiB" for t, m in r["ingest"]["old"]) or "–"
        out.append(f"- {r['n']:,}: ingest runs, Delta: {runs}; before: {olds}. The diff found {r['diff']['total']}. "
                   f"An ingest into moto S3 took {r['ingest_s3_s']:.1f} s.")
    out.append("")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ess", required=True)
    ap.add_argument("--baseline")
    ap.add_argument("scales", nargs="*", type=int, default=[1_000_000, 10_000_000])
    a = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.time()
    results = []
    for n in a.scales:
        print(f"scale {n:,} …", file=sys.stderr, flush=True)
        results.append(bench_scale(Path(a.ess), Path(a.baseline) if a.baseline else None, n))
        (OUT / "delta.json").write_text(json.dumps(results, indent=1))
    command = "bench/delta.sh " + " ".join(map(str, a.scales)) + (" --baseline OLD_ESS" if a.baseline else "")
    table = render(results, command, started)
    (OUT / "delta.md").write_text(table)
    write_between_markers("delta", table)
    print(table)


if __name__ == "__main__":
    main()
