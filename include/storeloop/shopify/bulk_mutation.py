"""Bulk mutations (Shopify's "bulk import" protocol) and metafield writes.

`run_bulk_mutation`:
  1. stagedUploadsCreate(input: [{resource: BULK_MUTATION_VARIABLES, filename, mimeType: "text/jsonl",
     httpMethod: POST}]) → a target `url` and form `parameters` (one of them named `key`);
  2. multipart POST of the JSONL file to that url: every returned parameter as a form field, in order, the file last
     as field `file` (this goes to Shopify's storage, not to the Admin API: the access token is NOT sent);
  3. bulkOperationRunMutation(mutation:, stagedUploadPath: <value of the `key` parameter>);
  4. poll node(id:) until terminal; 5. stream the result JSONL and parse every line: each is
     `{"data": {<mutation field>: {..., "userErrors": [...]}}, "__lineNumber": n}` (n is the 0-based line of the
     input file), or carries top-level `errors` for that line.

`write_metafields`: below `bulk_threshold` inputs, metafieldsSet in batches of at most 25 (Shopify's limit per call);
at or above it, one bulk mutation whose lines are `{"metafields": [<= 25 inputs]}`. User errors are never dropped:
they are returned in the report (with the index of the input they concern); `report.raise_for_errors()` raises.
"""

from __future__ import annotations

import json
import logging
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from storeloop.shopify.bulk import (
    RESTARTABLE,
    _is_in_progress,
    _terminal_message,
    download,
    poll_bulk_operation,
    wait_for_current_operation,
)
from storeloop.shopify.client import ShopifyClient
from storeloop.shopify.documents import load_document
from storeloop.shopify.errors import BulkOperationError, ShopifyError, ShopifyUserError

log = logging.getLogger(__name__)

METAFIELDS_SET_LIMIT = 25  # metafieldsSet accepts at most 25 metafields per call
DEFAULT_BULK_THRESHOLD = 1000


class BulkMutationInProgress(ShopifyUserError):
    pass


@dataclass(frozen=True)
class LineError:
    """One error reported for one input line of a bulk mutation (or one batch of metafieldsSet)."""
    line: int  # 0-based line of the variables file (or batch number)
    message: str
    field: list[str] | None = None
    code: str | None = None
    element_index: int | None = None  # index inside that line's list input, when Shopify says
    input_index: int | None = None  # index in the caller's whole input list, when it can be known

    def __str__(self) -> str:
        where = f"input {self.input_index}" if self.input_index is not None else f"line {self.line}"
        return f"{where}: {self.message}" + (f" [{self.code}]" if self.code else "") + (
            f" (field {'.'.join(map(str, self.field))})" if self.field else "")


@dataclass
class BulkMutationResult:
    operation_id: str
    status: str
    lines_sent: int
    lines_returned: int = 0
    lines_succeeded: int = 0
    lines_with_user_errors: int = 0
    user_errors: list[LineError] = field(default_factory=list)
    object_count: int = 0
    restarts: int = 0
    result_path: Path | None = None

    @property
    def lines_missing(self) -> int:
        """Input lines the result file says nothing about (should be 0 for a COMPLETED operation)."""
        return max(0, self.lines_sent - self.lines_returned)


