"""A lean executor for bulk operations, equivalent to `graphql.execute` for the documents bulk queries allow.

Bulk exports resolve hundreds of thousands of fields; graphql-core spends most of that time in bookkeeping (resolve
info, paths, awaitable checks, error collection). This executor uses graphql-core's own pieces for everything that
decides the result (`collect_fields`/`collect_sub_fields` for fragments, aliases and @skip/@include,
`get_argument_values` for arguments, each type's `serialize`) and the emulator's `field_resolver` /
`type_resolver`, but skips the bookkeeping and caches the field plans per type.

It only takes the happy path: any error, or a null in a non-null position, raises `FastPathUnsupported` and the
caller executes the window with graphql-core instead, so results are always what `graphql.execute` returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    Undefined,
    is_abstract_type,
    is_leaf_type,
)
from graphql.execution.collect_fields import collect_fields, collect_sub_fields
from graphql.execution.values import get_argument_values
from graphql.language import FieldNode, FragmentDefinitionNode, OperationDefinitionNode

from .resolvers import ExecContext, field_resolver, type_resolver


class FastPathUnsupported(Exception):
    """The lean executor cannot reproduce graphql-core's result here; use graphql.execute."""


class _Path:
    __slots__ = ("prev",)

    def __init__(self, prev: _Path | None):
        self.prev = prev


_ROOT = _Path(None)
_CHILD = _Path(_ROOT)


class _Holder:
    __slots__ = ("ctx",)

    def __init__(self) -> None:
        self.ctx: ExecContext | None = None


class _Info:
    """The parts of GraphQLResolveInfo the emulator's resolvers read."""

    __slots__ = ("field_name", "parent_type", "return_type", "path", "_holder", "field_nodes")

    def __init__(self, field_name, parent_type, return_type, path, holder, field_nodes):
        self.field_name, self.parent_type, self.return_type = field_name, parent_type, return_type
        self.path, self._holder, self.field_nodes = path, holder, field_nodes

    @property
    def context(self) -> ExecContext:
        return self._holder.ctx


class FastExecutor:
    """Executes one query document (no variables) against the emulator's resolvers."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode):
        self.schema = schema
        ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(ops) != 1 or ops[0].operation.value != "query":
            raise FastPathUnsupported("exactly one query operation is supported")
        self.operation = ops[0]
        if self.operation.variable_definitions:
            raise FastPathUnsupported("variables are not supported")
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self._holder = _Holder()
        self._plans: dict[tuple, list] = {}
        self._completers: dict[int, tuple[Any, Callable]] = {}

    def execute(self, ctx: ExecContext) -> dict[str, Any]:
        self._holder.ctx = ctx
        root = self.schema.query_type
        key = ("<root>",)
        plan = self._plans.get(key)
        if plan is None:
            fields = collect_fields(self.schema, self.fragments, {}, root, self.operation.selection_set)
            plan = self._plans[key] = self._build(root, fields, _ROOT)
        return self._object(root, None, plan)

    def _build(self, type_: GraphQLObjectType, fields: dict[str, list[FieldNode]], path: _Path) -> list:
        plan = []
        for response_key, nodes in fields.items():
            name = nodes[0].name.value
            if name == "__typename":
                plan.append((response_key, None, None, None, None))
                continue
            field_def = type_.fields.get(name)
            if field_def is None:  # introspection (__schema, __type) and friends
                raise FastPathUnsupported(f"field {name} is not supported by the fast path")
            args = get_argument_values(field_def, nodes[0], {})
            info = _Info(name, type_, field_def.type, path, self._holder, nodes)
            plan.append((response_key, nodes, self._completer(field_def.type), args, info))
        return plan

    def _sub_plan(self, type_: GraphQLObjectType, nodes: list[FieldNode]) -> list:
        key = (type_.name, *map(id, nodes))
        plan = self._plans.get(key)
        if plan is None:
            fields = collect_sub_fields(self.schema, self.fragments, {}, type_, nodes)
            plan = self._plans[key] = self._build(type_, fields, _CHILD)
        return plan

    def _object(self, type_: GraphQLObjectType, source: Any, plan: list) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for response_key, nodes, complete, args, info in plan:
            if nodes is None:
                out[response_key] = type_.name
                continue
            try:
                value = field_resolver(source, info, **args)
            except Exception as exc:  # noqa: BLE001 - graphql-core turns these into errors: let it
                raise FastPathUnsupported(str(exc)) from exc
            out[response_key] = complete(nodes, value)
        return out

    def _completer(self, type_: Any) -> Callable[[list[FieldNode], Any], Any]:
        """A function completing values of `type_` like graphql-core's complete_value (cached per type)."""
        key = id(type_)
        done = self._completers.get(key)
        if done is not None:
            return done[1]
        if isinstance(type_, GraphQLNonNull):
            inner = self._completer(type_.of_type)

            def complete(nodes, value):
                result = inner(nodes, value)
                if result is None:
                    raise FastPathUnsupported("null in a non-null position")
                return result

        elif isinstance(type_, GraphQLList):
            inner = self._completer(type_.of_type)

            def complete(nodes, value):
                if value is None or value is Undefined:
                    return None
                return [inner(nodes, item) for item in value]

        elif is_leaf_type(type_):
            serialize = type_.serialize
            # String, ID and the schema's custom scalars (identity serialisers) return a str unchanged.
            passthrough_str = type_.name in ("String", "ID") or (
                isinstance(type_, GraphQLScalarType)
                and type_.name not in ("Int", "Float", "Boolean")
                and serialize is GraphQLScalarType.serialize
            )

            def complete(nodes, value):
                if value is None or value is Undefined:
                    return None
                if passthrough_str and type(value) is str:
                    return value
                try:
                    result = serialize(value)
                except Exception as exc:  # noqa: BLE001
                    raise FastPathUnsupported(str(exc)) from exc
                if result is Undefined or result is None:
                    raise FastPathUnsupported("leaf serialised to nothing")
                return result

        elif is_abstract_type(type_):
            abstract = type_

            def complete(nodes, value):
                if value is None or value is Undefined:
                    return None
                name = type_resolver(value, None, abstract)
                runtime = self.schema.get_type(name) if name else None
                if not isinstance(runtime, GraphQLObjectType) or not self.schema.is_sub_type(abstract, runtime):
                    raise FastPathUnsupported(f"cannot resolve the runtime type of {abstract.name}")
                return self._object(runtime, value, self._sub_plan(runtime, nodes))

        else:
            object_type = type_

            def complete(nodes, value):
                if value is None or value is Undefined:
                    return None
                return self._object(object_type, value, self._sub_plan(object_type, nodes))

        self._completers[key] = (type_, complete)  # keep type_ alive so its id stays unique
        return complete
