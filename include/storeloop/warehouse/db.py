"""Talking to the warehouse with psycopg2: connections (a connection object or a DSN string) and COPY helpers.

pandas is imported by the frame helpers only, so the loaders and the migration runner stay light to import.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

Connection = Any  # a psycopg2 connection (typing it precisely would need psycopg2 stubs)


@contextmanager
def connection(conn_or_dsn: Connection | str) -> Iterator[Connection]:
    """Yield a psycopg2 connection: the one given, or a new one for a DSN string (closed afterwards)."""
    if isinstance(conn_or_dsn, str):
        import psycopg2

        conn = psycopg2.connect(conn_or_dsn)
        try:
            yield conn
        finally:
            conn.close()
    else:
        yield conn_or_dsn


def copy_query_to_frame(conn: Connection, query: str, **read_csv_kwargs: Any) -> pd.DataFrame:
    """Run `query` through `COPY (query) TO STDOUT CSV HEADER` and parse it with pandas (fast, typed by pandas)."""
    import pandas as pd

    buffer = io.StringIO()
    with conn.cursor() as cur:
        cur.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER true)", buffer)
    buffer.seek(0)
    return pd.read_csv(buffer, **read_csv_kwargs)


def copy_frame_to_table(conn: Connection, frame: pd.DataFrame, table: str, columns: list[str]) -> None:
    """COPY `frame[columns]` into `table` from an in-memory CSV buffer (the caller owns the transaction)."""
    buffer = io.StringIO()
    frame[columns].to_csv(buffer, index=False, header=False, date_format="%Y-%m-%dT%H:%M:%S.%f%z")
    buffer.seek(0)
    with conn.cursor() as cur:
        cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", buffer)


def _copy_text(value) -> str:
    if value is None:
        return "\\N"
    text = value if isinstance(value, str) else str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:  # rare: escape only when needed (fast path)
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def copy_text_line(values: tuple) -> str:
    """One line of COPY's text format: tab-separated, \\N for NULL, backslash escapes (exact for any string)."""
    return "\t".join(map(_copy_text, values)) + "\n"
