"""Bulk query flow: bulkOperationRunQuery → poll with node(id:) → stream the JSONL to a file.

Issue #3 deepens this (FAILED with partialDataUrl, EXPIRED, an operation already running, bulk mutations)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from storeloop.shopify.client import ShopifyClient
from storeloop.shopify.documents import load_document
from storeloop.shopify.errors import BulkOperationError, ShopifyUserError

log = logging.getLogger(__name__)

TERMINAL = {"COMPLETED", "FAILED", "CANCELED", "EXPIRED"}


@dataclass(frozen=True)
class BulkResult:
    operation_id: str
    status: str
    object_count: int
    url: str | None


def start_bulk_query(client: ShopifyClient, query: str) -> str:
    data = client.execute(load_document("bulk_operation_run_query"), {"query": query})
    payload = data["bulkOperationRunQuery"]
    if payload.get("userErrors"):
        raise ShopifyUserError(
            "Shopify refused to start the bulk query: " + "; ".join(e["message"] for e in payload["userErrors"]),
            payload["userErrors"],
        )
    return payload["bulkOperation"]["id"]


def wait_for_bulk_operation(client: ShopifyClient, operation_id: str, *, poll_s: float = 1.0,
                            timeout_s: float = 3 * 3600, sleep=time.sleep) -> BulkResult:
    deadline = time.monotonic() + timeout_s
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
            if status != "COMPLETED":
                raise BulkOperationError(
                    f"Bulk operation {operation_id} ended {status} (errorCode={node.get('errorCode')}); "
                    "rerun the task — nothing was loaded."
                )
            return BulkResult(operation_id, status, int(node.get("objectCount") or 0), node.get("url"))
        if time.monotonic() > deadline:
            raise BulkOperationError(f"Bulk operation {operation_id} still {status} after {timeout_s:.0f}s.")
        sleep(poll_s)
        poll_s = min(poll_s * 1.5, 10.0)


def download(url: str | None, dest: Path, *, chunk_size: int = 1 << 20, timeout_s: float = 60) -> int:
    """Stream the result file to dest (never held in memory). An empty result has no URL: writes an empty file."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not url:
        dest.write_bytes(b"")
        return 0
    size = 0
    with requests.get(url, stream=True, timeout=timeout_s) as resp:
        resp.raise_for_status()
        with open(dest, "wb") as out:
            for chunk in resp.iter_content(chunk_size):
                out.write(chunk)
                size += len(chunk)
    return size


def run_bulk_query(client: ShopifyClient, query: str, dest: Path, **wait_kw) -> BulkResult:
    operation_id = start_bulk_query(client, query)
    result = wait_for_bulk_operation(client, operation_id, **wait_kw)
    download(result.url, dest)
    return result
