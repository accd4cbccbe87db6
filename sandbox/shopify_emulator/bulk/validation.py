"""Checking a bulk query (`bulkOperationRunQuery`) or bulk mutation (`bulkOperationRunMutation`) document the way
Shopify does before the operation starts; problems are answered as userErrors, never as GraphQL errors.

A bulk query has exactly one query operation, at least one and at most `MAX_CONNECTIONS` connections, nested at most
`MAX_DEPTH` deep, each selected through `edges { node { ... } }` (not `nodes`), the node owning a nested connection
selecting its unaliased `id`, no connection inside a list field and no top-level `node`. A bulk mutation has exactly
one mutation operation with one field, a mutation Shopify allows in bulk and the emulator supports.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    DocumentNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    GraphQLSyntaxError,
    get_named_type,
    is_leaf_type,
    parse,
    validate,
)
from graphql.language import FragmentDefinitionNode, OperationDefinitionNode

from .. import errors as shopify_errors
from ..cost import is_connection_type
from .selections import field_type, selected_fields

MAX_CONNECTIONS = 5
MAX_DEPTH = 2


def _invalid(message: str) -> dict[str, Any]:
    return {"field": ["query"], "message": message, "code": "INVALID"}


def _is_list(type_: Any) -> bool:
    t = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    return isinstance(t, GraphQLList)


def validate_bulk_query(schema: GraphQLSchema, query: str) -> tuple[DocumentNode | None, list[dict[str, Any]]]:
    """Parse and check a bulk query like Shopify does; returns (document, userErrors)."""
    try:
        document = parse(query)
    except GraphQLSyntaxError as exc:
        msg = shopify_errors.syntax_error(exc)["message"]
        if "end of file" in msg:
            msg = "syntax error, unexpected end of file"
        return None, [_invalid(f"Invalid bulk query: {msg}")]
    problems = validate(schema, document)
    if problems:
        return None, [
            _invalid(f"Invalid bulk query: {shopify_errors.validation_error(e, document)['message']}") for e in problems
        ]
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    if len(operations) != 1:
        return None, [_invalid("Bulk queries must contain exactly one operation.")]
    op = operations[0]
    if op.operation.value != "query":
        return None, [_invalid("Invalid operation type. Only `query` operations are supported.")]
    user_errors: list[dict[str, Any]] = []
    root_fields = selected_fields(op.selection_set, fragments, schema.query_type, schema)
    if any(f.name.value == "node" for f, _ in root_fields):
        user_errors.append(_invalid("Bulk queries cannot contain a top level `node` field."))

    connections: list[str] = []
    via_nodes: list[str] = []
    without_id: list[str] = []
    too_deep = False
    in_list = False

    def walk(selection_set, parent, depth: int, inside_list: bool, owner_has_id: bool, owner_name: str | None):
        nonlocal too_deep, in_list
        for f, ptype in selected_fields(selection_set, fragments, parent, schema):
            ftype = field_type(ptype, f.name.value)
            if ftype is None:
                continue
            named = get_named_type(ftype)
            if is_connection_type(ftype):
                connections.append(f.name.value)
                if depth + 1 > MAX_DEPTH:
                    too_deep = True
                if inside_list:
                    in_list = True
                if depth >= 1 and not owner_has_id and owner_name:
                    without_id.append(owner_name)
                subs = selected_fields(f.selection_set, fragments, named, schema)
                if any(s.name.value == "nodes" for s, _ in subs):
                    via_nodes.append(f.name.value)
                for edges, etype in subs:
                    if edges.name.value != "edges":
                        continue
                    edge_type = get_named_type(field_type(etype, "edges"))
                    for node, ntype in selected_fields(edges.selection_set, fragments, edge_type, schema):
                        if node.name.value != "node":
                            continue
                        node_type = get_named_type(field_type(ntype, "node"))
                        node_fields = selected_fields(node.selection_set, fragments, node_type, schema)
                        has_id = any(n.name.value == "id" and n.alias is None for n, _ in node_fields)
                        walk(node.selection_set, node_type, depth + 1, False, has_id, f.name.value)
            elif not is_leaf_type(named):
                walk(f.selection_set, named, depth, inside_list or _is_list(ftype), owner_has_id, owner_name)

    walk(op.selection_set, schema.query_type, 0, False, True, None)
    if not connections:
        user_errors.append(_invalid("Bulk queries must contain at least one connection."))
    if len(connections) > MAX_CONNECTIONS:
        user_errors.append(_invalid(f"Bulk queries cannot contain more than {MAX_CONNECTIONS} connections."))
    if too_deep:
        user_errors.append(
            _invalid(f"Bulk queries cannot contain connections with a nesting depth greater than {MAX_DEPTH}.")
        )
    if via_nodes:
        user_errors.append(
            _invalid(
                "All connection fields in a bulk query must select their contents using 'edges' > 'node', e.g: "
                "'products { edges { node {'. Selecting via 'nodes' is not supported. Invalid connection fields: "
                + ", ".join(f"'{n}'" for n in dict.fromkeys(via_nodes))
                + "."
            )
        )
    if without_id:
        user_errors.append(
            _invalid(
                "The parent 'node' field for a nested connection must select the 'id' field without an alias and must "
                "be of 'ID' return type. Connection fields without 'id': " + ", ".join(dict.fromkeys(without_id)) + "."
            )
        )
    if in_list:
        user_errors.append(
            _invalid("Queries that contain a connection field within a list field are not currently supported.")
        )
    return (None if user_errors else document), user_errors


BULK_MUTATIONS_SUPPORTED = ("metafieldsSet",)
# Shopify's list of mutations bulkOperationRunMutation accepts (shopify.dev, "Bulk import data"), for messages.
BULK_MUTATIONS_SHOPIFY = (
    "collectionCreate", "collectionUpdate", "customerCreate", "customerUpdate", "customerPaymentMethodRemoteCreate",
    "giftCardCreate", "giftCardUpdate", "marketingActivityUpsertExternal", "marketingEngagementCreate",
    "metafieldsSet", "metaobjectUpsert", "priceListFixedPricesAdd", "priceListFixedPricesDelete", "productCreate",
    "productSet", "productUpdate", "productUpdateMedia", "productVariantsBulkCreate", "productVariantsBulkDelete",
    "productVariantsBulkReorder", "productVariantsBulkUpdate", "publishablePublish", "publishableUnpublish",
    "publicationUpdate", "storeCreditAccountCredit",
)  # fmt: skip


def _invalid_mutation(message: str) -> dict[str, Any]:
    return {"field": ["mutation"], "message": message, "code": "INVALID_MUTATION"}


def validate_bulk_mutation(schema: GraphQLSchema, mutation: str) -> tuple[DocumentNode | None, list[dict[str, Any]]]:
    """Parse and check a bulk mutation document; returns (document, userErrors)."""
    try:
        document = parse(mutation)
    except GraphQLSyntaxError as exc:
        return None, [
            _invalid_mutation(f"Failed to parse the mutation - {shopify_errors.syntax_error(exc)['message']}")
        ]
    problems = validate(schema, document)
    if problems:
        return None, [
            _invalid_mutation(f"Invalid mutation: {shopify_errors.validation_error(e, document)['message']}")
            for e in problems
        ]
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].operation.value != "mutation":
        return None, [_invalid_mutation("Bulk mutations must contain exactly one mutation operation.")]
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    roots = [f for f, _ in selected_fields(operations[0].selection_set, fragments, schema.mutation_type, schema)]
    names = {f.name.value for f in roots if f.name.value != "__typename"}
    if len(names) != 1:
        return None, [_invalid_mutation("Bulk mutations must contain exactly one mutation field.")]
    name = names.pop()
    if name not in BULK_MUTATIONS_SHOPIFY:
        return None, [_invalid_mutation("You must use an allowed mutation name.")]
    if name not in BULK_MUTATIONS_SUPPORTED:
        return None, [
            _invalid_mutation(
                f"The Storeloop emulator does not support bulk {name} yet (supported: "
                f"{', '.join(BULK_MUTATIONS_SUPPORTED)})."
            )
        ]
    return document, []
