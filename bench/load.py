#!/usr/bin/env python3
"""The public server under a crowd, with its limits on. Bounded in time; talks to
127.0.0.1 only.

1. Publishes two snapshots of N synthetic organisations (so diffs and past snapshots
   have something to do) and starts `ess serve` with its default limits, trusting
   `X-Forwarded-For` so that one load generator can play many clients.
2. Mixed load: wrk, 200 connections for `--seconds` (60), each request a random one of
   cheap dashboard queries (cached aggregates, the snapshot, regions) and expensive ones
   (new searches, searches of the past snapshot that scan it, diffs, pages of 1,000
   organisations with every field, aggregates of the past snapshot), from 200 client
   addresses. wrk runs at the lowest priority (`nice -n 19`): it shares the server's two
   cores, and clients of a real server are elsewhere; it still keeps the server busy,
   taking whatever the server leaves. Beside it, a prober sends the cheap dashboard
   query and `/healthz` every 25 ms and times each. The server's peak memory is its
   `VmHWM`.
3. Throughput of the cheap dashboard query (`aggregate(groupBy: [REGION])`, wrk, 32
   connections, 10 s), with this build and, when `--baseline` names one, with a build
   from before the limits, alternated three times on the same store: once with the
   rate limiter on (each request from one of 1,000 client addresses) and once with
   `--rate-limit 0`, the layers but the limiter.

Writes its results between the load markers of BENCHMARKS.md.
"""

import argparse, http.client, json, os, re, shutil, statistics, subprocess, sys, threading, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"

CHEAP = {
    "dashboard (by region)": '{ aggregate(groupBy: [REGION]) { rows { region { code } organisations members employeesWomen } } }',
    "region × family": '{ aggregate(groupBy: [REGION, FAMILY]) { rows { region { code } family organisations members } } }',
    "snapshot": "{ snapshot { id createdAt organisations } }",
    "regions": "{ regions { code name(lang: AR) } }",
}
NAMES = ["al amal", "tifaouine", "al baraka", "nour", "tamount", "azaghar", "ennakhil", "zitoune"]
EVERY_FIELD = ("orgId family sourceId name nameAr sectorCode activities regionCode provinceCode foundedOn "
               "foundedYear status membersTotal membersWomen employeesTotal employeesWomen employeesMen "
               "volunteers publicUtility qualityFlags sourceFile sourceRow")


def expensive(i):
    """The i-th expensive query: each kind in turn, with words that vary."""
    name = NAMES[i % len(NAMES)]
    kinds = [
        f'{{ organisations(search: "{name} {i * 7919 % 100000}", first: 20) {{ totalCount edges {{ node {{ orgId name }} }} }} }}',
        f'{{ organisations(search: "{name} {i % 1000}", snapshot: "1", first: 20) {{ edges {{ node {{ orgId name }} }} }} }}',
        '{ diff { total { added removed changed } rows { family region { code } added } } }',
        f'{{ organisations(first: 1000, filter: {{region: ["MA-{1 + i % 12:02d}"]}}) {{ edges {{ node {{ {EVERY_FIELD} }} }} }} }}',
        '{ aggregate(groupBy: [SECTOR, FAMILY], snapshot: "1") { rows { sector { code } family organisations } } }',
    ]
    return kinds[i % len(kinds)]


def lua_string(s):
    return json.dumps(s)


def mixed_lua(path, cheap_share, clients):
    """wrk script: requests drawn from a fixed list, each from one of `clients`
    addresses; counts answers by status."""
    bodies = [json.dumps({"query": q}) for q in CHEAP.values()]
    heavy = [json.dumps({"query": expensive(i)}) for i in range(200)]
    lines = ["local cheap = {" + ",".join(lua_string(b) for b in bodies) + "}",
             "local heavy = {" + ",".join(lua_string(b) for b in heavy) + "}",
             f"local cheap_share = {cheap_share}", f"local clients = {clients}",
             """
local reqs = {}
counts = {}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  math.randomseed(os.time() + math.random(1000000))
  for i = 1, 2000 do
    local body
    if math.random() < cheap_share then body = cheap[math.random(#cheap)] else body = heavy[math.random(#heavy)] end
    local c = math.random(clients)
    local ip = "10.0." .. math.floor(c / 250) .. "." .. (c % 250 + 1)
    reqs[i] = wrk.format("POST", "/graphql", {["Content-Type"] = "application/json", ["X-Forwarded-For"] = ip}, body)
  end
end
local n = 0
function request() n = n + 1; return reqs[(n % #reqs) + 1] end
function response(status, headers, body) counts[status] = (counts[status] or 0) + 1 end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for k, v in pairs(c) do total[k] = (total[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(total) do table.insert(parts, '"' .. k .. '":' .. v) end
  io.write("STATUS {" .. table.concat(parts, ",") .. "}\\n")
end
"""]
    path.write_text("\n".join(lines))


