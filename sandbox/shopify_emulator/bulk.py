"""Bulk query operations: validation of the inner query, a background runner and Shopify's JSONL layout.

The JSONL layout (shopify.dev, "Perform bulk operations"): one line per node of every connection; the nodes of a
nested connection get their own lines, each with `"__parentId"` (the id of the node that owns the connection) as
its last key, written after their parent; nested connections are removed from the parent's line; plain nested
objects (`customer { id }`, `totalPriceSet { shopMoney { ... } }`) stay inline. Connections are not paginated.

Bulk mutations (`bulkOperationRunMutation`) run the mutation once per line of the staged JSONL file, the line being
its variables, and write one result line per input line: `{"data": {...}, "__lineNumber": N}` (N zero-based, an
`"errors"` key when that line's execution failed). Supported: `metafieldsSet`.

The runner executes the query with graphql-core, windowed over the root connection (`BULK_WINDOW` root nodes at a
time) so output is streamed and `objectCount` grows while the operation is RUNNING.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    GraphQLSyntaxError,
    execute,
    get_named_type,
    is_leaf_type,
    parse,
    validate,
)
from graphql.language import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

from . import errors as shopify_errors
from .cost import is_connection_type
from .fastexec import FastExecutor, FastPathUnsupported
from .faults import Faults
from .resolvers import ExecContext, field_resolver, type_resolver
from .store import BULK_ACTIVE, BulkOperationRecord, Store, now_iso

log = logging.getLogger("sandbox.shopify_emulator")

BULK_WINDOW = 500
MAX_CONNECTIONS = 5
MAX_DEPTH = 2


def _invalid(message: str) -> dict[str, Any]:
    return {"field": ["query"], "message": message, "code": "INVALID"}


def _fields(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    parent: Any,
    schema: GraphQLSchema,
) -> list[tuple[FieldNode, Any]]:
    """(field node, type it is selected on) for a selection set, fragments flattened."""
    out: list[tuple[FieldNode, Any]] = []
    for sel in selection_set.selections if selection_set else ():
        if isinstance(sel, FieldNode):
            out.append((sel, parent))
        elif isinstance(sel, InlineFragmentNode):
            t = schema.get_type(sel.type_condition.name.value) if sel.type_condition else parent
            out.extend(_fields(sel.selection_set, fragments, t or parent, schema))
        elif isinstance(sel, FragmentSpreadNode):
            frag = fragments.get(sel.name.value)
            if frag is not None:
                t = schema.get_type(frag.type_condition.name.value) or parent
                out.extend(_fields(frag.selection_set, fragments, t, schema))
    return out


def _field_type(parent: Any, name: str) -> Any:
    fields = getattr(parent, "fields", None) or {}
    fdef = fields.get(name)
    return None if fdef is None else fdef.type


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
    root_fields = _fields(op.selection_set, fragments, schema.query_type, schema)
    if any(f.name.value == "node" for f, _ in root_fields):
        user_errors.append(_invalid("Bulk queries cannot contain a top level `node` field."))

    connections: list[str] = []
    via_nodes: list[str] = []
    without_id: list[str] = []
    too_deep = False
    in_list = False

    def walk(selection_set, parent, depth: int, inside_list: bool, owner_has_id: bool, owner_name: str | None):
        nonlocal too_deep, in_list
        for f, ptype in _fields(selection_set, fragments, parent, schema):
            ftype = _field_type(ptype, f.name.value)
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
                subs = _fields(f.selection_set, fragments, named, schema)
                if any(s.name.value == "nodes" for s, _ in subs):
                    via_nodes.append(f.name.value)
                for edges, etype in subs:
                    if edges.name.value != "edges":
                        continue
                    edge_type = get_named_type(_field_type(etype, "edges"))
                    for node, ntype in _fields(edges.selection_set, fragments, edge_type, schema):
                        if node.name.value != "node":
                            continue
                        node_type = get_named_type(_field_type(ntype, "node"))
                        node_fields = _fields(node.selection_set, fragments, node_type, schema)
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
    roots = [f for f, _ in _fields(operations[0].selection_set, fragments, schema.mutation_type, schema)]
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


class JsonlFlattener:
    """Turns executed bulk results into Shopify's JSONL lines."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode):
        self.schema = schema
        self.operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self._maps: dict[tuple[int, str | None], dict[str, tuple[FieldNode, Any]]] = {}
        self._kinds: dict[tuple[int, str | None], tuple[str, Any]] = {}

    def lines(self, data: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
        out: list[dict[str, Any]] = []
        roots = self._walk_object(data, self.operation.selection_set, self.schema.query_type, None, out, root=True)
        return out, roots

    def _field_map(self, selection_set, parent) -> dict[str, tuple[FieldNode, Any]]:
        cache_key = (id(selection_set), getattr(parent, "name", None))
        fmap = self._maps.get(cache_key)
        if fmap is None:
            fmap = {}
            for f, ptype in _fields(selection_set, self.fragments, parent, self.schema):
                fmap.setdefault((f.alias or f.name).value, (f, ptype))
            self._maps[cache_key] = fmap
        return fmap

    def _kind(self, field: FieldNode, ptype: Any) -> tuple[str, Any]:
        """('connection' | 'object' | 'leaf' | 'unknown', named type) for a field, cached."""
        cache_key = (id(field), getattr(ptype, "name", None))
        kind = self._kinds.get(cache_key)
        if kind is None:
            ftype = _field_type(ptype, field.name.value)
            if ftype is None:
                kind = ("unknown", None)
            elif is_connection_type(ftype):
                kind = ("connection", get_named_type(ftype))
            elif is_leaf_type(get_named_type(ftype)):
                kind = ("leaf", None)
            else:
                kind = ("object", get_named_type(ftype))
            self._kinds[cache_key] = kind
        return kind

    def _walk_object(self, value: dict, selection_set, parent, owner_id, out, root: bool = False) -> int:
        """Emit the connections found under `value` (a non-line object, e.g. the query root)."""
        count = 0
        fmap = self._field_map(selection_set, parent)
        for key, v in value.items():
            f, ptype = fmap[key]
            ftype = _field_type(ptype, f.name.value)
            if v is None or ftype is None:
                continue
            if is_connection_type(ftype):
                n = self._emit_connection(v, f, get_named_type(ftype), owner_id, out)
                if root:
                    count += n
            elif isinstance(v, dict):
                count += self._walk_object(v, f.selection_set, get_named_type(ftype), owner_id, out, root)
        return count

    def _emit_connection(self, conn: dict, field: FieldNode, conn_type, parent_id, out) -> int:
        emitted = 0
        for ekey, (efield, _) in self._field_map(field.selection_set, conn_type).items():
            if efield.name.value != "edges":
                continue
            edge_type = get_named_type(conn_type.fields["edges"].type)
            nmap = self._field_map(efield.selection_set, edge_type)
            for edge in conn.get(ekey) or []:
                for nkey, (nfield, _) in nmap.items():
                    if nfield.name.value != "node" or edge.get(nkey) is None:
                        continue
                    node = edge[nkey]
                    node_type = get_named_type(edge_type.fields["node"].type)
                    nested: list[tuple[dict, FieldNode, Any]] = []
                    line = self._inline(node, nfield.selection_set, node_type, nested)
                    if parent_id is not None:
                        line["__parentId"] = parent_id
                    out.append(line)
                    emitted += 1
                    for child, cfield, ctype in nested:
                        self._emit_connection(child, cfield, ctype, node.get("id"), out)
        return emitted

    def _inline(self, value: dict, selection_set, parent, nested: list) -> dict:
        """The node's own line: nested connections are cut out (collected in `nested`), objects stay inline."""
        line: dict[str, Any] = {}
        fmap = self._field_map(selection_set, self._concrete(value, parent))
        for key, v in value.items():
            f, ptype = fmap[key]
            kind, named = self._kind(f, ptype)
            if kind == "connection":
                if v is not None:
                    nested.append((v, f, named))
            elif kind == "object" and isinstance(v, dict):
                line[key] = self._inline(v, f.selection_set, named, nested)
            elif kind == "object" and isinstance(v, list):
                line[key] = [self._inline(x, f.selection_set, named, nested) if isinstance(x, dict) else x for x in v]
            else:
                line[key] = v
        return line

    def _concrete(self, value: dict, parent):
        typename = value.get("__typename")
        return (self.schema.get_type(typename) or parent) if typename else parent


class BulkRunner:
    """Runs bulk query operations in background threads, one QUERY operation at a time per shop."""

    def __init__(
        self,
        store: Store,
        schema: GraphQLSchema,
        mutations: dict[str, Callable],
        min_seconds: float = 0.0,
        window: int = BULK_WINDOW,
        fast: bool = True,
        faults: Faults | None = None,
    ):
        self.store = store
        self.schema = schema
        self.mutations = mutations
        self.min_seconds = min_seconds
        self.window = window
        self.fast = fast  # use the lean executor (fastexec) when it can reproduce graphql-core's result
        self._lock = threading.Lock()
        self._threads: dict[int, threading.Thread] = {}
        self._cancel: set[int] = set()
        self.faults = faults

    # ------------------------------------------------------------------------------------------------- mutations

    def run_query_mutation(self, store: Store, info, args: dict[str, Any]) -> dict[str, Any]:
        query = args.get("query") or ""
        with self._lock:
            current = store.current_bulk_operation("QUERY")
            if current is not None and current.status in BULK_ACTIVE:
                return {
                    "bulkOperation": None,
                    "userErrors": [
                        {
                            "field": None,
                            "code": "OPERATION_IN_PROGRESS",
                            "message": f"A bulk query operation for this app and shop is already in progress: {current.gid}.",
                        }
                    ],
                }
            document, user_errors = validate_bulk_query(self.schema, query)
            if user_errors:
                return {"bulkOperation": None, "userErrors": user_errors}
            op = store.new_bulk_operation(query, "QUERY")
            fault = self.faults.take_bulk_fault() if self.faults else None
            record = {"__typename": "BulkOperation", "_op": op, "id": op.gid}
            snapshot = dict(record, _op=BulkOperationRecord(**vars(op)))  # the response shows CREATED
            thread = threading.Thread(
                target=self._run,
                args=(op, document, info.context.base_url, fault),
                name=f"bulk-{op.num}",
                daemon=True,
            )
            self._threads[op.num] = thread
            thread.start()
        return {"bulkOperation": snapshot, "userErrors": []}

    def cancel_mutation(self, store: Store, info, args: dict[str, Any]) -> dict[str, Any]:
        from .store import parse_gid

        parsed = parse_gid(args.get("id"))
        op = store.bulk_operations.get(parsed[1]) if parsed and parsed[0] == "BulkOperation" else None
        if op is None:
            return {
                "bulkOperation": None,
                "userErrors": [{"field": ["id"], "message": "Bulk operation does not exist", "code": None}],
            }
        if op.status not in BULK_ACTIVE:
            return {
                "bulkOperation": {"__typename": "BulkOperation", "_op": op, "id": op.gid},
                "userErrors": [
                    {
                        "field": None,
                        "code": None,
                        "message": f"A bulk operation cannot be canceled when it is {op.status.lower()}",
                    }
                ],
            }
        with self._lock:
            op.status = "CANCELING"
            snapshot = BulkOperationRecord(**vars(op))  # the response shows CANCELING, whatever the runner does next
            self._cancel.add(op.num)
            store.save_bulk_operation(op)
        return {"bulkOperation": {"__typename": "BulkOperation", "_op": snapshot, "id": op.gid}, "userErrors": []}

    def _finish(self, op, store: Store, fault, tmp: Path, file_name: str, size: int, started: float,
                *, truncate: bool) -> None:
        """End an operation that ran through: keep it RUNNING for min_seconds (unless cancelled meanwhile), then
        CANCELED, the injected fault's status, or COMPLETED with its result file."""
        remaining = self.min_seconds - (time.monotonic() - started)
        while remaining > 0 and op.num not in self._cancel:
            time.sleep(min(remaining, 0.05))
            remaining = self.min_seconds - (time.monotonic() - started)
        if op.num in self._cancel:
            tmp.unlink(missing_ok=True)
            op.status = "CANCELED"
        elif fault is not None:
            self._apply_fault(op, fault, tmp, file_name, truncate=truncate)
        else:
            tmp.replace(store.bulk_dir / file_name)
            op.file_name = file_name
            op.file_size = size if op.object_count else None
            op.status = "COMPLETED"
            op.completed_at = now_iso()

    def _apply_fault(self, op: BulkOperationRecord, fault: str, tmp, file_name: str, truncate: bool) -> None:
        """End an operation the way an injected fault says: FAILED keeps the first part of the output as partial
        data; EXPIRED and CANCELED keep no file."""
        if fault == "FAILED":
            if truncate:  # a query has no side effects: keep the first half of what it produced
                lines = tmp.read_text(encoding="utf-8").splitlines(keepends=True)
                kept = lines[: (len(lines) + 1) // 2]
                tmp.write_text("".join(kept), encoding="utf-8")
                op.object_count = len(kept)
            if op.object_count:
                tmp.replace(self.store.bulk_dir / file_name)
                op.file_name = file_name
                op.file_size = (self.store.bulk_dir / file_name).stat().st_size
            else:
                tmp.unlink(missing_ok=True)
            op.status = "FAILED"
            op.error_code = "INTERNAL_SERVER_ERROR"
            op.completed_at = None
        else:
            tmp.unlink(missing_ok=True)
            op.status = fault
            op.file_name = None
            op.file_size = None
            op.completed_at = now_iso()
        log.info("bulk operation %s ended %s (injected fault)", op.gid, op.status)

    # ---------------------------------------------------------------------------------------------- bulk mutations

    def run_mutation_mutation(self, store: Store, info, args: dict[str, Any]) -> dict[str, Any]:
        """`bulkOperationRunMutation(mutation:, stagedUploadPath:)`."""
        mutation = args.get("mutation") or ""
        path_arg = str(args.get("stagedUploadPath") or "")
        with self._lock:
            current = store.current_bulk_operation("MUTATION")
            if current is not None and current.status in BULK_ACTIVE:
                return {
                    "bulkOperation": None,
                    "userErrors": [
                        {
                            "field": None,
                            "code": "OPERATION_IN_PROGRESS",
                            "message": "A bulk mutation operation for this app and shop is already in progress: "
                            f"{current.gid}.",
                        }
                    ],
                }
            document, user_errors = validate_bulk_mutation(self.schema, mutation)
            if user_errors:
                return {"bulkOperation": None, "userErrors": user_errors}
            file_path, file_errors = self._staged_file(store, path_arg)
            if file_errors:
                return {"bulkOperation": None, "userErrors": file_errors}
            op = store.new_bulk_operation(mutation, "MUTATION")
            fault = self.faults.take_bulk_fault() if self.faults else None
            snapshot = {"__typename": "BulkOperation", "_op": BulkOperationRecord(**vars(op)), "id": op.gid}
            thread = threading.Thread(
                target=self._run_mutation,
                args=(op, document, file_path, info.context.base_url, fault),
                name=f"bulk-{op.num}",
                daemon=True,
            )
            self._threads[op.num] = thread
            thread.start()
        return {"bulkOperation": snapshot, "userErrors": []}

    def _staged_file(self, store: Store, path_arg: str):
        key = path_arg
        if "/_sandbox/staged-uploads/" in key:  # a resource URL-like path: take the key part
            key = key.split("/_sandbox/staged-uploads/", 1)[1]
        record = store.staged_upload(key) if key else None
        path = store.staged_path(key) if record else None
        if record is None or not record.get("uploaded_at") or path is None or not path.exists():
            return None, [
                {
                    "field": ["stagedUploadPath"],
                    "code": "NO_SUCH_FILE",
                    "message": "The JSONL file could not be found. Try uploading the file again, and check that "
                    "you've entered the URL correctly for the stagedUploadPath mutation argument.",
                }
            ]
        try:
            with open(path, encoding="utf-8") as fh:
                for raw in fh:
                    if raw.strip() and not raw.lstrip().startswith("{"):
                        raise ValueError("not an object")
                    if raw.strip() and not isinstance(json.loads(raw), dict):
                        raise ValueError("not an object")
        except (ValueError, UnicodeDecodeError):
            return None, [
                {
                    "field": ["stagedUploadPath"],
                    "code": "INVALID_STAGED_UPLOAD_FILE",
                    "message": "Unexpected file structure - expected JSONL",
                }
            ]
        return path, []

    def _run_mutation(self, op, document: DocumentNode, file_path, base_url: str, fault: str | None) -> None:
        store = self.store
        started = time.monotonic()
        op.status = "RUNNING"
        store.save_bulk_operation(op)
        file_name = f"{op.num}.jsonl"
        tmp = store.bulk_dir / f"{file_name}.part"
        ctx = ExecContext(store=store, base_url=base_url, bulk=False, mutations=self.mutations)
        try:
            raw_lines = file_path.read_text(encoding="utf-8").splitlines()
            limit = len(raw_lines) if fault not in ("FAILED", "CANCELED") else len(raw_lines) // 2
            size = 0
            store.begin_batch()
            try:
                with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
                    buffer: list[str] = []
                    for number, raw in enumerate(raw_lines):
                        if number >= limit or op.num in self._cancel:
                            break
                        if not raw.strip():
                            continue
                        line = self._execute_line(document, ctx, json.loads(raw), number)
                        buffer.append(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n")
                        op.object_count += 1
                        op.root_object_count += 1
                        if len(buffer) >= self.window:
                            store.flush_batch()
                            chunk = "".join(buffer)
                            fh.write(chunk)
                            size += len(chunk.encode("utf-8"))
                            buffer.clear()
                    chunk = "".join(buffer)
                    fh.write(chunk)
                    size += len(chunk.encode("utf-8"))
            finally:
                store.flush_batch(end=True)
            self._finish(op, store, fault, tmp, file_name, size, started, truncate=False)
            log.info(
                "bulk mutation %s %s: %d lines in %.2fs",
                op.gid,
                op.status,
                op.object_count,
                time.monotonic() - started,
            )
        except Exception as exc:  # noqa: BLE001 - the operation must end FAILED, not hang RUNNING
            log.exception("bulk mutation %s failed: %s", op.gid, exc)
            op.status = "FAILED"
            op.error_code = "INTERNAL_SERVER_ERROR"
            op.completed_at = None
            tmp.unlink(missing_ok=True)
        finally:
            self._cancel.discard(op.num)
            store.save_bulk_operation(op)

    def _execute_line(self, document: DocumentNode, ctx: ExecContext, variables: dict, number: int) -> dict:
        result = execute(
            self.schema,
            document,
            context_value=ctx,
            variable_values=variables,
            field_resolver=field_resolver,
            type_resolver=type_resolver,
        )
        line: dict[str, Any] = {}
        if result.errors:
            line["errors"] = [shopify_errors.execution_error(e) for e in result.errors]
        if result.data is not None:
            line["data"] = result.data
        line["__lineNumber"] = number
        return line

    # ---------------------------------------------------------------------------------------------------- runner

    def wait(self, timeout: float | None = None) -> None:
        for thread in list(self._threads.values()):
            thread.join(timeout)

    def _execute_window(self, fast: FastExecutor | None, document: DocumentNode, ctx: ExecContext) -> dict:
        """One window of the bulk query: the lean executor when it can, else graphql-core (same result)."""
        if fast is not None:
            try:
                return fast.execute(ctx)
            except FastPathUnsupported as exc:
                log.debug("bulk fast path declined (%s): using graphql-core for this window", exc)
        result = execute(
            self.schema, document, context_value=ctx, field_resolver=field_resolver, type_resolver=type_resolver
        )
        if result.errors:
            raise RuntimeError("; ".join(e.message for e in result.errors))
        return result.data or {}

    def _run(self, op: BulkOperationRecord, document: DocumentNode, base_url: str, fault: str | None = None) -> None:
        store = self.store
        started = time.monotonic()
        op.status = "RUNNING"
        store.save_bulk_operation(op)
        file_name = f"{op.num}.jsonl"
        tmp = store.bulk_dir / f"{file_name}.part"
        flattener = JsonlFlattener(self.schema, document)
        try:
            fast: FastExecutor | None = FastExecutor(self.schema, document) if self.fast else None
        except FastPathUnsupported:
            fast = None
        try:
            size = 0
            with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
                start = 0
                while True:
                    if op.num in self._cancel:
                        break
                    ctx = ExecContext(
                        store=store,
                        base_url=base_url,
                        bulk=True,
                        bulk_window=(start, start + self.window),
                        mutations=self.mutations,
                    )
                    data = self._execute_window(fast, document, ctx)
                    lines, roots = flattener.lines(data)
                    chunk = "".join(
                        json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n" for line in lines
                    )
                    fh.write(chunk)
                    size += len(chunk.encode("utf-8"))
                    op.object_count += len(lines)
                    op.root_object_count += roots
                    start += self.window
                    if start >= ctx.root_total:
                        break
            self._finish(op, store, fault, tmp, file_name, size, started, truncate=True)
            log.info(
                "bulk operation %s %s: %d objects in %.2fs",
                op.gid,
                op.status,
                op.object_count,
                time.monotonic() - started,
            )
        except Exception as exc:  # noqa: BLE001 - whatever broke, the operation must end FAILED, not hang RUNNING
            log.exception("bulk operation %s failed: %s", op.gid, exc)
            op.status = "FAILED"
            op.error_code = "INTERNAL_SERVER_ERROR"
            op.completed_at = None
            tmp.unlink(missing_ok=True)
        finally:
            self._cancel.discard(op.num)
            store.save_bulk_operation(op)
