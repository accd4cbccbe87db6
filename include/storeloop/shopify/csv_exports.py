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

Required columns are only those without which a record means nothing: orders `Name`, `Created at`, `Lineitem quantity`
and `Lineitem sku` or `Lineitem name`; products `Handle` and `Title`; customers `Email` or `Customer ID`. Any other
column may be absent (merchants trim exports in spreadsheets): its typed value is None, never zero or "", and `_record`
holds the columns the row had. An export without `Email` gives anonymous orders (email None).

A file that is not what it claims (empty, not UTF-8, truncated or corrupt gzip, a required column missing, slash dates
that mix or cannot tell day-first from month-first) raises `ExportFileError` naming the file and what is wrong; the
whole file is checked before the first record is yielded, so a bad file never yields a partial set of records.

Decisions (the loader and dbt rely on them):
- `record` (the JSONB `_record`) is the CSV row as `{header: value}` with every column, values verbatim as strings:
  an empty cell is `""`, never None. Typed columns turn empty cells into None.
- `line_no` is the physical line where the record starts (header = line 1); `raw` is the record's text without its
  final line break. Blank lines are not records (as `csv.DictReader`) and yield nothing.
- Ids: `gid://shopify/Order/<Id>` / `gid://shopify/Customer/<Customer ID>` when the export has them, else stable
  `csv:` ids (`csv:order:<Name>`, `csv:line:<order id>:<n>`, `csv:product:<handle>`, `csv:variant:<handle>:<n>`,
  `csv:customer:<email>`). `n` counts every line item / variant record of the group in file order, quarantined ones
  included, so fixing one bad row does not renumber the others.
- Timestamps become ISO 8601 strings with their offset. Accepted: Shopify's `2025-12-06 10:37:33 -0500`, ISO 8601
  (`T` or space, `Z` or `+05:30` / `+0530`, fractions), and what a spreadsheet saves: `2025-12-06 10:37`,
  `2025-12-06`, `06/12/2025 10:37[:33]`, `6/12/2025`, one- or two-digit hours, an optional AM/PM. A time without an
  offset is read in the shop's zone, `read_export(..., timezone=)` (the loader passes `STORELOOP_SHOP_TIMEZONE`,
  default UTC); a date alone is midnight there; a wall time repeated when clocks go back reads as the first one.
- Slash dates are day-first or month-first per file, told from the file's own values over every date column read
  (Created at, Paid at, Cancelled at): a first part over 12 proves day-first, a second part over 12 month-first. Both
  proven, or neither while some value reads both ways (`06/12/2025`), is an ExportFileError naming example values;
  dates whose day equals their month read the same either way.
- The first record of an order is the one carrying any of Financial Status, Currency, Total or Id (those of them the
  header has); a new Name without them is a line item whose order is missing: quarantined, with the rest of that
  order. When the header has none of those columns, the first record of each new Name is its order's first record.
  The first row of a handle must have a Title. When an order's / handle's first record is quarantined, so are its
  other records (their reason points at the first record's line).
- Non-variant continuation rows of a handle (image rows) are kept in the product's record as `"images"`: a list of
  `{"line_no": n, <each non-empty column but Handle>}`; the product record always has the key (maybe `[]`).
- A record whose field count differs from the header's is quarantined. An order / handle whose rows are not contiguous
  (its name / handle appeared before) is quarantined whole: loading it would duplicate ids within the batch.
- What decides eligibility (docs/features.md): products `Gift Card` and `Published` (`true` / `false`, any case) are
  is_gift_card and is_published (published_at stays None: the export has no time); variants `Variant Inventory Qty`
  (a whole number, negative when oversold), `Variant Inventory Policy` (`deny` / `continue` → DENY / CONTINUE, like
  the API) and `Variant Inventory Tracker` (non-empty, e.g. `shopify`: tracked; empty: not tracked; no such column:
  None). Another value quarantines the record (on a handle's first row: the whole handle, like a bad Title).
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
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO

from storeloop.shopify.records import MalformedRecord


class ExportFileError(ValueError):
    """The file is not the Shopify export it claims to be; the message names the file and what is wrong."""


EXPORT_KINDS = ("orders", "products", "customers")

# the columns without which a record means nothing; each entry is met by any one of its names
REQUIRED_COLUMNS: dict[str, tuple[tuple[str, ...], ...]] = {
    "orders": (("Name",), ("Created at",), ("Lineitem quantity",), ("Lineitem sku", "Lineitem name")),
    "products": (("Handle",), ("Title",)),
    "customers": (("Email", "Customer ID"),),
}
# the typed date columns of each kind (their slash dates tell the file's day / month order)
DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "orders": ("Created at", "Paid at", "Cancelled at"),
    "products": (),
    "customers": (),
}

# orders: a record carrying any of these is the first record of its order
_ORDER_FIELDS = ("Financial Status", "Currency", "Total", "Id")
_VARIANT_FIELDS = ("Variant SKU", "Variant Price", "Option1 Value")
_OPTION_VALUES = ("Option1 Value", "Option2 Value", "Option3 Value")
# every column a typed row reads: a repeated one would make the row ambiguous
_READ_COLUMNS = frozenset({
    "Name", "Email", "Created at", "Paid at", "Cancelled at", "Lineitem quantity", "Lineitem name", "Lineitem price",
    "Lineitem sku", *_ORDER_FIELDS, "Handle", "Title", "Type", "Vendor", "Status", *_VARIANT_FIELDS, *_OPTION_VALUES,
    "Published", "Gift Card", "Variant Inventory Qty", "Variant Inventory Policy", "Variant Inventory Tracker",
    "Customer ID"})

_KIND_PATTERN = re.compile(r"^(orders|products|customers)_export[^/\\]*\.csv(\.gz)?$", re.IGNORECASE)
_GZIP_MAGIC = b"\x1f\x8b"
_FIELD_SIZE_LIMIT = 64 * 1024 * 1024  # Body (HTML) can embed images; the csv module's default limit is 128 KiB
_CHUNK = 1 << 20
# what the raw tables' columns hold (storeloop/warehouse/raw_schema.py: quantity integer, money numeric(14,2)): a
# value beyond them is quarantined here, not left to fail the whole file's COPY
_MAX_QUANTITY = 2**31 - 1
_MONEY_LIMIT = Decimal(10) ** 12
_SHOPIFY_TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) ([+-]\d{2})(\d{2})")
# a clock time after a date: [ T]H:MM[:SS[.fraction]] [AM|PM] [Z|+HH[:MM]]
_CLOCK = (r"(?:[ T](?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?"
          r"(?:\s*(?P<ampm>[AaPp]\.?[Mm]\.?))?(?:\s*(?P<offset>Z|[+-]\d{2}(?::?\d{2})?))?)?")
