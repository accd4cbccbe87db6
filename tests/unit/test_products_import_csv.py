"""The products import CSV that carries related products to a store without an Admin API token
(`storeloop.publish.products_import_csv`): its header, the value format, rank order, the 128 cap, ids without a
handle, and that the csv module reads back exactly the lists."""

from __future__ import annotations

import csv

import pandas as pd
import pytest

from storeloop.publish.products_import_csv import (
    RELATED_PRODUCTS_COLUMN,
    VALUE_SEPARATOR,
    related_products_import,
    write_related_products_import,
)

COLUMN = "Related products (product.metafields.storeloop.related_products)"


def _related(rows):
    return pd.DataFrame(rows, columns=["product_id", "related_product_id", "rank"])


def _read(path):
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    return reader.fieldnames, rows


def _lists(rows):
    return {r["Handle"]: r[COLUMN].split(VALUE_SEPARATOR) for r in rows}


def test_header_is_handle_and_the_metafield_column_of_storeloop_related_products(tmp_path):
    path = tmp_path / "import.csv"
    write_related_products_import(_related([]), {}, path)
    header, rows = _read(path)
    assert header == ["Handle", COLUMN] and RELATED_PRODUCTS_COLUMN == COLUMN
    assert rows == []
    write_related_products_import(_related([]), {}, path, titles={})
    assert _read(path)[0] == ["Handle", "Title", COLUMN]


def test_values_are_handles_in_rank_order_separated_by_semicolons(tmp_path):
    related = _related([
        ("csv:product:oak-bowl", "csv:product:oak-board", 3),
        ("csv:product:oak-bowl", "csv:product:walnut-spoon", 1),
        ("csv:product:oak-bowl", "csv:product:linen-napkin", 2),
        ("csv:product:linen-napkin", "csv:product:oak-bowl", 1),
    ])
    path = tmp_path / "import.csv"
    assert write_related_products_import(related, {}, path) == 2
    lines = path.read_bytes().split(b"\r\n")
    assert lines[1:] == [b"linen-napkin,oak-bowl", b"oak-bowl,walnut-spoon; linen-napkin; oak-board", b""]
    assert _lists(_read(path)[1]) == {"linen-napkin": ["oak-bowl"], "oak-bowl": ["walnut-spoon", "linen-napkin",
                                                                              "oak-board"]}


def test_gids_and_numeric_ids_take_their_handles_from_the_mapping(tmp_path):
    related = _related([
        ("gid://shopify/Product/1", 2, 1),  # a numeric id and its GID are the same product
        ("gid://shopify/Product/1", "csv:product:tea-towel", 2),
        (2, "gid://shopify/Product/1", 1),
    ])
    handles = {"gid://shopify/Product/1": "mug", "gid://shopify/Product/2": "saucer",
               "csv:product:tea-towel": "tea-towel"}
    result = related_products_import(related, handles)
    assert result.rows == [("mug", None, ["saucer", "tea-towel"]), ("saucer", None, ["mug"])]


def test_at_most_128_related_products_the_best_ranked(tmp_path):
    related = _related([("csv:product:hub", f"csv:product:p{r:03d}", r) for r in range(200, 0, -1)])
    path = tmp_path / "import.csv"
    write_related_products_import(related, {}, path)
    (items,) = _lists(_read(path)[1]).values()
    assert items == [f"p{r:03d}" for r in range(1, 129)]


def test_duplicates_keep_their_best_rank():
    related = _related([("csv:product:a", "csv:product:b", 3), ("csv:product:a", "csv:product:c", 2),
                        ("csv:product:a", "csv:product:b", 1)])
    assert related_products_import(related, {}).rows == [("a", None, ["b", "c"])]


def test_ids_without_a_handle_are_left_out_and_counted(tmp_path):
    related = _related([
        ("gid://shopify/Product/9", "csv:product:a", 1),  # owner without a handle: the row is not written
        ("gid://shopify/Product/9", "csv:product:b", 2),
        ("csv:sku:XYZ-1", "csv:product:a", 1),  # a product known only by SKU: no handle
        ("csv:product:a", "csv:name:Gift wrap", 1),  # an item without a handle: dropped from the list
        ("csv:product:a", "csv:product:b", 2),
        ("csv:product:c", "gid://shopify/Product/77", 1),  # c's only item has no handle: c is not written
        ("csv:product:", "csv:product:b", 1),  # an empty handle is no handle
    ])
    result = related_products_import(related, {"gid://shopify/Product/77": ""})
    assert result.rows == [("a", None, ["b"])]
    assert result.products_without_handle == 3  # Product/9, csv:sku:XYZ-1, csv:product:
    assert result.references_without_handle == 2  # csv:name:Gift wrap, Product/77
    path = tmp_path / "import.csv"
    assert write_related_products_import(related, {"gid://shopify/Product/77": ""}, path) == 1
    assert _lists(_read(path)[1]) == {"a": ["b"]}


def test_the_handle_mapping_wins_over_the_id_and_handles_are_trimmed():
    related = _related([("csv:product:old-name", "csv:product:b", 1)])
    assert related_products_import(related, {"csv:product:old-name": " new-name "}).rows == [("new-name", None, ["b"])]


def test_titles_are_written_and_products_without_one_left_out(tmp_path):
    related = _related([("csv:product:a", "csv:product:b", 1), ("csv:product:b", "csv:product:a", 1),
                        ("csv:product:c", "csv:product:a", 1)])
    titles = {"csv:product:a": 'Bowl, oak, 20 cm "large"', "csv:product:b": "Spoon", "csv:product:c": " "}
    path = tmp_path / "import.csv"
    assert write_related_products_import(related, {}, path, titles=titles) == 2
    header, rows = _read(path)
    assert header == ["Handle", "Title", COLUMN]
    assert [(r["Handle"], r["Title"], r[COLUMN]) for r in rows] == [
        ("a", 'Bowl, oak, 20 cm "large"', "b"), ("b", "Spoon", "a")]
    assert related_products_import(related, {}, titles=titles).products_without_title == 1


def test_reading_the_file_back_yields_exactly_the_lists(tmp_path):
    rng = pd.Series(range(3000)).sample(frac=1, random_state=3).to_numpy()
    related = _related([(f"csv:product:p{i % 40}", f"csv:product:q-{(i * 7) % 300}", int(r))
                        for i, r in zip(range(3000), rng, strict=True)])
    expected = {}
    for owner, group in related.sort_values("rank").groupby("product_id"):
        items = list(dict.fromkeys(group["related_product_id"].str.removeprefix("csv:product:")))
        expected[owner.removeprefix("csv:product:")] = items[:128]
    path = tmp_path / "sub" / "import.csv"
    assert write_related_products_import(related, {}, path) == len(expected)
    assert _lists(_read(path)[1]) == expected


def test_a_frame_without_the_columns_is_refused(tmp_path):
    with pytest.raises(ValueError, match="rank"):
        write_related_products_import(pd.DataFrame({"product_id": [], "related_product_id": []}), {},
                                      tmp_path / "x.csv")
