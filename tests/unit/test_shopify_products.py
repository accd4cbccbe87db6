"""`storeloop.shopify.products`: the batched handle-lookup documents validate against the Admin schema, and batches
are sized by the shop's bucket (tested here with a recording stand-in for the client; over HTTP against the
emulator in tests/integration/test_shopify_products_by_handle.py)."""

from __future__ import annotations

import gzip
import json

import pytest
from graphql import build_client_schema, parse, validate
from support.fixture_files import admin_schema_path

from storeloop.shopify.cost import CostBudget, document_key
from storeloop.shopify.products import (
    FIRST_BATCH_SIZE,
    MAX_BATCH_SIZE,
    batch_document,
    product_gids_by_handle,
)


@pytest.fixture(scope="module")
def schema():
    with gzip.open(admin_schema_path()) as fh:
        return build_client_schema(json.load(fh)["data"], assume_valid=True)


@pytest.mark.parametrize("n", [1, 2, 250, MAX_BATCH_SIZE])
def test_batch_documents_validate_against_the_admin_schema(schema, n):
    document = batch_document(n)
    assert not validate(schema, parse(document))
    assert document.count("productByIdentifier(identifier: {handle: $h") == n
    assert f"h{n - 1}: productByIdentifier" in document and f"$h{n - 1}: String!" in document


class RecordingClient:
    """Answers like the Admin API: `hN` is the product of variable `hN` if its handle is in `shop`, else null; every
    answer carries a throttleStatus with a bucket of `maximum` points."""

    def __init__(self, shop: dict[str, str], maximum: float):
        self.shop, self.maximum = shop, maximum
        self.budget = CostBudget()
        self.batches: list[list[str]] = []
        self.expected_costs: list[float] = []

    def execute(self, query, variables):
        self.expected_costs.append(self.budget.expected_cost(document_key(query)))
        self.batches.append(list(variables.values()))
        self.budget.observe({"requestedQueryCost": len(variables), "throttleStatus": {
            "maximumAvailable": self.maximum, "currentlyAvailable": self.maximum, "restoreRate": 50.0}})
        return {k: ({"id": self.shop[h], "handle": h} if h in self.shop else None) for k, h in variables.items()}


def test_batches_are_sized_by_the_bucket_after_a_small_first_one():
    shop = {f"p{i}": f"gid://shopify/Product/{i}" for i in range(0, 600, 3)}
    client = RecordingClient(shop, maximum=120)
    found = product_gids_by_handle(client, [f"p{i}" for i in range(600)], batch_size=250)
    assert found == shop
    assert [len(b) for b in client.batches] == [FIRST_BATCH_SIZE, 120, 120, 120, 120, 70]
    # Every batch document's cost was known to the pacing before it was sent.
    assert client.expected_costs == [float(len(b)) for b in client.batches]


def test_batch_size_is_capped_by_the_argument_and_handles_are_looked_up_once():
    client = RecordingClient({"a": "gid://shopify/Product/1"}, maximum=2000)
    client.budget.observe({"throttleStatus": {"maximumAvailable": 2000, "currentlyAvailable": 2000,
                                              "restoreRate": 100}})
    found = product_gids_by_handle(client, ["a", "b", "a", "", "c", "d", "b"], batch_size=2)
    assert found == {"a": "gid://shopify/Product/1"}
    assert client.batches == [["a", "b"], ["c", "d"]]


@pytest.mark.parametrize("size", [0, MAX_BATCH_SIZE + 1])
def test_a_batch_size_outside_shopifys_query_cost_limit_is_refused(size):
    with pytest.raises(ValueError, match="batch_size"):
        product_gids_by_handle(RecordingClient({}, 100), ["a"], batch_size=size)
