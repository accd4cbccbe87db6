"""Bulk query flow: bulkOperationRunQuery → poll with node(id:) → stream the JSONL to a file.

Robustness (issue #3):
- starting while another bulk query of this app is running ("already in progress" userError) → poll
  `currentBulkOperation(type: QUERY)` until it is no longer CREATED/RUNNING/CANCELING, then start again (bounded);
- an operation that ends FAILED (its partialDataUrl is logged and discarded: partial data cannot give exact rows),
  CANCELED or EXPIRED is restarted from scratch, up to `max_restarts` times, then BulkOperationError;
- the result is downloaded streaming into a temp file beside `dest`, retried from scratch on any failure, and renamed
  into place only when complete, so `dest` is never a truncated file.

Reading results: `iter_bulk_records(path)` streams (record, parent_id). The loader does not use it: it maps the lines
one at a time with `storeloop.shopify.bulk_jsonl.parse_line`.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from storeloop.shopify.client import ShopifyClient
from storeloop.shopify.documents import load_document
from storeloop.shopify.errors import BulkOperationError, ShopifyError, ShopifyUserError

log = logging.getLogger(__name__)

TERMINAL = {"COMPLETED", "FAILED", "CANCELED", "EXPIRED"}
ACTIVE = {"CREATED", "RUNNING", "CANCELING"}
RESTARTABLE = {"FAILED", "CANCELED", "EXPIRED"}

_ADVICE = {
    "FAILED": "Shopify could not finish the export (errorCode ACCESS_DENIED means a missing read scope; TIMEOUT means "
              "the query is too heavy: select fewer nested connections). Retry the task later.",
    "CANCELED": "Someone (or another job of this app) cancelled it: make sure no other process runs "
                "bulkOperationCancel for this app, then rerun the task.",
    "EXPIRED": "Shopify expired it (an operation may run at most 10 days, and result URLs expire after 7 days): "
               "rerun the task.",
}


@dataclass(frozen=True)
class BulkResult:
    operation_id: str
    status: str
    object_count: int
    url: str | None
    error_code: str | None = None
    partial_data_url: str | None = None
    restarts: int = 0  # how many times the whole operation was started again
    bytes_downloaded: int = 0


class BulkOperationInProgress(ShopifyUserError):
    """bulkOperationRunQuery/RunMutation refused: another operation of that type is running for this app."""


def _is_in_progress(user_errors: list[dict]) -> bool:
    return any(e.get("code") == "OPERATION_IN_PROGRESS" or "already in progress" in (e.get("message") or "").lower()
               for e in user_errors)


def start_bulk_query(client: ShopifyClient, query: str) -> str:
    data = client.execute(load_document("bulk_operation_run_query"), {"query": query})
    payload = data["bulkOperationRunQuery"]
    user_errors = payload.get("userErrors") or []
    if user_errors:
        cls = BulkOperationInProgress if _is_in_progress(user_errors) else ShopifyUserError
        raise cls("Shopify refused to start the bulk query: " + "; ".join(e["message"] for e in user_errors),
                  user_errors)
    return payload["bulkOperation"]["id"]


def wait_for_current_operation(client: ShopifyClient, op_type: str = "QUERY", *, poll_s: float = 1.0,
                               timeout_s: float = 3600, sleep: Callable[[float], None] = time.sleep,
                               clock: Callable[[], float] = time.monotonic) -> dict | None:
    """Poll currentBulkOperation(type:) until it is no longer running; returns its last state (None if none)."""
    deadline = clock() + timeout_s
    while True:
        current = client.execute(load_document("current_bulk_operation"), {"type": op_type})["currentBulkOperation"]
        if current is None or current.get("status") not in ACTIVE:
            return current
        if clock() > deadline:
            raise BulkOperationError(
                f"Another bulk {op_type.lower()} ({current.get('id')}) of this app is still {current.get('status')} "
                f"after {timeout_s:.0f}s; Shopify runs one at a time per app and shop. Wait for it, or cancel it with "
                "bulkOperationCancel, then rerun the task.")
        sleep(poll_s)
        poll_s = min(poll_s * 1.5, 10.0)


def poll_bulk_operation(client: ShopifyClient, operation_id: str, *, poll_s: float = 1.0,
                        timeout_s: float = 3 * 3600, sleep: Callable[[float], None] = time.sleep,
                        clock: Callable[[], float] = time.monotonic) -> BulkResult:
    """Poll node(id:) until the operation is terminal; returns it whatever its status."""
    deadline = clock() + timeout_s
    last_status = None
    while True:
        node = client.execute(load_document("bulk_operation_status"), {"id": operation_id})["node"]
        if node is None:
            raise BulkOperationError(f"Bulk operation {operation_id} is unknown to the shop.")
        status = node["status"]
        if status != last_status:
            log.info("bulk operation %s: %s (%s objects so far)", operation_id, status, node.get("objectCount"))
            last_status = status
        if status in TERMINAL:
            return BulkResult(operation_id, status, int(node.get("objectCount") or 0), node.get("url"),
                              node.get("errorCode"), node.get("partialDataUrl"))
        if clock() > deadline:
            raise BulkOperationError(f"Bulk operation {operation_id} still {status} after {timeout_s:.0f}s.")
        sleep(poll_s)
        poll_s = min(poll_s * 1.5, 10.0)


def _terminal_message(result: BulkResult, restarts: int) -> str:
    again = f" after {restarts} restart(s)" if restarts else ""
    return (f"Bulk operation {result.operation_id} ended {result.status} (errorCode={result.error_code}){again}; "
            f"nothing was loaded. {_ADVICE.get(result.status, 'Rerun the task.')}")


def download(url: str | None, dest: Path, *, chunk_size: int = 1 << 20, timeout_s: float = 60, attempts: int = 4,
             backoff_s: float = 1.0, sleep: Callable[[float], None] = time.sleep,
             session: requests.Session | None = None) -> int:
    """Stream the result file to dest (never held in memory). An empty result has no URL: writes an empty file.

    Resume-safe: each attempt writes a temp file beside dest from scratch; only a complete download is renamed onto
    dest (atomically), so a failure mid-way never leaves a truncated dest. The Content-Length, when sent, is checked."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not url:
        dest.write_bytes(b"")
        return 0
    getter = session.get if session is not None else requests.get
    tmp = dest.with_name(f".{dest.name}.part")
    for attempt in range(1, attempts + 1):
        size = 0
        try:
            with getter(url, stream=True, timeout=timeout_s) as resp:
                resp.raise_for_status()
                expected = resp.headers.get("Content-Length")
                with open(tmp, "wb") as out:
                    for chunk in resp.iter_content(chunk_size):
                        out.write(chunk)
                        size += len(chunk)
                if expected is not None and expected.isdigit() and int(expected) != size:
                    raise OSError(f"download truncated: {size} of {expected} bytes")
            os.replace(tmp, dest)
            return size
        except (requests.RequestException, OSError) as exc:
            tmp.unlink(missing_ok=True)
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if attempt == attempts or (status is not None and 400 <= status < 500 and status not in (408, 429)):
                raise BulkOperationError(f"Could not download the bulk result after {attempt} attempt(s): {exc}. "
                                         "If the URL expired (they last 7 days), rerun the task.") from exc
            delay = backoff_s * (2 ** (attempt - 1)) * (0.5 + random.random())
            log.warning("bulk download failed (%s); retrying from scratch in %.1fs", exc, delay)
            sleep(delay)
    raise AssertionError("unreachable")