_DASH_DATE = re.compile(r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})" + _CLOCK)
_SLASH_DATE = re.compile(r"(?P<part1>\d{1,2})/(?P<part2>\d{1,2})/(?P<year>\d{4})" + _CLOCK)
_EXAMPLES = 3  # ambiguous dates an error message shows


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


def read_export(path: Path | str, kind: str | None = None, *, timezone: tzinfo = UTC) -> Iterator[ExportRecord]:
    """Check the whole file (raises ExportFileError now), then stream its records in file order.

    `timezone` (e.g. `zoneinfo.ZoneInfo("Europe/Paris")`) is the shop's zone: times without an offset are read in it."""
    path = Path(path)
    if not isinstance(timezone, tzinfo):
        raise TypeError(f"timezone must be a tzinfo such as zoneinfo.ZoneInfo('Europe/Paris'), not {timezone!r}")
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
    dates = _Dates(timezone, _slash_date_order(path, header, DATE_COLUMNS[kind]))
    return _stream(path, kind, header, dates)


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
    required = REQUIRED_COLUMNS[kind]
    missing = [names for names in required if not present.intersection(names)]
    if missing:
        shown = ", ".join(header[:8]) + (", ..." if len(header) > 8 else "")
        raise ExportFileError(
            f"{path}: not a Shopify {kind} export: missing column(s) {_all_of(missing)}; a Shopify {kind} export "
            f"needs {_all_of(required)} (the header has {len(header)} columns: {shown})")
    # a repeated column name: the mapping would be ambiguous for a column we read; otherwise keep both in the record
    seen: dict[str, int] = {}
    for i, name in enumerate(header):
        if name in seen:
            if name in _READ_COLUMNS:
                raise ExportFileError(f"{path}: column {name!r} appears twice in the header (columns "
                                      f"{seen[name] + 1} and {i + 1})")
            n = 2
            while f"{name} ({n})" in present:
                n += 1
            header[i] = f"{name} ({n})"
            present.add(header[i])
        seen[name] = i
    return header


def _all_of(groups) -> str:
    """(("Name",), ("Lineitem sku", "Lineitem name")) → "'Name' and 'Lineitem sku' or 'Lineitem name'"."""
    shown = [" or ".join(repr(n) for n in names) for names in groups]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


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


def _stream(path: Path, kind: str, header: list[str], dates: _Dates) -> Iterator[ExportRecord]:
    records = _csv_records(path, header)
    if kind == "orders":
        yield from _orders(records, header, dates)
    elif kind == "products":
        yield from _products(records)
    else:
        yield from _customers(records)


def _quarantine(rec: _CsvRecord, reason: str) -> ExportRecord:
    return ExportRecord(rec.line_no, (), reason, rec.raw)


# ---------------------------------------------------------------------------------------------------------- dates


