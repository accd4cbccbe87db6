"""graphql-core resolution over the store.

The introspected schema has no resolvers: `field_resolver` dispatches on (parent type, field) to the functions in
`RESOLVERS`, otherwise reads the record dict by field name; fields the emulator does not model return an empty
value of their type (null, "", 0, false, [] or an empty connection), so any valid document executes.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLScalarType,
)

from .bulk.operations import BulkOperationRecord, bulk_operation_record
from .cost import is_connection_type
from .definitions import OWNER_KIND_OF_TYPE, MetafieldDefinition, definition_record
from .metafields import Metafield, metafield_record, resolve_namespace
from .records import Catalogue, Lazy, Table
from .scalars import parse_gid
from .store import Store

INVALID_CURSOR = "Invalid cursor for current pagination sort."


@dataclass
class ExecContext:
    """Per-request execution context (graphql-core's `context_value`)."""

    store: Store
    base_url: str
    bulk: bool = False
    # Bulk runs page through the root connection in windows [start, stop) to stream the output.
    bulk_window: tuple[int, int] | None = None
    root_total: int = 0
    mutations: dict[str, Callable[..., Any]] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------- connections


class Connection:
    """A page of a connection; `edges`, `nodes` and `pageInfo` are built only when selected."""

    __slots__ = ("items", "build", "cursor_of", "has_next", "has_prev")

    def __init__(
        self,
        items: Sequence[Any],
        build: Callable[[Any], Any],
        cursor_of: Callable[[Any], str],
        has_next: bool,
        has_prev: bool,
    ):
        self.items, self.build, self.cursor_of = items, build, cursor_of
        self.has_next, self.has_prev = has_next, has_prev

    def resolve(self, name: str) -> Any:
        if name == "edges":
            return [Edge(self, it) for it in self.items]
        if name == "nodes":
            return [self.build(it) for it in self.items]
        if name == "pageInfo":
            return {
                "hasNextPage": self.has_next,
                "hasPreviousPage": self.has_prev,
                "startCursor": self.cursor_of(self.items[0]) if self.items else None,
                "endCursor": self.cursor_of(self.items[-1]) if self.items else None,
            }
        return None


class Edge:
    """One edge of a Connection: the cursor and the node are built only when selected."""

    __slots__ = ("conn", "item")

    def __init__(self, conn: Connection, item: Any):
        self.conn, self.item = conn, item

    def resolve(self, name: str) -> Any:
        if name == "node":
            return self.conn.build(self.item)
        if name == "cursor":
            return self.conn.cursor_of(self.item)
        return None


def encode_cursor(last_id: int, last_value: Any = None) -> str:
    payload = {"last_id": last_id, "last_value": last_id if last_value is None else last_value}
    return base64.b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        return int(json.loads(base64.b64decode(cursor.encode(), validate=True))["last_id"])
    except Exception as exc:  # noqa: BLE001 - any malformed cursor is the client's error
        raise GraphQLError(INVALID_CURSOR) from exc


def paginate(
    info: GraphQLResolveInfo,
    items: Sequence[Any],
    build: Callable[[Any], Any],
    num_of: Callable[[Any], int],
    args: dict[str, Any],
    sort_value: Callable[[Any], Any] | None = None,
) -> Connection:
    """Shopify cursor pagination (first/after/last/before/reverse) over `items` in their sort order."""
    ctx: ExecContext = info.context
    if args.get("reverse"):
        items = list(reversed(items))

    def cursor_of(it: Any) -> str:
        return encode_cursor(num_of(it), sort_value(it) if sort_value else None)

    if ctx.bulk:
        if info.path.prev is None and ctx.bulk_window is not None:
            ctx.root_total = len(items)
            start, stop = ctx.bulk_window
            return Connection(items[start:stop], build, cursor_of, stop < len(items), start > 0)
        return Connection(items, build, cursor_of, False, False)

    lo, hi = 0, len(items)
    after, before = args.get("after"), args.get("before")
    if after or before:
        position = {num_of(it): k for k, it in enumerate(items)}
        if after:
            k = position.get(decode_cursor(after))
            if k is None:
                raise GraphQLError(INVALID_CURSOR)
            lo = k + 1
        if before:
            k = position.get(decode_cursor(before))
            if k is None:
                raise GraphQLError(INVALID_CURSOR)
            hi = k
    first, last = args.get("first"), args.get("last")
    for name, value in (("first", first), ("last", last)):
        if value is not None and value < 0:
            raise GraphQLError(f"{name} must be greater than or equal to 0")
    if first is not None:
        page = items[lo : min(hi, lo + first)]
        has_next, has_prev = lo + first < hi, lo > 0
    elif last is not None:
        start = max(lo, hi - last)
        page = items[start:hi]
        has_next, has_prev = hi < len(items), start > lo
    else:  # only reachable when a caller skipped the first/last check
        page, has_next, has_prev = items[lo:hi], False, lo > 0
    return Connection(page, build, cursor_of, has_next, has_prev)


# ------------------------------------------------------------------------------------------------- search syntax

_TERM = re.compile(r"""(?P<neg>-)?(?P<field>[a-z_]+):(?P<op>>=|<=|>|<|=)?(?P<value>'[^']*'|"[^"]*"|\S+)""")
_TIME_FIELDS = {"created_at", "updated_at", "processed_at", "published_at"}


def _normalise_time(value: str) -> str:
    v = value.strip()
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return v
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def search_filter(query: str | None, columns: dict[str, list], allowed: dict[str, str]) -> Callable[[int], bool] | None:
    """A small subset of Shopify's search syntax: `field:value`, `field:>value` (>, >=, <, <=), `-field:value`,
    terms joined by spaces or AND. `allowed` maps search fields to column names; other terms are ignored."""
    if not query:
        return None
    tests: list[Callable[[int], bool]] = []
    for m in _TERM.finditer(query):
        name = m["field"]
        if name not in allowed:
            continue
        col = columns[allowed[name]]
        value = m["value"].strip("'\"")
        op = m["op"] or "="
        neg = bool(m["neg"])
        if name in _TIME_FIELDS:
            value = _normalise_time(value)
        else:
            value = value.lower()

        def test(i: int, col=col, value=value, op=op, neg=neg, timey=name in _TIME_FIELDS) -> bool:
            v = col[i]
            if v is None:
                return neg
            want = value
            v = v if timey else str(v).lower()
            if isinstance(v, str) and v.startswith("gid://"):
                v = v.rsplit("/", 1)[1]
            if not timey and v.isdigit() and want.isdigit():  # ids compare as numbers
                v, want = int(v), int(want)
            if op == "=":
                ok = v == want or (isinstance(want, str) and want.endswith("*") and v.startswith(want[:-1]))
            elif op == ">":
                ok = v > want
            elif op == ">=":
                ok = v >= want
            elif op == "<":
                ok = v < want
            else:
                ok = v <= want
            return ok != neg

        tests.append(test)
    if not tests:
        return None
    return lambda i: all(t(i) for t in tests)


_SEARCH_FIELDS = {
    "products": {
        "created_at": "created_at",
        "updated_at": "updated_at",
        "published_at": "published_at",
        "status": "status",
        "product_type": "product_type",
        "vendor": "vendor",
        "handle": "handle",
        "title": "title",
        "id": "product_id",
    },
    "customers": {
        "created_at": "created_at",
        "updated_at": "updated_at",
        "email": "email",
        "state": "state",
        "id": "customer_id",
    },
    "orders": {
        "created_at": "created_at",
        "updated_at": "updated_at",
        "processed_at": "processed_at",
        "financial_status": "financial_status",
        "fulfillment_status": "fulfillment_status",
        "email": "email",
        "name": "name",
        "id": "order_id",
        "customer_id": "customer_id",
    },
}
_SORT_COLUMNS = {
    "CREATED_AT": "created_at",
    "UPDATED_AT": "updated_at",
    "PROCESSED_AT": "processed_at",
    "TITLE": "title",
    "NAME": "name",
    "PRODUCT_TYPE": "product_type",
    "VENDOR": "vendor",
    "ORDER_NUMBER": "name",
}


def _root_connection(kind: str, table_attr: str, builder: str):
    def resolve(store: Store, _source: Any, info: GraphQLResolveInfo, args: dict[str, Any]) -> Connection:
        table = getattr(store.catalogue, table_attr)
        rows: Sequence[int] = range(len(table))
        keep = search_filter(args.get("query"), table.cols, _SEARCH_FIELDS[kind])
        if keep is not None:
            rows = [i for i in rows if keep(i)]
        sort_col = _SORT_COLUMNS.get(str(args.get("sortKey") or "ID"))
        sort_value = None
        if sort_col and sort_col in table.cols:
            col = table.cols[sort_col]
            if sort_col == "name" and kind == "orders":
                rows = sorted(rows, key=lambda i: int(col[i].lstrip("#")))
            else:
                rows = sorted(rows, key=lambda i: (col[i] is None, col[i] or "", i))
            sort_value = lambda i: col[i]  # noqa: E731
        build = getattr(store.catalogue, builder)
        return paginate(info, rows, build, lambda i: table.nums[i], args, sort_value)

    return resolve


def _child_connection(rows_of: Callable[[Catalogue, dict], list[int]], table_attr: str, builder: str):
    def resolve(store: Store, source: dict, info: GraphQLResolveInfo, args: dict[str, Any]) -> Connection:
        table = getattr(store.catalogue, table_attr)
        build = getattr(store.catalogue, builder)
        return paginate(info, rows_of(store.catalogue, source), build, lambda i: table.nums[i], args)

    return resolve


# --------------------------------------------------------------------------------------------------- metafields


def _metafield_connection(store: Store, source: dict, info: GraphQLResolveInfo, args: dict[str, Any]) -> Connection:
    mfs = store.metafields.of_owner(source["id"], args.get("namespace"), args.get("keys"))
    return paginate(info, mfs, metafield_record, lambda mf: mf.num, args)


def _metafield_single(store: Store, source: dict, _info: GraphQLResolveInfo, args: dict[str, Any]):
    namespace = args.get("namespace")
    key = args.get("key", "")
    if namespace is None and "." in key:
        namespace, key = key.split(".", 1)
    mf = store.metafields.get(source["id"], namespace or "", key)
    return None if mf is None else metafield_record(mf)


def _metafield_json(_store: Store, source: dict, _info, _args) -> Any:
    mf: Metafield = source["_mf"]
    t = mf.type
    try:
        if t.startswith("list.") or t in ("json", "money", "dimension", "volume", "weight", "rating", "link"):
            return json.loads(mf.value)
        if t == "number_integer":
            return int(mf.value)
        if t == "number_decimal":
            return mf.value
        if t == "boolean":
            return mf.value == "true"
    except ValueError:
        return mf.value
    return mf.value


def _metafield_reference(store: Store, source: dict, _info, _args) -> Any:
    mf: Metafield = source["_mf"]
    if mf.type.startswith("list.") or not mf.type.endswith("_reference"):
        return None
    return store.node(mf.value)


def _metafield_references(store: Store, source: dict, info: GraphQLResolveInfo, args: dict[str, Any]):
    mf: Metafield = source["_mf"]
    if not (mf.type.startswith("list.") and mf.type.endswith("_reference")):
        return None
    try:
        gids = [g for g in json.loads(mf.value) if isinstance(g, str)]
    except ValueError:
        gids = []
    records = [r for r in (store.node(g) for g in gids) if r is not None]
    return paginate(info, records, lambda r: r, lambda r: parse_gid(r["id"])[1], args)


def _metafield_owner(store: Store, source: dict, _info, _args) -> Any:
    return store.node(source["_mf"].owner_id)


def _metafield_definition(store: Store, source: dict, _info, _args) -> Any:
    mf: Metafield = source["_mf"]
    d = store.definitions.get(source["ownerType"], mf.namespace, mf.key)
    return None if d is None else definition_record(d)


# ------------------------------------------------------------------------------------------ metafield definitions

_DEFINITION_SORTS = {
    "NAME": lambda d: (d.name.lower(), d.num),
    "PINNED_POSITION": lambda d: (d.pinned_position is None, -(d.pinned_position or 0), d.num),
}


def _metafield_definitions(store: Store, _source: Any, info: GraphQLResolveInfo, args: dict[str, Any]) -> Connection:
    """`metafieldDefinitions(ownerType:, namespace:, key:, pinnedStatus:, sortKey:, first/after/…)`; `query`,
    `constraintSubtype` and `constraintStatus` are not modelled (ignored)."""
    found = store.definitions.of_owner_type(str(args.get("ownerType")))
    namespace, key = args.get("namespace"), args.get("key")
    if namespace is not None:
        namespace = resolve_namespace(namespace)
        found = [d for d in found if d.namespace == namespace]
    if key is not None:
        found = [d for d in found if d.key == key]
    pinned = str(args.get("pinnedStatus") or "ANY")
    if pinned != "ANY":
        found = [d for d in found if (d.pinned_position is not None) == (pinned == "PINNED")]
    sort = _DEFINITION_SORTS.get(str(args.get("sortKey") or "ID"))
    if sort is not None:
        found = sorted(found, key=sort)
    return paginate(info, found, definition_record, lambda d: d.num, args)


def _definition_metafields(store: Store, source: dict) -> list[Metafield]:
    d: MetafieldDefinition = source["_def"]
    kind = OWNER_KIND_OF_TYPE.get(d.owner_type)
    return [] if kind is None else store.metafields.matching(kind, d.namespace, d.key)


def _metafield_definition_by_id(store: Store, _source: Any, _info, args: dict[str, Any]) -> Any:
    parsed = parse_gid(args.get("id"))
    return store.node(args["id"]) if parsed is not None and parsed[0] == "MetafieldDefinition" else None


# ------------------------------------------------------------------------------------------------ bulk operation


def _bulk_field(name: str):
    def resolve(store: Store, source: dict, info: GraphQLResolveInfo, _args) -> Any:
        op: BulkOperationRecord = source["_op"]
        ctx: ExecContext = info.context
        if name == "url":
            if op.status != "COMPLETED" or not op.file_name or not op.object_count:
                return None
            return f"{ctx.base_url}/_sandbox/bulk/{op.num}.jsonl"
        if name == "partialDataUrl":
            if op.status != "FAILED" or not op.file_name or not op.object_count:
                return None
            return f"{ctx.base_url}/_sandbox/bulk/{op.num}.jsonl"
        return {
            "status": op.status,
            "type": op.type,
            "query": op.query,
            "createdAt": op.created_at,
            "completedAt": op.completed_at,
            "objectCount": str(op.object_count),
            "rootObjectCount": str(op.root_object_count),
            "fileSize": None if op.file_size is None else str(op.file_size),
            "errorCode": op.error_code,
        }[name]

    return resolve


# --------------------------------------------------------------------------------------------------- root fields


def _by_id(kind: str):
    def resolve(store: Store, _source: Any, _info, args: dict[str, Any]) -> Any:
        parsed = parse_gid(args.get("id"))
        if parsed is None or parsed[0] != kind:
            return None
        return store.node(args["id"])

    return resolve


def _product_by_identifier(store: Store, _source: Any, _info, args: dict[str, Any]) -> Any:
    """`productByIdentifier(identifier: ProductIdentifierInput!)`: a product by `id` or by `handle`, null when there
    is none. Exactly one of the input's fields must be given (the emulator's rule: Shopify's documentation does not
    say what it does with several); `customId` (a unique `id`-type metafield) is not modelled."""
    identifier = args.get("identifier") or {}
    given = sorted(k for k, v in identifier.items() if v is not None)
    if given == ["customId"]:
        raise GraphQLError("The Storeloop Shopify emulator does not implement productByIdentifier(identifier: "
                           "{customId: ...}) yet: look products up by id or handle.")
    if len(given) != 1:
        raise GraphQLError("productByIdentifier needs exactly one of id, handle or customId in its identifier"
                           f" (got {', '.join(given) or 'none'}).")
    if given == ["id"]:
        return _by_id("Product")(store, _source, _info, identifier)
    catalogue = store.catalogue
    row = catalogue.product_row_by_handle(identifier["handle"])
    return None if row is None else catalogue.product(row)


def _row_record(catalogue: Catalogue, table: Table, gid: str | None) -> dict[str, Any] | None:
    row = table.index.get(gid) if gid else None
    return None if row is None else catalogue.record(table.gid_type, row)


def _last_order(catalogue: Catalogue, customer_row: int) -> dict[str, Any] | None:
    rows = catalogue.customer_orders[customer_row]
    return catalogue.order(rows[-1]) if rows else None


def _order_customer(catalogue: Catalogue, order_row: int) -> dict[str, Any] | None:
    customer_id = catalogue.orders.cols["customer_id"][order_row]
    return None if customer_id is None else catalogue.customer(catalogue.customers.index[customer_id])


def _current_bulk(store: Store, _source: Any, _info, args: dict[str, Any]) -> Any:
    op = store.bulk_operations.current(str(args.get("type") or "QUERY"))
    return None if op is None else bulk_operation_record(op)


def _mutation(name: str):
    def resolve(store: Store, _source: Any, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
        handler = info.context.mutations.get(name)
        if handler is None:
            raise GraphQLError(f"The Storeloop Shopify emulator does not implement the mutation '{name}' yet.")
        return handler(store, info, args)

    return resolve


RESOLVERS: dict[tuple[str, str], Callable[[Store, Any, GraphQLResolveInfo, dict[str, Any]], Any]] = {
    ("QueryRoot", "products"): _root_connection("products", "products", "product"),
    ("QueryRoot", "customers"): _root_connection("customers", "customers", "customer"),
    ("QueryRoot", "orders"): _root_connection("orders", "orders", "order"),
    ("QueryRoot", "productVariants"): lambda s, src, info, a: paginate(
        info, range(len(s.catalogue.variants)), s.catalogue.variant, lambda i: s.catalogue.variants.nums[i], a
    ),
    ("QueryRoot", "product"): _by_id("Product"),
    ("QueryRoot", "productByIdentifier"): _product_by_identifier,
    ("QueryRoot", "productVariant"): _by_id("ProductVariant"),
    ("QueryRoot", "customer"): _by_id("Customer"),
    ("QueryRoot", "order"): _by_id("Order"),
    ("QueryRoot", "node"): lambda s, src, info, a: s.node(a.get("id")),
    ("QueryRoot", "nodes"): lambda s, src, info, a: [s.node(g) for g in a.get("ids") or []],
    ("QueryRoot", "currentBulkOperation"): _current_bulk,
    ("QueryRoot", "shop"): lambda s, src, info, a: s.shop(),
    ("QueryRoot", "metafieldDefinitions"): _metafield_definitions,
    ("QueryRoot", "metafieldDefinition"): _metafield_definition_by_id,
    ("MetafieldDefinition", "metafields"): lambda s, src, info, a: paginate(
        info, _definition_metafields(s, src), metafield_record, lambda mf: mf.num, a
    ),
    ("MetafieldDefinition", "metafieldsCount"): lambda s, src, info, a: len(_definition_metafields(s, src)),
    ("Product", "variants"): _child_connection(lambda c, src: c.product_variants[src["_row"]], "variants", "variant"),
    ("Product", "metafield"): _metafield_single,
    ("Product", "metafields"): _metafield_connection,
    ("ProductVariant", "product"): lambda s, src, info, a: s.catalogue.product(src["_product_row"]),
    ("ProductVariant", "metafield"): _metafield_single,
    ("ProductVariant", "metafields"): _metafield_connection,
    ("Customer", "orders"): _child_connection(lambda c, src: c.customer_orders[src["_row"]], "orders", "order"),
    ("Customer", "metafield"): _metafield_single,
    ("Customer", "metafields"): _metafield_connection,
    ("Customer", "lastOrder"): lambda s, src, info, a: _last_order(s.catalogue, src["_row"]),
    ("Order", "customer"): lambda s, src, info, a: _order_customer(s.catalogue, src["_row"]),
    ("Order", "lineItems"): _child_connection(lambda c, src: c.order_lines[src["_row"]], "line_items", "line_item"),
    ("Order", "metafield"): _metafield_single,
    ("Order", "metafields"): _metafield_connection,
    ("LineItem", "product"): lambda s, src, info, a: _row_record(
        s.catalogue, s.catalogue.products, s.catalogue.line_items.cols["product_id"][src["_row"]]
    ),
    ("LineItem", "variant"): lambda s, src, info, a: _row_record(
        s.catalogue, s.catalogue.variants, s.catalogue.line_items.cols["variant_id"][src["_row"]]
    ),
    ("Metafield", "jsonValue"): _metafield_json,
    ("Metafield", "reference"): _metafield_reference,
    ("Metafield", "references"): _metafield_references,
    ("Metafield", "owner"): _metafield_owner,
    ("Metafield", "definition"): _metafield_definition,
    ("Mutation", "metafieldsSet"): _mutation("metafieldsSet"),
    ("Mutation", "metafieldsDelete"): _mutation("metafieldsDelete"),
    ("Mutation", "metafieldDefinitionCreate"): _mutation("metafieldDefinitionCreate"),
    ("Mutation", "bulkOperationRunQuery"): _mutation("bulkOperationRunQuery"),
    ("Mutation", "bulkOperationCancel"): _mutation("bulkOperationCancel"),
    ("Mutation", "stagedUploadsCreate"): _mutation("stagedUploadsCreate"),
    ("Mutation", "bulkOperationRunMutation"): _mutation("bulkOperationRunMutation"),
}
for _name in (
    "status",
    "type",
    "query",
    "createdAt",
    "completedAt",
    "objectCount",
    "rootObjectCount",
    "fileSize",
    "errorCode",
    "url",
    "partialDataUrl",
):
    RESOLVERS[("BulkOperation", _name)] = _bulk_field(_name)


# ----------------------------------------------------------------------------------------------------- defaults

_SCALAR_DEFAULTS = {
    "String": "",
    "ID": "",
    "Boolean": False,
    "Int": 0,
    "Float": 0.0,
    "Decimal": "0.0",
    "Money": "0.00",
    "UnsignedInt64": "0",
    "DateTime": "1970-01-01T00:00:00Z",
    "Date": "1970-01-01",
    "URL": "",
    "HTML": "",
    "FormattedString": "",
    "JSON": {},
    "Color": "#000000",
    "UtcOffset": "+00:00",
    "ARN": "",
    "BigInt": "0",
    "StorefrontID": "",
}


def default_for(type_: Any, info: GraphQLResolveInfo | None = None) -> Any:
    """The emptiest valid value of a type: null when nullable, else "", 0, false, [], an empty connection..."""
    if not isinstance(type_, GraphQLNonNull):
        return None
    inner = type_.of_type
    if isinstance(inner, GraphQLList):
        return []
    if isinstance(inner, GraphQLScalarType):
        return _SCALAR_DEFAULTS.get(inner.name, "")
    if isinstance(inner, GraphQLEnumType):
        return next(iter(inner.values))
    if is_connection_type(inner):
        return Connection([], lambda x: x, lambda x: "", False, False)
    if isinstance(inner, GraphQLObjectType):
        return {"__typename": inner.name}
    return None


def field_resolver(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
    cls = type(source)
    if cls is Edge or cls is Connection:
        return source.resolve(info.field_name)
    fn = RESOLVERS.get((info.parent_type.name, info.field_name))
    if fn is not None:
        return fn(info.context.store, source, info, args)
    if isinstance(source, dict):
        try:
            value = source[info.field_name]
        except KeyError:
            return default_for(info.return_type, info)
        return value() if type(value) is Lazy else value
    return getattr(source, info.field_name, None)


def type_resolver(value: Any, info: GraphQLResolveInfo, abstract_type: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("__typename")
    return None
