"""Shopify emulator internals without HTTP: query cost, leaky bucket, bulk-query rules, JSONL layout, error shapes."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import parse, validate
from graphql.language import FragmentDefinitionNode, OperationDefinitionNode

from sandbox.shopify_emulator import errors as shopify_errors
from sandbox.shopify_emulator.bulk.jsonl import JsonlFlattener
from sandbox.shopify_emulator.bulk.validation import validate_bulk_query
from sandbox.shopify_emulator.cost import (
    CostContext,
    LeakyBucket,
    actual_cost,
    pagination_errors,
    requested_cost,
)
from sandbox.shopify_emulator.schema import load_schema

GRAPHQL_DIR = Path(__file__).resolve().parents[2] / "include" / "storeloop" / "shopify" / "graphql"


@pytest.fixture(scope="module")
def schema():
    return load_schema()


def _cost(schema, query: str, variables=None, data=None):
    doc = parse(query)
    assert not validate(schema, doc), validate(schema, doc)
    op = next(d for d in doc.definitions if isinstance(d, OperationDefinitionNode))
    frags = {d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)}
    ctx = CostContext(schema, frags, variables or {})
    return (
        requested_cost(op, ctx),
        (actual_cost(op, ctx, data) if data is not None else None),
        pagination_errors(op, ctx),
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("{ shop { name id } }", 1),  # object 1, scalars 0
        ("{ products(first: 10) { edges { node { id title } } } }", 12),  # 2 + 10 x 1
        ("{ products(first: 10) { nodes { id } pageInfo { hasNextPage } } }", 12),
        (
            "{ products(first: 10) { edges { node { id variants(first: 5) { edges { node { id price } } } } } } }",
            2 + 10 * (1 + 2 + 5 * 1),
        ),
        (
            "{ orders(first: 3) { nodes { totalPriceSet { shopMoney { amount } } customer { id } } } }",
            2 + 3 * (1 + 2 + 1),
        ),
        ("{ products(last: 4) { nodes { id } } }", 6),
        ('{ node(id: "gid://shopify/Product/1") { id ... on Product { title } } }', 1),
        ('{ product(id: "x") { ...F } } fragment F on Product { id variants(first: 2) { nodes { id } } }', 1 + 2 + 2),
        (
            'mutation { bulkOperationRunQuery(query: "{ shop { id } }") { bulkOperation { id } userErrors { field } } }',
            10,
        ),
    ],
)
def test_requested_cost_follows_shopify_rules(schema, query, expected):
    requested, _, _ = _cost(schema, query)
    assert requested == expected


def test_variables_feed_the_cost(schema):
    requested, _, _ = _cost(schema, "query($n: Int) { customers(first: $n) { nodes { id } } }", {"n": 25})
    assert requested == 27


def test_actual_cost_counts_what_came_back(schema):
    query = "{ products(first: 10) { edges { node { id variants(first: 5) { nodes { id } } } } } }"
    data = {
        "products": {
            "edges": [
                {"node": {"id": "a", "variants": {"nodes": [{"id": "v1"}, {"id": "v2"}]}}},
                {"node": {"id": "b", "variants": {"nodes": []}}},
            ]
        }
    }
    requested, actual, _ = _cost(schema, query, data=data)
    assert requested == 2 + 10 * (1 + 2 + 5)
    assert actual == 2 + (1 + 2 + 2) + (1 + 2)


def test_connections_need_first_or_last_outside_bulk(schema):
    _, _, errors = _cost(schema, "{ products { edges { node { id } } } }")
    assert errors == [
        {
            "message": "you must provide one of first or last",
            "locations": [{"line": 1, "column": 3}],
            "path": ["products"],
        }
    ]
    _, _, errors = _cost(schema, "{ products(first: 1) { nodes { variants { nodes { id } } } } }")
    assert errors[0]["path"] == ["products", "nodes", "variants"]


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_leaky_bucket_takes_refunds_and_restores():
    clock = FakeClock()
    bucket = LeakyBucket(maximum=100, restore_rate=10, clock=clock)
    assert bucket.try_take(60)
    assert bucket.status() == {"maximumAvailable": 100.0, "currentlyAvailable": 40, "restoreRate": 10.0}
    assert not bucket.try_take(50), "more than available is refused, nothing taken"
    assert bucket.status()["currentlyAvailable"] == 40
    clock.now = 1.0
    assert bucket.status()["currentlyAvailable"] == 50
    bucket.refund(20)
    assert bucket.status()["currentlyAvailable"] == 70
    clock.now = 100.0
    assert bucket.status()["currentlyAvailable"] == 100, "never above the maximum"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("{ products { nodes { id } } }", "Selecting via 'nodes' is not supported"),
        ('{ node(id: "gid://shopify/Product/1") { id } }', "Bulk queries cannot contain a top level `node` field."),
        ("{ shop { name } }", "Bulk queries must contain at least one connection."),
        (
            "{ products { edges { node { title variants { edges { node { id } } } } } } }",
            "Connection fields without 'id': products.",
        ),
        (
            "mutation { metafieldsSet(metafields: []) { userErrors { field } } }",
            "Invalid operation type. Only `query` operations are supported.",
        ),
        (
            "{ products { edges { node { id variants { edges { node { id product { id collections { edges { node { id "
            "products { edges { node { id } } } } } } } } } } } } } }",
            "nesting depth greater than 2",
        ),
        ("{ products { edges { node { foo } } } }", "Invalid bulk query: Field 'foo' doesn't exist on type 'Product'"),
        ("{ products { edges { node { id }", "Invalid bulk query:"),
    ],
)
def test_bulk_query_rules(schema, query, message):
    document, errors = validate_bulk_query(schema, query)
    assert document is None
    assert any(message in e["message"] for e in errors), errors
    assert all(e["field"] == ["query"] and e["code"] == "INVALID" for e in errors)


@pytest.mark.parametrize("name", ["bulk_orders.graphql", "bulk_products.graphql", "bulk_customers.graphql"])
def test_storeloop_bulk_documents_pass_the_bulk_rules(schema, name):
    document, errors = validate_bulk_query(schema, (GRAPHQL_DIR / name).read_text())
    assert errors == [] and document is not None


def test_all_storeloop_documents_validate_against_the_schema(schema):
    files = sorted(GRAPHQL_DIR.glob("*.graphql"))
    assert len(files) >= 6
    for f in files:
        assert validate(schema, parse(f.read_text())) == [], f.name


def test_jsonl_layout_children_follow_parent_with_parent_id(schema):
    query = (
        "{ products { edges { node { id title priceRangeV2 { minVariantPrice { amount } } "
        "variants { edges { node { id sku } } } } } } }"
    )
    document, errors = validate_bulk_query(schema, query)
    assert not errors
    data = {
        "products": {
            "edges": [
                {
                    "node": {
                        "id": "P1",
                        "title": "One",
                        "priceRangeV2": {"minVariantPrice": {"amount": "1.0"}},
                        "variants": {"edges": [{"node": {"id": "V1", "sku": "a"}}, {"node": {"id": "V2", "sku": "b"}}]},
                    }
                },
                {
                    "node": {
                        "id": "P2",
                        "title": "Two",
                        "priceRangeV2": {"minVariantPrice": {"amount": "2.0"}},
                        "variants": {"edges": []},
                    }
                },
            ]
        }
    }
    lines, roots = JsonlFlattener(schema, document).lines(data)
    assert roots == 2
    assert lines == [
        {"id": "P1", "title": "One", "priceRangeV2": {"minVariantPrice": {"amount": "1.0"}}},
        {"id": "V1", "sku": "a", "__parentId": "P1"},
        {"id": "V2", "sku": "b", "__parentId": "P1"},
        {"id": "P2", "title": "Two", "priceRangeV2": {"minVariantPrice": {"amount": "2.0"}}},
    ]
    assert list(lines[1])[-1] == "__parentId"


def test_validation_errors_take_shopify_shape(schema):
    doc = parse("query Q { products(first: 1, bogus: 2) { edges { node { foo } } } product { id } }")
    mapped = [shopify_errors.validation_error(e, doc) for e in validate(schema, doc)]
    by_code = {m["extensions"]["code"]: m for m in mapped}
    assert by_code["undefinedField"]["message"] == "Field 'foo' doesn't exist on type 'Product'"
    assert by_code["undefinedField"]["path"] == ["query Q", "products", "edges", "node", "foo"]
    assert by_code["undefinedField"]["extensions"] == {
        "code": "undefinedField",
        "typeName": "Product",
        "fieldName": "foo",
    }
    assert by_code["argumentNotAccepted"]["message"] == "Field 'products' doesn't accept argument 'bogus'"
    assert by_code["missingRequiredArguments"]["message"] == "Field 'product' is missing required arguments: id"
    for m in mapped:
        assert set(m) == {"message", "locations", "path", "extensions"}


def test_parse_errors_take_shopify_shape():
    from graphql import GraphQLSyntaxError

    with pytest.raises(GraphQLSyntaxError) as exc:
        parse("{ shop { name ) }")
    assert shopify_errors.syntax_error(exc.value) == {
        "message": 'Parse error on ")" (RPAREN) at [1, 15]',
        "locations": [{"line": 1, "column": 15}],
    }


EQUIVALENCE_QUERIES = [
    (GRAPHQL_DIR / "bulk_orders.graphql").read_text(),
    (GRAPHQL_DIR / "bulk_products.graphql").read_text(),
    (GRAPHQL_DIR / "bulk_customers.graphql").read_text(),
    """query Tricky {
      orders(query: "financial_status:refunded") { edges { cursor node { __typename id ...Money
        buyer: customer { id displayName numberOfOrders amountSpent { amount } }
        lineItems { edges { node { id qty: quantity product { ... on Product { title productType }
          ...ProductBits } variant @include(if: true) { id price } skipped: sku @skip(if: true) } } } } } }
    }
    fragment Money on Order { totalPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount } }
      currentTotalPriceSet { shopMoney { amount } } tags test cancelReason }
    fragment ProductBits on Product { handle priceRangeV2 { minVariantPrice { amount } } variantsCount { count } }
    """,
]


@pytest.fixture(scope="module")
def xs_store(tmp_path_factory):
    from datetime import UTC, datetime

    from sandbox.shopify_emulator.store import Store

    store = Store(tmp_path_factory.mktemp("state"), seed=11, size="XS", end=datetime(2026, 11, 1, tzinfo=UTC))
    yield store
    store.close()


@pytest.mark.parametrize("query", EQUIVALENCE_QUERIES)
def test_fast_bulk_executor_matches_graphql_core(schema, xs_store, query):
    from graphql import execute

    from sandbox.shopify_emulator.fastexec import FastExecutor
    from sandbox.shopify_emulator.resolvers import ExecContext, field_resolver, type_resolver

    document = parse(query)
    assert not validate(schema, document)
    fast = FastExecutor(schema, document)
    start, windows = 0, 0
    while True:
        reference_ctx = ExecContext(store=xs_store, base_url="http://x", bulk=True, bulk_window=(start, start + 300))
        reference = execute(
            schema, document, context_value=reference_ctx, field_resolver=field_resolver, type_resolver=type_resolver
        )
        assert reference.errors is None
        fast_ctx = ExecContext(store=xs_store, base_url="http://x", bulk=True, bulk_window=(start, start + 300))
        assert fast.execute(fast_ctx) == reference.data
        assert fast_ctx.root_total == reference_ctx.root_total
        windows += 1
        start += 300
        if start >= reference_ctx.root_total:
            break
    assert windows >= 1


def test_fast_executor_declines_what_it_cannot_reproduce(schema, xs_store):
    from sandbox.shopify_emulator.fastexec import FastExecutor, FastPathUnsupported
    from sandbox.shopify_emulator.resolvers import ExecContext

    with pytest.raises(FastPathUnsupported):
        FastExecutor(schema, parse("query($n: Int) { products(first: $n) { nodes { id } } }"))
    fast = FastExecutor(schema, parse('{ products(after: "bogus", first: 1) { edges { node { id } } } }'))
    with pytest.raises(FastPathUnsupported):  # graphql-core reports the resolver error; the fast path defers
        fast.execute(ExecContext(store=xs_store, base_url="http://x"))


def test_schema_path_env_override(monkeypatch, tmp_path):
    from sandbox.shopify_emulator import schema as schema_module

    default = schema_module.schema_path()
    assert default.name == "admin_schema_2025-01.json.gz" and default.exists()
    monkeypatch.setenv(schema_module.SCHEMA_ENV_VAR, str(tmp_path / "other.json.gz"))
    assert schema_module.schema_path() == (tmp_path / "other.json.gz").resolve()
    with pytest.raises(FileNotFoundError, match="STORELOOP_SHOPIFY_SCHEMA"):
        schema_module.load_schema()