def _write_jsonl(lines: Iterable[dict], path: Path) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as out:
        for line in lines:
            out.write(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n")
            n += 1
    return n


def stage_upload(client: ShopifyClient, filename: str, file_size: int | None = None) -> tuple[str, list[dict]]:
    """stagedUploadsCreate for bulk mutation variables; returns (upload url, ordered form parameters)."""
    upload_input: dict[str, Any] = {"resource": "BULK_MUTATION_VARIABLES", "filename": filename,
                                    "mimeType": "text/jsonl", "httpMethod": "POST"}
    if file_size is not None:
        upload_input["fileSize"] = str(file_size)
    data = client.execute(load_document("staged_uploads_create"), {"input": [upload_input]})
    payload = data["stagedUploadsCreate"]
    if payload.get("userErrors"):
        raise ShopifyUserError("Shopify refused to stage the upload: " +
                               "; ".join(e["message"] for e in payload["userErrors"]), payload["userErrors"])
    target = payload["stagedTargets"][0]
    return target["url"], list(target.get("parameters") or [])


def upload_staged_file(url: str, parameters: list[dict], path: Path, *, attempts: int = 3, timeout_s: float = 300,
                       session: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
    """Multipart POST: the staged parameters as form fields in the order given, then the file as `file`."""
    poster = session.post if session is not None else requests.post
    fields = [(p["name"], p["value"]) for p in parameters]
    for attempt in range(1, attempts + 1):
        try:
            with open(path, "rb") as fh:
                resp = poster(url, data=fields, files=[("file", (path.name, fh, "text/jsonl"))], timeout=timeout_s)
            if resp.status_code < 300:
                return
            if resp.status_code < 500 and resp.status_code not in (408, 429):
                raise ShopifyError(f"The staged upload target refused the file (HTTP {resp.status_code}): "
                                   f"{' '.join((resp.text or '').split())[:300]}")
            why: str = f"HTTP {resp.status_code}"
        except (requests.ConnectionError, requests.Timeout) as exc:
            why = exc.__class__.__name__
        if attempt == attempts:
            raise ShopifyError(f"Uploading the bulk mutation variables failed {attempts} times ({why}).")
        sleep(0.5 * 2 ** (attempt - 1) * (0.5 + random.random()))


def start_bulk_mutation(client: ShopifyClient, mutation_document: str, staged_upload_path: str,
                        client_identifier: str | None = None) -> str:
    data = client.execute(load_document("bulk_operation_run_mutation"),
                          {"mutation": mutation_document, "stagedUploadPath": staged_upload_path,
                           "clientIdentifier": client_identifier})
    payload = data["bulkOperationRunMutation"]
    user_errors = payload.get("userErrors") or []
    if user_errors:
        cls = BulkMutationInProgress if _is_in_progress(user_errors) else ShopifyUserError
        raise cls("Shopify refused to start the bulk mutation: " + "; ".join(e["message"] for e in user_errors),
                  user_errors)
    return payload["bulkOperation"]["id"]


def iter_mutation_results(path: Path) -> Iterator[tuple[int, dict]]:
    """Stream a bulk mutation result file: yields (input line number, the line's object)."""
    with open(path, encoding="utf-8") as fh:
        for i, raw in enumerate(fh):
            if raw.strip():
                obj = json.loads(raw)
                yield int(obj.get("__lineNumber", i)), obj


def _line_errors(line_no: int, obj: dict) -> list[LineError]:
    out = []
    for e in obj.get("errors") or []:  # the line's mutation was rejected as a whole
        out.append(LineError(line_no, e.get("message") or str(e), None, (e.get("extensions") or {}).get("code")))
    for payload in (obj.get("data") or {}).values():
        if isinstance(payload, dict):
            for e in payload.get("userErrors") or []:
                out.append(LineError(line_no, e.get("message") or "", e.get("field"), e.get("code"),
                                     _element_index(e)))
    return out


def _element_index(user_error: dict) -> int | None:
    """`elementIndex` when Shopify gives it, else the index in a field path like ["metafields", "3", "value"]."""
    idx = user_error.get("elementIndex")
    if isinstance(idx, int):
        return idx
    path = user_error.get("field") or []
    if len(path) >= 2 and str(path[1]).isdigit():
        return int(path[1])
    return None


def parse_mutation_results(path: Path, result: BulkMutationResult) -> BulkMutationResult:
    for line_no, obj in iter_mutation_results(path):
        result.lines_returned += 1
        errors = _line_errors(line_no, obj)
        if errors:
            result.lines_with_user_errors += 1
            result.user_errors.extend(errors)
        else:
            result.lines_succeeded += 1
    return result


def run_bulk_mutation(client: ShopifyClient, mutation_document: str, variables_lines: Iterable[dict], *,
                      tmp_dir: Path | str, max_restarts: int = 0, max_in_progress_waits: int = 3,
                      poll_s: float = 1.0, timeout_s: float = 6 * 3600, sleep: Callable[[float], None] = time.sleep,
                      clock: Callable[[], float] = time.monotonic, upload_session: requests.Session | None = None,
                      on_result_line: Callable[[int, dict], None] | None = None) -> BulkMutationResult:
    """Run `mutation_document` once per dict of `variables_lines` as one bulk operation; see the module doc.

    `max_restarts` > 0 reruns the whole operation after FAILED/CANCELED/EXPIRED — only safe for idempotent
    mutations (metafieldsSet is). `on_result_line(line_no, obj)` sees every result line (e.g. to count objects)."""
    tmp_dir = Path(tmp_dir)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="bulk-vars-", suffix=".jsonl", dir=tmp_dir)
    os.close(fd)
    vars_path = Path(name)
    poll_kw = {"poll_s": poll_s, "timeout_s": timeout_s, "sleep": sleep, "clock": clock}
    try:
        lines_sent = _write_jsonl(variables_lines, vars_path)
        restarts = 0
        while True:
            url, params = stage_upload(client, vars_path.name, vars_path.stat().st_size)
            key = next((p["value"] for p in params if p["name"] == "key"), None)
            if not key:
                raise ShopifyError("stagedUploadsCreate returned no `key` parameter; cannot start the bulk mutation.")
            upload_staged_file(url, params, vars_path, session=upload_session, sleep=sleep)
            operation_id = _start_waiting_out_others(client, mutation_document, key, max_in_progress_waits, poll_kw)
            polled = poll_bulk_operation(client, operation_id, **poll_kw)
            if polled.status == "COMPLETED":
                break
            if polled.status not in RESTARTABLE or restarts >= max_restarts:
                raise BulkOperationError(_terminal_message(polled, restarts).replace(
                    "nothing was loaded", "some lines may have been applied; see the result or partial data file"))
            restarts += 1
            log.warning("bulk mutation %s ended %s (errorCode=%s); running it again (%d/%d)", operation_id,
                        polled.status, polled.error_code, restarts, max_restarts)
        result_path = tmp_dir / f"{vars_path.stem}-result.jsonl"
        download(polled.url, result_path, sleep=sleep)
        result = BulkMutationResult(polled.operation_id, polled.status, lines_sent, object_count=polled.object_count,
                                    restarts=restarts, result_path=result_path)
        parse_mutation_results(result_path, result)
        if on_result_line is not None:
            for line_no, obj in iter_mutation_results(result_path):
                on_result_line(line_no, obj)
        if result.lines_missing:
            log.warning("bulk mutation %s: %d of %d input lines have no result line", operation_id,
                        result.lines_missing, lines_sent)
        return result
    finally:
        vars_path.unlink(missing_ok=True)


def _start_waiting_out_others(client, mutation_document, key, max_waits, poll_kw) -> str:
    for waits in range(max_waits + 1):
        try:
            return start_bulk_mutation(client, mutation_document, key)
        except BulkMutationInProgress as exc:
            if waits == max_waits:
                raise BulkOperationError(f"Another bulk mutation of this app kept running ({max_waits} waits): {exc}"
                                         ) from exc
            log.warning("a bulk mutation is already running for this app; waiting for it (%s)", exc)
            wait_for_current_operation(client, "MUTATION", **poll_kw)
    raise AssertionError("unreachable")


# ------------------------------------------------------------------------------------------------ metafields

class MetafieldWriteError(ShopifyUserError):
    pass


@dataclass
class MetafieldWriteReport:
    method: str  # "metafieldsSet" or "bulk"
    inputs: int
    requests: int  # Admin API GraphQL requests sent (retries included; the staged upload/download not included)
    metafields_written: int
    user_errors: list[LineError] = field(default_factory=list)
    seconds: float = 0.0
    bulk: BulkMutationResult | None = None
    # indices (in the caller's input list) of the inputs not confirmed written: every input of a call or bulk line
    # that failed (metafieldsSet is all-or-nothing per call) or has no result line. `user_errors` say which input
    # was at fault when Shopify tells; the others of its call can be sent again without it.
    unwritten: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.user_errors and self.metafields_written == self.inputs

    def raise_for_errors(self) -> None:
        """Raise MetafieldWriteError if any input was rejected or not written."""
        if self.ok:
            return
        shown = "; ".join(str(e) for e in self.user_errors[:10])
        more = f" (+{len(self.user_errors) - 10} more)" if len(self.user_errors) > 10 else ""
        raise MetafieldWriteError(
            f"{self.inputs - self.metafields_written} of {self.inputs} metafields were not written "
            f"({len(self.user_errors)} user errors): {shown}{more}",
            [vars(e) for e in self.user_errors])


def _chunks(items: list, n: int) -> Iterator[tuple[int, list]]:
    for start in range(0, len(items), n):
        yield start, items[start:start + n]


def write_metafields(client: ShopifyClient, inputs: list[dict], *, bulk_threshold: int = DEFAULT_BULK_THRESHOLD,
                     batch_size: int = METAFIELDS_SET_LIMIT, tmp_dir: Path | str | None = None,
                     bulk_kw: dict[str, Any] | None = None) -> MetafieldWriteReport:
    """Write metafields (MetafieldsSetInput dicts). Returns a report; call `raise_for_errors()` to fail on any."""
    if not 1 <= batch_size <= METAFIELDS_SET_LIMIT:
        raise ValueError(f"batch_size must be 1..{METAFIELDS_SET_LIMIT} (Shopify's metafieldsSet limit)")
    started, sent_before = time.monotonic(), client.requests_sent
    if len(inputs) < bulk_threshold:
        written, errors = 0, []
        document = load_document("metafields_set")
        unwritten: list[int] = []
        for batch_no, (start, batch) in enumerate(_chunks(inputs, batch_size)):
            payload = client.execute(document, {"metafields": batch})["metafieldsSet"]
            written += len(payload.get("metafields") or [])
            batch_errors = payload.get("userErrors") or []
            for e in batch_errors:
                idx = _element_index(e)
                errors.append(LineError(batch_no, e.get("message") or "", e.get("field"), e.get("code"), idx,
                                        start + idx if isinstance(idx, int) else None))
            if batch_errors or len(payload.get("metafields") or []) < len(batch):
                unwritten.extend(range(start, start + len(batch)))
        return MetafieldWriteReport("metafieldsSet", len(inputs), client.requests_sent - sent_before, written, errors,
                                    time.monotonic() - started, unwritten=unwritten)

    counted = {"written": 0}
    lines_written: set[int] = set()

    def count(line_no: int, obj: dict) -> None:
        payload = (obj.get("data") or {}).get("metafieldsSet") or {}
        counted["written"] += len(payload.get("metafields") or [])
        if not _line_errors(line_no, obj) and payload.get("metafields") is not None:
            lines_written.add(line_no)

    own_tmp = tmp_dir is None
    tmp = Path(tempfile.mkdtemp(prefix="storeloop-metafields-")) if own_tmp else Path(tmp_dir)
    try:
        kw = {"max_restarts": 2, **(bulk_kw or {})}  # metafieldsSet is idempotent: rerunning it is safe
        result = run_bulk_mutation(client, load_document("metafields_set_bulk"),
                                   ({"metafields": batch} for _, batch in _chunks(inputs, batch_size)),
                                   tmp_dir=tmp, on_result_line=count, **kw)
    finally:
        if own_tmp:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    errors = [LineError(e.line, e.message, e.field, e.code, e.element_index,
                        e.line * batch_size + e.element_index if isinstance(e.element_index, int) else None)
              for e in result.user_errors]
    if result.lines_missing:
        errors.append(LineError(-1, f"{result.lines_missing} of {result.lines_sent} lines have no result in the "
                                    "bulk operation's file: their metafields may not be written", code="MISSING"))
    unwritten = [i for i in range(len(inputs)) if i // batch_size not in lines_written]
    return MetafieldWriteReport("bulk", len(inputs), client.requests_sent - sent_before, counted["written"], errors,
                                time.monotonic() - started, result, unwritten)
