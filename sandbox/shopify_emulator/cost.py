"""Shopify's calculated query cost and the leaky bucket that throttles on it.

Rules (shopify.dev, "GraphQL Admin API rate limits"): scalars and enums cost 0, objects 1, a connection 2 plus
`first`/`last` times the cost of one of its nodes, interfaces and unions the maximum of their possible selections,
mutations 10. `requestedQueryCost` is computed statically before execution and must fit in the bucket; afterwards
the difference to `actualQueryCost` (the same rules applied to what was actually returned) is refunded.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
    is_leaf_type,
)
from graphql.language import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)
from graphql.utilities import value_from_ast_untyped

MUTATION_COST = 10
PAGINATION_MESSAGE = "you must provide one of first or last"


def is_connection_type(type_: Any) -> bool:
    named = get_named_type(type_)
    return (
        isinstance(named, GraphQLObjectType)
        and named.name.endswith("Connection")
        and ("edges" in named.fields or "nodes" in named.fields)
    )


def _arg(field: FieldNode, name: str, variables: dict[str, Any]) -> Any:
    for arg in field.arguments or ():
        if arg.name.value == name:
            if isinstance(arg.value, VariableNode):
                return variables.get(arg.value.name.value)
            return value_from_ast_untyped(arg.value, variables)
    return None


@dataclass
class CostContext:
    schema: GraphQLSchema
    fragments: dict[str, FragmentDefinitionNode]
    variables: dict[str, Any]
    bulk: bool = False


def _fields_by_condition(selection_set: SelectionSetNode | None, ctx: CostContext, out=None, cond: str | None = None):
    """Flatten a selection set into {type condition or None: [FieldNode, ...]}."""
    out = {} if out is None else out
    for sel in selection_set.selections if selection_set else ():
        if isinstance(sel, FieldNode):
            out.setdefault(cond, []).append(sel)
        elif isinstance(sel, InlineFragmentNode):
            c = sel.type_condition.name.value if sel.type_condition else cond
            _fields_by_condition(sel.selection_set, ctx, out, c)
        elif isinstance(sel, FragmentSpreadNode):
            frag = ctx.fragments.get(sel.name.value)
            if frag is not None:
                _fields_by_condition(frag.selection_set, ctx, out, frag.type_condition.name.value)
    return out


def _children_cost(selection_set: SelectionSetNode | None, parent: Any, ctx: CostContext) -> int:
    groups = _fields_by_condition(selection_set, ctx)
    direct = sum(_field_cost(f, parent, ctx) for f in groups.pop(None, []))
    if isinstance(parent, GraphQLObjectType):
        # Fragments on the object's own type (or its interfaces) simply add up.
        return direct + sum(_field_cost(f, parent, ctx) for fields in groups.values() for f in fields)
    best = 0
    for cond, fields in groups.items():
        cond_type = ctx.schema.get_type(cond) if cond else parent
        best = max(best, sum(_field_cost(f, cond_type or parent, ctx) for f in fields))
    return direct + best


def _field_def(parent: Any, name: str):
    fields = getattr(parent, "fields", None)
    return fields.get(name) if fields else None


def _field_cost(field: FieldNode, parent: Any, ctx: CostContext) -> int:
    name = field.name.value
    if name.startswith("__"):
        return 0
    fdef = _field_def(parent, name)
    if fdef is None:
        return 0
    named = get_named_type(fdef.type)
    if is_leaf_type(named):
        return 0
    if is_connection_type(fdef.type):
        n = _arg(field, "first", ctx.variables)
        if n is None:
            n = _arg(field, "last", ctx.variables)
        per_item = _connection_item_cost(field, named, ctx)
        return 2 + int(n or 0) * per_item
    if name == "nodes" and isinstance(fdef.type, (GraphQLList, GraphQLNonNull)):
        ids = _arg(field, "ids", ctx.variables) or []
        return len(ids) * (1 + _children_cost(field.selection_set, named, ctx))
    return 1 + _children_cost(field.selection_set, named, ctx)


def _connection_item_cost(field: FieldNode, connection: GraphQLObjectType, ctx: CostContext) -> int:
    best = 0
    groups = _fields_by_condition(field.selection_set, ctx)
    for sub in (f for fields in groups.values() for f in fields):
        if sub.name.value == "edges":
            edge_type = get_named_type(connection.fields["edges"].type)
            for node_field in (f for fs in _fields_by_condition(sub.selection_set, ctx).values() for f in fs):
                if node_field.name.value == "node":
                    node_type = get_named_type(edge_type.fields["node"].type)
                    best = max(best, 1 + _children_cost(node_field.selection_set, node_type, ctx))
        elif sub.name.value == "nodes":
            node_type = get_named_type(connection.fields["nodes"].type)
            best = max(best, 1 + _children_cost(sub.selection_set, node_type, ctx))
    return best


def requested_cost(operation: OperationDefinitionNode, ctx: CostContext) -> int:
    if operation.operation.value == "mutation":
        groups = _fields_by_condition(operation.selection_set, ctx)
        return MUTATION_COST * sum(1 for fields in groups.values() for f in fields if not f.name.value.startswith("__"))
    root = ctx.schema.query_type
    return _children_cost(operation.selection_set, root, ctx)


def pagination_errors(operation: OperationDefinitionNode, ctx: CostContext) -> list[dict[str, Any]]:
    """Connections outside bulk operations need `first` or `last` (Shopify: 'you must provide one of first or
    last')."""
    errors: list[dict[str, Any]] = []
    if operation.operation.value != "query":
        return errors

    def walk(selection_set: SelectionSetNode | None, parent: Any, path: list[str]) -> None:
        groups = _fields_by_condition(selection_set, ctx)
        for cond, fields in groups.items():
            ptype = (ctx.schema.get_type(cond) if cond else parent) or parent
            for f in fields:
                fdef = _field_def(ptype, f.name.value)
                if fdef is None:
                    continue
                key = (f.alias or f.name).value
                if is_connection_type(fdef.type) and "first" in fdef.args:
                    if _arg(f, "first", ctx.variables) is None and _arg(f, "last", ctx.variables) is None:
                        loc = f.loc.source.get_location(f.loc.start) if f.loc else None
                        err: dict[str, Any] = {"message": PAGINATION_MESSAGE}
                        if loc:
                            err["locations"] = [{"line": loc.line, "column": loc.column}]
                        err["path"] = [*path, key]
                        errors.append(err)
                walk(f.selection_set, get_named_type(fdef.type), [*path, key])

    walk(operation.selection_set, ctx.schema.query_type, [])
    return errors


def actual_cost(operation: OperationDefinitionNode, ctx: CostContext, data: dict[str, Any] | None) -> int:
    """The cost of what was returned: connections count their real number of nodes, null objects cost nothing."""
    if operation.operation.value == "mutation":
        return requested_cost(operation, ctx)
    if not data:
        return 0
    return _actual_children(operation.selection_set, ctx.schema.query_type, data, ctx)


def _actual_children(selection_set: SelectionSetNode | None, parent: Any, value: dict, ctx: CostContext) -> int:
    total = 0
    for cond, fields in _fields_by_condition(selection_set, ctx).items():
        ptype = (ctx.schema.get_type(cond) if cond else parent) or parent
        for f in fields:
            key = (f.alias or f.name).value
            if key not in value or f.name.value.startswith("__"):
                continue
            fdef = _field_def(ptype, f.name.value)
            if fdef is None:
                continue
            total += _actual_field(f, fdef.type, value[key], ctx)
    return total


def _actual_field(field: FieldNode, type_: Any, value: Any, ctx: CostContext) -> int:
    named = get_named_type(type_)
    if is_leaf_type(named) or value is None:
        return 0
    if is_connection_type(type_):
        best = 0
        for sub in (f for fs in _fields_by_condition(field.selection_set, ctx).values() for f in fs):
            key = (sub.alias or sub.name).value
            items = value.get(key) if isinstance(value, dict) else None
            if not items:
                continue
            if sub.name.value == "edges":
                node_fields = [
                    f
                    for fs in _fields_by_condition(sub.selection_set, ctx).values()
                    for f in fs
                    if f.name.value == "node"
                ]
                node_type = named.fields["edges"].type
                cost = 0
                for edge in items:
                    for nf in node_fields:
                        nkey = (nf.alias or nf.name).value
                        node = edge.get(nkey) if edge else None
                        if node is not None:
                            cost += 1 + _actual_children(
                                nf.selection_set,
                                get_named_type(get_named_type(node_type).fields["node"].type),
                                node,
                                ctx,
                            )
                best = max(best, cost)
            elif sub.name.value == "nodes":
                node_type = get_named_type(named.fields["nodes"].type)
                best = max(
                    best,
                    sum(1 + _actual_children(sub.selection_set, node_type, n, ctx) for n in items if n is not None),
                )
        return 2 + best
    if isinstance(value, list):
        return sum(_actual_field(field, named, v, ctx) for v in value)
    if isinstance(named, (GraphQLObjectType, GraphQLInterfaceType, GraphQLUnionType)) and isinstance(value, dict):
        return 1 + _actual_children(field.selection_set, named, value, ctx)
    return 0


class LeakyBucket:
    """Shopify's cost bucket: holds `maximum` points, refills `restore_rate` points per second."""

    def __init__(self, maximum: float = 2000.0, restore_rate: float = 100.0, clock=time.monotonic):
        if maximum <= 0 or restore_rate < 0:
            raise ValueError("bucket maximum must be > 0 and restore rate >= 0")
        self.maximum = float(maximum)
        self.restore_rate = float(restore_rate)
        self._clock = clock
        self._available = float(maximum)
        self._stamp = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._available = min(self.maximum, self._available + (now - self._stamp) * self.restore_rate)
        self._stamp = now

    def try_take(self, cost: float) -> bool:
        """Take `cost` points if available (then True); else leave the bucket as it is (False)."""
        with self._lock:
            self._refill()
            if cost > self._available:
                return False
            self._available -= cost
            return True

    def refund(self, points: float) -> None:
        if points <= 0:
            return
        with self._lock:
            self._refill()
            self._available = min(self.maximum, self._available + points)

    def status(self) -> dict[str, Any]:
        with self._lock:
            self._refill()
            return {
                "maximumAvailable": self.maximum,
                "currentlyAvailable": int(self._available),
                "restoreRate": self.restore_rate,
            }