def run_bulk_query(client: ShopifyClient, query: str, dest: Path, *, max_restarts: int = 3,
                   max_in_progress_waits: int = 3, poll_s: float = 1.0, timeout_s: float = 3 * 3600,
                   sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                   download_kw: dict[str, Any] | None = None) -> BulkResult:
    """Run a bulk query to completion and stream its JSONL to `dest`; see the module doc for what is retried."""
    poll_kw = {"poll_s": poll_s, "timeout_s": timeout_s, "sleep": sleep, "clock": clock}
    restarts = 0
    while True:
        operation_id = _start_waiting_out_others(client, query, max_in_progress_waits, poll_kw)
        result = poll_bulk_operation(client, operation_id, **poll_kw)
        if result.status == "COMPLETED":
            break
        if result.status == "FAILED" and result.partial_data_url:
            log.warning("bulk operation %s FAILED (errorCode=%s); partial data at %s is discarded: a partial export "
                        "cannot give exact rows", operation_id, result.error_code, result.partial_data_url)
        if result.status not in RESTARTABLE or restarts >= max_restarts:
            raise BulkOperationError(_terminal_message(result, restarts))
        restarts += 1
        log.warning("bulk operation %s ended %s (errorCode=%s); restarting the whole operation (%d/%d)",
                    operation_id, result.status, result.error_code, restarts, max_restarts)
    size = download(result.url, dest, **(download_kw or {}))
    return BulkResult(result.operation_id, result.status, result.object_count, result.url, result.error_code,
                      result.partial_data_url, restarts, size)


def _start_waiting_out_others(client: ShopifyClient, query: str, max_waits: int, poll_kw: dict) -> str:
    for waits in range(max_waits + 1):
        try:
            return start_bulk_query(client, query)
        except BulkOperationInProgress as exc:
            if waits == max_waits:
                raise BulkOperationError(
                    f"Another bulk query of this app kept running ({max_waits} waits): {exc}. Shopify runs one bulk "
                    "query at a time per app and shop: find who starts them (another DAG run?) and rerun.") from exc
            log.warning("a bulk query is already running for this app; waiting for it to finish (%s)", exc)
            wait_for_current_operation(client, "QUERY", **poll_kw)
    raise AssertionError("unreachable")


# ------------------------------------------------------------------------------------------------ reading results

def iter_bulk_records(path: Path) -> Iterator[tuple[dict, str | None]]:
    """Stream a bulk JSONL file: yields (record without `__parentId`, that parent id or None), one line at a time."""
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise ShopifyError(f"{path}:{lineno} is not valid JSON: {exc}") from exc
            parent = record.pop("__parentId", None)
            yield record, parent
