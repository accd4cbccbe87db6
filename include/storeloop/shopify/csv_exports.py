"""Read the CSV exports a merchant downloads from the Shopify admin into rows of the `raw_shopify` tables.

`read_export(path)` streams one `ExportRecord` per CSV data record (a record may span several physical lines: quoted
newlines in `Body (HTML)`), each either loaded (its typed rows, in the column order of the raw tables, which the
warehouse owns: see storeloop/shopify/records.py) or quarantined (`error` says why, naming the column and the value).
So records in = loaded + quarantined, always.

- `orders_export*.csv`: one record per line item; the order's own fields only on the first record of the order (rows of
  one order share `Name` and are contiguous). The first record yields an `orders` row and an `order_line_items` row,
  later ones a line item. Customers are known only by email (`customer_id` is None).
- `products_export*.csv` (current 52-column and older 48-column formats): rows of one `Handle` are contiguous; the first
  carries the product fields. Variant rows yield `product_variants` rows; image-only rows yield no row: they are folded
  into the product's record under `"images"` and counted as loaded (merged). A handle group is buffered until it ends.
- `customers_export*.csv`: current header (with `Customer ID`) and legacy header (without: the id comes from the email).

A file that is not what it claims (empty, not UTF-8, truncated or corrupt gzip, missing required columns) raises
`ExportFileError` naming the file and what is wrong; the whole file is checked before the first record is yielded, so a
bad file never yields a partial set of records.

Decisions (the loader and dbt rely on them):
- `record` (the JSONB `_record`) is the CSV row as `{header: value}` with every column, values verbatim as strings:
  an empty cell is `""`, never None. Typed columns turn empty cells into None.
- `line_no` is the physical line where the record starts (header = line 1); `raw` is the record's text without its
  final line break. Blank lines are not records (as `csv.DictReader`) and yield nothing.
- Ids: `gid://shopify/Order/<Id>` / `gid://shopify/Customer/<Customer ID>` when the export has them, else stable
  `csv:` ids (`csv:order:<Name>`, `csv:line:<order id>:<n>`, `csv:product:<handle>`, `csv:variant:<handle>:<n>`,
  `csv:customer:<email>`). `n` counts every line item / variant record of the group in file order, quarantined ones
  included, so fixing one bad row does not renumber the others.
- Timestamps (`2025-12-06 10:37:33 -0500`, ISO 8601 accepted too) become ISO 8601 strings with their offset; a
  timestamp without an offset is quarantined (timestamptz would read it in the session's zone).
- The first record of an order is the one carrying any of Financial Status, Currency, Total or Id; a new Name without
  them is a line item whose order is missing: quarantined, with the rest of that order. The first row of a handle
  must have a Title. When an order's / handle's first record is quarantined, so are its other records (their reason
  points at the first record's line).
- Non-variant continuation rows of a handle (image rows) are kept in the product's record as `"images"`: a list of
  `{"line_no": n, <each non-empty column but Handle>}`; the product record always has the key (maybe `[]`).
- A record whose field count differs from the header's is quarantined. An order / handle whose rows are not contiguous
  (its name / handle appeared before) is quarantined whole: loading it would duplicate ids within the batch.
- A gzip-compressed file is read as gzip whatever its name; a `.gz` name on a file that is not gzip is an error.
- A record the csv module rejects (e.g. a field over the limit, raised here to 64 MiB for Body (HTML) with embedded
  images) or one holding a NUL character (PostgreSQL cannot store it) is quarantined; reading goes on.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO

from storeloop.shopify.records import MalformedRecord


class ExportFileError(ValueError):
    """The file is not the Shopify export it claims to be; the message names the file and what is wrong."""


EXPORT_KINDS = ("orders", "products", "customers")

REQUIRED_HEADERS: dict[str, tuple[str, ...]] = {
    "orders": ("Name", "Email", "Created at", "Lineitem quantity", "Lineitem name", "Lineitem price", "Total",
               "Currency", "Financial Status"),
    "products": ("Handle", "Title", "Variant Price"),
    "customers": ("Email",),
}
# customers: besides Email, at least one of these (current header: Customer ID; legacy header: First Name)
_CUSTOMERS_ONE_OF = ("Customer ID", "First Name")

# orders: a record carrying any of these is the first record of its order
_ORDER_FIELDS = ("Financial Status", "Currency", "Total", "Id")
_VARIANT_FIELDS = ("Variant SKU", "Variant Price", "Option1 Value")
_OPTION_VALUES = ("Option1 Value", "Option2 Value", "Option3 Value")

_KIND_PATTERN = re.compile(r"^(orders|products|customers)_export[^/\\]*\.csv(\.gz)?$", re.IGNORECASE)
_GZIP_MAGIC = b"\x1f\x8b"
_FIELD_SIZE_LIMIT = 64 * 1024 * 1024  # Body (HTML) can embed images; the csv module's default limit is 128 KiB
_CHUNK = 1 << 20
_SHOPIFY_TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) ([+-]\d{2})(\d{2})")


@dataclass(frozen=True)
class ExportRecord:
    line_no: int  # physical line where this CSV record starts (header = line 1)
    rows: tuple[tuple[str, tuple, dict], ...]  # (raw table, typed row in that table's column order, record for _record)
    error: str | None = None  # set => quarantine this record with this reason (rows empty)
    raw: str = ""  # the record's text (for the quarantine table), best effort

    @property
    def quarantined(self) -> bool:
        return self.error is not None

    @property
    def merged(self) -> bool:
        """Loaded without a row of its own (a products image row, folded into its product's record)."""
        return self.error is None and not self.rows


def export_kind(filename: str) -> str | None:
    """`orders_export*.csv(.gz)` → "orders", `products_export*` → "products", `customers_export*` → "customers"."""
    name = re.split(r"[/\\]", str(filename))[-1]
    match = _KIND_PATTERN.match(name)
    return match.group(1).lower() if match else None


def read_export(path: Path | str, kind: str | None = None) -> Iterator[ExportRecord]:
    """Check the whole file (raises ExportFileError now), then stream its records in file order."""
    path = Path(path)
    if kind is None:
        kind = export_kind(path.name)
        if kind is None:
            raise ExportFileError(
                f"{path}: cannot tell which Shopify export this is from its name; expected orders_export*.csv, "
                "products_export*.csv or customers_export*.csv (optionally .gz), or pass kind=")
    elif kind not in EXPORT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(EXPORT_KINDS)}, not {kind!r}")
    _check_file(path)
    with _open_text(path) as text:
        try:
            first_line = next(csv.reader(text), [])
        except csv.Error as exc:
            raise ExportFileError(f"{path}: the header line is not valid CSV ({exc})") from exc
    header = _check_header(path, kind, first_line)
    if csv.field_size_limit() < _FIELD_SIZE_LIMIT:
        csv.field_size_limit(_FIELD_SIZE_LIMIT)
    return _stream(path, kind, header)


