"""Table and column descriptions inside each published Parquet file.

dbt persists each model's and column's doc as DuckDB comments, and publishing copies them into
the release's DuckDB file. A Parquet file read on its own (pandas, Spark, a notebook) should
carry the same docs, where Arrow readers look for them:

- per column: the field's metadata `description` (Parquet has no doc field of its own, so
  Arrow keeps field metadata in the serialised schema, key-value entry `ARROW:schema`);
- per table: the file's key-value metadata `description`, next to what publishing put there.

DuckDB's COPY writes file-level key-value metadata only, so the files are rewritten once
through pyarrow, batch by batch (memory stays bounded on large marts). The release gate scans
both levels for PII (patient360.gates.pii_scan), so a description cannot smuggle a value out.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

DESCRIPTION = b"description"
ARROW_SCHEMA_KEY = "ARROW:schema"  # the file-level entry holding the serialised Arrow schema
BATCH_ROWS = 122_880  # DuckDB's own row-group size


def describe_parquet_files(duckdb_path: Path, parquet_dir: Path) -> None:
    """Write the DuckDB file's table and column comments into `<parquet_dir>/<table>.parquet`."""
    for table, (table_doc, column_docs) in _comments(duckdb_path).items():
        path = parquet_dir / f"{table}.parquet"
        if path.is_file():
            _describe(path, table_doc, column_docs)


def descriptions(path: Path) -> tuple[str | None, dict[str, str]]:
    """(table description, column -> description) as an Arrow reader sees them."""
    schema = pq.read_schema(path)
    table_doc = (schema.metadata or {}).get(DESCRIPTION)
    columns = {f.name: f.metadata[DESCRIPTION].decode() for f in schema if f.metadata and DESCRIPTION in f.metadata}
    return (table_doc.decode() if table_doc else None), columns


def metadata_texts(path: Path) -> list[str]:
    """Every schema- and field-level metadata entry of the file's Arrow schema as `name=value`
    text, decoded from `ARROW:schema` (what a PII scan must read, not the base64 bytes)."""
    schema = pq.read_schema(path)
    texts = [f"{_text(k)}={_text(v)}" for k, v in (schema.metadata or {}).items()]
    for field in _all_fields(schema):
        texts += [f"{field.name}.{_text(k)}={_text(v)}" for k, v in (field.metadata or {}).items()]
    return texts


def _comments(duckdb_path: Path) -> dict[str, tuple[str | None, dict[str, str]]]:
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        tables = con.execute("select table_name, comment from duckdb_tables() where "
                             "database_name = current_database() and schema_name = 'main'").fetchall()  # fmt: skip
        columns = con.execute("select table_name, column_name, comment from duckdb_columns() "
                              "where database_name = current_database() and schema_name = 'main' "
                              "and comment is not null").fetchall()  # fmt: skip
    finally:
        con.close()
    out: dict[str, tuple[str | None, dict[str, str]]] = {t: (doc, {}) for t, doc in tables}
    for table, column, doc in columns:
        out[table][1][column] = doc
    return out


def _describe(path: Path, table_doc: str | None, column_docs: dict[str, str]) -> None:
    source = pq.ParquetFile(path)
    old = source.schema_arrow
    fields = [f.with_metadata({**(f.metadata or {}), DESCRIPTION: column_docs[f.name].encode()})
              if f.name in column_docs else f for f in old]  # fmt: skip
    metadata = dict(old.metadata or {})
    if table_doc:
        metadata[DESCRIPTION] = table_doc.encode()
    schema = pa.schema(fields, metadata=metadata)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with pq.ParquetWriter(tmp, schema, compression="snappy") as writer:
            for batch in source.iter_batches(batch_size=BATCH_ROWS):
                writer.write_table(pa.Table.from_batches([batch]).cast(schema))
        os.replace(tmp, path)
    finally:
        source.close()
        tmp.unlink(missing_ok=True)


def _all_fields(schema: pa.Schema) -> list[pa.Field]:
    fields, todo = [], list(schema)
    while todo:
        field = todo.pop()
        fields.append(field)
        todo += [field.type.field(i) for i in range(field.type.num_fields)]
    return fields


def _text(value: bytes) -> str:
    return value.decode("utf-8", errors="replace")
