"""shopify_ingest task bodies: bulk query → landing zone → raw_shopify (one transaction per resource)."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from storeloop.orchestration import connections
from storeloop.orchestration.landing import land_file
from storeloop.shopify.bulk import run_bulk_query
from storeloop.shopify.client import ShopifyClient
from storeloop.shopify.documents import load_document
from storeloop.warehouse.raw_loader import load_bulk_jsonl

log = logging.getLogger(__name__)

RESOURCES = ("products", "customers", "orders")


def extract_and_load(resource: str, run_id: str) -> dict:
    if resource not in RESOURCES:
        raise ValueError(f"unknown resource {resource!r}; expected one of {RESOURCES}")
    client = ShopifyClient(connections.shopify())
    with tempfile.TemporaryDirectory(prefix=f"storeloop-{resource}-") as tmp:
        local = Path(tmp) / f"{resource}.jsonl"
        log.info("running the %s bulk query against %s", resource, client.config.base_url)
        result = run_bulk_query(client, load_document(f"bulk_{resource}"), local)
        log.info("bulk operation %s completed: %d objects, %d bytes", result.operation_id, result.object_count,
                 local.stat().st_size)
        landed = land_file(local, resource, run_id, f"{resource}.jsonl")
        log.info("landed %s", landed)
        conn = connections.warehouse().connect()
        try:
            report = load_bulk_jsonl(conn, local, resource=resource, run_id=run_id, source_name=str(landed))
        finally:
            conn.close()
    log.info("%s: %d lines in, loaded %s, quarantined %d", resource, report.lines_in, report.rows_loaded,
             report.rows_quarantined)
    if report.rows_quarantined:
        log.warning("%d %s lines quarantined: see raw_shopify._quarantine where run_id = %r",
                    report.rows_quarantined, resource, run_id)
    return {
        "resource": resource,
        "bulk_operation_id": result.operation_id,
        "landed": str(landed),
        "lines_in": report.lines_in,
        "rows_loaded": report.rows_loaded,
        "rows_quarantined": report.rows_quarantined,
    }


def summarize(reports: list[dict]) -> dict:
    rows: dict[str, int] = {}
    for r in reports:
        rows.update(r["rows_loaded"])
    return {"rows_loaded": rows, "rows_quarantined": sum(r["rows_quarantined"] for r in reports)}
