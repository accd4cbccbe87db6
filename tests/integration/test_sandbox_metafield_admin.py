"""What publishing needs from the Shopify emulator, over real HTTP with the product's own client (ShopifyClient):
metafieldsDelete (existing, missing, bad owners, the 25 limit, `$app` namespaces), metafieldDefinitionCreate (created,
a second create → TAKEN, read back through metafieldDefinitions), the product fields that decide whether a product may
be recommended, setting them through `/_sandbox/products`, and all of it surviving a restart."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import requests
from support.shopify_admin import (
    METAFIELD_DEFINITION_CREATE,
    METAFIELD_DEFINITIONS,
    METAFIELDS_DELETE,
    METAFIELDS_SET,
    PRODUCT_PUBLISH_FIELDS,
    PRODUCTS_PUBLISH_FIELDS,
    definition_input,
    identifier,
    metafield_input,
    set_product,
)

from sandbox.shopify_emulator import start_emulator, stop_emulator
from storeloop.shopify.client import ShopifyClient
from storeloop.shopify.config import ShopifyConfig
from storeloop.shopify.errors import ShopifyGraphQLError

pytestmark = pytest.mark.integration

TOKEN = "shpat_metafield_admin_tests"
END = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    server, _thread, base_url = start_emulator(tmp_path_factory.mktemp("admin-store"), TOKEN, seed=42, size="XS",
                                               end=END)
    yield base_url
    stop_emulator(server)


def _client(base_url: str) -> ShopifyClient:
    return ShopifyClient(ShopifyConfig(base_url, TOKEN), backoff_s=0.05)


@pytest.fixture(scope="module")
def client(emulator):
    return _client(emulator)


@pytest.fixture(scope="module")
def products(client):
    return [p["id"] for p in client.execute(PRODUCTS_PUBLISH_FIELDS, {"first": 40})["products"]["nodes"]]


@pytest.fixture(scope="module")
def customer(client):
    return client.execute("{ customers(first: 1) { nodes { id } } }")["customers"]["nodes"][0]["id"]


def _set(client, inputs):
    payload = client.execute(METAFIELDS_SET, {"metafields": inputs})["metafieldsSet"]
    assert payload["userErrors"] == [], payload
    return payload["metafields"]


def _delete(client, identifiers):
    return client.execute(METAFIELDS_DELETE, {"metafields": identifiers})["metafieldsDelete"]


def _stored(base_url) -> set[tuple[str, str, str]]:
    return {(m["owner_id"], m["namespace"], m["key"])
            for m in requests.get(f"{base_url}/_sandbox/metafields", timeout=10).json()}


def _product_metafield(client, product_id, key, namespace="storeloop"):
    return client.execute("query($id: ID!, $ns: String!, $key: String!) { product(id: $id) {"
                          " metafield(namespace: $ns, key: $key) { id value } } }",
                          {"id": product_id, "ns": namespace, "key": key})["product"]["metafield"]


# ------------------------------------------------------------------------------------------------ metafieldsDelete


def test_metafields_delete_existing_and_missing(emulator, client, products, customer):
    product = products[0]
    _set(client, [metafield_input(product, "related_products", json.dumps(products[1:3]),
                                  type_="list.product_reference"),
                  metafield_input(product, "model_version", "7"),
                  metafield_input(customer, "personal_picks", json.dumps(products[:2]),
                                  type_="list.product_reference")])
    before = _stored(emulator)
    assert (product, "storeloop", "related_products") in before

    payload = _delete(client, [identifier(product, "related_products"),
                               identifier(product, "never_written"),
                               identifier(customer, "personal_picks"),
                               identifier(product, "related_products"),  # the same one again: already gone
                               identifier(product, "model_version", namespace="other_ns")])
    assert payload == {
        "deletedMetafields": [identifier(product, "related_products"), None, identifier(customer, "personal_picks"),
                              None, None],
        "userErrors": [],
    }
    after = _stored(emulator)
    assert before - after == {(product, "storeloop", "related_products"), (customer, "storeloop", "personal_picks")}
    assert _product_metafield(client, product, "related_products") is None
    assert _product_metafield(client, product, "model_version")["value"] == "7", "the other metafield stays"
    # a deleted metafield can be written again, as a new metafield
    again = _set(client, [metafield_input(product, "related_products", json.dumps(products[3:4]),
                                          type_="list.product_reference")])
    assert _product_metafield(client, product, "related_products")["id"] == again[0]["id"]


def test_metafields_delete_refuses_bad_owners_and_deletes_nothing(emulator, client, products):
    product = products[1]
    _set(client, [metafield_input(product, "kept", "yes")])
    for bad in ("not-a-gid", "gid://shopify/Product/1", "gid://shopify/Collection/5", "gid://shopify/Product/x"):
        payload = _delete(client, [identifier(product, "kept"), identifier(bad, "kept")])
        assert payload == {
            "deletedMetafields": [],
            "userErrors": [{"field": ["metafields", "1", "ownerId"], "message": "Owner does not exist."}],
        }, bad
    assert _product_metafield(client, product, "kept")["value"] == "yes", "nothing is deleted when any owner is bad"


def test_metafields_delete_refuses_more_than_25(emulator, client, products):
    product = products[2]
    _set(client, [metafield_input(product, "k00", "x")])
    payload = _delete(client, [identifier(product, f"k{i:02d}") for i in range(26)])
    assert payload == {
        "deletedMetafields": None,
        "userErrors": [{"field": ["metafields"], "message": "Exceeded the maximum metafields input limit of 25."}],
    }
    assert _product_metafield(client, product, "k00")["value"] == "x"
    assert _delete(client, [identifier(product, f"k{i:02d}") for i in range(25)])["deletedMetafields"][:2] == [
        identifier(product, "k00"), None]


def test_metafields_delete_resolves_app_namespaces(emulator, client, products):
    product = products[3]
    _set(client, [metafield_input(product, "picks", "x", namespace="$app:recs")])
    assert (product, "app--1--recs", "picks") in _stored(emulator)
    payload = _delete(client, [identifier(product, "picks", namespace="$app:recs")])
    assert payload == {"deletedMetafields": [identifier(product, "picks", namespace="app--1--recs")],
                       "userErrors": []}


def test_documents_outside_the_schema_are_rejected(client, products):
    # MetafieldsDeletePayload.userErrors are plain UserErrors: no `code` (unlike metafieldsSet's)
    with pytest.raises(ShopifyGraphQLError, match="code"):
        client.execute(METAFIELDS_DELETE.replace("userErrors { field message }", "userErrors { field message code }"),
                       {"metafields": [identifier(products[0], "x")]})
    with pytest.raises(ShopifyGraphQLError):
        client.execute(METAFIELDS_DELETE, {"metafields": [{"ownerId": products[0], "key": "x"}]})  # no namespace


# -------------------------------------------------------------------------------------- metafield definitions


def test_definition_create_then_taken_then_read_back(emulator, client, products):
    created = client.execute(METAFIELD_DEFINITION_CREATE,
                             {"definition": definition_input("related_products", name="Related products")})
    payload = created["metafieldDefinitionCreate"]
    assert payload["userErrors"] == []
    definition = payload["createdDefinition"]
    assert definition["id"].startswith("gid://shopify/MetafieldDefinition/")
    assert {k: v for k, v in definition.items() if k != "id"} == {
        "name": "Related products", "namespace": "storeloop", "key": "related_products",
        "type": {"name": "list.product_reference"}, "ownerType": "PRODUCT", "access": {"storefront": "PUBLIC_READ"},
    }

    again = client.execute(METAFIELD_DEFINITION_CREATE,
                           {"definition": definition_input("related_products", storefront=None)})
    assert again["metafieldDefinitionCreate"] == {
        "createdDefinition": None,
        "userErrors": [{"field": ["definition", "key"],
                        "message": "Key is in use for Product metafields on the 'storeloop' namespace.",
                        "code": "TAKEN"}],
    }
    # the same namespace and key on another owner type is another definition
    other = client.execute(METAFIELD_DEFINITION_CREATE,
                           {"definition": definition_input("related_products", owner_type="CUSTOMER",
                                                           storefront=None)})["metafieldDefinitionCreate"]
    assert other["userErrors"] == [] and other["createdDefinition"]["access"] == {"storefront": "NONE"}

    read = client.execute(METAFIELD_DEFINITIONS, {"ownerType": "PRODUCT", "namespace": "storeloop",
                                                  "key": "related_products", "first": 10})["metafieldDefinitions"]
    assert read == {"nodes": [{"id": definition["id"], "namespace": "storeloop", "key": "related_products",
                               "type": {"name": "list.product_reference"}, "access": {"storefront": "PUBLIC_READ"}}],
                    "pageInfo": {"hasNextPage": False}}
    customers = client.execute(METAFIELD_DEFINITIONS, {"ownerType": "CUSTOMER", "first": 10})["metafieldDefinitions"]
    assert [n["id"] for n in customers["nodes"]] == [other["createdDefinition"]["id"]]
    assert client.execute(METAFIELD_DEFINITIONS, {"ownerType": "ORDER", "first": 10})["metafieldDefinitions"] == {
        "nodes": [], "pageInfo": {"hasNextPage": False}}

    # metafields under the definition report it, and the definition counts them
    _set(client, [metafield_input(products[4], "related_products", json.dumps(products[5:7]),
                                  type_="list.product_reference")])
    by_id = client.execute(
        "query($id: ID!, $owner: ID!) { metafieldDefinition(id: $id) { key metafieldsCount }"
        " product(id: $owner) { metafield(namespace: \"storeloop\", key: \"related_products\")"
        " { definition { id access { storefront } } } } }",
        {"id": definition["id"], "owner": products[4]})
    assert by_id["metafieldDefinition"]["key"] == "related_products"
    assert by_id["metafieldDefinition"]["metafieldsCount"] >= 1
    assert by_id["product"]["metafield"]["definition"] == {"id": definition["id"],
                                                           "access": {"storefront": "PUBLIC_READ"}}


def test_definition_create_validates_its_input(client):
    cases = [
        (definition_input("a"), ["definition", "key"], "TOO_SHORT"),
        (definition_input("has space"), ["definition", "key"], "INVALID_CHARACTER"),
        (definition_input("fine_key", namespace="ab"), ["definition", "namespace"], "TOO_SHORT"),
        (definition_input("fine_key", type_="no_such_type"), ["definition", "type"], "INCLUSION"),
        (definition_input("fine_key", name=""), ["definition", "name"], "TOO_SHORT"),
        (dict(definition_input("fine_key"), access={"admin": "MERCHANT_READ"}), ["definition", "access", "admin"],
         "ADMIN_ACCESS_INPUT_NOT_ALLOWED"),
    ]
    for definition, field, code in cases:
        payload = client.execute(METAFIELD_DEFINITION_CREATE, {"definition": definition})["metafieldDefinitionCreate"]
        assert payload["createdDefinition"] is None, definition
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(field, code)], definition
    assert client.execute(METAFIELD_DEFINITIONS, {"ownerType": "PRODUCT", "key": "fine_key", "first": 5})[
        "metafieldDefinitions"]["nodes"] == []
    # the app's own namespace: no namespace at all, or $app, may set admin access
    app = client.execute(METAFIELD_DEFINITION_CREATE, {"definition": dict(
        definition_input("app_key", namespace=None), access={"admin": "MERCHANT_READ"})})["metafieldDefinitionCreate"]
    assert app["userErrors"] == [] and app["createdDefinition"]["namespace"] == "app--1"
    taken = client.execute(METAFIELD_DEFINITION_CREATE, {"definition": definition_input("app_key", namespace="$app")})
    assert [e["code"] for e in taken["metafieldDefinitionCreate"]["userErrors"]] == ["TAKEN"]


# ---------------------------------------------------------------------------------------------- product fields


def test_product_publish_fields_default_to_sellable(client):
    nodes = client.execute(PRODUCTS_PUBLISH_FIELDS, {"first": 40})["products"]["nodes"]
    for p in nodes:
        assert p["status"] == "ACTIVE" and p["isGiftCard"] is False
        assert p["publishedAt"] and p["onlineStoreUrl"].startswith("https://storeloop-sandbox.myshopify.com/products/")
        variants = p["variants"]["nodes"]
        assert variants and all(v["inventoryPolicy"] in ("DENY", "CONTINUE") for v in variants)
        for v in variants:
            assert isinstance(v["inventoryQuantity"], int)
            if v["inventoryQuantity"] > 0 or v["inventoryPolicy"] == "CONTINUE":
                assert v["availableForSale"] is True
    total_variants = sum(len(p["variants"]["nodes"]) for p in nodes)
    in_stock = sum(v["inventoryQuantity"] > 0 for p in nodes for v in p["variants"]["nodes"])
    assert in_stock >= 0.8 * total_variants, "the simulated catalogue is mostly in stock"


def test_sandbox_products_endpoint_sets_status_gift_card_publication_and_stock(emulator, client, products):
    archived, gift, unpublished, stock = products[10], products[11], products[12], products[13]
    summary = set_product(emulator, archived, status="ARCHIVED")
    assert summary["status"] == "ARCHIVED" and summary["onlineStoreUrl"] is None
    p = client.execute(PRODUCT_PUBLISH_FIELDS, {"id": archived})["product"]
    assert p["status"] == "ARCHIVED" and p["onlineStoreUrl"] is None and p["publishedAt"], (
        "archiving takes the product off the store, not out of its publication")
    found = client.execute("query($q: String!) { products(first: 50, query: $q) { nodes { id } } }",
                             {"q": "status:archived"})["products"]["nodes"]
    assert [n["id"] for n in found] == [archived]

    set_product(emulator, gift, isGiftCard=True)
    assert client.execute(PRODUCT_PUBLISH_FIELDS, {"id": gift})["product"]["isGiftCard"] is True

    set_product(emulator, unpublished, publishedAt=None)
    p = client.execute(PRODUCT_PUBLISH_FIELDS, {"id": unpublished})["product"]
    assert p["publishedAt"] is None and p["onlineStoreUrl"] is None and p["status"] == "ACTIVE"

    set_product(emulator, stock, inventoryQuantity=0, inventoryPolicy="DENY", tracked=True)
    p = client.execute(PRODUCT_PUBLISH_FIELDS, {"id": stock})["product"]
    assert p["totalInventory"] == 0 and p["tracksInventory"] is True
    assert all(v["inventoryQuantity"] == 0 and v["availableForSale"] is False for v in p["variants"]["nodes"])
    first = p["variants"]["nodes"][0]["id"]
    set_product(emulator, stock, variants=[{"id": first, "inventoryPolicy": "CONTINUE"}])
    p = client.execute(PRODUCT_PUBLISH_FIELDS, {"id": stock})["product"]
    assert p["variants"]["nodes"][0] == {"id": first, "inventoryQuantity": 0, "inventoryPolicy": "CONTINUE",
                                         "availableForSale": True}
    set_product(emulator, stock, variants=[{"id": first, "inventoryQuantity": 12}])
    assert client.execute(PRODUCT_PUBLISH_FIELDS, {"id": stock})["product"]["totalInventory"] == 12
    set_product(emulator, stock, tracked=False)
    p = client.execute(PRODUCT_PUBLISH_FIELDS, {"id": stock})["product"]
    assert p["tracksInventory"] is False and p["totalInventory"] == 0
    assert all(v["availableForSale"] for v in p["variants"]["nodes"]), "untracked stock is always for sale"


def test_sandbox_products_endpoint_refuses_bad_changes(emulator, products):
    unchanged = requests.post(f"{emulator}/_sandbox/products", json={"id": products[0]}, timeout=10)
    assert unchanged.status_code == 200, "no change at all is fine"
    for body in ({"id": "gid://shopify/Product/1", "status": "ACTIVE"},
                 {"id": products[0], "status": "SOLD_OUT"},
                 {"id": products[0], "isGiftCard": "yes"},
                 {"id": products[0], "inventoryQuantity": 1.5},
                 {"id": products[0], "inventoryPolicy": "MAYBE"},
                 {"id": products[0], "price": "1.00"},
                 {"id": products[0], "variants": [{"id": "gid://shopify/ProductVariant/1", "inventoryQuantity": 1}]}):
        r = requests.post(f"{emulator}/_sandbox/products", json=body, timeout=10)
        assert r.status_code == 400 and r.json()["error"], body


# ------------------------------------------------------------------------------------------------- persistence


def test_deletes_definitions_and_product_edits_survive_a_restart(tmp_path):
    server, _thread, base_url = start_emulator(tmp_path, TOKEN, seed=5, size="XS", end=END)
    try:
        client = _client(base_url)
        ids = [p["id"] for p in client.execute(PRODUCTS_PUBLISH_FIELDS, {"first": 3})["products"]["nodes"]]
        _set(client, [metafield_input(ids[0], "gone", "x"), metafield_input(ids[0], "stays", "y")])
        assert _delete(client, [identifier(ids[0], "gone")])["userErrors"] == []
        created = client.execute(METAFIELD_DEFINITION_CREATE, {"definition": definition_input("personal_picks",
                                 owner_type="CUSTOMER")})["metafieldDefinitionCreate"]["createdDefinition"]
        set_product(base_url, ids[1], status="DRAFT", publishedAt=None)
        set_product(base_url, ids[2], inventoryQuantity=0)
    finally:
        stop_emulator(server)
    server, _thread, base_url = start_emulator(tmp_path, TOKEN, seed=5, size="XS", end=END)
    try:
        client = _client(base_url)
        assert _product_metafield(client, ids[0], "gone") is None
        assert _product_metafield(client, ids[0], "stays")["value"] == "y"
        read = client.execute(METAFIELD_DEFINITIONS, {"ownerType": "CUSTOMER", "first": 5})["metafieldDefinitions"]
        assert [(n["id"], n["access"]) for n in read["nodes"]] == [(created["id"], {"storefront": "PUBLIC_READ"})]
        taken = client.execute(METAFIELD_DEFINITION_CREATE, {"definition": definition_input("personal_picks",
                               owner_type="CUSTOMER")})["metafieldDefinitionCreate"]
        assert [e["code"] for e in taken["userErrors"]] == ["TAKEN"]
        draft = client.execute(PRODUCT_PUBLISH_FIELDS, {"id": ids[1]})["product"]
        assert (draft["status"], draft["publishedAt"], draft["onlineStoreUrl"]) == ("DRAFT", None, None)
        assert client.execute(PRODUCT_PUBLISH_FIELDS, {"id": ids[2]})["product"]["totalInventory"] == 0
        stats = requests.get(f"{base_url}/_sandbox/stats", timeout=10).json()
        assert stats["metafields"] == 1 and stats["metafield_definitions"] == 1
    finally:
        stop_emulator(server)