def throughput_lua(path, clients):
    body = json.dumps({"query": CHEAP["dashboard (by region)"]})
    path.write_text(f"""
local body = {lua_string(body)}
local reqs = {{}}
function init(args)
  for i = 1, 1000 do
    local ip = "10.1." .. math.floor((i % {clients}) / 250) .. "." .. (i % 250 + 1)
    reqs[i] = wrk.format("POST", "/graphql", {{["Content-Type"] = "application/json", ["X-Forwarded-For"] = ip}}, body)
  end
end
local n = 0
function request() n = n + 1; return reqs[(n % #reqs) + 1] end
""")


def start(ess, store, extra):
    server = subprocess.Popen([ess, "serve", "--store", store, "--addr", "127.0.0.1:0", "--refresh", "0", *extra],
                              stdout=subprocess.PIPE, text=True, env={**os.environ, "RUST_LOG": "warn"})
    line = server.stdout.readline()
    host, port = re.search(r"listening on http://([\d.]+):(\d+)", line).groups()
    return server, host, int(port)


def wait_ready(host, port, timeout=600):
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        c = http.client.HTTPConnection(host, port)
        c.request("GET", "/healthz")
        if json.loads(c.getresponse().read()).get("search_index") == "ready":
            return
        time.sleep(0.2)
    sys.exit("the search index was not ready in time")


def peak_mib(pid):
    return next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmHWM")) / 1024


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else float("nan")


