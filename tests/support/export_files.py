"""Shopify exports as merchants send them back: the real fixture exports (tests/fixtures/shopify/) with columns
dropped or dates re-saved the way a spreadsheet writes them.

Each builder writes `<directory>/<fixture name>` (so the export's kind still reads from its name) and returns its path.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from support.fixture_files import shopify_export

ORDER_DATE_COLUMNS = ("Created at", "Paid at", "Cancelled at")
SHOPIFY_TIMESTAMP = "%Y-%m-%d %H:%M:%S %z"  # how the admin writes them: 2025-12-06 10:37:33 -0500


def fixture_rows(name: str) -> tuple[list[str], list[dict[str, str]]]:
    """The header and the rows (as {column: value}) of fixture export `name`."""
    with open(shopify_export(name), newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def write_export(path: Path, header: Iterable[str], rows: Iterable[dict[str, str]]) -> Path:
    """A CSV file with `header`, one line per row (columns a row lacks are empty)."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(header), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def rewrite_export(name: str, directory: Path, *, columns: Callable[[list[str]], list[str]] = list,
                   row: Callable[[dict[str, str]], dict[str, str]] = dict) -> Path:
    """Fixture export `name` with its header passed through `columns` and every row through `row`."""
    header, rows = fixture_rows(name)
    return write_export(directory / name, columns(header), (row(r) for r in rows))


def without_columns(name: str, directory: Path, *dropped: str) -> Path:
    """Fixture export `name` without the columns `dropped` (each must be in it)."""
    header, _ = fixture_rows(name)
    assert set(dropped) <= set(header), set(dropped) - set(header)
    return rewrite_export(name, directory, columns=lambda h: [c for c in h if c not in dropped])


def only_columns(name: str, directory: Path, *kept: str) -> Path:
    """Fixture export `name` with only the columns `kept`, in that order (each must be in it)."""
    header, _ = fixture_rows(name)
    assert set(kept) <= set(header), set(kept) - set(header)
    return rewrite_export(name, directory, columns=lambda _: list(kept))


def with_dates(name: str, directory: Path, resave: Callable[[str, datetime], str],
               columns: tuple[str, ...] = ORDER_DATE_COLUMNS) -> Path:
    """Fixture export `name` with every non-empty Shopify timestamp in `columns` replaced by `resave(column, moment)`
    (`moment` is the timestamp as the admin wrote it, with its offset)."""

    def resaved(row: dict[str, str]) -> dict[str, str]:
        return {c: resave(c, datetime.strptime(v, SHOPIFY_TIMESTAMP)) if c in columns and v else v
                for c, v in row.items()}

    return rewrite_export(name, directory, row=resaved)


def rows_by_line(path: Path) -> dict[int, dict[str, str]]:
    """Every data record of a CSV file without blank lines, by the physical line it starts on (header = line 1)."""
    out = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames  # reads the header
        start = reader.line_num + 1
        for values in reader:
            out[start] = values
            start = reader.line_num + 1
    return out
