"""The emulator's bulk mutations (staged upload → bulkOperationRunMutation → result JSONL) and its faults on demand,
over real HTTP."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
import requests

from sandbox.shopify_emulator import start_emulator, stop_emulator

pytestmark = pytest.mark.integration

TOKEN = "shpat_sandbox_bulk_mutation_token"
END = datetime(2026, 11, 1, tzinfo=UTC)
API = "/admin/api/2025-01/graphql.json"

STAGED_UPLOADS_CREATE = """
mutation Stage($input: [StagedUploadInput!]!) {
  stagedUploadsCreate(input: $input) {
    stagedTargets { url resourceUrl parameters { name value } }
    userErrors { field message }
  }
}"""
RUN_MUTATION = """
mutation Run($mutation: String!, $path: String!) {
  bulkOperationRunMutation(mutation: $mutation, stagedUploadPath: $path) {
    bulkOperation { id status type }
    userErrors { field message code }
  }
}"""
RUN_QUERY = """
mutation Run($query: String!) {
  bulkOperationRunQuery(query: $query) { bulkOperation { id status type } userErrors { field message code } }
}"""
STATUS = """
query Status($id: ID!) {
  node(id: $id) {
    ... on BulkOperation {
      id status type errorCode objectCount rootObjectCount fileSize url partialDataUrl createdAt completedAt query
    }
  }
}"""
METAFIELDS_SET = """
mutation call($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { id key namespace value }
    userErrors { field message code }
  }
}"""
BULK_CUSTOMERS = "{ customers { edges { node { id email } } } }"


class Client:
    def __init__(self, base_url: str):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["X-Shopify-Access-Token"] = TOKEN

    def post(self, query: str, variables: dict | None = None) -> requests.Response:
        return self.session.post(self.base_url + API, json={"query": query, "variables": variables}, timeout=30)

    def gql(self, query: str, variables: dict | None = None) -> dict:
        r = self.post(query, variables)
        assert r.status_code == 200, r.text
        return r.json()

    def stage(self, content: bytes, filename: str = "vars.jsonl") -> str:
        body = self.gql(
            STAGED_UPLOADS_CREATE,
            {
                "input": [
                    {
                        "resource": "BULK_MUTATION_VARIABLES",
                        "filename": filename,
                        "mimeType": "text/jsonl",
                        "httpMethod": "POST",
                    }
                ]
            },
        )["data"]["stagedUploadsCreate"]
        assert body["userErrors"] == []
        target = body["stagedTargets"][0]
        fields = {p["name"]: p["value"] for p in target["parameters"]}
        r = requests.post(target["url"], data=fields, files={"file": (filename, content, "text/jsonl")}, timeout=60)
        assert r.status_code == 201, r.text
        assert f"<Key>{fields['key']}</Key>" in r.text
        return fields["key"]

    def run_mutation(self, lines: list[dict], mutation: str = METAFIELDS_SET) -> dict:
        path = self.stage("\n".join(json.dumps(line) for line in lines).encode() + b"\n")
        payload = self.gql(RUN_MUTATION, {"mutation": mutation, "path": path})["data"]["bulkOperationRunMutation"]
        assert payload["userErrors"] == [], payload
        assert payload["bulkOperation"]["status"] == "CREATED" and payload["bulkOperation"]["type"] == "MUTATION"
        return payload["bulkOperation"]

    def wait(self, op_id: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            node = self.gql(STATUS, {"id": op_id})["data"]["node"]
            if node["status"] not in ("CREATED", "RUNNING", "CANCELING"):
                return node
            time.sleep(0.05)
        raise AssertionError(f"bulk operation {op_id} did not finish in {timeout}s")

    def jsonl(self, url: str) -> list[dict]:
        r = requests.get(url, timeout=30)
        assert r.status_code == 200, r.text
        return [json.loads(line) for line in r.text.splitlines()]

    def sandbox(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, self.base_url + path, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    state = tmp_path_factory.mktemp("shopify_bulk_mutation_state")
    server, _thread, base_url = start_emulator(state, TOKEN, seed=7, size="XS", end=END)
    yield Client(base_url)
    stop_emulator(server)


@pytest.fixture(autouse=True)
def no_faults(client):
    client.sandbox("DELETE", "/_sandbox/faults")
    yield
    client.sandbox("DELETE", "/_sandbox/faults")


@pytest.fixture(scope="module")
def owners(client):
    customers = client.gql("{ customers(first: 150) { nodes { id } } }")["data"]["customers"]["nodes"]
    products = client.gql("{ products(first: 40) { nodes { id } } }")["data"]["products"]["nodes"]
    return [n["id"] for n in customers + products]


def mf_line(owner: str, key: str, value: str) -> dict:
    return {
        "metafields": [
            {"ownerId": owner, "namespace": "storeloop", "key": key, "type": "single_line_text_field", "value": value}
        ]
    }


# ------------------------------------------------------------------------------------------------ staged uploads


def test_staged_upload_target_looks_like_shopifys(client):
    body = client.gql(
        STAGED_UPLOADS_CREATE,
        {
            "input": [
                {
                    "resource": "BULK_MUTATION_VARIABLES",
                    "filename": "x.jsonl",
                    "mimeType": "text/jsonl",
                    "httpMethod": "POST",
                }
            ]
        },
    )["data"]["stagedUploadsCreate"]
    assert body["userErrors"] == []
    (target,) = body["stagedTargets"]
    assert target["url"] == client.base_url + "/_sandbox/staged-uploads"
    assert target["resourceUrl"] is None
    names = [p["name"] for p in target["parameters"]]
    assert names[0] == "key"
    assert set(names) >= {"Content-Type", "success_action_status", "acl", "policy", "x-goog-signature"}
    key = target["parameters"][0]["value"]
    assert key.startswith("tmp/") and "/bulk/" in key and key.endswith("/x.jsonl")


def test_staged_upload_wrong_resource_is_a_user_error(client):
    body = client.gql(
        STAGED_UPLOADS_CREATE,
        {"input": [{"resource": "IMAGE", "filename": "a.png", "mimeType": "image/png", "httpMethod": "POST"}]},
    )["data"]["stagedUploadsCreate"]
    assert body["stagedTargets"] == []
    assert body["userErrors"][0]["field"] == ["input", "0", "resource"]


def test_upload_endpoint_rejects_unknown_or_missing_key_and_missing_file(client):
    url = client.base_url + "/_sandbox/staged-uploads"
    r = requests.post(url, data={"key": "tmp/1/bulk/nope/x.jsonl"}, files={"file": ("x", b"{}\n")}, timeout=10)
    assert r.status_code == 400 and "<Error>" in r.text
    r = requests.post(url, data={"acl": "private"}, files={"file": ("x", b"{}\n")}, timeout=10)
    assert r.status_code == 400 and "<Code>InvalidArgument</Code>" in r.text
    r = requests.post(url, data={"key": "tmp/1/bulk/nope/x.jsonl"}, timeout=10)
    assert r.status_code == 400


# ------------------------------------------------------------------------------------------------ bulk mutations


def test_bulk_mutation_of_20000_metafields(client, owners):
    n = 20_000
    lines = [mf_line(owners[i % len(owners)], f"bulk_{i // len(owners)}", f"value {i}") for i in range(n)]
    before = len(client.sandbox("GET", "/_sandbox/metafields").json())
    op = client.run_mutation(lines)
    done = client.wait(op["id"], timeout=60)  # a hang fails here; its speed is bench/bench_metafield_writes.py's
    assert done["status"] == "COMPLETED", done
    assert done["type"] == "MUTATION" and done["errorCode"] is None and done["partialDataUrl"] is None
    assert done["objectCount"] == str(n) and int(done["fileSize"]) > 0 and done["completedAt"]
    assert "metafieldsSet" in done["query"]
    result = client.jsonl(done["url"])
    assert len(result) == n
    assert [r["__lineNumber"] for r in result] == list(range(n))
    assert all(r["data"]["metafieldsSet"]["userErrors"] == [] for r in result)
    assert result[3]["data"]["metafieldsSet"]["metafields"][0]["value"] == "value 3"
    written = client.sandbox("GET", "/_sandbox/metafields").json()
    assert len(written) == before + n
    by_key = {(m["owner_id"], m["key"]): m["value"] for m in written}
    assert by_key[(owners[5], "bulk_0")] == "value 5"
    current = client.gql("{ currentBulkOperation(type: MUTATION) { id status type } }")["data"]
    assert current["currentBulkOperation"]["id"] == op["id"]


def test_bulk_mutation_reports_user_errors_per_line(client, owners):
    lines = [
        mf_line(owners[0], "line_ok", "fine"),
        mf_line("gid://shopify/Customer/1", "line_bad_owner", "x"),
        {
            "metafields": [
                {
                    "ownerId": owners[1],
                    "namespace": "storeloop",
                    "key": "num",
                    "type": "number_integer",
                    "value": "seven",
                }
            ]
        },
        {"metafields": "not a list"},  # a variable the schema rejects: the line gets errors, the rest continues
        mf_line(owners[2], "line_ok_again", "fine"),
    ]
    done = client.wait(client.run_mutation(lines)["id"])
    assert done["status"] == "COMPLETED" and done["objectCount"] == "5"
    result = client.jsonl(done["url"])
    assert [r["__lineNumber"] for r in result] == [0, 1, 2, 3, 4]
    assert result[0]["data"]["metafieldsSet"]["userErrors"] == []
    assert result[1]["data"]["metafieldsSet"]["userErrors"][0]["message"] == "Owner does not exist."
    assert result[2]["data"]["metafieldsSet"]["userErrors"][0]["code"] == "INVALID_VALUE"
    assert "errors" in result[3] and "data" not in result[3]
    assert result[4]["data"]["metafieldsSet"]["metafields"][0]["key"] == "line_ok_again"


def test_bulk_mutation_rejects_bad_documents_and_unknown_files(client, owners):
    path = client.stage(json.dumps(mf_line(owners[0], "kk", "v")).encode())
    cases = [
        ("mutation { nope }", "INVALID_MUTATION"),
        ("query { shop { id } }", "INVALID_MUTATION"),
        (
            "mutation($input: ProductInput!) { productCreate(input: $input) { product { id } } }",
            "INVALID_MUTATION",
        ),
    ]
    for mutation, code in cases:
        payload = client.gql(RUN_MUTATION, {"mutation": mutation, "path": path})["data"]["bulkOperationRunMutation"]
        assert payload["bulkOperation"] is None and payload["userErrors"][0]["code"] == code, (mutation, payload)
    payload = client.gql(RUN_MUTATION, {"mutation": METAFIELDS_SET, "path": "tmp/1/bulk/missing/vars.jsonl"})
    err = payload["data"]["bulkOperationRunMutation"]["userErrors"][0]
    assert err["code"] == "NO_SUCH_FILE" and err["field"] == ["stagedUploadPath"]
    bad = client.stage(b"this is not json\n")
    payload = client.gql(RUN_MUTATION, {"mutation": METAFIELDS_SET, "path": bad})
    assert payload["data"]["bulkOperationRunMutation"]["userErrors"][0]["code"] == "INVALID_STAGED_UPLOAD_FILE"


def test_one_bulk_mutation_at_a_time_but_a_query_may_run_alongside(client, owners):
    lines = [mf_line(owners[i % len(owners)], f"conc_{i // len(owners)}", "v") for i in range(6000)]
    first = client.run_mutation(lines)
    path = client.stage(json.dumps(mf_line(owners[0], "conc_x", "v")).encode())
    second = client.gql(RUN_MUTATION, {"mutation": METAFIELDS_SET, "path": path})["data"]["bulkOperationRunMutation"]
    query = client.gql(RUN_QUERY, {"query": BULK_CUSTOMERS})["data"]["bulkOperationRunQuery"]
    first_done = client.wait(first["id"])
    assert first_done["status"] == "COMPLETED"
    if second["bulkOperation"] is None:  # the first was still running (the usual case)
        assert second["userErrors"][0]["code"] == "OPERATION_IN_PROGRESS"
    assert query["userErrors"] == []
    assert client.wait(query["bulkOperation"]["id"])["status"] == "COMPLETED"


# ---------------------------------------------------------------------------------------------------------- faults


def test_fault_settings_roundtrip(client):
    r = client.sandbox("GET", "/_sandbox/faults")
    assert r.json()["error_rate"] == 0.0 and r.json()["fail_next_bulk"] == 0
    r = client.sandbox("POST", "/_sandbox/faults", json={"slow_ms": 5, "expire_next_bulk": 1})
    assert r.status_code == 200 and r.json()["slow_ms"] == 5 and r.json()["error_rate"] == 0.0
    assert client.sandbox("GET", "/_sandbox/faults").json()["expire_next_bulk"] == 1
    assert client.sandbox("POST", "/_sandbox/faults", json={"error_rate": 2}).status_code == 400
    assert client.sandbox("POST", "/_sandbox/faults", json={"bogus": 1}).status_code == 400
    assert client.sandbox("DELETE", "/_sandbox/faults").json()["expire_next_bulk"] == 0


def test_error_rate_gives_5xx_at_about_the_rate_without_side_effects(client, owners):
    client.sandbox("DELETE", "/_sandbox/stats")
    client.sandbox("POST", "/_sandbox/faults", json={"error_rate": 0.3, "seed": 1})
    statuses = []
    for i in range(200):
        r = client.post(METAFIELDS_SET, {"metafields": [mf_line(owners[0], f"rate_{i}", "v")["metafields"][0]]})
        statuses.append(r.status_code)
        if r.status_code != 200:
            assert r.status_code in (502, 503) and "errors" in r.json()
    failed = sum(s != 200 for s in statuses)
    assert 35 <= failed <= 85, failed
    stats = client.sandbox("GET", "/_sandbox/stats").json()
    assert stats["requests"] == 200 and stats["errors_injected"] == failed
    written = {m["key"] for m in client.sandbox("GET", "/_sandbox/metafields").json()}
    ok_keys = {f"rate_{i}" for i, s in enumerate(statuses) if s == 200}
    assert {k for k in written if k.startswith("rate_")} == ok_keys, "a 5xx answer must not change state"
    # deterministic given the seed
    client.sandbox("POST", "/_sandbox/faults", json={"seed": 1})
    again = [client.post("{ shop { id } }").status_code for _ in range(200)]
    assert [s != 200 for s in again] == [s != 200 for s in statuses]


def test_slow_ms_delays_responses(client):
    client.sandbox("POST", "/_sandbox/faults", json={"slow_ms": 150})
    started = time.monotonic()
    client.gql("{ shop { id } }")
    assert time.monotonic() - started >= 0.15


def test_fail_next_bulk_then_the_next_completes(client, owners):
    client.sandbox("POST", "/_sandbox/faults", json={"fail_next_bulk": 1})
    started = client.gql(RUN_QUERY, {"query": BULK_CUSTOMERS})["data"]["bulkOperationRunQuery"]
    failed = client.wait(started["bulkOperation"]["id"])
    assert failed["status"] == "FAILED" and failed["errorCode"] == "INTERNAL_SERVER_ERROR"
    assert failed["url"] is None and failed["partialDataUrl"]
    partial = client.jsonl(failed["partialDataUrl"])
    assert 0 < len(partial) < 150 and all(line["id"].startswith("gid://shopify/Customer/") for line in partial)
    assert client.sandbox("GET", "/_sandbox/faults").json()["fail_next_bulk"] == 0
    started = client.gql(RUN_QUERY, {"query": BULK_CUSTOMERS})["data"]["bulkOperationRunQuery"]
    done = client.wait(started["bulkOperation"]["id"])
    assert done["status"] == "COMPLETED" and len(client.jsonl(done["url"])) == 150


def test_fail_next_bulk_mutation_applies_only_the_first_part(client, owners):
    client.sandbox("POST", "/_sandbox/faults", json={"fail_next_bulk": 1})
    lines = [mf_line(owners[i], "failpart", str(i)) for i in range(100)]
    failed = client.wait(client.run_mutation(lines)["id"])
    assert failed["status"] == "FAILED" and failed["url"] is None
    partial = client.jsonl(failed["partialDataUrl"])
    assert [r["__lineNumber"] for r in partial] == list(range(50))
    written = [m for m in client.sandbox("GET", "/_sandbox/metafields").json() if m["key"] == "failpart"]
    assert len(written) == 50
    done = client.wait(client.run_mutation(lines)["id"])
    assert done["status"] == "COMPLETED" and done["objectCount"] == "100"


def test_expire_and_cancel_next_bulk(client):
    client.sandbox("POST", "/_sandbox/faults", json={"expire_next_bulk": 1, "cancel_next_bulk": 1})
    ends = []
    for _ in range(3):
        started = client.gql(RUN_QUERY, {"query": BULK_CUSTOMERS})["data"]["bulkOperationRunQuery"]
        node = client.wait(started["bulkOperation"]["id"])
        ends.append(node["status"])
        if node["status"] != "COMPLETED":
            assert node["url"] is None and node["partialDataUrl"] is None
    assert ends == ["EXPIRED", "CANCELED", "COMPLETED"]


def test_error_rate_applies_to_bulk_downloads(client):
    started = client.gql(RUN_QUERY, {"query": BULK_CUSTOMERS})["data"]["bulkOperationRunQuery"]
    url = client.wait(started["bulkOperation"]["id"])["url"]
    client.sandbox("POST", "/_sandbox/faults", json={"error_rate": 1.0})
    assert requests.get(url, timeout=10).status_code in (502, 503)
    client.sandbox("DELETE", "/_sandbox/faults")
    assert requests.get(url, timeout=10).status_code == 200


def test_put_staged_upload(client, owners):
    body = client.gql(
        STAGED_UPLOADS_CREATE,
        {"input": [{"resource": "BULK_MUTATION_VARIABLES", "filename": "p.jsonl", "mimeType": "text/jsonl"}]},
    )["data"]["stagedUploadsCreate"]  # httpMethod defaults to PUT
    target = body["stagedTargets"][0]
    assert [p["name"] for p in target["parameters"]] == ["content_type", "acl"]
    content = json.dumps(mf_line(owners[0], "put_key", "v")).encode()
    assert requests.put(target["url"] + "x", data=content, timeout=10).status_code in (400, 403)
    assert requests.put(target["url"], data=content, headers={"Content-Type": "text/jsonl"}, timeout=10).ok
    key = target["url"].split("/_sandbox/staged-uploads/", 1)[1].split("?", 1)[0]
    from urllib.parse import unquote

    payload = client.gql(RUN_MUTATION, {"mutation": METAFIELDS_SET, "path": unquote(key)})
    op = payload["data"]["bulkOperationRunMutation"]["bulkOperation"]
    assert client.wait(op["id"])["status"] == "COMPLETED"


def test_throttled_requests_are_counted(tmp_path):
    server, _thread, base_url = start_emulator(
        tmp_path, TOKEN, seed=3, size="XS", end=END, bucket_size=60, restore_rate=1
    )
    try:
        c = Client(base_url)
        query = "{ customers(first: 50) { nodes { id } } }"
        statuses = [c.gql(query).get("errors", [{}])[0].get("extensions", {}).get("code") for _ in range(5)]
        assert "THROTTLED" in statuses
        stats = c.sandbox("GET", "/_sandbox/stats").json()
        assert stats["throttled"] == statuses.count("THROTTLED") and stats["requests"] == 5
    finally:
        stop_emulator(server)


# ------------------------------------------------------------------------------------------------- store advance


def test_advance_appends_to_the_live_store_and_persists(tmp_path):
    server, _thread, base_url = start_emulator(tmp_path, TOKEN, seed=5, size="XS", end=END)
    try:
        c = Client(base_url)
        before = c.sandbox("GET", "/_sandbox/stats").json()
        r = c.sandbox("POST", "/_sandbox/advance", json={"days": 7})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["end"].startswith("2026-11-08") and body["added"]["orders"] > 0
        r = c.sandbox(
            "POST", "/_sandbox/advance", json={"days": 7, "scenario": "new_product_line", "params": {"share": 0.4}}
        )
        assert r.status_code == 200 and r.json()["added"]["products"] >= 3
        assert c.sandbox("POST", "/_sandbox/advance", json={"scenario": "nope"}).status_code == 400
        assert c.sandbox("POST", "/_sandbox/advance", json={"days": 0}).status_code == 400
        # the new orders are served, newest first, with the new product line in them
        q = """{ orders(first: 20, reverse: true, sortKey: CREATED_AT) {
                 nodes { createdAt updatedAt customer { updatedAt } lineItems(first: 5) { nodes { product { productType } } } } } }"""
        nodes = c.gql(q)["data"]["orders"]["nodes"]
        assert all(n["createdAt"] >= "2026-11-08" for n in nodes)
        types = [li["product"]["productType"] for n in nodes for li in n["lineItems"]["nodes"]]
        assert "Matcha" in types
        assert all(n["customer"] is None or n["customer"]["updatedAt"] >= "2026-11-08" for n in nodes)
        # incremental extraction sees only the changed records
        q = '{ orders(first: 250, query: "updated_at:>=2026-11-01") { nodes { id } } }'
        assert (
            len(c.gql(q)["data"]["orders"]["nodes"])
            == c.sandbox("GET", "/_sandbox/stats").json()["orders"] - before["orders"]
        )
        stats = c.sandbox("GET", "/_sandbox/stats").json()
    finally:
        stop_emulator(server)
    server, _thread, base_url = start_emulator(tmp_path, TOKEN, seed=5, size="XS", end=END)
    try:
        again = Client(base_url).sandbox("GET", "/_sandbox/stats").json()
        assert {k: again[k] for k in ("products", "orders", "line_items")} == {
            k: stats[k] for k in ("products", "orders", "line_items")
        }
    finally:
        stop_emulator(server)