def probe(host, port, stop, out):
    """Every 25 ms: the cheap dashboard query and /healthz, timed (ms), with status."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    body = json.dumps({"query": CHEAP["dashboard (by region)"]})
    while not stop.is_set():
        for kind, method, path, data, headers in [
            ("dashboard", "POST", "/graphql", body, {"Content-Type": "application/json", "X-Forwarded-For": "192.0.2.1"}),
            ("healthz", "GET", "/healthz", None, {}),
        ]:
            t0 = time.perf_counter()
            try:
                conn.request(method, path, data, headers)
                r = conn.getresponse()
                r.read()
                out[kind].append(((time.perf_counter() - t0) * 1e3, r.status))
            except Exception as e:  # a closed connection: count it, reconnect
                out[kind].append((float("inf"), str(e)))
                conn = http.client.HTTPConnection(host, port, timeout=30)
        time.sleep(0.025)


def mixed(ess, store, seconds, clients):
    server, host, port = start(ess, store, ["--trust-forwarded-for"])
    try:
        wait_ready(host, port)
        lua = OUT / "mixed.lua"
        mixed_lua(lua, 0.8, clients)
        stop, samples = threading.Event(), {"dashboard": [], "healthz": []}
        prober = threading.Thread(target=probe, args=(host, port, stop, samples))
        prober.start()
        w = subprocess.run(["nice", "-n", "19", "wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--timeout", "70s", "--latency", "-s", lua,
                            f"http://{host}:{port}/graphql"], capture_output=True, text=True, check=True).stdout
        stop.set()
        prober.join()
        metrics = http.client.HTTPConnection(host, port)
        metrics.request("GET", "/metrics")
        m = metrics.getresponse().read().decode()
        peak = peak_mib(server.pid)
    finally:
        server.terminate()
        server.wait()
    statuses = json.loads(re.search(r"STATUS (\{.*\})", w).group(1))
    res = {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", w).group(1)),
        "p50": re.search(r"^\s+50%\s+(\S+)", w, re.M).group(1),
        "p99": re.search(r"^\s+99%\s+(\S+)", w, re.M).group(1),
        "socket_errors": re.search(r"Socket errors: (.*)", w).group(1) if "Socket errors" in w else "none",
        "statuses": statuses,
        "peak_mib": peak,
        "rejections": dict(re.findall(r'ess_rejections_total\{limit="(\w+)"\} (\d+)', m)),
    }
    for kind, xs in samples.items():
        ok = [t for t, s in xs if s == 200]
        res[kind] = {"n": len(xs), "ok": len(ok), "p50": pct(ok, 0.5), "p99": pct(ok, 0.99), "max": max(ok or [0])}
    return res


def throughput(ess, store, seconds, extra):
    server, host, port = start(ess, store, extra)
    try:
        wait_ready(host, port)
        lua = OUT / "throughput.lua"
        throughput_lua(lua, 1000)
        # Warm the answer.
        c = http.client.HTTPConnection(host, port)
        c.request("POST", "/graphql", json.dumps({"query": CHEAP["dashboard (by region)"]}), {"Content-Type": "application/json"})
        c.getresponse().read()
        w = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "-s", lua, f"http://{host}:{port}/graphql"],
                           capture_output=True, text=True, check=True).stdout
    finally:
        server.terminate()
        server.wait()
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", w)
    return float(re.search(r"Requests/sec:\s+([\d.]+)", w).group(1)), int(non2xx.group(1)) if non2xx else 0


def machine():
    import platform
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
               platform.processor())
    mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")) / 2**20
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, Linux {platform.release()}; {wrk}"


def render(n, orgs, mixed_res, tp, seconds, clients, command, machine_line, started):
    out = [f"Machine: {machine_line}.", f"Command: `{command}` ({time.time() - started:.0f} s in all, "
           f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).", "",
           f"Snapshot of {orgs:,} organisations ({n:,} cooperative rows), and a second one (the past snapshot).", ""]
    m = mixed_res
    statuses = ", ".join(f"{k}: {v:,}" for k, v in sorted(m["statuses"].items()))
    out.append(f"**Mixed load**, {clients} connections for {seconds} s (wrk; 80% cheap dashboard queries, 20% "
               f"expensive: new searches, scans of the past snapshot, diffs, pages of 1,000 organisations with "
               f"every field, aggregates of the past snapshot): {m['rps']:,.0f} requests/s, p50 {m['p50']}, "
               f"p99 {m['p99']}; answers by status: {statuses}; socket errors: {m['socket_errors']}. "
               f"Refused by limit: {m['rejections'] or 'none'}. Peak memory of `ess serve`: "
               f"**{m['peak_mib']:.0f} MiB**.")
    out.append("")
    out.append("| beside the load, every 25 ms | answered | p50 ms | p99 ms | max ms |")
    out.append("| --- | ---: | ---: | ---: | ---: |")
    for kind in ["dashboard", "healthz"]:
        k = m[kind]
        out.append(f"| {'the dashboard query (by region)' if kind == 'dashboard' else '`/healthz`'} | "
                   f"{k['ok']} of {k['n']} | {k['p50']:.2f} | **{k['p99']:.2f}** | {k['max']:.2f} |")
    if tp:
        out.append("")
        out.append("**Throughput of the dashboard query**, 32 connections, 10 s each, alternated (requests/s):")
        out.append("")
        out.append("| build | run 1 | run 2 | run 3 | median | non-2xx |")
        out.append("| --- | ---: | ---: | ---: | ---: | ---: |")
        for label, runs in tp.items():
            med = statistics.median(r for r, _ in runs)
            out.append(f"| {label} | " + " | ".join(f"{r:,.0f}" for r, _ in runs) + f" | **{med:,.0f}** | "
                       f"{sum(e for _, e in runs)} |")
    out.append("")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ess", required=True)
    ap.add_argument("--baseline", help="an ess binary from before the limits, for the throughput comparison")
    ap.add_argument("--scale", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--clients", type=int, default=200)
    a = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.time()
    ess = Path(a.ess)
    data, store = OUT / f"load-data-{a.scale}", OUT / f"load-store-{a.scale}"
    shutil.rmtree(store, ignore_errors=True)
    if not (data / "synth_truth.json").exists():
        subprocess.run([ess, "synth", "--out", data, "--cooperatives", str(a.scale), "--associations",
                        str(max(1000, a.scale // 50)), "--mutuals", str(max(100, a.scale // 100)), "--seed", "1"],
                       check=True, capture_output=True)
    files = json.loads((data / "synth_truth.json").read_text())["files"]
    args = [ess, "ingest", "--store", store]
    flag = {"cooperative": "--cooperatives", "association": "--associations", "mutual": "--mutuals"}
    for family, path in files:
        args += [flag[family], path]
    # Two snapshots: the cooperatives alone, then every family (the diff between them
    # adds the associations and mutuals; the first is the past snapshot).
    subprocess.run([ess, "ingest", "--store", store, "--cooperatives", files[0][1]], check=True, capture_output=True,
                   env={**os.environ, "RUST_LOG": "warn"})
    subprocess.run(args, check=True, capture_output=True, env={**os.environ, "RUST_LOG": "warn"})
    info = json.loads(subprocess.run([ess, "info", "--store", store, "--json"], check=True, capture_output=True,
                                     text=True).stdout)
    print("mixed load …", file=sys.stderr, flush=True)
    m = mixed(ess, store, a.seconds, a.clients)
    tp = {}
    if a.baseline:
        print("throughput …", file=sys.stderr, flush=True)
        tp = {"before the limits": [], "limits on, rate limiter too (1,000 clients)": [],
              "limits on, `--rate-limit 0`": []}
        for _ in range(3):
            tp["before the limits"].append(throughput(Path(a.baseline), store, 10, []))
            tp["limits on, rate limiter too (1,000 clients)"].append(throughput(ess, store, 10, ["--trust-forwarded-for"]))
            tp["limits on, `--rate-limit 0`"].append(throughput(ess, store, 10, ["--rate-limit", "0"]))
    (OUT / "load.json").write_text(json.dumps({"mixed": m, "throughput": tp}, indent=1))
    command = f"bench/load.sh --scale {a.scale} --seconds {a.seconds}" + (" --baseline OLD_ESS" if a.baseline else "")
    table = render(a.scale, info["rows"], m, tp, a.seconds, a.clients, command, machine(), started)
    (OUT / "load.md").write_text(table)
    md = ROOT / "BENCHMARKS.md"
    text = md.read_text()
    text = re.sub(r"<!-- load:start -->.*<!-- load:end -->",
                  lambda _: f"<!-- load:start -->\n{table}\n<!-- load:end -->", text, flags=re.S)
    md.write_text(text)
    print(table)


if __name__ == "__main__":
    main()