# ---------------------------------------------------------------------------------------------------------- the file


def _open_binary(path: Path) -> IO[bytes]:
    try:
        with open(path, "rb") as f:
            magic = f.read(2)
    except OSError as exc:
        raise ExportFileError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if magic == _GZIP_MAGIC:
        return gzip.open(path, "rb")
    if path.name.lower().endswith(".gz"):
        raise ExportFileError(f"{path}: is named .gz but is not gzip-compressed")
    return open(path, "rb")


def _open_text(path: Path) -> io.TextIOWrapper:
    # utf-8-sig drops the BOM Excel and some exports put first; newline="" lets csv see quoted newlines as they are
    return io.TextIOWrapper(_open_binary(path), encoding="utf-8-sig", newline="")


def _gzip_error(path: Path, exc: BaseException) -> ExportFileError:
    return ExportFileError(f"{path}: the gzip data is truncated or corrupt ({exc}); download the export again")


def _not_utf8(path: Path, line: int, exc: UnicodeDecodeError) -> ExportFileError:
    bad = exc.object[exc.start:exc.start + 1].hex()
    return ExportFileError(
        f"{path}: is not UTF-8 (byte 0x{bad} on line {line}: {exc.reason}); Shopify exports are UTF-8: download it "
        "again, or save it as 'CSV UTF-8'")


