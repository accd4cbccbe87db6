"""Deleting a product in the Shopify emulator (`DELETE /_sandbox/products/<id>`), over real HTTP with the product's
own client: the product, its variants and their metafields are gone from every query, its past order lines remain
without a product (as on Shopify), and the deletion survives a restart."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests
from support.shopify_admin import METAFIELDS_SET, delete_product, metafield_input

from sandbox.shopify_emulator import start_emulator, stop_emulator
from storeloop.shopify.client import ShopifyClient
from storeloop.shopify.config import ShopifyConfig

pytestmark = pytest.mark.integration

TOKEN = "shpat_product_deletion_tests"
END = datetime(2026, 11, 1, tzinfo=UTC)

ORDER_LINES = """
query { orders(first: 10) { nodes { id lineItems(first: 10) { nodes { id sku product { id } variant { id } } } } } }"""
PRODUCT = "query($id: ID!) { product(id: $id) { id variants(first: 20) { nodes { id } } } }"
VARIANT = "query($id: ID!) { productVariant(id: $id) { id } }"
PRODUCT_IDS = "query { products(first: 50) { nodes { id } } }"


def _client(base_url: str) -> ShopifyClient:
    return ShopifyClient(ShopifyConfig(base_url, TOKEN), backoff_s=0.05)


def _stats(base_url: str) -> dict:
    return requests.get(f"{base_url}/_sandbox/stats", timeout=10).json()


def _owners(base_url: str) -> set[str]:
    return {m["owner_id"] for m in requests.get(f"{base_url}/_sandbox/metafields", timeout=10).json()}


def test_a_deleted_product_its_variants_and_metafields_are_gone_and_its_order_lines_stay(tmp_path):
    server, _thread, base_url = start_emulator(tmp_path, TOKEN, seed=3, size="XS", end=END)
    try:
        client = _client(base_url)
        lines = [line for order in client.execute(ORDER_LINES)["orders"]["nodes"]
                 for line in order["lineItems"]["nodes"] if line["product"]]
        sold = lines[0]["product"]["id"]
        variants = [v["id"] for v in client.execute(PRODUCT, {"id": sold})["product"]["variants"]["nodes"]]
        kept = next(p["id"] for p in client.execute(PRODUCT_IDS)["products"]["nodes"] if p["id"] != sold)
        payload = client.execute(METAFIELDS_SET, {"metafields": [
            metafield_input(sold, "related_products", "x"), metafield_input(variants[0], "note", "y"),
            metafield_input(kept, "related_products", "z")]})["metafieldsSet"]
        assert payload["userErrors"] == []
        before = _stats(base_url)

        r = delete_product(base_url, sold)
        assert r.status_code == 200, r.text
        assert r.json() == {"deleted": sold, "variants": variants, "metafields": 2}

        assert client.execute(PRODUCT, {"id": sold})["product"] is None
        assert all(client.execute(VARIANT, {"id": v})["productVariant"] is None for v in variants)
        assert sold not in {p["id"] for p in client.execute(PRODUCT_IDS)["products"]["nodes"]}
        assert _owners(base_url) == {kept}
        after = _stats(base_url)
        assert after["products"] == before["products"] - 1
        assert after["variants"] == before["variants"] - len(variants)
        assert after["metafields"] == before["metafields"] - 2
        assert after["line_items"] == before["line_items"]  # orders keep their lines
        line = next(line for order in client.execute(ORDER_LINES)["orders"]["nodes"]
                    for line in order["lineItems"]["nodes"] if line["id"] == lines[0]["id"])
        assert line["product"] is None and line["variant"] is None and line["sku"] == lines[0]["sku"]

        # a numeric id works too; a second delete, a product that never was and a bad id are refused
        numeric = kept.rsplit("/", 1)[1]
        assert delete_product(base_url, numeric).json()["deleted"] == kept
        assert delete_product(base_url, numeric).status_code == 404
        assert delete_product(base_url, "gid://shopify/Product/999999999").status_code == 404
        bad = delete_product(base_url, "gid://shopify/Customer/1")
        assert bad.status_code == 400 and "not a product id" in bad.json()["error"]
    finally:
        stop_emulator(server)

    server, _thread, base_url = start_emulator(tmp_path, TOKEN, seed=3, size="XS", end=END)
    try:
        client = _client(base_url)
        assert client.execute(PRODUCT, {"id": sold})["product"] is None, "the deletion did not survive a restart"
        assert _stats(base_url)["products"] == after["products"] - 1
    finally:
        stop_emulator(server)
