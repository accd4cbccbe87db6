import gzip
import json

import pandas as pd
import pytest
from support.fixture_files import admin_schema_path

from storeloop.publish.metafields import (
    chunk_metafields,
    personal_picks_metafields,
    publishable_related,
    related_products_metafields,
    to_gid,
)


def related_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "product_id": ["gid://shopify/Product/1"] * 3 + ["gid://shopify/Product/2"] * 2,
            "related_product_id": [
                "gid://shopify/Product/3",
                "gid://shopify/Product/2",
                "gid://shopify/Product/4",
                "gid://shopify/Product/1",
                "gid://shopify/Product/3",
            ],
            "rank": [2, 1, 3, 1, 2],
            "score": [0.5, 0.9, 0.1, 0.8, 0.2],
        }
    )


def test_related_products_become_product_reference_lists_in_rank_order():
    inputs = related_products_metafields(related_frame())
    assert inputs == [
        {
            "ownerId": "gid://shopify/Product/1",
            "namespace": "storeloop",
            "key": "related_products",
            "type": "list.product_reference",
            "value": json.dumps(["gid://shopify/Product/2", "gid://shopify/Product/3", "gid://shopify/Product/4"]),
        },
        {
            "ownerId": "gid://shopify/Product/2",
            "namespace": "storeloop",
            "key": "related_products",
            "type": "list.product_reference",
            "value": json.dumps(["gid://shopify/Product/1", "gid://shopify/Product/3"]),
        },
    ]


def test_inputs_use_exactly_the_fields_of_metafields_set_input():
    schema = json.loads(gzip.decompress(admin_schema_path().read_bytes()))
    types = {t["name"]: t for t in schema.get("data", schema)["__schema"]["types"]}
    fields = {f["name"] for f in types["MetafieldsSetInput"]["inputFields"]}
    for item in related_products_metafields(related_frame()):
        assert set(item) <= fields


def test_personal_picks_are_customer_metafields():
    recs = pd.DataFrame({"customer_id": ["7", "7"], "product_id": ["11", "12"], "rank": [1, 2], "score": [1.0, 0.5]})
    [item] = personal_picks_metafields(recs)
    assert item["ownerId"] == "gid://shopify/Customer/7"
    assert item["key"] == "personal_picks"
    assert json.loads(item["value"]) == ["gid://shopify/Product/11", "gid://shopify/Product/12"]


def test_to_gid():
    assert to_gid("Product", 5) == "gid://shopify/Product/5"
    assert to_gid("Product", "gid://shopify/Product/5") == "gid://shopify/Product/5"
    with pytest.raises(ValueError, match="not a Product GID"):
        to_gid("Product", "gid://shopify/Customer/5")
    with pytest.raises(ValueError, match="neither"):
        to_gid("Product", "abc")


def test_chunks_of_at_most_25():
    items = list(range(60))
    batches = chunk_metafields(items)
    assert [len(b) for b in batches] == [25, 25, 10]
    assert [x for b in batches for x in b] == items
    assert chunk_metafields([]) == []
    assert [len(b) for b in chunk_metafields(items, size=10)] == [10] * 6
    with pytest.raises(ValueError):
        chunk_metafields(items, size=26)


def test_products_without_a_shopify_gid_are_left_out_as_owners_and_as_items():
    related = pd.DataFrame({
        "product_id": ["gid://shopify/Product/1", "gid://shopify/Product/1", "csv:sku:X", "csv:product:h", "2"],
        "related_product_id": ["csv:name:gift wrap", "gid://shopify/Product/2", "gid://shopify/Product/1",
                               "2", "gid://shopify/Product/1"],
        "rank": [1, 2, 1, 1, 1]})
    kept, left_out = publishable_related(related)
    assert kept[["product_id", "related_product_id"]].values.tolist() == [
        ["gid://shopify/Product/1", "gid://shopify/Product/2"], ["2", "gid://shopify/Product/1"]]
    assert left_out == 2
    assert sorted(m["ownerId"] for m in related_products_metafields(kept)) == ["gid://shopify/Product/1",
                                                                              "gid://shopify/Product/2"]
