"""Running bulk operations: the `bulkOperationRunQuery`, `bulkOperationRunMutation` and `bulkOperationCancel`
mutations, and the background thread that takes an operation from CREATED to its end (one operation of each type at
a time per shop).

Both kinds run the same way (`BulkRunner._run`: RUNNING, a result file written to `<num>.jsonl.part`, then
COMPLETED, CANCELED, FAILED or an injected fault's status); only the step writing the result lines differs:

- a query is executed windowed over the root connection (`BULK_WINDOW` root nodes at a time) and flattened into
  Shopify's JSONL layout (`jsonl.py`), so output is streamed and `objectCount` grows while the operation is RUNNING;
- a mutation is executed once per line of the staged JSONL file, the line being its variables, writing one result
  line per input line: `{"data": {...}, "__lineNumber": N}` (N zero-based, an `"errors"` key when that line's
  execution failed). Supported: `metafieldsSet`.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from graphql import DocumentNode, GraphQLSchema, execute

from .. import errors as shopify_errors
from ..fastexec import FastExecutor, FastPathUnsupported
from ..faults import Faults
from ..resolvers import ExecContext, field_resolver, type_resolver
from ..scalars import now_iso, parse_gid
from .jsonl import JsonlFlattener
from .operations import BULK_ACTIVE, BulkOperationRecord, bulk_operation_record
from .validation import validate_bulk_mutation, validate_bulk_query

if TYPE_CHECKING:
    from ..store import Store

log = logging.getLogger("sandbox.shopify_emulator")

BULK_WINDOW = 500

ResultWriter = Callable[[BulkOperationRecord, TextIO, "str | None"], int]
"""Writes an operation's result lines to the open `.part` file, counting them on the record, and returns the bytes
written; called with (operation, file, injected fault or None)."""


@dataclass(frozen=True)
class OperationKind:
    """What differs between running a bulk query and a bulk mutation, besides the step writing the results."""

    type: str  # BulkOperation.type: "QUERY" or "MUTATION"
    log_name: str  # how the log lines name it
    counted: str  # what objectCount counts, for the log
    keep_half_on_failure: bool  # an injected FAILED keeps the first half of the output (a query has no side effects)


QUERY = OperationKind("QUERY", "bulk operation", "objects", keep_half_on_failure=True)
MUTATION = OperationKind("MUTATION", "bulk mutation", "lines", keep_half_on_failure=False)


class BulkRunner:
    """Starts, cancels and runs bulk operations in background threads."""

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

    def run_query_mutation(self, store: Store, info: Any, args: dict[str, Any]) -> dict[str, Any]:
        """`bulkOperationRunQuery(query:)`."""
        query = args.get("query") or ""
        with self._lock:
            in_progress = _operation_in_progress(store, QUERY)
            if in_progress is not None:
                return in_progress
            document, user_errors = validate_bulk_query(self.schema, query)
            if user_errors:
                return {"bulkOperation": None, "userErrors": user_errors}
            write_results = functools.partial(self._write_query_results, document, info.context.base_url)
            return self._start(store, QUERY, query, write_results)

    def run_mutation_mutation(self, store: Store, info: Any, args: dict[str, Any]) -> dict[str, Any]:
        """`bulkOperationRunMutation(mutation:, stagedUploadPath:)`."""
        mutation = args.get("mutation") or ""
        path_arg = str(args.get("stagedUploadPath") or "")
        with self._lock:
            in_progress = _operation_in_progress(store, MUTATION)
            if in_progress is not None:
                return in_progress
            document, user_errors = validate_bulk_mutation(self.schema, mutation)
            if user_errors:
                return {"bulkOperation": None, "userErrors": user_errors}
            file_path, file_errors = store.staged_uploads.uploaded_jsonl(path_arg)
            if file_errors:
                return {"bulkOperation": None, "userErrors": file_errors}
            write_results = functools.partial(self._write_mutation_results, document, file_path, info.context.base_url)
            return self._start(store, MUTATION, mutation, write_results)

    def cancel_mutation(self, store: Store, info: Any, args: dict[str, Any]) -> dict[str, Any]:
        """`bulkOperationCancel(id:)`."""
        parsed = parse_gid(args.get("id"))
        op = store.bulk_operations.get(parsed[1]) if parsed and parsed[0] == "BulkOperation" else None
        if op is None:
            return {
                "bulkOperation": None,
                "userErrors": [{"field": ["id"], "message": "Bulk operation does not exist", "code": None}],
            }
        if op.status not in BULK_ACTIVE:
            return {
                "bulkOperation": bulk_operation_record(op),
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
            store.bulk_operations.save(op)
        return {"bulkOperation": bulk_operation_record(snapshot), "userErrors": []}

    def _start(self, store: Store, kind: OperationKind, document_text: str, write_results: ResultWriter) -> dict:
        """Create the operation, draw its injected fault and start its thread; the payload shows it CREATED."""
        op = store.bulk_operations.new(document_text, kind.type)
        fault = self.faults.take_bulk_fault() if self.faults else None
        snapshot = bulk_operation_record(BulkOperationRecord(**vars(op)))  # the response shows CREATED
        thread = threading.Thread(
            target=self._run, args=(op, kind, write_results, fault), name=f"bulk-{op.num}", daemon=True
        )
        self._threads[op.num] = thread
        thread.start()
        return {"bulkOperation": snapshot, "userErrors": []}

    # ---------------------------------------------------------------------------------------------------- runner

    def wait(self, timeout: float | None = None) -> None:
        for thread in list(self._threads.values()):
            thread.join(timeout)

    def _run(
        self, op: BulkOperationRecord, kind: OperationKind, write_results: ResultWriter, fault: str | None
    ) -> None:
        """The operation's thread: RUNNING, the results into `<num>.jsonl.part`, then its end state, saved."""
        store = self.store
        started = time.monotonic()
        op.status = "RUNNING"
        store.bulk_operations.save(op)
        file_name = f"{op.num}.jsonl"
        tmp = store.bulk_operations.bulk_dir / f"{file_name}.part"
        try:
            with open(tmp, "w", encoding="utf-8", newline="\n") as out:
                size = write_results(op, out, fault)
            self._finish(op, fault, tmp, file_name, size, started, truncate=kind.keep_half_on_failure)
            log.info(
                "%s %s %s: %d %s in %.2fs",
                kind.log_name,
                op.gid,
                op.status,
                op.object_count,
                kind.counted,
                time.monotonic() - started,
            )
        except Exception as exc:  # noqa: BLE001 - whatever broke, the operation must end FAILED, not hang RUNNING
            log.exception("%s %s failed: %s", kind.log_name, op.gid, exc)
            op.status = "FAILED"
            op.error_code = "INTERNAL_SERVER_ERROR"
            op.completed_at = None
            tmp.unlink(missing_ok=True)
        finally:
            self._cancel.discard(op.num)
            store.bulk_operations.save(op)

    def _write_query_results(
        self, document: DocumentNode, base_url: str, op: BulkOperationRecord, out: TextIO, _fault: str | None
    ) -> int:
        """A bulk query's results: the root connection a window at a time, flattened into JSONL lines."""
        flattener = JsonlFlattener(self.schema, document)
        try:
            fast: FastExecutor | None = FastExecutor(self.schema, document) if self.fast else None
        except FastPathUnsupported:
            fast = None
        size = 0
        start = 0
        while op.num not in self._cancel:
            ctx = ExecContext(
                store=self.store,
                base_url=base_url,
                bulk=True,
                bulk_window=(start, start + self.window),
                mutations=self.mutations,
            )
            data = self._execute_window(fast, document, ctx)
            lines, roots = flattener.lines(data)
            size += _write_lines(out, [_jsonl(line) for line in lines])
            op.object_count += len(lines)
            op.root_object_count += roots
            start += self.window
            if start >= ctx.root_total:
                break
        return size

    def _write_mutation_results(
        self,
        document: DocumentNode,
        file_path: Path,
        base_url: str,
        op: BulkOperationRecord,
        out: TextIO,
        fault: str | None,
    ) -> int:
        """A bulk mutation's results: one execution per line of the staged file, metafield writes batched per
        window. An injected FAILED or CANCELED stops halfway through the file."""
        store = self.store
        ctx = ExecContext(store=store, base_url=base_url, bulk=False, mutations=self.mutations)
        raw_lines = file_path.read_text(encoding="utf-8").splitlines()
        limit = len(raw_lines) if fault not in ("FAILED", "CANCELED") else len(raw_lines) // 2
        size = 0
        store.metafields.begin_batch()
        try:
            buffer: list[str] = []
            for number, raw in enumerate(raw_lines):
                if number >= limit or op.num in self._cancel:
                    break
                if not raw.strip():
                    continue
                buffer.append(_jsonl(self._execute_line(document, ctx, json.loads(raw), number)))
                op.object_count += 1
                op.root_object_count += 1
                if len(buffer) >= self.window:
                    store.metafields.flush_batch()
                    size += _write_lines(out, buffer)
                    buffer.clear()
            size += _write_lines(out, buffer)
        finally:
            store.metafields.flush_batch(end=True)
        return size

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

    def _finish(
        self,
        op: BulkOperationRecord,
        fault: str | None,
        tmp: Path,
        file_name: str,
        size: int,
        started: float,
        *,
        truncate: bool,
    ) -> None:
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
            tmp.replace(self.store.bulk_operations.bulk_dir / file_name)
            op.file_name = file_name
            op.file_size = size if op.object_count else None
            op.status = "COMPLETED"
            op.completed_at = now_iso()

    def _apply_fault(self, op: BulkOperationRecord, fault: str, tmp: Path, file_name: str, truncate: bool) -> None:
        """End an operation the way an injected fault says: FAILED keeps the first part of the output as partial
        data; EXPIRED and CANCELED keep no file."""
        if fault == "FAILED":
            if truncate:  # a query has no side effects: keep the first half of what it produced
                lines = tmp.read_text(encoding="utf-8").splitlines(keepends=True)
                kept = lines[: (len(lines) + 1) // 2]
                tmp.write_text("".join(kept), encoding="utf-8")
                op.object_count = len(kept)
            if op.object_count:
                result = self.store.bulk_operations.bulk_dir / file_name
                tmp.replace(result)
                op.file_name = file_name
                op.file_size = result.stat().st_size
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


def _operation_in_progress(store: Store, kind: OperationKind) -> dict[str, Any] | None:
    """The payload refusing a new operation while one of the same type is still active, or None."""
    current = store.bulk_operations.current(kind.type)
    if current is None or current.status not in BULK_ACTIVE:
        return None
    return {
        "bulkOperation": None,
        "userErrors": [
            {
                "field": None,
                "code": "OPERATION_IN_PROGRESS",
                "message": f"A bulk {kind.type.lower()} operation for this app and shop is already in progress: "
                f"{current.gid}.",
            }
        ],
    }


def _jsonl(line: dict[str, Any]) -> str:
    return json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n"


def _write_lines(out: TextIO, lines: list[str]) -> int:
    """Write JSONL lines in one go; returns the bytes written (UTF-8)."""
    chunk = "".join(lines)
    out.write(chunk)
    return len(chunk.encode("utf-8"))
