"""The Shopify Admin API emulator over real HTTP: auth, validation, pagination, cost/throttling, bulk operations,
metafields, persistence and the CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from sandbox.shopify_emulator import start_emulator, stop_emulator
from sandbox.testing import wait_for_health

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
GRAPHQL_DIR = REPO / "include" / "storeloop" / "shopify" / "graphql"
TOKEN = "shpat_sandbox_test_token"
END = datetime(2026, 11, 1, tzinfo=UTC)
API = "/admin/api/2025-01/graphql.json"


def doc(name: str) -> str:
    return (GRAPHQL_DIR / name).read_text()


class Client:
    def __init__(self, base_url: str, token: str = TOKEN):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["X-Shopify-Access-Token"] = token

    def gql(self, query: str, variables: dict | None = None, version: str = "2025-01") -> dict:
        r = self.session.post(
            f"{self.base_url}/admin/api/{version}/graphql.json",
            json={"query": query, "variables": variables},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        return r.json()

    def get(self, path: str):
        r = requests.get(self.base_url + path, timeout=30)
        r.raise_for_status()
        return r

    def run_bulk(self, query: str, timeout: float = 60) -> dict:
        started = self.gql(doc("bulk_operation_run_query.graphql"), {"query": query})
        payload = started["data"]["bulkOperationRunQuery"]
        assert payload["userErrors"] == [], payload
        assert payload["bulkOperation"]["status"] == "CREATED"
        return self.wait_bulk(payload["bulkOperation"]["id"], timeout)

    def wait_bulk(self, op_id: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        seen = set()
        while time.monotonic() < deadline:
            node = self.gql(doc("bulk_operation_status.graphql"), {"id": op_id})["data"]["node"]
            seen.add(node["status"])
            if node["status"] in ("COMPLETED", "FAILED", "CANCELED"):
                node["_seen"] = seen
                return node
            time.sleep(0.05)
        raise AssertionError(f"bulk operation {op_id} did not finish in {timeout}s (saw {seen})")

    def jsonl(self, url: str) -> list[dict]:
        r = requests.get(url, timeout=30)
        r.raise_for_status()
        return [json.loads(line) for line in r.text.splitlines()]


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    state = tmp_path_factory.mktemp("shopify_state")
    server, _thread, base_url = start_emulator(state, TOKEN, seed=42, size="XS", end=END)
    yield server, base_url
    stop_emulator(server)


@pytest.fixture(scope="module")
def client(emulator):
    return Client(emulator[1])


@pytest.fixture(scope="module")
def stats(client):
    return client.get("/_sandbox/stats").json()


# --------------------------------------------------------------------------------------------------- protocol


def test_side_endpoints(client, stats):
    assert client.get("/_sandbox/health").json() == {"ok": True}
    assert stats["products"] == 40 and stats["customers"] == 150 and stats["orders"] == 1500
    assert set(stats) >= {"products", "variants", "customers", "orders", "line_items", "metafields"}
    page = client.get("/")
    assert page.headers["Content-Type"].startswith("text/html")
    assert "Products (40)" in page.text


def test_requests_without_a_valid_token_get_401(client):
    body = {"query": "{ shop { name } }"}
    for headers in ({}, {"X-Shopify-Access-Token": "wrong"}):
        r = requests.post(client.base_url + API, json=body, headers=headers, timeout=10)
        assert r.status_code == 401
        assert r.json() == {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}


def test_unknown_api_version_is_404_and_missing_query_400(client):
    r = client.session.post(client.base_url + "/admin/api/2025-13/graphql.json", json={"query": "{ shop { id } }"})
    assert r.status_code == 404
    r = client.session.post(client.base_url + "/admin/api/latest/graphql.json", json={"query": "{ shop { id } }"})
    assert r.status_code == 404
    assert client.gql("{ shop { name } }", version="unstable")["data"]["shop"]["name"]
    r = client.session.post(client.base_url + API, json={"variables": {}})
    assert r.status_code == 400
    assert r.json() == {"errors": {"query": "Required parameter missing or invalid"}}


def test_raw_graphql_content_type(client):
    r = client.session.post(
        client.base_url + API, data="{ shop { name } }", headers={"Content-Type": "application/graphql"}
    )
    assert r.status_code == 200 and r.json()["data"]["shop"]["name"] == "Storeloop Sandbox"


def test_invalid_document_gets_shopify_error_shape(client):
    body = client.gql("query Broken { products(first: 1) { edges { node { id nope } } } }")
    assert "data" not in body
    assert body["errors"] == [
        {
            "message": "Field 'nope' doesn't exist on type 'Product'",
            "locations": [{"line": 1, "column": 55}],
            "path": ["query Broken", "products", "edges", "node", "nope"],
            "extensions": {"code": "undefinedField", "typeName": "Product", "fieldName": "nope"},
        }
    ]
    parse_error = client.gql("{ shop { name }")
    assert parse_error["errors"][0]["message"].startswith("Parse error on")
    missing_arg = client.gql("{ product { id } }")["errors"][0]
    assert missing_arg["extensions"]["code"] == "missingRequiredArguments"
    bad_var = client.gql("query($n: Int!) { products(first: $n) { nodes { id } } }", {"n": "many"})["errors"][0]
    assert bad_var["extensions"]["code"] == "INVALID_VARIABLE"
    unpaged = client.gql("{ orders { edges { node { id } } } }")["errors"][0]
    assert unpaged["message"] == "you must provide one of first or last"


def test_every_response_carries_cost_extension(client):
    body = client.gql("{ products(first: 5) { edges { node { id title } } } }")
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 7 and cost["actualQueryCost"] == 7
    assert set(cost["throttleStatus"]) == {"maximumAvailable", "currentlyAvailable", "restoreRate"}
    assert cost["throttleStatus"]["maximumAvailable"] == 2000.0 and cost["throttleStatus"]["restoreRate"] == 100.0


# ------------------------------------------------------------------------------------------------- pagination


def test_products_pagination_forward_and_backward(client, stats):
    query = """query Page($first: Int, $after: String, $last: Int, $before: String) {
      products(first: $first, after: $after, last: $last, before: $before) {
        edges { cursor node { id handle title productType vendor status createdAt
          variants(first: 3) { edges { node { id sku price } } } } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""
    ids, after, pages = [], None, 0
    while True:
        conn = client.gql(query, {"first": 7, "after": after})["data"]["products"]
        ids += [e["node"]["id"] for e in conn["edges"]]
        pages += 1
        assert conn["pageInfo"]["hasPreviousPage"] == (after is not None)
        for e in conn["edges"]:
            assert e["node"]["status"] == "ACTIVE" and e["node"]["variants"]["edges"]
            assert e["node"]["createdAt"].endswith("Z")
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert len(ids) == stats["products"] == len(set(ids))
    assert pages == -(-stats["products"] // 7)
    last_page = client.gql(query, {"last": 5})["data"]["products"]
    assert [e["node"]["id"] for e in last_page["edges"]] == ids[-5:]
    before = client.gql(query, {"last": 5, "before": last_page["pageInfo"]["startCursor"]})["data"]["products"]
    assert [e["node"]["id"] for e in before["edges"]] == ids[-10:-5]
    bad = client.gql('{ products(first: 2, after: "not-a-cursor") { nodes { id } } }')
    assert bad["errors"][0]["message"] == "Invalid cursor for current pagination sort."


def test_lookups_by_id_node_and_nodes(client):
    order = client.gql("""{ orders(first: 1, reverse: true) { nodes { id name customer { id email }
        lineItems(first: 10) { nodes { id quantity product { id } variant { id price } } } } } }""")
    o = order["data"]["orders"]["nodes"][0]
    assert o["name"] == "#2500"
    same = client.gql(
        "query($id: ID!) { order(id: $id) { id name } node(id: $id) { ... on Order { name } } }", {"id": o["id"]}
    )["data"]
    assert same["order"] == {"id": o["id"], "name": "#2500"} and same["node"] == {"name": "#2500"}
    ids = [li["product"]["id"] for li in o["lineItems"]["nodes"]] + ["gid://shopify/Product/1"]
    nodes = client.gql("query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Product { title } } }", {"ids": ids})[
        "data"
    ]["nodes"]
    assert nodes[-1] is None and all(n["title"] for n in nodes[:-1])
    assert client.gql('{ customer(id: "gid://shopify/Customer/1") { id } }')["data"]["customer"] is None


def test_search_query_filters_and_sort(client):
    body = client.gql("""{ orders(first: 250, query: "created_at:>=2026-10-01 financial_status:paid",
        sortKey: CREATED_AT, reverse: true) { nodes { createdAt displayFinancialStatus } } }""")
    nodes = body["data"]["orders"]["nodes"]
    assert nodes and all(n["createdAt"] >= "2026-10-01" for n in nodes)
    assert all(n["displayFinancialStatus"] == "PAID" for n in nodes)
    assert [n["createdAt"] for n in nodes] == sorted((n["createdAt"] for n in nodes), reverse=True)


def test_every_storeloop_document_executes(client):
    """Every non-bulk document Storeloop sends runs without errors (bulk ones are run by the bulk tests below;
    all of them are schema-validated by the unit tests)."""
    from graphql import parse as parse_document
    from graphql.language import NonNullTypeNode, OperationDefinitionNode

    products = client.gql("{ products(first: 2) { nodes { id } } }")["data"]["products"]["nodes"]
    known = {
        "bulk_operation_status.graphql": {"id": "gid://shopify/BulkOperation/1"},
        "bulk_operation_run_query.graphql": {"query": doc("bulk_customers.graphql")},
        "metafields_set.graphql": {
            "metafields": [
                {
                    "ownerId": products[0]["id"],
                    "namespace": "storeloop",
                    "key": "doc_check",
                    "type": "single_line_text_field",
                    "value": "ok",
                }
            ]
        },
    }
    executed = []
    for path in sorted(GRAPHQL_DIR.glob("*.graphql")):
        if path.name.startswith("bulk_") and not path.name.startswith("bulk_operation"):
            continue  # bulk query bodies: run through bulkOperationRunQuery below
        text = path.read_text()
        variables = known.get(path.name)
        if variables is None:
            ops = [d for d in parse_document(text).definitions if isinstance(d, OperationDefinitionNode)]
            required = [
                v
                for op in ops
                for v in op.variable_definitions or []
                if isinstance(v.type, NonNullTypeNode) and v.default_value is None
            ]
            if required:
                continue  # a new document needing variables this test does not know
            variables = {}
        body = client.gql(text, variables)
        assert "errors" not in body, (path.name, body)
        executed.append(path.name)
        if path.name == "bulk_operation_run_query.graphql":
            client.wait_bulk(body["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"])
    assert {"bulk_operation_status.graphql", "bulk_operation_run_query.graphql", "metafields_set.graphql"} <= set(
        executed
    )


# ---------------------------------------------------------------------------------------------------- throttle


def test_tiny_bucket_throttles_expensive_queries(tmp_path):
    server, _t, base_url = start_emulator(tmp_path, TOKEN, seed=1, size="XS", end=END, bucket_size=50, restore_rate=2)
    try:
        c = Client(base_url)
        expensive = "{ products(first: 20) { edges { node { id variants(first: 3) { nodes { id } } } } } }"
        body = c.gql(expensive)
        assert body == {
            "errors": [
                {
                    "message": "Throttled",
                    "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"},
                }
            ],
            "extensions": {
                "cost": {
                    "requestedQueryCost": 2 + 20 * (1 + 2 + 3),
                    "actualQueryCost": None,
                    "throttleStatus": {"maximumAvailable": 50.0, "currentlyAvailable": 50, "restoreRate": 2.0},
                }
            },
        }
        cheap = c.gql("{ products(first: 10) { nodes { id } } }")
        assert cheap["extensions"]["cost"]["actualQueryCost"] == 12
        assert cheap["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] <= 39
        drained = [c.gql("{ products(first: 10) { nodes { id } } }") for _ in range(4)]
        assert any(d.get("errors", [{}])[0].get("extensions", {}).get("code") == "THROTTLED" for d in drained)
        too_big = c.gql("{ orders(first: 250) { nodes { id lineItems(first: 250) { nodes { id } } } } }")
        assert too_big["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    finally:
        stop_emulator(server)


# -------------------------------------------------------------------------------------------------------- bulk


def _check_children_follow_parents(lines: list[dict], parent_prefix: str, child_prefix: str) -> Counter:
    seen_parents: set[str] = set()
    children = Counter()
    current = None
    for line in lines:
        if line["id"].startswith(parent_prefix):
            assert "__parentId" not in line
            seen_parents.add(line["id"])
            current = line["id"]
        else:
            assert line["id"].startswith(child_prefix)
            assert line["__parentId"] in seen_parents, "a child line comes after its parent"
            assert line["__parentId"] == current, "the emulator writes children right after their parent"
            assert list(line)[-1] == "__parentId"
            children[line["__parentId"]] += 1
    return children


def test_bulk_orders_jsonl(client, stats):
    op = client.run_bulk(doc("bulk_orders.graphql"))
    assert op["status"] == "COMPLETED" and op["errorCode"] is None and op["completedAt"]
    lines = client.jsonl(op["url"])
    assert int(op["objectCount"]) == len(lines) == stats["orders"] + stats["line_items"]
    assert int(op["fileSize"]) == len(requests.get(op["url"], timeout=30).content)
    orders = [line for line in lines if line["id"].startswith("gid://shopify/Order/")]
    items = [line for line in lines if line["id"].startswith("gid://shopify/LineItem/")]
    assert len(orders) == stats["orders"] and len(items) == stats["line_items"]
    children = _check_children_follow_parents(lines, "gid://shopify/Order/", "gid://shopify/LineItem/")
    assert sum(children.values()) == stats["line_items"]
    first = orders[0]
    assert list(first) == [
        "id",
        "name",
        "email",
        "createdAt",
        "processedAt",
        "updatedAt",
        "cancelledAt",
        "displayFinancialStatus",
        "currencyCode",
        "totalPriceSet",
        "customer",
        "shippingAddress",
    ]
    assert "lineItems" not in first, "nested connections are cut out of the parent line"
    assert set(first["totalPriceSet"]["shopMoney"]) == {"amount", "currencyCode"}
    assert all(o["customer"] is None or o["customer"]["id"].startswith("gid://shopify/Customer/") for o in orders)
    assert sum(o["customer"] is None for o in orders) < 0.05 * len(orders)
    assert {o["shippingAddress"]["countryCodeV2"] for o in orders} <= {"US", "GB", "DE", "CA", "AU", "FR", "SE"}
    item = items[0]
    assert set(item) == {"id", "sku", "title", "quantity", "originalUnitPriceSet", "product", "variant", "__parentId"}
    assert item["product"]["id"].startswith("gid://shopify/Product/")
    assert item["variant"]["id"].startswith("gid://shopify/ProductVariant/")
    assert float(item["originalUnitPriceSet"]["shopMoney"]["amount"]) > 0


def test_bulk_products_jsonl(client, stats):
    op = client.run_bulk(doc("bulk_products.graphql"))
    lines = client.jsonl(op["url"])
    assert int(op["objectCount"]) == len(lines) == stats["products"] + stats["variants"]
    children = _check_children_follow_parents(lines, "gid://shopify/Product/", "gid://shopify/ProductVariant/")
    assert sum(children.values()) == stats["variants"]
    product = next(line for line in lines if "__parentId" not in line)
    assert {"handle", "title", "productType", "vendor", "status", "createdAt", "updatedAt"} <= set(product)
    variant = next(line for line in lines if "__parentId" in line)
    assert isinstance(variant["price"], str) and float(variant["price"]) > 0


def test_bulk_customers_jsonl(client, stats):
    op = client.run_bulk(doc("bulk_customers.graphql"))
    lines = client.jsonl(op["url"])
    assert int(op["objectCount"]) == len(lines) == stats["customers"]
    assert all("__parentId" not in line for line in lines)
    assert set(lines[0]) == {"id", "email", "firstName", "lastName", "state", "tags", "createdAt", "updatedAt",
                             "defaultAddress"}
    assert {c["defaultAddress"]["countryCodeV2"] for c in lines} == {"US", "GB", "DE", "CA", "AU", "FR", "SE"}
    current = client.gql("{ currentBulkOperation { id status objectCount url } }")["data"]["currentBulkOperation"]
    assert current["id"] == op["id"] and current["status"] == "COMPLETED"


def test_second_bulk_query_while_one_runs_is_refused(emulator, client):
    server, _ = emulator
    server.app.bulk.min_seconds = 1.0
    try:
        first = client.gql(doc("bulk_operation_run_query.graphql"), {"query": doc("bulk_customers.graphql")})
        op_id = first["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"]
        second = client.gql(
            """mutation($q: String!) { bulkOperationRunQuery(query: $q) {
            bulkOperation { id } userErrors { field message code } } }""",
            {"q": doc("bulk_products.graphql")},
        )
        assert second["data"]["bulkOperationRunQuery"] == {
            "bulkOperation": None,
            "userErrors": [
                {
                    "field": None,
                    "code": "OPERATION_IN_PROGRESS",
                    "message": f"A bulk query operation for this app and shop is already in progress: {op_id}.",
                }
            ],
        }
        running = client.gql("{ currentBulkOperation { id status } }")["data"]["currentBulkOperation"]
        assert running == {"id": op_id, "status": "RUNNING"}
        done = client.wait_bulk(op_id)
        assert done["status"] == "COMPLETED" and "RUNNING" in done["_seen"]
    finally:
        server.app.bulk.min_seconds = 0.0


def test_invalid_bulk_query_gets_user_errors(client):
    body = client.gql(
        """mutation($q: String!) { bulkOperationRunQuery(query: $q) {
        bulkOperation { id } userErrors { field message code } } }""",
        {"q": "{ products { nodes { id } } }"},
    )
    payload = body["data"]["bulkOperationRunQuery"]
    assert payload["bulkOperation"] is None
    assert payload["userErrors"][0]["field"] == ["query"] and payload["userErrors"][0]["code"] == "INVALID"


def test_bulk_operation_cancel(emulator, client):
    server, _ = emulator
    server.app.bulk.min_seconds = 5.0
    try:
        started = client.gql(doc("bulk_operation_run_query.graphql"), {"query": doc("bulk_customers.graphql")})
        op_id = started["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"]
        cancel = client.gql(
            """mutation($id: ID!) { bulkOperationCancel(id: $id) {
            bulkOperation { id status } userErrors { message } } }""",
            {"id": op_id},
        )
        assert cancel["data"]["bulkOperationCancel"]["bulkOperation"]["status"] == "CANCELING", cancel
        assert client.wait_bulk(op_id)["status"] == "CANCELED"
    finally:
        server.app.bulk.min_seconds = 0.0


# -------------------------------------------------------------------------------------------------- metafields


def _ids(client, kind: str, n: int) -> list[str]:
    return [x["id"] for x in client.gql(f"{{ {kind}(first: {n}) {{ nodes {{ id }} }} }}")["data"][kind]["nodes"]]


def test_metafields_set_creates_then_updates(client):
    products, customer = _ids(client, "products", 4), _ids(client, "customers", 1)[0]
    inputs = [
        {
            "ownerId": products[0],
            "namespace": "storeloop",
            "key": "related_products",
            "type": "list.product_reference",
            "value": json.dumps(products[1:3]),
        },
        {
            "ownerId": customer,
            "namespace": "storeloop",
            "key": "personal_picks",
            "type": "list.product_reference",
            "value": json.dumps(products[:3]),
        },
        {"ownerId": customer, "namespace": "storeloop", "key": "model_version", "type": "number_integer", "value": "3"},
        {"ownerId": customer, "namespace": "storeloop", "key": "explain", "type": "json", "value": '{"k": 10}'},
    ]
    created = client.gql(doc("metafields_set.graphql"), {"metafields": inputs})["data"]["metafieldsSet"]
    assert created["userErrors"] == []
    assert [m["key"] for m in created["metafields"]] == [
        "related_products",
        "personal_picks",
        "model_version",
        "explain",
    ]
    first_id = created["metafields"][0]["id"]
    assert first_id.startswith("gid://shopify/Metafield/")
    update = dict(inputs[0], value=json.dumps([products[3]]))
    updated = client.gql(doc("metafields_set.graphql"), {"metafields": [update]})["data"]["metafieldsSet"]
    assert updated["userErrors"] == [] and updated["metafields"][0]["id"] == first_id
    read = client.gql(
        """query($id: ID!) { product(id: $id) {
        metafield(namespace: "storeloop", key: "related_products") { type value jsonValue
          references(first: 5) { nodes { ... on Product { id } } } }
        metafields(first: 5, namespace: "storeloop") { nodes { key } } } }""",
        {"id": products[0]},
    )
    mf = read["data"]["product"]["metafield"]
    assert mf["jsonValue"] == [products[3]] and mf["type"] == "list.product_reference"
    assert [n["id"] for n in mf["references"]["nodes"]] == [products[3]]
    listed = {(m["owner_id"], m["key"]): m for m in client.get("/_sandbox/metafields").json()}
    assert listed[(products[0], "related_products")]["value"] == json.dumps([products[3]])
    assert listed[(customer, "model_version")]["type"] == "number_integer"
    assert {"owner_id", "namespace", "key", "type", "value", "updated_at"} <= set(listed[(customer, "explain")])
    page = client.get("/").text
    assert "personal_picks" in page


def test_metafields_set_refuses_more_than_25(client):
    product = _ids(client, "products", 1)[0]
    inputs = [
        {
            "ownerId": product,
            "namespace": "storeloop",
            "key": f"k{i:02d}",
            "type": "single_line_text_field",
            "value": "x",
        }
        for i in range(26)
    ]
    before = client.get("/_sandbox/stats").json()["metafields"]
    body = client.gql(doc("metafields_set.graphql"), {"metafields": inputs})["data"]["metafieldsSet"]
    for error in body["userErrors"]:  # the client's document may or may not select elementIndex
        assert error.pop("elementIndex", None) is None
    assert body == {
        "metafields": None,
        "userErrors": [
            {
                "field": ["metafields"],
                "message": "Exceeded the maximum metafields input limit of 25.",
                "code": "LESS_THAN_OR_EQUAL_TO",
            }
        ],
    }
    assert client.get("/_sandbox/stats").json()["metafields"] == before


def test_metafields_set_validates_owner_type_and_value(client):
    product = _ids(client, "products", 1)[0]
    good = {
        "ownerId": product,
        "namespace": "storeloop",
        "key": "atomic",
        "type": "single_line_text_field",
        "value": "kept?",
    }
    cases = [
        ({"ownerId": "gid://shopify/Product/1"}, ["metafields", "1", "ownerId"], "Owner does not exist."),
        (
            {"type": "list.product_reference", "value": "not json"},
            ["metafields", "1", "value"],
            "Value must be a JSON array.",
        ),
        (
            {"type": "list.product_reference", "value": '["gid://shopify/Product/1"]'},
            ["metafields", "1", "value"],
            "Value references non-existent resource gid://shopify/Product/1.",
        ),
        ({"type": "number_integer", "value": "1.5"}, ["metafields", "1", "value"], "Value must be an integer."),
        ({"type": "json", "value": "{"}, ["metafields", "1", "value"], "Value is invalid JSON."),
        ({"type": "no_such_type"}, ["metafields", "1", "type"], None),
    ]
    for change, field, message in cases:
        body = client.gql(doc("metafields_set.graphql"), {"metafields": [good, dict(good, key="other", **change)]})
        payload = body["data"]["metafieldsSet"]
        assert payload["metafields"] == [], "nothing is written when any input is invalid"
        assert payload["userErrors"][0]["field"] == field
        if message:
            assert payload["userErrors"][0]["message"] == message
    listed = client.get("/_sandbox/metafields").json()
    assert not any(m["key"] == "atomic" for m in listed)


# ------------------------------------------------------------------------------------------------- persistence


def test_state_persists_across_restart_and_is_not_reseeded(tmp_path):
    server, _t, base_url = start_emulator(tmp_path, TOKEN, seed=5, size="XS", end=END)
    try:
        c = Client(base_url)
        product = _ids(c, "products", 1)[0]
        body = c.gql(
            doc("metafields_set.graphql"),
            {
                "metafields": [
                    {
                        "ownerId": product,
                        "namespace": "storeloop",
                        "key": "related_products",
                        "type": "list.product_reference",
                        "value": json.dumps([product]),
                    }
                ]
            },
        )
        assert body["data"]["metafieldsSet"]["userErrors"] == []
        op = c.run_bulk(doc("bulk_customers.graphql"))
        stats_before = c.get("/_sandbox/stats").json()
    finally:
        stop_emulator(server)
    server, _t, base_url = start_emulator(tmp_path, TOKEN, seed=999, size="S", end=END)
    try:
        c = Client(base_url)
        counters = {"requests", "errors_injected", "throttled"}  # request counters, not store contents
        stats_after = {k: v for k, v in c.get("/_sandbox/stats").json().items() if k not in counters}
        assert stats_after == {k: v for k, v in stats_before.items() if k not in counters}, (
            "an existing store is reused, never reseeded"
        )
        assert _ids(c, "products", 1)[0] == product
        mf = c.gql(
            'query($id: ID!) { product(id: $id) { metafield(namespace: "storeloop", key: "related_products")'
            " { jsonValue } } }",
            {"id": product},
        )
        assert mf["data"]["product"]["metafield"]["jsonValue"] == [product]
        again = c.gql(doc("bulk_operation_status.graphql"), {"id": op["id"]})["data"]["node"]
        assert again["status"] == "COMPLETED" and again["url"].startswith(base_url)
        assert len(c.jsonl(again["url"])) == stats_before["customers"]
    finally:
        stop_emulator(server)


# --------------------------------------------------------------------------------------------------------- CLI


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_serves_and_never_logs_the_token(tmp_path):
    port = _free_port()
    token = "shpat_secret_value_never_logged"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox.shopify_emulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--state-dir",
            str(tmp_path),
            "--token",
            token,
            "--seed",
            "3",
            "--size",
            "XS",
        ],
        cwd=REPO,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_for_health(base_url, timeout=30)
        body = Client(base_url, token).gql("{ shop { name } }")
        assert body["data"]["shop"]["name"] == "Storeloop Sandbox"
        assert requests.post(base_url + API, json={"query": "{ shop { id } }"}, timeout=5).status_code == 401
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    assert "POST /admin/api/2025-01/graphql.json 200 cost=1" in err
    assert "POST /admin/api/2025-01/graphql.json 401" in err
    assert token not in err