@dataclass(frozen=True)
class _Dates:
    """How one file's timestamps read."""

    zone: tzinfo  # the shop's zone, for times without an offset
    day_first: bool | None  # slash dates: dd/mm (True) or mm/dd (False); None: no date of the file needs it


def _slash_date_order(path: Path, header: list[str], columns: tuple[str, ...]) -> bool | None:
    """Day-first (True) or month-first (False), told from the file's own slash dates; None when no date needs it.

    A slash date whose first part is over 12 proves day-first, one whose second part is over 12 month-first. Both
    proven, or neither while a date reads both ways (06/12/2025), raises ExportFileError. One streaming pass."""
    columns = tuple(c for c in columns if c in header)
    if not columns:
        return None
    proof: dict[bool, str] = {}  # day_first → the first value that proves it, with its line
    ambiguous: list[str] = []
    for rec in _csv_records(path, header):
        if rec.values is None:  # quarantined whatever its dates say
            continue
        for column in columns:
            match = _SLASH_DATE.fullmatch(rec.values[column].strip())
            if match is None:
                continue
            first, second = int(match["part1"]), int(match["part2"])
            shown = f"{column}={match[0]!r} (line {rec.line_no})"
            if 12 < first <= 31 and 1 <= second <= 12:
                proof.setdefault(True, shown)
            elif 12 < second <= 31 and 1 <= first <= 12:
                proof.setdefault(False, shown)
            elif first != second and 1 <= first <= 12 and 1 <= second <= 12 and len(ambiguous) < _EXAMPLES:
                ambiguous.append(shown)
        if len(proof) == 2:
            raise ExportFileError(
                f"{path}: mixes day-first and month-first dates: {proof[True]} is day/month/year, {proof[False]} "
                "month/day/year; re-export it from Shopify, or save its dates as YYYY-MM-DD")
    if proof:
        return next(iter(proof))
    if ambiguous:
        raise ExportFileError(
            f"{path}: cannot tell whether its dates are day-first (dd/mm/yyyy) or month-first (mm/dd/yyyy): none has "
            f"a day over 12, and some read both ways: {', '.join(ambiguous)}; re-export it from Shopify, or save its "
            "dates as YYYY-MM-DD")
    return None


def _moment(value: str, dates: _Dates) -> datetime:
    """The instant `value` names (ValueError if it is none): see the module docstring for the accepted forms."""
    shopify = _SHOPIFY_TIMESTAMP.fullmatch(value)  # what the admin writes: the fast path
    if shopify:
        return datetime.fromisoformat(f"{shopify[1]}T{shopify[2]}{shopify[3]}:{shopify[4]}")
    if match := _DASH_DATE.fullmatch(value):
        month, day = int(match["month"]), int(match["day"])
    elif match := _SLASH_DATE.fullmatch(value):
        first, second = int(match["part1"]), int(match["part2"])
        if dates.day_first is None and first != second:
            raise ValueError("day-first or month-first cannot be told")
        month, day = (second, first) if dates.day_first else (first, second)
    else:
        raise ValueError("not a date form this reader knows")
    hour = int(match["hour"] or 0)
    if match["ampm"]:
        if not 1 <= hour <= 12:
            raise ValueError(f"hour {hour} with {match['ampm']}")
        hour = hour % 12 + (12 if match["ampm"][0] in "Pp" else 0)
    moment = datetime(int(match["year"]), month, day, hour, int(match["minute"] or 0), int(match["second"] or 0),
                      int((match["fraction"] or "0")[:6].ljust(6, "0")))
    return moment.replace(tzinfo=_offset(match["offset"]) if match["offset"] else dates.zone)


def _offset(text: str) -> tzinfo:
    """`Z`, `+05`, `+0530` or `+05:30` as a fixed offset."""
    if text == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:] or 0)
    return timezone(timedelta(minutes=-minutes if text[0] == "-" else minutes))


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
    if abs(amount) >= _MONEY_LIMIT:
        raise MalformedRecord(f"{column}={value!r} is too large for an amount (at most 12 digits before the point)")
    return amount


def _quantity(values: dict[str, str], column: str) -> int:
    value = values.get(column, "").strip()
    if not value:
        raise MalformedRecord(f"{column} is empty")
    if not re.fullmatch(r"[+-]?\d+", value):
        raise MalformedRecord(f"{column}={value!r} is not a whole number")
    if abs(int(value)) > _MAX_QUANTITY:
        raise MalformedRecord(f"{column}={value!r} is out of range (at most {_MAX_QUANTITY:,})")
    return int(value)


def _timestamp(values: dict[str, str], column: str, dates: _Dates, required: bool = False) -> str | None:
    value = values.get(column, "").strip()
    if not value:
        if required:
            raise MalformedRecord(f"{column} is empty")
        return None
    try:
        return _moment(value, dates).isoformat()
    except ValueError as exc:
        raise MalformedRecord(f"{column}={value!r} is not a timestamp like '2025-12-06 10:37:33 -0500' or "
                              f"'2025-12-06' ({exc})") from exc


