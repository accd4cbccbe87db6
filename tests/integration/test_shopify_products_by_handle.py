"""Resolving product handles to GIDs over real HTTP against the emulator: `productByIdentifier` (by handle and by id,
null for an unknown handle, charged like the other single-object fields) and `product_gids_by_handle` batching many
handles per request under a tight cost bucket without a THROTTLED answer."""

from __future__ import annotations

import math

import pytest
import requests

from sandbox.shopify_emulator import start_emulator, stop_emulator
from sandbox.testing import CountingSession
from storeloop.shopify.client import ShopifyClient
from storeloop.shopify.config import ShopifyConfig
from storeloop.shopify.errors import ShopifyGraphQLError
from storeloop.shopify.products import FIRST_BATCH_SIZE, product_gids_by_handle

pytestmark = pytest.mark.integration

TOKEN = "shpat_products_by_handle"
BUCKET, RESTORE = 100, 50


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    server, _thread, base_url = start_emulator(tmp_path_factory.mktemp("xs-store"), TOKEN, seed=7, size="XS", port=0,
                                               bucket_size=BUCKET, restore_rate=RESTORE)
    yield base_url
    stop_emulator(server)


def _client(base_url, session=None):
    return ShopifyClient(ShopifyConfig(base_url, TOKEN), session=session or CountingSession(), backoff_s=0.05)


@pytest.fixture(scope="module")
def catalogue(emulator) -> dict[str, str]:
    """handle → GID of every product in the emulated store."""
    data = _client(emulator).execute("{ products(first: 45) { nodes { id handle } pageInfo { hasNextPage } } }")
    assert not data["products"]["pageInfo"]["hasNextPage"], "the XS store was expected to hold at most 45 products"
    return {p["handle"]: p["id"] for p in data["products"]["nodes"]}


def _stats(base_url):
    return requests.get(f"{base_url}/_sandbox/stats", timeout=5).json()


def test_product_by_identifier_finds_by_handle_and_id_and_is_null_for_an_unknown_handle(emulator, catalogue):
    handle, gid = next(iter(catalogue.items()))
    client = _client(emulator)
    data = client.execute(
        "query($h: String!, $id: ID!, $none: String!) {"
        " byHandle: productByIdentifier(identifier: {handle: $h}) { id handle title }"
        " byId: productByIdentifier(identifier: {id: $id}) { id handle }"
        " missing: productByIdentifier(identifier: {handle: $none}) { id } }",
        {"h": handle, "id": gid, "none": "no-such-product-anywhere"})
    assert data["byHandle"]["id"] == gid and data["byHandle"]["handle"] == handle and data["byHandle"]["title"]
    assert data["byId"] == {"id": gid, "handle": handle}
    assert data["missing"] is None
    # Three single objects requested (1 point each); the null one is refunded.
    assert client.last_cost["requestedQueryCost"] == 3
    assert client.last_cost["actualQueryCost"] == 2


def test_product_by_identifier_needs_exactly_one_identifier_and_does_not_model_custom_ids(emulator, catalogue):
    handle, gid = next(iter(catalogue.items()))
    client = _client(emulator)
    with pytest.raises(ShopifyGraphQLError, match="exactly one of id, handle or customId"):
        client.execute("query($h: String!, $id: ID!) { productByIdentifier(identifier: {handle: $h, id: $id}) { id } }",
                       {"h": handle, "id": gid})
    with pytest.raises(ShopifyGraphQLError, match="customId"):
        client.execute('{ productByIdentifier(identifier: {customId: {namespace: "erp", key: "id", value: "1"}}) '
                       "{ id } }")


def test_product_by_identifier_is_validated_against_the_admin_schema(emulator):
    # `identifier` is ProductIdentifierInput!: a bare string is rejected by validation, before any resolver runs.
    with pytest.raises(ShopifyGraphQLError):
        _client(emulator).execute('{ productByIdentifier(identifier: "some-handle") { id } }')


def test_many_handles_resolve_in_few_paced_requests_without_a_throttle(emulator, catalogue):
    known = list(catalogue)
    unknown = [f"no-such-product-{i}" for i in range(460)]
    asked = [*known, "", known[0], *unknown]  # an empty handle and a duplicate are not looked up twice
    session = CountingSession()
    client = _client(emulator, session)
    throttled_before = _stats(emulator).get("throttled", 0)

    found = product_gids_by_handle(client, asked)

    assert found == catalogue  # every known handle, no unknown one
    distinct = len(known) + len(unknown)
    # The first batch is small (the bucket's size is unknown until a response says it), then one bucket per request.
    assert client.requests_sent == 1 + math.ceil((distinct - FIRST_BATCH_SIZE) / BUCKET)
    assert set(session.statuses) == {200}
    assert _stats(emulator).get("throttled", 0) == throttled_before, "a request was THROTTLED despite pacing"


def test_no_handles_sends_no_request(emulator):
    client = _client(emulator)
    assert product_gids_by_handle(client, []) == {}
    assert client.requests_sent == 0


def test_a_deleted_product_is_no_longer_found_by_its_handle(emulator, catalogue):
    # Last in this module: it removes a product from the module's store.
    handle, gid = list(catalogue.items())[-1]
    client = _client(emulator)
    assert product_gids_by_handle(client, [handle]) == {handle: gid}
    requests.delete(f"{emulator}/_sandbox/products/{gid.rsplit('/', 1)[1]}", timeout=10).raise_for_status()
    assert product_gids_by_handle(client, [handle]) == {}
