import gzip
import hashlib
import json

import pandas as pd
from support.fixture_files import admin_schema_path

from storeloop.publish.metafields import DEFINITIONS, MAX_LIST_ITEMS, are_gids, metafield_inputs, metafield_lists


def related_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "product_id": ["gid://shopify/Product/1"] * 3 + ["2"] * 2,
            "related_product_id": [
                "gid://shopify/Product/3",
                "gid://shopify/Product/2",
                "4",
                "gid://shopify/Product/1",
                "gid://shopify/Product/3",
            ],
            "rank": [2, 1, 3, 1, 2],
            "score": [0.5, 0.9, 0.1, 0.8, 0.2],
        }
    )


def test_lists_are_product_reference_json_in_rank_order_with_the_digest_of_the_value():
    lists = metafield_lists(related_frame(), "product_id", "related_product_id", "Product", "related_products")
    assert lists["owner_gid"].tolist() == ["gid://shopify/Product/1", "gid://shopify/Product/2"]
    first = ["gid://shopify/Product/2", "gid://shopify/Product/3", "gid://shopify/Product/4"]
    assert json.loads(lists["value"].iloc[0]) == first
    assert lists["value"].iloc[0] == json.dumps(first)
    assert lists["items"].tolist() == [3, 2]
    assert lists["digest"].iloc[0] == hashlib.md5(json.dumps(first).encode()).hexdigest()
    [one, _] = metafield_inputs(lists)
    assert one == {"ownerId": "gid://shopify/Product/1", "namespace": "storeloop", "key": "related_products",
                   "type": "list.product_reference", "value": json.dumps(first)}


def test_a_list_drops_repeated_products_and_stops_at_shopifys_limit():
    ranked = pd.DataFrame({"customer_id": "gid://shopify/Customer/9", "product_id": [str(i % 150) for i in range(300)],
                           "rank": range(1, 301)})
    ranked.loc[0, "product_id"] = "1"  # the same product at rank 1 and 2
    [row] = metafield_lists(ranked, "customer_id", "product_id", "Customer", "buy_again").itertuples()
    items = json.loads(row.value)
    assert len(items) == row.items == MAX_LIST_ITEMS and len(set(items)) == len(items)
    assert items[0] == "gid://shopify/Product/1"


def test_only_ids_the_admin_api_can_reference_are_gids():
    ids = pd.Series(["gid://shopify/Product/1", "17", "csv:product:blue-mug", "gid://shopify/Customer/1", " 8 "])
    assert are_gids(ids, "Product").tolist() == [True, True, False, False, True]


def test_inputs_and_definitions_use_fields_of_the_real_admin_schema():
    schema = json.loads(gzip.decompress(admin_schema_path().read_bytes()))
    types = {t["name"]: t for t in schema.get("data", schema)["__schema"]["types"]}
    fields = {f["name"] for f in types["MetafieldsSetInput"]["inputFields"]}
    lists = metafield_lists(related_frame(), "product_id", "related_product_id", "Product", "related_products")
    for item in metafield_inputs(lists):
        assert set(item) <= fields
    owner_types = {v["name"] for v in types["MetafieldOwnerType"]["enumValues"]}
    access = {v["name"] for v in types["MetafieldStorefrontAccessInput"]["enumValues"]}
    for definition in DEFINITIONS:
        assert definition["owner_type"] in owner_types and definition["storefront"] in access