def _boolean(values: dict[str, str], column: str) -> bool | None:
    """`true` / `false` as Shopify writes them (any case: a spreadsheet saves TRUE); empty or absent: None."""
    value = values.get(column, "").strip()
    if not value:
        return None
    if value.lower() not in ("true", "false"):
        raise MalformedRecord(f"{column}={value!r} is not true or false")
    return value.lower() == "true"


def _integer(values: dict[str, str], column: str) -> int | None:
    """A whole number (may be negative: stock oversold); empty or absent: None."""
    value = values.get(column, "").strip()
    if not value:
        return None
    if not re.fullmatch(r"[+-]?\d+", value):
        raise MalformedRecord(f"{column}={value!r} is not a whole number")
    if abs(int(value)) > _MAX_QUANTITY:
        raise MalformedRecord(f"{column}={value!r} is out of range (at most {_MAX_QUANTITY:,})")
    return int(value)


def _inventory_policy(values: dict[str, str]) -> str | None:
    """`deny` / `continue` (sell when out of stock) upper-cased like the API's; empty or absent: None."""
    value = values.get("Variant Inventory Policy", "").strip()
    if not value:
        return None
    if value.lower() not in ("deny", "continue"):
        raise MalformedRecord(f"Variant Inventory Policy={value!r} is not deny or continue")
    return value.upper()


def _inventory_tracked(values: dict[str, str]) -> bool | None:
    """`Variant Inventory Tracker` names who tracks the stock (`shopify`, or a fulfillment service); empty = not
    tracked (Shopify sells the variant whatever its quantity). A file without the column says nothing: None."""
    if "Variant Inventory Tracker" not in values:
        return None
    return bool(values["Variant Inventory Tracker"].strip())


def _numeric_id(values: dict[str, str], column: str) -> str | None:
    value = values.get(column, "").strip().lstrip("'")  # Shopify prefixes long ids with ' so spreadsheets keep them
    if not value:
        return None
    if not value.isdigit():
        raise MalformedRecord(f"{column}={values.get(column)!r} is not a numeric Shopify id")
    return value


# ---------------------------------------------------------------------------------------------------------- orders

def _order_row(values: dict[str, str], order_id: str, name: str, dates: _Dates) -> tuple:
    email = _text(values, "Email")
    return (order_id, name, None, email.lower() if email else None,
            _timestamp(values, "Created at", dates, required=True), _timestamp(values, "Paid at", dates), None,
            _timestamp(values, "Cancelled at", dates),
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


def _orders(records: Iterator[_CsvRecord], header: list[str], dates: _Dates) -> Iterator[ExportRecord]:
    order_fields = [c for c in _ORDER_FIELDS if c in header]  # none: every new Name starts its order
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
        if order_fields and not any(values[c].strip() for c in order_fields):
            reason = (f"order {name} has no first record ({', '.join(order_fields)} empty at line {rec.line_no}): "
                      "a line item without its order")
            current = _Order(name, rec.line_no, None, reason)
            yield _quarantine(rec, reason)
            continue
        try:
            shopify_id = _numeric_id(values, "Id")
            order_id = f"gid://shopify/Order/{shopify_id}" if shopify_id else f"csv:order:{name}"
            order = _order_row(values, order_id, name, dates)
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
    # is_gift_card, is_published (`Published`: on the Online Store), published_at (the export has no time),
    # total_inventory and tracks_inventory (the API's product totals; dbt reads the variants' stock instead)
    return (product_id, handle, _text(values, "Title"), _text(values, "Type"), _text(values, "Vendor"),
            (_text(values, "Status") or "").upper() or None, None, None,
            _boolean(values, "Gift Card"), _boolean(values, "Published"), None, None, None)


def _variant_row(values: dict[str, str], product_id: str, handle: str, n: int) -> tuple:
    options = [v for v in (_text(values, c) for c in _OPTION_VALUES) if v]
    # stock: Variant Inventory Qty, Policy, Tracker; available_for_sale is the API's verdict, not in an export
    return (f"csv:variant:{handle}:{n}", product_id, _text(values, "Variant SKU"),
            " / ".join(options) or None, _money(values, "Variant Price"), None, None,
            _integer(values, "Variant Inventory Qty"), _inventory_policy(values), _inventory_tracked(values), None)


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
    product_row: tuple | None = None
    if 0 not in out:
        try:
            product_row = _product_row(first.values, product_id, handle)
        except MalformedRecord as exc:
            out[0] = _quarantine(first, f"handle {handle!r}: {exc}")
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
        assert product_row is not None
        rows: list[tuple[str, tuple, dict]] = [("products", product_row, record)]
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
