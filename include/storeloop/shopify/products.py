"""Finding products' GIDs from their handles through the Admin API.

Products known only from the Shopify admin's CSV exports have the warehouse id `csv:product:<handle>`: no GID, so no
metafield can be written on them or point at them. When the store also has an Admin API token,
`product_gids_by_handle` looks the handles up with `productByIdentifier(identifier: {handle: ...})` (Admin API
2025-01; `graphql/product_by_handle.graphql`), many per request: the document's one field is repeated under the
aliases `h0`, `h1`, ... each with its own `String!` variable, so 20,000 handles take 80 requests, not 20,000.

Cost: each lookup selects one object (`Product`: 1 point; its `id` and `handle` are scalars, 0), so a batch of `n`
requests `n` points and is charged only for the handles that exist (Shopify refunds the rest: a null costs
nothing). A batch is never larger than the shop's whole bucket (known from the first response; the first batch is
small for that reason) nor than Shopify's single-query limit of 1,000 points, and the client is told each batch
document's cost before its first send, so `ShopifyClient`'s cost pacing spaces the requests without a THROTTLED.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from graphql import parse, print_ast
from graphql.language import (
    ArgumentNode,
    FieldNode,
    NamedTypeNode,
    NameNode,
    NonNullTypeNode,
    ObjectFieldNode,
    ObjectValueNode,
    OperationDefinitionNode,
    VariableDefinitionNode,
    VariableNode,
)

from storeloop.shopify.client import ShopifyClient
from storeloop.shopify.cost import document_key
from storeloop.shopify.documents import load_document

DOCUMENT = "product_by_handle"
COST_PER_LOOKUP = 1  # one Product object; its scalar fields are free
DEFAULT_BATCH_SIZE = 250
MAX_BATCH_SIZE = 1000  # Shopify's single query max cost (1,000 points) over COST_PER_LOOKUP
FIRST_BATCH_SIZE = 50  # before any response says how big the shop's bucket is


def product_gids_by_handle(client: ShopifyClient, handles: Iterable[str], *,
                           batch_size: int = DEFAULT_BATCH_SIZE) -> dict[str, str]:
    """handle → `gid://shopify/Product/<n>` for the given handles that name a product in the shop; a handle with no
    product is absent from the result. Duplicate and empty handles are looked up once / not at all. At most
    `batch_size` handles per request (capped by the shop's bucket and by Shopify's 1,000-point query limit).
    Raises `ShopifyGraphQLError` if Shopify rejects the document (never expected: the documents validate against
    the Admin schema) and `ShopifyError` when it cannot be reached."""
    if not 0 < batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch_size must be between 1 and {MAX_BATCH_SIZE}, got {batch_size}")
    pending = list(dict.fromkeys(h for h in handles if h))
    found: dict[str, str] = {}
    start = 0
    while start < len(pending):
        batch = pending[start : start + _next_batch_size(client, batch_size)]
        document = batch_document(len(batch))
        # The document's requested cost is exact: tell the pacing before the first send of a new batch size.
        client.budget.observe({"requestedQueryCost": len(batch) * COST_PER_LOOKUP}, document_key(document))
        data = client.execute(document, {f"h{i}": handle for i, handle in enumerate(batch)})
        for i, handle in enumerate(batch):
            product = data.get(f"h{i}")
            if product and product.get("id"):
                found[handle] = product["id"]
        start += len(batch)
    return found


def _next_batch_size(client: ShopifyClient, batch_size: int) -> int:
    status = client.budget.status
    if status is None:
        return min(batch_size, FIRST_BATCH_SIZE)
    return max(1, min(batch_size, int(status.maximum_available // COST_PER_LOOKUP)))


@cache
def batch_document(n: int) -> str:
    """The `product_by_handle` document with its field repeated `n` times: `h0: productByIdentifier(identifier:
    {handle: $h0}) { id handle }` ... with variables `$h0: String!` ... (built on the parsed document, so it keeps
    whatever the .graphql file selects)."""
    if n < 1:
        raise ValueError("a batch looks up at least one handle")
    ast = parse(load_document(DOCUMENT))
    operation = next(d for d in ast.definitions if isinstance(d, OperationDefinitionNode))
    (field,) = operation.selection_set.selections
    if not isinstance(field, FieldNode) or field.name.value != "productByIdentifier":
        raise ValueError(f"{DOCUMENT}.graphql must select productByIdentifier and nothing else")

    def variable(i: int) -> VariableNode:
        return VariableNode(name=NameNode(value=f"h{i}"))

    def lookup(i: int) -> FieldNode:
        identifier = ObjectValueNode(fields=(ObjectFieldNode(name=NameNode(value="handle"), value=variable(i)),))
        arguments = tuple(ArgumentNode(name=a.name, value=identifier) if a.name.value == "identifier" else a
                          for a in field.arguments)
        return FieldNode(alias=NameNode(value=f"h{i}"), name=field.name, arguments=arguments,
                         directives=field.directives, selection_set=field.selection_set)

    string = NonNullTypeNode(type=NamedTypeNode(name=NameNode(value="String")))
    operation.variable_definitions = tuple(VariableDefinitionNode(variable=variable(i), type=string) for i in range(n))
    operation.selection_set.selections = tuple(lookup(i) for i in range(n))
    operation.name = NameNode(value=f"ProductsByHandle{n}")
    return print_ast(ast)
