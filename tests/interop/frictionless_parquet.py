"""A frictionless-py plugin that reads Parquet resources with pyarrow, so that
`frictionless validate` checks a Data Package's Parquet files for what they are.

frictionless-py's own Parquet parser (5.21) reads through pandas: nullable integer
columns come back as floats with NaN, list columns as numpy arrays (both reported as
type errors), and it opens the file itself, around frictionless's loader, so a
resource's `bytes` and `hash` are never computed (a byte-count error "actual is
None", and a wrong hash passes unnoticed). This parser instead

- asks for the loader (`requires_loader = True`) and reads the whole file through
  the loader's byte stream with `read1`: that stream counts and hashes what passes
  through it, so the baseline check compares `bytes` and `hash` with the file;
- decodes the bytes with pyarrow and yields plain Python values (`to_pylist`):
  int for integers (None for nulls), `datetime.date` for dates, bool, str, and
  lists of str for list columns, which frictionless's integer, date, boolean,
  string and array fields accept as they are;
- yields the Parquet column names as the header row, so the schema's field names
  are checked against the file's columns, then one row per record, so `rows` is
  checked too.

Use from Python:

    import frictionless_parquet
    frictionless_parquet.register()
    report = frictionless.validate("datapackage.json")

or as the frictionless command line with the plugin in place:

    python3 tests/interop/frictionless_parquet.py validate datapackage.json

Importing the module has no side effect: frictionless imports every top-level
module named `frictionless_*` while it collects its plugins, so registering at
import would re-enter that collection.
"""

import sys

import pyarrow as pa
import pyarrow.parquet as pq
from frictionless import system
from frictionless.system import Parser, Plugin

# The name the plugin is registered under.
PLUGIN_NAME = "ess-arrow-parquet"

# Read size per call to the loader's byte stream.
CHUNK = 1 << 20


class ArrowParquetParser(Parser):
    """Reads a Parquet resource through frictionless's loader, decodes it with
    pyarrow."""

    requires_loader = True
    supported_types = ["array", "boolean", "date", "datetime", "integer", "number", "string"]

    def read_cell_stream_create(self):
        # Every byte goes through `read1`, which updates the resource's stats
        # (bytes, md5, sha256; the hashes are stored when it returns b"").
        stream = self.loader.byte_stream
        chunks = []
        while True:
            chunk = stream.read1(CHUNK)
            if not chunk:
                break
            chunks.append(chunk)
        table = pq.read_table(pa.BufferReader(b"".join(chunks)))
        yield list(table.column_names)
        for batch in table.to_batches():
            columns = [column.to_pylist() for column in batch.columns]
            for row in zip(*columns):
                yield list(row)


class ArrowParquetPlugin(Plugin):
    """Gives resources of format `parquet` (or `parq`) to `ArrowParquetParser`."""

    def create_parser(self, resource):
        if resource.format in ("parquet", "parq"):
            return ArrowParquetParser(resource)
        return None


def register():
    """Registers the plugin. Registered plugins are asked before frictionless's
    built-in ones, so this parser replaces the pandas one."""
    system.register(PLUGIN_NAME, ArrowParquetPlugin())


if __name__ == "__main__":
    # The `frictionless` command line, with this plugin registered.
    from frictionless.console import console

    register()
    sys.exit(console(prog_name="frictionless"))
