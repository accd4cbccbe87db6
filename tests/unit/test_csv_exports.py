"""Shopify admin CSV exports → raw-table rows (storeloop.shopify.csv_exports), on the real fixture exports."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections import Counter
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from support.fixture_files import shopify_export

from storeloop.shopify import csv_exports
from storeloop.shopify.csv_exports import ExportFileError, ExportRecord, export_kind, read_export
from storeloop.warehouse.raw_schema import RAW_TABLES

ORDERS_DEV = shopify_export("orders_export_devstore.csv")
ORDERS_SMALL = shopify_export("orders_export_small_store.csv")
PRODUCTS_CATALOGUE = shopify_export("products_export_catalogue.csv")
PRODUCTS_2021 = shopify_export("products_export_2021_format.csv")
CUSTOMERS_HEADER = shopify_export("customers_export_header.csv")
CUSTOMERS_LEGACY = shopify_export("customers_export_header_legacy.csv")

# expected per fixture: records in, tables' row counts, merged (image rows folded into their product), quarantined
EXPECTED = {
    ORDERS_DEV: (121, {"orders": 51, "order_line_items": 121}, 0, 0),
    ORDERS_SMALL: (811, {"orders": 409, "order_line_items": 811}, 0, 0),
    PRODUCTS_CATALOGUE: (2921, {"products": 1943, "product_variants": 2114}, 807, 0),
    PRODUCTS_2021: (21, {"products": 20, "product_variants": 21}, 0, 0),
    CUSTOMERS_HEADER: (0, {}, 0, 0),
    CUSTOMERS_LEGACY: (0, {}, 0, 0),
}


def _record_starts(path: Path) -> list[int]:
    """Physical start line of every non-blank data record, counted independently with the csv module."""
    starts = []
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        before = 0
        for fields in reader:
            if fields and reader.line_num > 1:
                starts.append(before + 1)
            before = reader.line_num
    return starts


def _tally(records: list[ExportRecord]) -> tuple[Counter, int, int, int]:
    tables: Counter = Counter()
    loaded = merged = quarantined = 0
    for r in records:
        if r.error is not None:
            assert r.rows == ()
            quarantined += 1
            continue
        loaded += 1
        merged += not r.rows
        for table, row, record in r.rows:
            tables[table] += 1
            assert len(row) == len(RAW_TABLES[table].columns), (table, row)
            assert isinstance(record, dict)
    return tables, loaded, merged, quarantined


def _rows(records: list[ExportRecord], table: str) -> list[tuple]:
    return [row for r in records for t, row, _ in r.rows if t == table]


def _write(tmp_path: Path, name: str, header: str, *lines: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(("\n".join((header, *lines)) + "\n").encode(encoding))
    return path


def _header(path: Path) -> str:
    with open(path, encoding="utf-8-sig") as f:
        return f.readline().rstrip("\r\n")


def _blank_row(header: str, **values: str) -> str:
    """One CSV line under `header` with the given columns filled and every other one empty."""
    names = next(csv.reader([header]))
    unknown = set(values) - set(names)
    assert not unknown, unknown
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow([values.get(n, "") for n in names])
    return out.getvalue()


# ---------------------------------------------------------------------------------------------------- file names


@pytest.mark.parametrize(("name", "kind"), [
    ("orders_export.csv", "orders"),
    ("orders_export_1.csv", "orders"),
    ("orders_export_1.csv.gz", "orders"),
    ("exports/2026-01-01/Orders_Export_2.CSV", "orders"),
    ("products_export_catalogue.csv", "products"),
    ("customers_export.csv", "customers"),
    ("customers_export_header_legacy.csv", "customers"),
    ("inventory_export_1.csv", None),
    ("orders.csv", None),
    ("orders_export_1.json", None),
    ("my_orders_export.csv", None),
])
def test_export_kind_from_file_name(name: str, kind: str | None) -> None:
    assert export_kind(name) == kind


# ----------------------------------------------------------------------------------------- every fixture, accounted


@pytest.mark.parametrize("path", list(EXPECTED), ids=lambda p: p.name)
def test_every_fixture_record_is_loaded_or_quarantined(path: Path) -> None:
    records_in, tables, merged, quarantined = EXPECTED[path]
    records = list(read_export(path))
    starts = _record_starts(path)

    got_tables, got_loaded, got_merged, got_quarantined = _tally(records)
    assert len(starts) == records_in
    assert len(records) == records_in == got_loaded + got_quarantined
    assert [r.line_no for r in records] == starts  # one ExportRecord per CSV record, in file order, right lines
    assert dict(got_tables) == tables
    assert (got_merged, got_quarantined) == (merged, quarantined)
    for table in got_tables:  # ids are unique within one file's rows of a table
        ids = [row[0] for row in _rows(records, table)]
        assert len(ids) == len(set(ids)), table
    for r in records:  # every record can go into the JSONB _record column
        for _, _, record in r.rows:
            json.dumps(record)


def test_read_export_streams_lazily() -> None:
    records = read_export(PRODUCTS_CATALOGUE)
    assert iter(records) is records
    first = next(records)
    assert first.line_no == 2 and first.rows[0][0] == "products"


# ---------------------------------------------------------------------------------------------------------- orders


def test_small_store_orders_fields() -> None:
    records = list(read_export(ORDERS_SMALL))
    orders = {row[1]: row for row in _rows(records, "orders")}
    assert len(orders) == 409
    assert orders["#1411"] == (
        "gid://shopify/Order/4070039355469", "#1411", None, "cust_eda3616bcaf5@example.invalid",
        "2022-01-11T04:32:30-05:00", "2022-01-11T04:32:31-05:00", None, None, "PAID", "USD", Decimal("125.40"))
    assert {row[8] for row in orders.values()} == {"PAID", "REFUNDED", "PARTIALLY_REFUNDED"}
    assert all(row[0].startswith("gid://shopify/Order/") for row in orders.values())

    lines = [row for row in _rows(records, "order_line_items") if row[1] == orders["#1410"][0]]
    assert [row[0] for row in lines] == [f"csv:line:{orders['#1410'][0]}:{n}" for n in range(1, len(lines) + 1)]
    assert len(lines) >= 4
    assert lines[0] == (f"csv:line:{orders['#1410'][0]}:1", orders["#1410"][0], None, None, "ENPT002GNM",
                        "Senna Pant - Jade / M", 1, Decimal("91.00"))
    assert lines[1][4:] == ("ENTT001GNM", "Senna Cropped Top - Jade / M", 1, Decimal("88.00"))
    # a line item with an empty sku keeps None, never ""
    assert any(row[4] is None for row in _rows(records, "order_line_items"))
    assert all(row[4] != "" for row in _rows(records, "order_line_items"))


def test_order_record_keeps_every_column_verbatim() -> None:
    records = list(read_export(ORDERS_SMALL))
    first = records[0]
    (t1, _, record), (t2, _, record2) = first.rows
    assert (t1, t2) == ("orders", "order_line_items")
    assert record is record2
    assert len(record) == len(next(csv.reader([_header(ORDERS_SMALL)])))
    assert record["Name"] == "#1411" and record["Billing City"] == "Stockholm"
    assert record["Fulfilled at"] == ""  # empty cells stay "" in the record
    assert first.raw.startswith("#1411,cust_eda3616bcaf5@example.invalid,paid,") and "\n" not in first.raw
    # a continuation record is one line item of the same order
    second_of_1410 = next(r for r in records if r.rows[0][2]["Name"] == "#1410" and r.rows[0][0] == "order_line_items"
                          and len(r.rows) == 1)
    assert second_of_1410.rows[0][1][1] == "gid://shopify/Order/4065579696205"


def test_devstore_orders_fields_and_timestamps() -> None:
    records = list(read_export(ORDERS_DEV))
    orders = {row[1]: row for row in _rows(records, "orders")}
    o = orders["#1050"]
    assert o[0] == "gid://shopify/Order/6798481490219"
    assert (o[3], o[4], o[8], o[9], o[10]) == ("customer1@example.com", "2025-12-06T10:37:30-05:00", "PAID", "INR",
                                               Decimal("11594.00"))
    lines = [row for row in _rows(records, "order_line_items") if row[1] == o[0]]
    assert [(row[4], row[6], row[7]) for row in lines[:4]] == [
        ("LW-MIN-BRN", 1, Decimal("3499.00")), ("YM-ECO-001", 2, Decimal("2499.00")),
        ("SC-LAV-VAN", 2, Decimal("899.00")), ("CB-ETH-500", 1, Decimal("1299.00"))]
    # an order whose first row has no email
    assert sum(row[3] is None for row in orders.values()) == 1
    for path in (ORDERS_DEV, ORDERS_SMALL):
        for row in _rows(list(read_export(path)), "orders"):
            for value in (row[4], row[5], row[7]):
                if value is not None:
                    assert datetime.fromisoformat(value).utcoffset() is not None


ORDERS_HEADER = "Name,Email,Financial Status,Paid at,Currency,Total,Created at,Lineitem quantity,Lineitem name," \
                "Lineitem price,Lineitem sku,Cancelled at,Id,Note Attributes"


def _order(**values: str) -> str:
    return _blank_row(ORDERS_HEADER, **values)


def _first(name: str, **extra: str) -> str:
    values = {"Name": name, "Email": "A@Example.com", "Financial Status": "paid", "Currency": "EUR", "Total": "30.00",
              "Created at": "2026-01-02 03:04:05 +0100", "Lineitem quantity": "1", "Lineitem name": "Mug",
              "Lineitem price": "10.00", "Lineitem sku": "MUG"}
    values.update(extra)
    return _order(**values)


def _next(name: str, **extra: str) -> str:
    values = {"Name": name, "Email": "a@example.com", "Created at": "2026-01-02 03:04:05 +0100",
              "Lineitem quantity": "2", "Lineitem name": "Cup", "Lineitem price": "10.00"}
    values.update(extra)
    return _order(**values)


def test_orders_without_id_column_and_csv_ids(tmp_path: Path) -> None:
    path = _write(tmp_path, "orders_export_1.csv", ORDERS_HEADER, _first("#1"), _next("#1"),
                  _first("#2", **{"Paid at": "2026-01-03T00:00:00Z", "Cancelled at": "2026-01-04 00:00:00 -0000"}))
    records = list(read_export(path))
    assert [r.error for r in records] == [None, None, None]
    (_, order, _), (_, line, _) = records[0].rows
    assert order == ("csv:order:#1", "#1", None, "a@example.com", "2026-01-02T03:04:05+01:00", None, None, None,
                     "PAID", "EUR", Decimal("30.00"))
    assert line == ("csv:line:csv:order:#1:1", "csv:order:#1", None, None, "MUG", "Mug", 1, Decimal("10.00"))
    assert records[1].rows[0][1][:2] == ("csv:line:csv:order:#1:2", "csv:order:#1")
    order2 = records[2].rows[0][1]
    assert (order2[5], order2[7]) == ("2026-01-03T00:00:00+00:00", "2026-01-04T00:00:00+00:00")


def test_malformed_order_records_are_quarantined_with_reason(tmp_path: Path) -> None:
    lines = [
        _first("#1"),                                        # 2 ok
        _next("#1", **{"Lineitem quantity": "two"}),         # 3 bad quantity
        _next("#1", **{"Lineitem price": "ten"}),            # 4 bad price
        _next("#1"),                                         # 5 ok, line 4 of #1
        _order(Email="x@example.com", **{"Lineitem quantity": "1"}),  # 6 no Name
        _next("#2"),                                         # 7 a line item whose order's first row is missing
        _next("#2"),                                         # 8 same
        _first("#3", **{"Created at": "2025-02-30 10:37"}),  # 9 bad date
        _next("#3"),                                         # 10 its order was quarantined
        _first("#4", **{"Created at": "2026-01-02 03:04:05"}),  # 11 ok: no offset, read in the shop's zone (UTC)
        _first("#5", Total="1.2.3"),                         # 12 bad total
        _first("#6", Id="abc"),                              # 13 bad id
        _first("#1"),                                        # 14 order #1 again, not contiguous
        _next("#1"),                                         # 15 same
        _first("#7") + ",extra",                             # 16 too many fields
        _first("#7", **{"Lineitem quantity": ""}),           # 17 empty quantity
        _first("#8", **{"Cancelled at": "soon"}),            # 18 bad cancelled at
    ]
    path = _write(tmp_path, "orders_export_bad.csv", ORDERS_HEADER, *lines)
    records = list(read_export(path))
    assert [r.line_no for r in records] == list(range(2, 2 + len(lines)))
    errors = {r.line_no: r.error for r in records}
    ok = {2, 5, 11}
    assert {n for n, e in errors.items() if e is None} == ok
    assert "Lineitem quantity='two'" in errors[3] and "#1" in errors[3]
    assert "Lineitem price='ten'" in errors[4]
    assert "Name is empty" in errors[6]
    assert "#2" in errors[7] and "first record" in errors[7] and errors[8] == errors[7]
    assert "Created at='2025-02-30 10:37'" in errors[9] and "day is out of range" in errors[9]
    assert "#3" in errors[10] and "line 9" in errors[10] and "quarantined" in errors[10]
    assert records[9].rows[0][1][4] == "2026-01-02T03:04:05+00:00"
    assert "Total='1.2.3'" in errors[12]
    assert "Id='abc'" in errors[13]
    assert "already appeared at line 2" in errors[14] and errors[15] == errors[14]
    assert "has 15 fields, the header has 14" in errors[16]
    assert "Lineitem quantity is empty" in errors[17]
    assert "Cancelled at='soon'" in errors[18]
    # ids stay positional: the good line after two bad ones is still item 4 of #1
    assert records[3].rows[0][1][0] == "csv:line:csv:order:#1:4"
    assert all(r.rows == () and r.raw for r in records if r.error)
    assert records[2].raw == lines[2]
    tables, loaded, _, quarantined = _tally(records)
    assert loaded + quarantined == len(lines) and loaded == 3
    assert dict(tables) == {"orders": 2, "order_line_items": 3}


# -------------------------------------------------------------------------------------------------------- products


def test_catalogue_products_variants_and_images() -> None:
    records = list(read_export(PRODUCTS_CATALOGUE))
    handles = []
    with open(PRODUCTS_CATALOGUE, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            handles.append(row["Handle"])
    products = {row[1]: row for row in _rows(records, "products")}
    assert len(products) == len(set(handles)) == 1943

    first = records[0]
    assert first.line_no == 2 and "\n" in first.raw  # a multi-line quoted Body (HTML)
    assert records[1].line_no > 3
    (t, product, record), (tv, variant, vrecord) = first.rows
    assert (t, tv) == ("products", "product_variants")
    assert product == ("csv:product:linga-bhairavi-copper-pendant-large", "linga-bhairavi-copper-pendant-large",
                       "Linga Bhairavi Copper Pendant - Large", "Consecrated Devi - Pendants", "Isha Life SG", "ACTIVE",
                       None, None, False, True, None, None, None)
    assert variant[:4] == ("csv:variant:linga-bhairavi-copper-pendant-large:1",
                           "csv:product:linga-bhairavi-copper-pendant-large", vrecord["Variant SKU"] or None,
                           "Default Title")
    assert variant[4] == Decimal(vrecord["Variant Price"])
    # stock: Variant Inventory Qty 3, policy deny, tracked by shopify; the export has no availableForSale
    assert variant[7:] == (3, "DENY", True, None)
    assert record["Body (HTML)"].startswith("<div>\n<h3>Product Details</h3>")
    assert "Color (product.metafields.shopify.color-pattern)" in record
    assert "images" in record and "images" not in vrecord
    assert {row[5] for row in products.values()} == {"ACTIVE", "ARCHIVED", "DRAFT"}

    # image-only rows: no row of their own, folded into their product's record, counted as loaded
    ghee = "pure-a2-desi-cow-ghee500gm"
    ghee_records = [r for r in records if r.rows and r.rows[0][0] == "products" and r.rows[0][1][1] == ghee]
    assert len(ghee_records) == 1
    ghee_record = ghee_records[0].rows[0][2]
    assert ghee_record["Product rating count (product.metafields.reviews.rating_count)"] == "11"
    images = ghee_record["images"]
    assert [img["Image Position"] for img in images] == [str(n) for n in range(2, 15)]
    assert set(images[0]) == {"line_no", "Image Src", "Image Position"}
    assert images[0]["Image Src"].startswith("https://cdn.shopify.com/")
    merged = {r.line_no for r in records if r.merged}
    assert {img["line_no"] for img in images} <= merged
    all_image_lines = [img["line_no"] for r in records for t, _, rec in r.rows if t == "products"
                       for img in rec["images"]]
    assert sorted(all_image_lines) == sorted(merged) and len(merged) == 807


def test_2021_format_products() -> None:
    records = list(read_export(PRODUCTS_2021))
    variants = [row for row in _rows(records, "product_variants") if row[1] == "csv:product:gardening-gloves"]
    assert variants == [
        # an empty Variant Inventory Tracker: stock not tracked (the variant sells whatever its quantity)
        ("csv:variant:gardening-gloves:1", "csv:product:gardening-gloves", None, "Green", Decimal("9.99"), None, None,
         1, "DENY", False, None),
        ("csv:variant:gardening-gloves:2", "csv:product:gardening-gloves", None, "Yellow", Decimal("15.99"), None,
         None, 3, "DENY", False, None)]
    product = next(row for row in _rows(records, "products") if row[1] == "gardening-gloves")
    assert product == ("csv:product:gardening-gloves", "gardening-gloves", "Gardening Gloves", "Outdoor",
                       "Company 123", "ACTIVE", None, None, False, True, None, None, None)


PRODUCTS_HEADER = "Handle,Title,Vendor,Type,Option1 Name,Option1 Value,Option2 Name,Option2 Value,Variant SKU," \
                  "Variant Price,Image Src,Image Position,Material (product.metafields.shopify.material)"


def _product(**values: str) -> str:
    return _blank_row(PRODUCTS_HEADER, **values)


def test_products_without_status_column_multi_option_variants_and_images(tmp_path: Path) -> None:
    lines = [
        _product(Handle="tee", Title="Tee", Vendor="Acme", Type="Shirts", **{
            "Option1 Name": "Size", "Option1 Value": "S", "Option2 Name": "Color", "Option2 Value": "Red",
            "Variant SKU": "TEE-S-R", "Variant Price": "12.50", "Image Src": "https://x/1.jpg", "Image Position": "1",
            "Material (product.metafields.shopify.material)": "cotton"}),
        _product(Handle="tee", **{"Image Src": "https://x/2.jpg", "Image Position": "2"}),
        _product(Handle="tee", **{"Option1 Value": "M", "Option2 Value": "Red", "Variant SKU": "TEE-M-R",
                                  "Variant Price": "13"}),
        _product(Handle="poster", Title="Poster"),  # a product row without variant columns
    ]
    records = list(read_export(_write(tmp_path, "products_export_1.csv", PRODUCTS_HEADER, *lines)))
    assert [r.error for r in records] == [None] * 4
    (_, product, record), (_, variant, _) = records[0].rows
    # no Status, Published, Gift Card or inventory columns: those typed values are None (unknown), never false or 0
    assert product == ("csv:product:tee", "tee", "Tee", "Shirts", "Acme", None, None, None, None, None, None, None,
                       None)
    assert variant == ("csv:variant:tee:1", "csv:product:tee", "TEE-S-R", "S / Red", Decimal("12.50"), None, None,
                       None, None, None, None)
    assert record["Material (product.metafields.shopify.material)"] == "cotton"
    assert record["images"] == [{"line_no": 3, "Image Src": "https://x/2.jpg", "Image Position": "2"}]
    assert records[1].merged and records[1].rows == ()
    assert records[2].rows[0][1] == ("csv:variant:tee:2", "csv:product:tee", "TEE-M-R", "M / Red", Decimal("13"),
                                     None, None, None, None, None, None)
    assert [t for t, _, _ in records[3].rows] == ["products"]


def test_malformed_product_records_are_quarantined_with_reason(tmp_path: Path) -> None:
    lines = [
        _product(Handle="a", Title="A", **{"Variant Price": "5.00", "Option1 Value": "Default Title"}),  # 2 ok
        _product(Handle="a", **{"Variant Price": "five", "Option1 Value": "Big"}),  # 3 bad price
        _product(Handle="a", **{"Variant Price": "6.00", "Option1 Value": "Huge"}),  # 4 ok: variant 3
        _product(Title="orphan", **{"Variant Price": "1"}),                         # 5 no handle (inside group a)
        _product(Handle="b", Title="B", **{"Variant Price": "NaN", "Option1 Value": "Default Title"}),  # 6 bad
        _product(Handle="b", **{"Image Src": "https://x/b.jpg", "Image Position": "2"}),  # 7 product quarantined
        _product(Handle="c", **{"Variant Price": "3.00", "Option1 Value": "Red"}),  # 8 first row without Title
        _product(Handle="a", Title="A again", **{"Variant Price": "5.00"}),       # 9 handle a not contiguous
        _product(Handle="a", **{"Image Src": "https://x/a.jpg"}),                 # 10 same
        'd,"D,unclosed',                                                            # 11 runs to the end of the file
    ]
    path = _write(tmp_path, "products_export_bad.csv", PRODUCTS_HEADER, *lines)
    records = list(read_export(path))
    errors = {r.line_no: r.error for r in records}
    assert list(errors) == list(range(2, 12))
    assert {n for n, e in errors.items() if e is None} == {2, 4}
    assert "Variant Price='five'" in errors[3] and "'a'" in errors[3]
    assert "Handle is empty" in errors[5]
    assert "Variant Price='NaN'" in errors[6]
    assert "line 6" in errors[7] and "quarantined" in errors[7]
    assert "empty Title" in errors[8]
    assert "already appeared at line 2" in errors[9] and errors[10] == errors[9]
    assert "fields" in errors[11] and "not closed" in errors[11]
    assert records[2].rows[0][1][0] == "csv:variant:a:3"
    tables, loaded, _, quarantined = _tally(records)
    assert loaded + quarantined == len(lines)
    assert dict(tables) == {"products": 1, "product_variants": 2}


ELIGIBILITY_HEADER = "Handle,Title,Published,Gift Card,Status,Option1 Value,Variant SKU,Variant Price," \
                     "Variant Inventory Tracker,Variant Inventory Qty,Variant Inventory Policy"


def _eligibility(**values: str) -> str:
    return _blank_row(ELIGIBILITY_HEADER, **values)


def test_products_publish_gift_card_and_variant_stock_columns(tmp_path: Path) -> None:
    """What dim_products' eligibility reads from a products export: Published, Gift Card, and each variant's
    tracker, quantity and policy (an empty tracker = not tracked; TRUE as a spreadsheet saves it)."""
    lines = [
        _eligibility(Handle="mug", Title="Mug", Published="true", **{"Gift Card": "false", "Status": "active",
                     "Option1 Value": "S", "Variant Price": "5", "Variant Inventory Tracker": "shopify",
                     "Variant Inventory Qty": "0", "Variant Inventory Policy": "deny"}),
        _eligibility(Handle="mug", **{"Option1 Value": "L", "Variant Price": "6", "Variant Inventory Tracker": "shopify",
                     "Variant Inventory Qty": "-2", "Variant Inventory Policy": "CONTINUE"}),
        _eligibility(Handle="card", Title="Gift card", Published="FALSE", **{"Gift Card": "TRUE", "Status": "draft",
                     "Option1 Value": "Default Title", "Variant Price": "25", "Variant Inventory Policy": "deny"}),
    ]
    records = list(read_export(_write(tmp_path, "products_export_1.csv", ELIGIBILITY_HEADER, *lines)))
    assert [r.error for r in records] == [None] * 3
    products = {row[0]: row[8:] for row in _rows(records, "products")}
    # is_gift_card, is_published, published_at, total_inventory, tracks_inventory
    assert products == {"csv:product:mug": (False, True, None, None, None),
                        "csv:product:card": (True, False, None, None, None)}
    variants = {row[0]: row[7:] for row in _rows(records, "product_variants")}
    # inventory_quantity, inventory_policy, inventory_tracked, available_for_sale
    assert variants == {"csv:variant:mug:1": (0, "DENY", True, None),
                        "csv:variant:mug:2": (-2, "CONTINUE", True, None),
                        "csv:variant:card:1": (None, "DENY", False, None)}


@pytest.mark.parametrize("first_row, other_row, reason", [
    ({"Published": "yes"}, {}, "Published='yes' is not true or false"),
    ({"Gift Card": "0"}, {}, "Gift Card='0' is not true or false"),
    ({}, {"Variant Inventory Qty": "1.5"}, "Variant Inventory Qty='1.5' is not a whole number"),
    ({}, {"Variant Inventory Qty": "99999999999"}, "Variant Inventory Qty='99999999999' is out of range"),
    ({}, {"Variant Inventory Policy": "backorder"}, "Variant Inventory Policy='backorder' is not deny or continue"),
])
def test_bad_eligibility_values_are_quarantined_naming_the_column(tmp_path: Path, first_row, other_row,
                                                                 reason) -> None:
    lines = [
        _eligibility(Handle="a", Title="A", **{"Option1 Value": "S", "Variant Price": "1", **first_row}),
        _eligibility(Handle="a", **{"Option1 Value": "M", "Variant Price": "1", **other_row}),
    ]
    records = list(read_export(_write(tmp_path, "products_export_1.csv", ELIGIBILITY_HEADER, *lines)))
    errors = [r.error for r in records]
    if first_row:  # the product's own row: the whole handle is quarantined, its other rows pointing at it
        assert reason in errors[0] and "'a'" in errors[0]
        assert "line 2" in errors[1] and "quarantined" in errors[1]
    else:  # one variant: only that record
        assert errors[0] is None and reason in errors[1] and "variant 2" in errors[1]


# ------------------------------------------------------------------------------------------------------- customers


def test_customers_current_header(tmp_path: Path) -> None:
    header = _header(CUSTOMERS_HEADER)
    lines = [
        _blank_row(header, **{"Customer ID": "'7012345678901", "First Name": "Ada", "Email": "Ada@Example.COM"}),
        _blank_row(header, **{"Customer ID": "42", "Email": ""}),
        _blank_row(header, **{"First Name": "No id", "Email": "noid@example.com"}),
        _blank_row(header, **{"First Name": "Nobody"}),
        _blank_row(header, **{"Customer ID": "x-1", "Email": "bad@example.com"}),
    ]
    path = _write(tmp_path, "customers_export.csv", header, *lines)
    records = list(read_export(path))
    assert [r.rows[0][1] if r.rows else None for r in records] == [
        ("gid://shopify/Customer/7012345678901", "ada@example.com", None, None),
        ("gid://shopify/Customer/42", None, None, None),
        ("csv:customer:noid@example.com", "noid@example.com", None, None),
        None, None]
    assert "neither Customer ID nor Email" in records[3].error
    assert "Customer ID='x-1'" in records[4].error
    assert records[0].rows[0][2]["First Name"] == "Ada" and len(records[0].rows[0][2]) == 20


def test_customers_legacy_header_with_bom(tmp_path: Path) -> None:
    header = _header(CUSTOMERS_LEGACY)
    lines = [_blank_row(header, **{"First Name": "Grace", "Email": "GRACE@example.com", "Total Orders": "3"}),
             "",  # a blank line is not a record
             _blank_row(header, **{"First Name": "Anon"})]
    path = _write(tmp_path, "customers_export_legacy.csv", "\ufeff" + header, *lines)
    records = list(read_export(path))
    assert [r.line_no for r in records] == [2, 4]
    assert records[0].rows[0][1] == ("csv:customer:grace@example.com", "grace@example.com", None, None)
    assert "First Name" in records[0].rows[0][2]  # the BOM did not stick to the first column's name
    assert records[1].error


# ------------------------------------------------------------------------------------------------------- bad files


def test_gzip_export_reads_like_the_plain_file(tmp_path: Path) -> None:
    gz = tmp_path / "orders_export_1.csv.gz"
    gz.write_bytes(gzip.compress(ORDERS_SMALL.read_bytes()))
    assert [(r.line_no, r.rows) for r in read_export(gz)] == [(r.line_no, r.rows) for r in read_export(ORDERS_SMALL)]


def test_truncated_gzip_names_the_file(tmp_path: Path) -> None:
    data = gzip.compress(PRODUCTS_CATALOGUE.read_bytes())
    gz = tmp_path / "products_export_1.csv.gz"
    gz.write_bytes(data[: len(data) // 2])
    with pytest.raises(ExportFileError, match=r"products_export_1\.csv\.gz.*truncated or corrupt"):
        read_export(gz)  # raised before any record is yielded


def test_gz_name_on_a_plain_file(tmp_path: Path) -> None:
    path = tmp_path / "orders_export_1.csv.gz"
    path.write_bytes(ORDERS_DEV.read_bytes())
    with pytest.raises(ExportFileError, match=r"orders_export_1\.csv\.gz.*not gzip"):
        read_export(path)


def test_not_utf8_names_the_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "orders_export_latin1.csv", ORDERS_HEADER, _first("#1"), _first("#2", **{
        "Lineitem name": "Café crème"}), encoding="latin-1")
    with pytest.raises(ExportFileError, match=r"orders_export_latin1\.csv: is not UTF-8 \(byte 0xe9 on line 3"):
        read_export(path)


def test_wrong_headers_name_the_file_and_the_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "orders_export_1.csv"
    path.write_bytes(PRODUCTS_2021.read_bytes())  # a products export under an orders name
    with pytest.raises(ExportFileError, match=r"orders_export_1\.csv: not a Shopify orders export: missing column\(s\) "
                                              r"'Name', 'Created at', 'Lineitem quantity' and "
                                              r"'Lineitem sku' or 'Lineitem name'; ") as info:
        read_export(path)
    assert "'Financial Status'" not in str(info.value) and "'Handle'" not in str(info.value)
    customers = _write(tmp_path, "customers_export.csv", "First Name,Last Name", "Ada,A")
    with pytest.raises(ExportFileError, match=r"customers_export\.csv.*missing column\(s\) 'Email' or 'Customer ID'"):
        read_export(customers)
    with pytest.raises(ExportFileError, match=r"products_export\.csv.*missing column\(s\) 'Title'"):
        read_export(_write(tmp_path, "products_export.csv", "Handle,Variant Price", "a,1.00"))


def test_empty_and_unnamed_files(tmp_path: Path) -> None:
    empty = tmp_path / "orders_export_1.csv"
    empty.write_bytes(b"")
    with pytest.raises(ExportFileError, match=r"orders_export_1\.csv: is empty"):
        read_export(empty)
    bom_only = tmp_path / "customers_export.csv"
    bom_only.write_bytes(b"\xef\xbb\xbf\n")
    with pytest.raises(ExportFileError, match=r"customers_export\.csv: is empty"):
        read_export(bom_only)
    other = tmp_path / "export.csv"
    other.write_bytes(ORDERS_DEV.read_bytes())
    with pytest.raises(ExportFileError, match=r"export\.csv: cannot tell which Shopify export"):
        read_export(other)
    assert sum(1 for _ in read_export(other, kind="orders")) == 121  # an explicit kind overrides the name
    with pytest.raises(ValueError, match="kind must be one of"):
        read_export(other, kind="inventory")


def test_duplicate_unused_column_is_kept_under_a_new_name(tmp_path: Path) -> None:
    header = "Handle,Title,Variant Price,Note,Note"
    records = list(read_export(_write(tmp_path, "products_export.csv", header, "a,A,1.00,x,y")))
    assert records[0].rows[0][2]["Note"] == "x" and records[0].rows[0][2]["Note (2)"] == "y"
    with pytest.raises(ExportFileError, match=r"column 'Title' appears twice"):
        read_export(_write(tmp_path, "products_export.csv", "Handle,Title,Variant Price,Title", "a,A,1,B"))


def test_unparsable_and_nul_records_are_quarantined_and_reading_goes_on(tmp_path: Path, monkeypatch) -> None:
    path = _write(tmp_path, "customers_export.csv", "Customer ID,First Name,Email", "1,A,a@example.com",
                  f'2,"{"B" * 300}",b@example.com', "3,C\x00,c@example.com", "4,D,d@example.com")
    monkeypatch.setattr(csv_exports, "_FIELD_SIZE_LIMIT", 100)
    previous = csv.field_size_limit(100)
    try:
        records = list(read_export(path))
    finally:
        csv.field_size_limit(previous)
    assert [r.line_no for r in records] == [2, 3, 4, 5]
    assert [r.error is None for r in records] == [True, False, False, True]
    assert "not valid CSV: field larger than field limit" in records[1].error and records[1].raw.startswith("2,")
    assert "NUL" in records[2].error and records[2].raw == "3,C\ufffd,c@example.com"
    assert records[3].rows[0][1][0] == "gid://shopify/Customer/4"


@pytest.mark.parametrize(("value", "iso"), [
    ("2025-12-06 10:37:33 -0500", "2025-12-06T10:37:33-05:00"),
    ("2026-01-04 00:00:00 +0530", "2026-01-04T00:00:00+05:30"),
    ("2026-01-04 00:00:00 -0000", "2026-01-04T00:00:00+00:00"),
    ("2026-01-03T00:00:00Z", "2026-01-03T00:00:00+00:00"),
    ("2025-13-06 10:37:33 -0500", None),
    ("2025-12-06 10:37:33 -05000", None),
])
def test_timestamps_keep_their_offset(value: str, iso: str | None) -> None:
    dates = csv_exports._Dates(ZoneInfo("Asia/Kolkata"), None)  # an offset in the value wins over the shop's zone
    if iso is None:
        with pytest.raises(csv_exports.MalformedRecord, match="Created at="):
            csv_exports._timestamp({"Created at": value}, "Created at", dates)
    else:
        assert csv_exports._timestamp({"Created at": value}, "Created at", dates) == iso


def test_values_beyond_the_raw_columns_are_quarantined_not_left_to_fail_the_load(tmp_path: Path) -> None:
    path = _write(tmp_path, "orders_export_big.csv", ORDERS_HEADER,
                  _first("#1", **{"Lineitem quantity": "99999999999"}),   # 2: beyond integer
                  _first("#2", **{"Lineitem price": "1000000000000.00"}),  # 3: beyond numeric(14,2)
                  _first("#3", Total="-1000000000000"),                    # 4
                  _first("#4", **{"Lineitem quantity": "2147483647", "Lineitem price": "999999999999.99"}))  # 5 ok
    errors = {r.line_no: r.error for r in read_export(path)}
    assert "Lineitem quantity='99999999999' is out of range" in errors[2]
    assert "Lineitem price='1000000000000.00' is too large" in errors[3]
    assert "Total='-1000000000000' is too large" in errors[4]
    assert errors[5] is None
