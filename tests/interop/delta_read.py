"""Reads the organisations' Delta table as a researcher would, with the Python
`deltalake` package and with polars, and prints what each found as JSON: the
organisations in all, and per family and per region and family their count, members
and employees. Run by tests/it/interop.rs.

Usage: delta_read.py TABLE_URI [VERSION] [STORAGE_OPTIONS_JSON]
"""

import json
import sys

import polars as pl
from deltalake import DeltaTable


def summary(df: pl.DataFrame) -> dict:
    def groups(keys):
        out = {}
        for row in df.group_by(keys).agg(
            pl.len().alias("organisations"),
            pl.col("members_total").sum().alias("members"),
            pl.col("employees_total").sum().alias("employees"),
        ).iter_rows(named=True):
            key = "|".join("None" if row[k] is None else str(row[k]) for k in keys)
            out[key] = {m: row[m] for m in ("organisations", "members", "employees")}
        return out

    return {
        "total": df.height,
        "columns": df.columns,
        "family": groups(["family"]),
        "region_family": groups(["region_code", "family"]),
    }


def main():
    uri = sys.argv[1]
    version = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] else None
    options = json.loads(sys.argv[3]) if len(sys.argv) > 3 else None
    dt = DeltaTable(uri, version=version, storage_options=options)
    by_deltalake = pl.from_arrow(dt.to_pyarrow_table())
    by_polars = pl.read_delta(uri, version=version, storage_options=options)
    print(json.dumps({
        "version": dt.version(),
        "protocol": [dt.protocol().min_reader_version, dt.protocol().min_writer_version],
        "deltalake": summary(by_deltalake),
        "polars": summary(by_polars),
    }))


if __name__ == "__main__":
    main()
