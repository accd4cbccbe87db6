"""Dates as a spreadsheet re-saves them (issue 20): every form reads as the instant Shopify wrote, times without an
offset in the shop's zone, and a file's slash dates are day-first or month-first as its own values prove."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from support.export_files import rows_by_line, with_dates
from support.fixture_files import shopify_export

from storeloop.shopify import csv_exports
from storeloop.shopify.csv_exports import ExportFileError, ExportRecord, read_export
from storeloop.warehouse.export_loader import shop_timezone

SMALL_STORE = "orders_export_small_store.csv"  # 2019-2022, offsets -0400 / -0500: New York time
DEVSTORE = "orders_export_devstore.csv"  # every order on 2025-12-06 (-0500), in INR
NEW_YORK = ZoneInfo("America/New_York")
CREATED, PAID, CANCELLED = 4, 5, 7  # in an orders row


def _orders(records: list[ExportRecord]) -> list[tuple]:
    assert [r.error for r in records if r.error] == []
    return [row for r in records for t, row, _ in r.rows if t == "orders"]


def _moments(orders: list[tuple]) -> list[datetime | None]:
    return [datetime.fromisoformat(o[i]) if o[i] else None for o in orders for i in (CREATED, PAID, CANCELLED)]


def _h12(m: datetime) -> str:
    return f"{m.hour % 12 or 12}:{m:%M} {'PM' if m.hour >= 12 else 'AM'}"


ORIGINAL = _orders(list(read_export(shopify_export(SMALL_STORE))))

# form → (how a spreadsheet writes the moment, what of it survives: the local wall time it keeps)
FORMS: dict[str, tuple[Callable[[datetime], str], Callable[[datetime], datetime]]] = {
    "iso-offset": (lambda m: m.isoformat(), lambda m: m),
    "iso-offset-no-colon": (lambda m: m.strftime("%Y-%m-%dT%H:%M:%S%z"), lambda m: m),
    "iso-z": (lambda m: m.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), lambda m: m),
    "iso-naive": (lambda m: m.strftime("%Y-%m-%dT%H:%M:%S"), lambda m: m),
    "naive-with-seconds": (lambda m: m.strftime("%Y-%m-%d %H:%M:%S"), lambda m: m),
    "no-seconds": (lambda m: m.strftime("%Y-%m-%d %H:%M"), lambda m: m.replace(second=0)),
    "date-only": (lambda m: m.strftime("%Y-%m-%d"), lambda m: m.replace(hour=0, minute=0, second=0)),
    "one-digit-hour": (lambda m: f"{m:%Y-%m-%d} {m.hour}:{m:%M}:{m:%S}", lambda m: m),
    "dd/mm/yyyy HH:MM": (lambda m: m.strftime("%d/%m/%Y %H:%M"), lambda m: m.replace(second=0)),
    "dd/mm/yyyy HH:MM:SS": (lambda m: m.strftime("%d/%m/%Y %H:%M:%S"), lambda m: m),
    "mm/dd/yyyy HH:MM": (lambda m: m.strftime("%m/%d/%Y %H:%M"), lambda m: m.replace(second=0)),
    "mm/dd/yyyy HH:MM:SS": (lambda m: m.strftime("%m/%d/%Y %H:%M:%S"), lambda m: m),
    "d/m/yyyy": (lambda m: f"{m.day}/{m.month}/{m.year}", lambda m: m.replace(hour=0, minute=0, second=0)),
    "m/d/yyyy h:mm AM/PM": (lambda m: f"{m.month}/{m.day}/{m.year} {_h12(m)}", lambda m: m.replace(second=0)),
}


@pytest.mark.parametrize("form", list(FORMS))
def test_each_date_form_reads_as_the_instant_shopify_wrote(tmp_path: Path, form: str) -> None:
    write, kept = FORMS[form]
    path = with_dates(SMALL_STORE, tmp_path, lambda _, m: write(m))
    orders = _orders(list(read_export(path, timezone=NEW_YORK)))
    expected = [kept(m.replace(tzinfo=None)).replace(tzinfo=NEW_YORK) if m else None for m in _moments(ORIGINAL)]
    assert _moments(orders) == expected  # aware datetimes: equal when they name the same instant
    assert [o[:CREATED] for o in orders] == [o[:CREATED] for o in ORIGINAL]


def test_the_shopify_form_keeps_its_offset_whatever_the_shop_zone() -> None:
    orders = _orders(list(read_export(shopify_export(SMALL_STORE), timezone=ZoneInfo("Asia/Tokyo"))))
    assert orders == ORIGINAL
    assert orders[0][CREATED] == "2022-01-11T04:32:30-05:00"


def test_naive_times_are_read_in_the_shop_zone(tmp_path: Path) -> None:
    path = with_dates(DEVSTORE, tmp_path, lambda _, m: m.strftime("%Y-%m-%d %H:%M:%S"))
    original = _orders(list(read_export(shopify_export(DEVSTORE))))
    in_kolkata = _orders(list(read_export(path, timezone=ZoneInfo("Asia/Kolkata"))))
    assert [o[CREATED] for o in in_kolkata] == [o[CREATED].replace("-05:00", "+05:30") for o in original]
    assert in_kolkata[0][CREATED] == "2025-12-06T10:37:33+05:30"
    by_default = _orders(list(read_export(path)))  # no zone given: UTC
    assert [o[CREATED] for o in by_default] == [o[CREATED].replace("-05:00", "+00:00") for o in original]


def test_a_day_first_file_reads_every_slash_date_day_first(tmp_path: Path) -> None:
    path = with_dates(SMALL_STORE, tmp_path, lambda _, m: m.strftime("%d/%m/%Y %H:%M:%S"))
    orders = _orders(list(read_export(path, timezone=NEW_YORK)))
    assert orders == ORIGINAL
    # values that read both ways were read day-first, as the file's days over 12 prove
    assert any(o[CREATED][8:10] != o[CREATED][5:7] and int(o[CREATED][8:10]) <= 12 for o in orders)


def test_a_month_first_file_reads_every_slash_date_month_first(tmp_path: Path) -> None:
    path = with_dates(SMALL_STORE, tmp_path, lambda _, m: m.strftime("%m/%d/%Y %H:%M:%S"))
    orders = _orders(list(read_export(path, timezone=NEW_YORK)))
    assert orders == ORIGINAL


def test_an_ambiguous_file_names_itself_and_its_values(tmp_path: Path) -> None:
    # every devstore order is on 6 December 2025: 06/12/2025 reads as 6 December or 12 June
    path = with_dates(DEVSTORE, tmp_path, lambda _, m: m.strftime("%d/%m/%Y %H:%M"))
    with pytest.raises(ExportFileError) as info:
        read_export(path)  # the whole file is checked before the first record is yielded
    message = str(info.value)
    assert message.startswith(f"{path}: cannot tell whether its dates are day-first (dd/mm/yyyy) or month-first")
    assert "Created at='06/12/2025 10:37' (line 2)" in message
    assert "re-export it from Shopify, or save its dates as YYYY-MM-DD" in message


def test_a_file_mixing_day_first_and_month_first_names_one_of_each(tmp_path: Path) -> None:
    path = with_dates(SMALL_STORE, tmp_path,
                      lambda column, m: m.strftime("%d/%m/%Y %H:%M" if column == "Created at" else "%m/%d/%Y %H:%M"))
    with pytest.raises(ExportFileError, match=r"mixes day-first and month-first dates") as info:
        read_export(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    named = re.findall(r"(Created at|Paid at)='([^']+)' \(line (\d+)\)", message)
    assert [column for column, _, _ in named] == ["Created at", "Paid at"]
    lines = rows_by_line(path)
    for column, value, line in named:
        assert lines[int(line)][column] == value


def test_slash_dates_whose_day_is_their_month_read_either_way(tmp_path: Path) -> None:
    path = with_dates(DEVSTORE, tmp_path, lambda _, m: m.strftime("12/12/%Y %H:%M:%S"))
    orders = _orders(list(read_export(path, timezone=NEW_YORK)))
    assert orders[0][CREATED] == "2025-12-12T10:37:33-05:00"


@pytest.mark.parametrize(("value", "day_first", "iso"), [
    ("2025-12-06 10:37:33 -0500", None, "2025-12-06T10:37:33-05:00"),
    ("2025-12-06T10:37:33+05:30", None, "2025-12-06T10:37:33+05:30"),
    ("2025-12-06T10:37:33.25Z", None, "2025-12-06T10:37:33.250000+00:00"),
    ("2025-12-06T10:37:33+05", None, "2025-12-06T10:37:33+05:00"),
    ("2025-12-06 10:37", None, "2025-12-06T10:37:00+01:00"),
    ("2025-12-06", None, "2025-12-06T00:00:00+01:00"),
    ("2025-07-06 9:05:00", None, "2025-07-06T09:05:00+02:00"),  # summer time in Paris
    ("06/12/2025 10:37", True, "2025-12-06T10:37:00+01:00"),
    ("06/12/2025 10:37", False, "2025-06-12T10:37:00+02:00"),
    ("6/12/2025", True, "2025-12-06T00:00:00+01:00"),
    ("12/12/2025 10:37:33", None, "2025-12-12T10:37:33+01:00"),
    ("12/25/2025 12:30 AM", False, "2025-12-25T00:30:00+01:00"),
    ("12/25/2025 12:30 PM", False, "2025-12-25T12:30:00+01:00"),
    ("12/25/2025 9:05 pm", False, "2025-12-25T21:05:00+01:00"),
    ("2025-10-26 02:30:00", None, "2025-10-26T02:30:00+02:00"),  # clocks go back: the first 02:30
])
def test_timestamp_forms(value: str, day_first: bool | None, iso: str) -> None:
    dates = csv_exports._Dates(ZoneInfo("Europe/Paris"), day_first)
    assert csv_exports._timestamp({"Created at": value}, "Created at", dates) == iso


@pytest.mark.parametrize(("value", "day_first"), [
    ("2025-02-30 10:00", None),  # no such day
    ("2025-12-06 24:00", None),
    ("2025-12-06 13:00 PM", None),
    ("13/13/2025", True),
    ("06/12/2025", None),  # the file did not say which order it uses
    ("06/12/25", True),  # a two-digit year
    ("2025-12-06 10:37:33 -05000", None),
    ("Dec 6, 2025", None),
])
def test_not_timestamps_are_quarantined(value: str, day_first: bool | None) -> None:
    dates = csv_exports._Dates(UTC, day_first)
    with pytest.raises(csv_exports.MalformedRecord, match=f"Created at={value!r} is not a timestamp"):
        csv_exports._timestamp({"Created at": value}, "Created at", dates)


def test_the_shop_timezone_setting(monkeypatch) -> None:
    monkeypatch.delenv("STORELOOP_SHOP_TIMEZONE", raising=False)
    assert shop_timezone() == ZoneInfo("UTC")
    monkeypatch.setenv("STORELOOP_SHOP_TIMEZONE", "Europe/Paris")
    assert shop_timezone() == ZoneInfo("Europe/Paris")
    for wrong in ("Mars/Olympus", "Europe", "../etc/passwd", "+01:00"):
        monkeypatch.setenv("STORELOOP_SHOP_TIMEZONE", wrong)
        with pytest.raises(ValueError, match=f"STORELOOP_SHOP_TIMEZONE='{re.escape(wrong)}' is not an "
                                             "IANA time zone name"):
            shop_timezone()


def test_read_export_wants_a_zone_not_its_name() -> None:
    with pytest.raises(TypeError, match="zoneinfo.ZoneInfo"):
        read_export(shopify_export(DEVSTORE), timezone="Europe/Paris")