def _check_file(path: Path) -> None:
    """One streaming pass over the bytes: not empty, complete gzip, valid UTF-8 throughout."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    newlines = 0
    has_text = False
    try:
        with _open_binary(path) as f:
            while chunk := f.read(_CHUNK):
                try:
                    text = decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    # exc.object = the decoder's pending bytes (never a newline) + this chunk
                    raise _not_utf8(path, newlines + exc.object[:exc.start].count(b"\n") + 1, exc) from exc
                newlines += chunk.count(b"\n")
                has_text = has_text or bool(text.strip())
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                raise _not_utf8(path, newlines + 1, exc) from exc
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise _gzip_error(path, exc) from exc
    except OSError as exc:
        raise ExportFileError(f"{path}: cannot be read ({exc})") from exc
    if not has_text:
        raise ExportFileError(f"{path}: is empty (no header line); expected a Shopify export with its header")


def _check_header(path: Path, kind: str, fields: list[str]) -> list[str]:
    header = [h.strip() for h in fields]
    if not any(header):
        raise ExportFileError(f"{path}: the first line is not a header (it is empty)")
    present = set(header)
    missing = [h for h in REQUIRED_HEADERS[kind] if h not in present]
    if kind == "customers" and not present.intersection(_CUSTOMERS_ONE_OF):
        missing.append(" or ".join(_CUSTOMERS_ONE_OF))
    if missing:
        shown = ", ".join(header[:8]) + (", ..." if len(header) > 8 else "")
        raise ExportFileError(
            f"{path}: not a Shopify {kind} export: missing column(s) {', '.join(repr(m) for m in missing)} "
            f"(the header has {len(header)} columns: {shown})")
    # a repeated column name: the mapping would be ambiguous for a column we read; otherwise keep both in the record
    used = set(REQUIRED_HEADERS[kind]) | set(_CUSTOMERS_ONE_OF) | set(_ORDER_FIELDS) | set(_VARIANT_FIELDS) | set(
        _OPTION_VALUES) | {"Paid at", "Cancelled at", "Lineitem sku", "Type", "Vendor", "Status"}
    seen: dict[str, int] = {}
    for i, name in enumerate(header):
        if name in seen:
            if name in used:
                raise ExportFileError(f"{path}: column {name!r} appears twice in the header (columns "
                                      f"{seen[name] + 1} and {i + 1})")
            n = 2
            while f"{name} ({n})" in present:
                n += 1
            header[i] = f"{name} ({n})"
            present.add(header[i])
        seen[name] = i
    return header


# ------------------------------------------------------------------------------------------------------- the records


@dataclass
class _CsvRecord:
    line_no: int
    raw: str
    fields: list[str] | None  # None: the csv module could not parse it
    error: str | None = None  # why it cannot be a row at all (syntax, field count)
    values: dict[str, str] | None = None


class _LineTap:
    """Feeds the csv reader line by line and remembers the lines of the record being read."""

    def __init__(self, text: IO[str]):
        self._text = text
        self.lines: list[str] = []
        self.count = 0

    def __iter__(self) -> _LineTap:
        return self

    def __next__(self) -> str:
        line = next(self._text)
        self.lines.append(line)
        self.count += 1
        return line

    def take(self) -> str:
        raw = "".join(self.lines)
        self.lines = []
        return raw


def _strip_eol(raw: str) -> str:
    return raw[:-2] if raw.endswith("\r\n") else raw[:-1] if raw.endswith(("\n", "\r")) else raw


def _csv_records(path: Path, header: list[str]) -> Iterator[_CsvRecord]:
    try:
        with _open_text(path) as text:
            tap = _LineTap(text)
            reader = csv.reader(tap)
            next(reader)  # the header, checked already
            tap.take()
            while True:
                start = tap.count + 1
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    yield _CsvRecord(start, _strip_eol(tap.take()), None, f"not valid CSV: {exc}")
                    continue
                raw = tap.take()
                if not fields:  # a blank line
                    continue
                if "\x00" in raw:  # PostgreSQL text and jsonb cannot hold NUL: the record could never load
                    yield _CsvRecord(start, _strip_eol(raw).replace("\x00", "\ufffd"), fields,
                                     "contains a NUL character (shown as U+FFFD), which PostgreSQL text cannot store")
                    continue
                if len(fields) != len(header):
                    reason = f"has {len(fields)} fields, the header has {len(header)}"
                    if raw.count('"') % 2:  # balanced in any well-formed record
                        reason += " (a quoted field is not closed before the end of the file)"
                    yield _CsvRecord(start, _strip_eol(raw), fields, reason)
                    continue
                yield _CsvRecord(start, _strip_eol(raw), fields, values=dict(zip(header, fields, strict=True)))
    except UnicodeDecodeError as exc:  # the file changed since it was checked
        raise ExportFileError(f"{path}: is not UTF-8 ({exc.reason})") from exc
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise _gzip_error(path, exc) from exc


def _stream(path: Path, kind: str, header: list[str]) -> Iterator[ExportRecord]:
    records = _csv_records(path, header)
    if kind == "orders":
        yield from _orders(records)
    elif kind == "products":
        yield from _products(records)
    else:
        yield from _customers(records)


def _quarantine(rec: _CsvRecord, reason: str) -> ExportRecord:
    return ExportRecord(rec.line_no, (), reason, rec.raw)


# ------------------------------------------------------------------------------------------------------ field parsing


def _text(values: dict[str, str], column: str) -> str | None:
    value = values.get(column, "").strip()
    return value or None


def _money(values: dict[str, str], column: str) -> Decimal | None:
    value = values.get(column, "").strip()
    if not value:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise MalformedRecord(f"{column}={value!r} is not a number") from exc
    if not amount.is_finite():
        raise MalformedRecord(f"{column}={value!r} is not a finite number")
    return amount


def _quantity(values: dict[str, str], column: str) -> int:
    value = values.get(column, "").strip()
    if not value:
        raise MalformedRecord(f"{column} is empty")
    if not re.fullmatch(r"[+-]?\d+", value):
        raise MalformedRecord(f"{column}={value!r} is not a whole number")
    return int(value)


def _timestamp(values: dict[str, str], column: str, required: bool = False) -> str | None:
    value = values.get(column, "").strip()
    if not value:
        if required:
            raise MalformedRecord(f"{column} is empty")
        return None
    shopify = _SHOPIFY_TIMESTAMP.fullmatch(value)  # what the admin writes; strptime would be 10x slower
    iso = f"{shopify[1]}T{shopify[2]}{shopify[3]}:{shopify[4]}" if shopify else value.replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError as exc:
        raise MalformedRecord(f"{column}={value!r} is not a timestamp like '2025-12-06 10:37:33 -0500'") from exc
    if moment.tzinfo is None:
        raise MalformedRecord(f"{column}={value!r} has no UTC offset")
    return moment.isoformat()


def _numeric_id(values: dict[str, str], column: str) -> str | None:
    value = values.get(column, "").strip().lstrip("'")  # Shopify prefixes long ids with ' so spreadsheets keep them
    if not value:
        return None
    if not value.isdigit():
        raise MalformedRecord(f"{column}={values.get(column)!r} is not a numeric Shopify id")
    return value


# ---------------------------------------------------------------------------------------------------------- orders

def _order_row(values: dict[str, str], order_id: str, name: str) -> tuple:
    email = _text(values, "Email")
    return (order_id, name, None, email.lower() if email else None,
            _timestamp(values, "Created at", required=True), _timestamp(values, "Paid at"), None,
            _timestamp(values, "Cancelled at"),
            (_text(values, "Financial Status") or "").upper() or None, _text(values, "Currency"),
            _money(values, "Total"))


def _line_row(values: dict[str, str], order_id: str, n: int) -> tuple:
    return (f"csv:line:{order_id}:{n}", order_id, None, None, _text(values, "Lineitem sku"),
            _text(values, "Lineitem name"), _quantity(values, "Lineitem quantity"), _money(values, "Lineitem price"))


@dataclass
class _Order:
    name: str
    first_line: int
    order_id: str | None  # None: the order's rows are quarantined, for `reason`
    reason: str = ""
    n: int = 1


def _orders(records: Iterator[_CsvRecord]) -> Iterator[ExportRecord]:
    current: _Order | None = None
    seen: dict[str, int] = {}  # order name → line of its first record
    for rec in records:
        if rec.values is None:
            yield _quarantine(rec, rec.error or "unreadable record")
            continue
        values = rec.values
        name = values["Name"].strip()
        if not name:
            yield _quarantine(rec, "Name is empty: the record belongs to no order")
            continue
        if current is not None and name == current.name:
            current.n += 1
            if current.order_id is None:
                yield _quarantine(rec, current.reason)
                continue
            try:
                line = _line_row(values, current.order_id, current.n)
            except MalformedRecord as exc:
                yield _quarantine(rec, f"order {name} line item {current.n}: {exc}")
                continue
            yield ExportRecord(rec.line_no, (("order_line_items", line, values),), None, rec.raw)
            continue
        # a new order starts
        if name in seen:
            reason = (f"order {name} already appeared at line {seen[name]}: the records of one order must be "
                      "contiguous")
            current = _Order(name, rec.line_no, None, reason)
            yield _quarantine(rec, reason)
            continue
        seen[name] = rec.line_no
        if not any(values.get(c, "").strip() for c in _ORDER_FIELDS):
            reason = (f"order {name} has no first record (Financial Status, Currency and Total are empty at line "
                      f"{rec.line_no}): a line item without its order")
            current = _Order(name, rec.line_no, None, reason)
            yield _quarantine(rec, reason)
            continue
        try:
            shopify_id = _numeric_id(values, "Id")
            order_id = f"gid://shopify/Order/{shopify_id}" if shopify_id else f"csv:order:{name}"
            order = _order_row(values, order_id, name)
            line = _line_row(values, order_id, 1)
        except MalformedRecord as exc:
            current = _Order(name, rec.line_no, None,
                             f"the first record of order {name} (line {rec.line_no}) was quarantined")
            yield _quarantine(rec, f"order {name}: {exc}")
            continue
        current = _Order(name, rec.line_no, order_id)
        yield ExportRecord(rec.line_no, (("orders", order, values), ("order_line_items", line, values)), None,
                           rec.raw)


# -------------------------------------------------------------------------------------------------------- products


def _has_variant(values: dict[str, str]) -> bool:
    return any(values.get(c, "").strip() for c in _VARIANT_FIELDS)


def _product_row(values: dict[str, str], product_id: str, handle: str) -> tuple:
    return (product_id, handle, _text(values, "Title"), _text(values, "Type"), _text(values, "Vendor"),
            (_text(values, "Status") or "").upper() or None, None, None)


def _variant_row(values: dict[str, str], product_id: str, handle: str, n: int) -> tuple:
    options = [v for v in (_text(values, c) for c in _OPTION_VALUES) if v]
    return (f"csv:variant:{handle}:{n}", product_id, _text(values, "Variant SKU"),
            " / ".join(options) or None, _money(values, "Variant Price"), None, None)


def _products(records: Iterator[_CsvRecord]) -> Iterator[ExportRecord]:
    group: list[_CsvRecord] = []  # the records of the current handle, plus unreadable ones met inside it
    handle = ""
    seen: dict[str, int] = {}  # handle → line of its first record
    for rec in records:
        values = rec.values
        if values is not None and not values["Handle"].strip():
            rec.error, rec.values = "Handle is empty: the record belongs to no product", None
            values = None
        if values is None:
            if group:
                group.append(rec)  # keep file order: emitted with the group
            else:
                yield _quarantine(rec, rec.error or "unreadable record")
            continue
        if group and values["Handle"].strip() == handle:
            group.append(rec)
            continue
        if group:
            yield from _product_group(handle, group, seen)
        handle, group = values["Handle"].strip(), [rec]
    if group:
        yield from _product_group(handle, group, seen)


def _product_group(handle: str, group: list[_CsvRecord], seen: dict[str, int]) -> Iterator[ExportRecord]:
    first = group[0]
    assert first.values is not None
    out: dict[int, ExportRecord] = {}  # index in group → record
    reason: str | None = None
    if handle in seen:
        reason = (f"handle {handle!r} already appeared at line {seen[handle]}: the rows of one product must be "
                  "contiguous")
        out[0] = _quarantine(first, reason)
    else:
        seen[handle] = first.line_no
        if not _text(first.values, "Title"):
            out[0] = _quarantine(first, f"the first row of handle {handle!r} has an empty Title: the product's own "
                                        "fields are missing (its first row may be elsewhere in the file)")
    product_id = f"csv:product:{handle}"
    images: list[dict] = []
    variant_rows: dict[int, tuple] = {}
    n = 0
    for i, rec in enumerate(group):
        if rec.values is None:
            out[i] = _quarantine(rec, rec.error or "unreadable record")
            continue
        if i in out:
            continue
        if not _has_variant(rec.values):
            if i > 0:  # an image row: folded into the product's record
                entry: dict = {"line_no": rec.line_no}
                entry.update((k, v) for k, v in rec.values.items() if v != "" and k != "Handle")
                images.append(entry)
                out[i] = ExportRecord(rec.line_no, (), None, rec.raw)
            continue
        n += 1
        try:
            variant_rows[i] = _variant_row(rec.values, product_id, handle, n)
        except MalformedRecord as exc:
            out[i] = _quarantine(rec, f"handle {handle!r} variant {n}: {exc}")
    if 0 in out and out[0].error:
        reason = reason or f"the first row of handle {handle!r} (line {first.line_no}) was quarantined"
        for i, rec in enumerate(group):
            if i > 0 and rec.values is not None:
                out[i] = _quarantine(rec, reason)
    else:
        record = {**first.values, "images": images}
        rows: list[tuple[str, tuple, dict]] = [("products", _product_row(first.values, product_id, handle), record)]
        if 0 in variant_rows:
            rows.append(("product_variants", variant_rows[0], first.values))
        out[0] = ExportRecord(first.line_no, tuple(rows), None, first.raw)
        for i, row in variant_rows.items():
            if i > 0:
                out[i] = ExportRecord(group[i].line_no, (("product_variants", row, group[i].values),), None,
                                      group[i].raw)
    for i in range(len(group)):
        yield out[i]


# ------------------------------------------------------------------------------------------------------- customers


def _customers(records: Iterator[_CsvRecord]) -> Iterator[ExportRecord]:
    for rec in records:
        if rec.values is None:
            yield _quarantine(rec, rec.error or "unreadable record")
            continue
        values = rec.values
        email = (_text(values, "Email") or "").lower() or None
        try:
            shopify_id = _numeric_id(values, "Customer ID")
        except MalformedRecord as exc:
            yield _quarantine(rec, str(exc))
            continue
        if shopify_id:
            customer_id = f"gid://shopify/Customer/{shopify_id}"
        elif email:
            customer_id = f"csv:customer:{email}"
        else:
            yield _quarantine(rec, "neither Customer ID nor Email: the customer cannot be identified")
            continue
        yield ExportRecord(rec.line_no, (("customers", (customer_id, email, None, None), values),), None, rec.raw)
