"""Recommender candidates and baselines on a real store: the small store's orders export in the fixtures.

Runs the real pipeline on `tests/fixtures/shopify/orders_export_small_store.csv` (409 orders, 811 line items,
2019-05 to 2022-01): the export loader (as shopify_ingest loads it) into a fresh database `storeloop_bench_fixture`,
`dbt build`, then reads `marts.fct_order_lines` and `marts.dim_customers` as recommender_train does and compares every
candidate and baseline (bench/bench_train.py's `compare_candidates`: both settings, the promotion rule's decision).

One deviation, printed: the fixtures hold no products export of this store (none of its SKUs is in a catalogue
fixture), so dbt cannot resolve a line to a product (`product_id` null: a line of an unknown SKU). For this check a
line's product is its product title (the line item name before " - <variant>"), which is what a products export would
give. The store's history is thin (about 30 orders in the last 90 days), so expect noisy metrics: the default holdout
is 180 days.

Run: .venv/bin/python bench/eval_fixture_orders.py [--holdout-days 180] [--keep-db]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "include", ROOT / "bench"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

import pandas as pd  # noqa: E402
import psycopg2  # noqa: E402
from bench_dbt_build import drop_database, fresh_database  # noqa: E402
from bench_train import compare_candidates  # noqa: E402

from storeloop.warehouse.db import copy_query_to_frame  # noqa: E402
from storeloop.warehouse.export_loader import load_csv_export  # noqa: E402
from storeloop.warehouse.marts import load_customers  # noqa: E402

EXPORT = ROOT / "tests" / "fixtures" / "shopify" / "orders_export_small_store.csv"
BENCH_DB = "storeloop_bench_fixture"
LINES_QUERY = """
select order_line_id, order_id, customer_id, product_id, title, quantity, unit_price, line_revenue, ordered_at
from marts.fct_order_lines
where is_cancelled is not true
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--holdout-days", type=int, default=180)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    if not EXPORT.exists():
        sys.exit(f"{EXPORT} not found: it is part of the repository (tests/fixtures/README.md): restore it with git checkout")

    env, url = fresh_database(BENCH_DB)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / EXPORT.name
            shutil.copy(EXPORT, path)
            conn = psycopg2.connect(url)
            try:
                report = load_csv_export(conn, path, run_id="manual__fixture_orders")
            finally:
                conn.close()
            print(f"loaded {EXPORT.name}: {report.lines_in} records in, {report.lines_loaded} loaded, "
                  f"{report.rows_quarantined} quarantined")
            dbt = Path(sys.executable).with_name("dbt")
            result = subprocess.run(
                [str(dbt), "build", "--project-dir", str(ROOT / "dbt_project"), "--profiles-dir",
                 str(ROOT / "dbt_project"), "--target-path", f"{tmp}/target", "--log-path", f"{tmp}/logs"],
                env=env, cwd=ROOT, capture_output=True, text=True,
            )
            if result.returncode != 0:
                sys.exit(f"dbt build failed:\n{result.stdout[-4000:]}")
            print("dbt build: green")
        conn = psycopg2.connect(url)
        try:
            lines = copy_query_to_frame(conn, LINES_QUERY)
            customers = load_customers(conn)
        finally:
            conn.close()
        resolved = lines["product_id"].notna().mean()
        print(f"fct_order_lines: {len(lines)} non-cancelled lines, {lines['order_id'].nunique()} orders, "
              f"{lines['customer_id'].nunique()} customers; product resolved by dbt on {resolved:.0%} of lines")
        lines["product_id"] = lines["product_id"].where(
            lines["product_id"].notna(), "title:" + lines["title"].str.rsplit(" - ", n=1).str[0]
        )
        lines["ordered_at"] = pd.to_datetime(lines["ordered_at"], utc=True)
        lines[["quantity", "unit_price", "line_revenue"]] = lines[["quantity", "unit_price", "line_revenue"]].astype("float64")
        lines = lines.drop(columns=["title"])
        print(f"after keying products by title: {lines['product_id'].nunique()} products; holdout = last {args.holdout_days} days")
        compare_candidates(lines, customers, holdout_days=args.holdout_days, k=args.k, trace=False)
    finally:
        if not args.keep_db:
            drop_database(BENCH_DB)


if __name__ == "__main__":
    main()
