"""Benchmark: loading the L store's orders and line items (JSONL as a Shopify bulk query returns it) into Postgres with
Storeloop's loader, next to a plain COPY of the same rows from a prepared file (the practical limit), in one run.

1. Simulate the L store (1M orders, ~1.9M line items) and write `orders.jsonl` in the bulk-query shape of
   include/storeloop/shopify/graphql/bulk_orders.graphql (orders, then each order's line items with `__parentId`).
2. loader: `load_bulk_jsonl` (parse + validate every line, typed columns + the record as JSONB, COPY, quarantine
   bookkeeping, one transaction), into empty raw tables.
3. plain COPY: the exact rows the loader produced, prepared beforehand as COPY text files, copied into the same empty
   tables (same indexes) in one transaction: what Postgres itself can take.

Prints: step | rows | seconds | rows/s | share of the limit. Run: .venv/bin/python bench/bench_ingest.py [--size L]
Uses a database `storeloop_bench_ingest` on the server `make setup` resolved (dropped at the end).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "include"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import psycopg2  # noqa: E402

from devstack import postgres  # noqa: E402
from devstack.settings import load_settings  # noqa: E402
from sandbox.store_simulator import simulate_store  # noqa: E402
from storeloop.shopify.bulk_jsonl import parse_line  # noqa: E402
from storeloop.shopify.records import RESOURCE_TABLES  # noqa: E402
from storeloop.warehouse.db import copy_text_line  # noqa: E402
from storeloop.warehouse.migrations import migrate  # noqa: E402
from storeloop.warehouse.raw_loader import load_bulk_jsonl  # noqa: E402
from storeloop.warehouse.raw_schema import RAW_TABLES  # noqa: E402

DB = "storeloop_bench_ingest"


def write_orders_jsonl(store, path: Path) -> int:
    """The orders bulk-query result for `store`; returns the number of lines."""
    orders, items = store.orders, store.line_items
    countries = dict(zip(store.customers["customer_id"], store.customers["country_code"], strict=True))
    by_order = items.groupby("order_id", sort=False).indices
    cols = {c: items[c].to_numpy() for c in ("line_item_id", "sku", "title", "quantity", "unit_price", "product_id",
                                              "variant_id")}
    n = 0
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    with open(path, "w", encoding="utf-8") as out:
        for o in orders.itertuples(index=False):
            out.write(dumps({
                "id": o.order_id, "name": o.name, "email": o.email, "createdAt": o.created_at,
                "processedAt": o.processed_at, "updatedAt": o.updated_at, "cancelledAt": o.cancelled_at,
                "displayFinancialStatus": o.financial_status, "currencyCode": o.currency_code,
                "totalPriceSet": {"shopMoney": {"amount": f"{o.total_price:.2f}", "currencyCode": o.currency_code}},
                "customer": {"id": o.customer_id} if o.customer_id else None,
                "shippingAddress": {"countryCodeV2": countries.get(o.customer_id, "US")},
            }) + "\n")
            n += 1
            for j in by_order.get(o.order_id, ()):
                out.write(dumps({
                    "id": cols["line_item_id"][j], "sku": cols["sku"][j], "title": cols["title"][j],
                    "quantity": int(cols["quantity"][j]),
                    "originalUnitPriceSet": {"shopMoney": {"amount": f"{cols['unit_price'][j]:.2f}"}},
                    "product": {"id": cols["product_id"][j]}, "variant": {"id": cols["variant_id"][j]},
                    "__parentId": o.order_id,
                }) + "\n")
                n += 1
    return n


def prepare_copy_files(jsonl: Path, folder: Path, run_id: str) -> dict[str, Path]:
    """The loader's own rows as COPY text files, one per table (untimed)."""
    tables = RESOURCE_TABLES["orders"]
    files = {t: folder / f"{t}.copy" for t in tables}
    handles = {t: open(files[t], "w", encoding="utf-8", newline="") for t in tables}
    try:
        with open(jsonl, encoding="utf-8") as fh:
            for line in fh:
                table, row, record = parse_line(line, tables)
                handles[table].write(copy_text_line((*row, run_id, "api_bulk",
                                                     json.dumps(record, separators=(",", ":")))))
    finally:
        for h in handles.values():
            h.close()
    return files


def truncate(conn) -> None:
    with conn.cursor() as cur:
        cur.execute("truncate raw_shopify.orders, raw_shopify.order_line_items, raw_shopify._quarantine, "
                    "raw_shopify._ingest_batches")
    conn.commit()


def plain_copy(conn, files: dict[str, Path]) -> int:
    rows = 0
    with conn.cursor() as cur:
        for table, path in files.items():
            raw = RAW_TABLES[table]
            columns = ", ".join([*raw.typed_column_names, "_run_id", "_source", "_record"])
            with open(path, encoding="utf-8") as fh:
                cur.copy_expert(f"copy {raw.qualified_name} ({columns}) from stdin with (format text)", fh)
            rows += cur.rowcount
    conn.commit()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="L", help="store size (XS, S, M, L); default L")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    server = load_settings().server_url
    postgres.drop_database(server, DB)
    postgres.ensure_database(server, DB)
    conn = psycopg2.connect(f"{server}/{DB}")
    try:
        migrate(conn)
        with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
            tmp = Path(tmp)
            t0 = time.perf_counter()
            store = simulate_store(seed=args.seed, size=args.size)
            jsonl = tmp / "orders.jsonl"
            lines = write_orders_jsonl(store, jsonl)
            del store
            print(f"prepared {lines:,} JSONL lines ({jsonl.stat().st_size / 1e6:.0f} MB) in "
                  f"{time.perf_counter() - t0:.1f} s", flush=True)

            t0 = time.perf_counter()
            report = load_bulk_jsonl(conn, jsonl, resource="orders", run_id="bench", progress_every=0)
            loader_s = time.perf_counter() - t0
            loaded = report.total_loaded
            assert report.rows_quarantined == 0 and loaded == lines

            files = prepare_copy_files(jsonl, tmp, "bench")
            truncate(conn)
            t0 = time.perf_counter()
            copied = plain_copy(conn, files)
            copy_s = time.perf_counter() - t0
            assert copied == loaded
    finally:
        conn.close()
        postgres.drop_database(server, DB)

    limit = copied / copy_s
    print()
    print(f"{'step':<44} {'rows':>10} {'seconds':>8} {'rows/s':>10} {'of limit':>9}")
    print(f"{'plain COPY of prepared rows (the limit)':<44} {copied:>10,} {copy_s:>8.1f} {limit:>10,.0f} {'100%':>9}")
    share = (loaded / loader_s) / limit
    print(f"{'load_bulk_jsonl (parse + COPY + bookkeeping)':<44} {loaded:>10,} {loader_s:>8.1f} "
          f"{loaded / loader_s:>10,.0f} {share:>8.0%}")


if __name__ == "__main__":
    main()
