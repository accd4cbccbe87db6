"""Benchmark: full `dbt build` of the feature store vs the nightly incremental build after one day of changes.

1. Simulates a store (sandbox.store_simulator, default `--size L --seed 1`: 1M orders, ~1.9M lines, 250k customers,
   20k products) whose history ends yesterday at midnight UTC, and writes it into the raw tables of a fresh bench
   database with COPY, as one ingest run (`bench_run_1`, `_source = 'api_bulk'`, `_record` holding the record
   including the address country fields the API queries ask for), stamped `_loaded_at` = 48 h ago (the backfill),
   with its `_ingest_batches` rows as Storeloop's loader commits them (committed_at = the rows' `_loaded_at`).
2. Times `dbt build --full-refresh` (every model and test) on it.
3. Twice (night 1 stamped 24 h ago, night 2 now): simulates the next day (`store_simulator.advance(days=1)`: new
   orders and their lines, customers who ordered get a new updated_at) plus late changes to existing orders
   (`--cancel` orders cancelled and `--refund` orders refunded, each with a new updated_at), loads exactly those
   changed records as one more ingest run, as an incremental Shopify pull (`updated_at:>=` last run) would, and times
   the nightly `dbt build` (fct_order_lines and int_shopify__orders incremental; the feature tables and the dims
   rebuilt). Night 1 is the first nightly run after the backfill, night 2 the steady state.
4. Unless `--no-verify`: times a `dbt build --full-refresh` on the same data and checks that the incremental
   fct_order_lines has exactly the rows of the full refresh.

Prints a table: phase | seconds | fct_order_lines rows | slowest nodes. dbt runs with the project's profiles.yml
(threads: 2) against STORELOOP_BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432/postgres; the bench
creates and drops its own database `storeloop_bench_dbt`).

Run: .venv/bin/python bench/bench_dbt_build.py [--size L] [--seed 1] [--keep-db]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg2
import psycopg2.extensions

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "include"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from devstack import postgres  # noqa: E402
from sandbox.store_simulator import StoreData, advance, country_codes, simulate_store  # noqa: E402
from storeloop.warehouse.migrations import migrate  # noqa: E402
from storeloop.warehouse.raw_schema import BATCHES_TABLE, RAW_TABLES  # noqa: E402

DBT_PROJECT = ROOT / "dbt_project"
BENCH_DB = "storeloop_bench_dbt"


# ------------------------------------------------------------------------------------------- raw rows from the store


def _json_lines(df: pd.DataFrame) -> list[str]:
    if df.empty:
        return []
    return df.to_json(orient="records", lines=True, date_format="iso").splitlines()


def raw_frames(store: StoreData, orders: pd.DataFrame, lines: pd.DataFrame, customers: pd.DataFrame,
               products: pd.DataFrame, variants: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Typed raw columns + `_record` (JSON, shaped like the bulk records the loader keeps) for each raw table."""
    country_of = dict(zip(store.customers["customer_id"], store.customers["country_code"], strict=True))
    out: dict[str, pd.DataFrame] = {}

    p = pd.DataFrame({"id": products["product_id"], "handle": products["handle"], "title": products["title"],
                      "product_type": products["product_type"], "vendor": products["vendor"],
                      "status": products["status"], "created_at": products["created_at"],
                      "updated_at": products["updated_at"]})
    p["_record"] = _json_lines(p.rename(columns={"product_type": "productType", "created_at": "createdAt",
                                                 "updated_at": "updatedAt"}))
    out["products"] = p

    v = pd.DataFrame({"id": variants["variant_id"], "product_id": variants["product_id"], "sku": variants["sku"],
                      "title": variants["title"], "price": variants["price"].map("{:.2f}".format),
                      "created_at": variants["created_at"], "updated_at": variants["updated_at"]})
    v["_record"] = _json_lines(v.rename(columns={"product_id": "__parentId", "created_at": "createdAt",
                                                 "updated_at": "updatedAt"}))
    out["product_variants"] = v

    c = pd.DataFrame({"id": customers["customer_id"], "email": customers["email"].str.lower(),
                      "created_at": customers["created_at"], "updated_at": customers["updated_at"]})
    rec = c.rename(columns={"created_at": "createdAt", "updated_at": "updatedAt"})
    rec["defaultAddress"] = [{"countryCodeV2": cc} for cc in customers["country_code"]]
    c["_record"] = _json_lines(rec)
    out["customers"] = c

    o = pd.DataFrame({"id": orders["order_id"], "name": orders["name"], "customer_id": orders["customer_id"],
                      "email": orders["email"], "created_at": orders["created_at"],
                      "processed_at": orders["processed_at"], "updated_at": orders["updated_at"],
                      "cancelled_at": orders["cancelled_at"], "financial_status": orders["financial_status"],
                      "currency_code": orders["currency_code"],
                      "total_price": orders["total_price"].map("{:.2f}".format)})
    order_country = [country_of.get(cid) if isinstance(cid, str) else g
                     for cid, g in zip(orders["customer_id"], country_codes(orders["order_id"]), strict=True)]
    rec = o.rename(columns={"created_at": "createdAt", "processed_at": "processedAt", "updated_at": "updatedAt",
                            "cancelled_at": "cancelledAt", "financial_status": "displayFinancialStatus",
                            "currency_code": "currencyCode"})
    rec["shippingAddress"] = [{"countryCodeV2": cc} for cc in order_country]
    o["_record"] = _json_lines(rec)
    out["orders"] = o

    li = pd.DataFrame({"id": lines["line_item_id"], "order_id": lines["order_id"],
                       "product_id": lines["product_id"], "variant_id": lines["variant_id"], "sku": lines["sku"],
                       "title": lines["title"], "quantity": lines["quantity"].astype("int64"),
                       "unit_price": lines["unit_price"].map("{:.2f}".format)})
    li["_record"] = _json_lines(li.rename(columns={"order_id": "__parentId"}))
    out["order_line_items"] = li
    return out


BATCH_RESOURCES = {"products": ("products", "product_variants"), "customers": ("customers",),
                   "orders": ("orders", "order_line_items")}


def copy_frames(conn, frames: dict[str, pd.DataFrame], run_id: str, loaded_at: datetime) -> dict[str, int]:
    counts = {}
    with conn.cursor() as cur:
        for table, df in frames.items():
            raw = RAW_TABLES[table]
            # a typed column the bench does not simulate (the eligibility columns of migration 0005) loads as null
            df = df.reindex(columns=raw.typed_column_names + ["_record"])
            df.insert(len(df.columns) - 1, "_run_id", run_id)
            df.insert(len(df.columns) - 1, "_source", "api_bulk")
            df.insert(len(df.columns) - 1, "_loaded_at", loaded_at.isoformat())
            buf = io.StringIO()
            df.to_csv(buf, index=False, header=False)
            buf.seek(0)
            columns = ", ".join([*raw.typed_column_names, "_run_id", "_source", "_loaded_at", "_record"])
            cur.copy_expert(f"copy {raw.qualified_name} ({columns}) from stdin with (format csv)", buf)
            counts[table] = len(df)
        # like Storeloop's loaders: one _ingest_batches row per resource in the load's transaction, committed_at =
        # the rows' _loaded_at (dbt's lookback skips loads an earlier build saw: macros/raw_batches_seen.sql)
        for resource, tables in BATCH_RESOURCES.items():
            loaded = {t: counts[t] for t in tables if t in counts}
            if loaded:
                cur.execute(f"insert into {BATCHES_TABLE} (run_id, resource, source, mode, source_file, lines_in, "
                            "rows_loaded, rows_quarantined, committed_at) values (%s, %s, 'api_bulk', %s, %s, %s, "
                            "%s, 0, %s)",
                            (run_id, resource, "backfill" if run_id == "bench_run_1" else "incremental",
                             f"bench:{resource}.jsonl", sum(loaded.values()), json.dumps(loaded), loaded_at))
    conn.commit()
    with conn.cursor() as cur:
        cur.execute("analyze")
    conn.commit()
    return counts


def next_day_changes(before: StoreData, after: StoreData, n_cancel: int, n_refund: int,
                     seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Orders (new + late-changed), their lines, and customers changed by one simulated day."""
    new_orders = after.orders.iloc[len(before.orders):]
    rng = np.random.default_rng(seed)
    live = before.orders[before.orders["cancelled_at"].isna() & (before.orders["financial_status"] == "PAID")]
    picked = live.iloc[rng.choice(len(live), size=min(n_cancel + n_refund, len(live)), replace=False)].copy()
    stamp = (after.end - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    picked["updated_at"] = stamp
    cancel = picked.index[:n_cancel]
    picked.loc[cancel, "cancelled_at"] = stamp
    picked.loc[cancel, "financial_status"] = "VOIDED"
    picked.loc[picked.index[n_cancel:], "financial_status"] = "REFUNDED"
    orders = pd.concat([new_orders, picked], ignore_index=True)
    lines = after.line_items[after.line_items["order_id"].isin(set(orders["order_id"]))]
    changed = after.customers["updated_at"].to_numpy() != before.customers["updated_at"].to_numpy()
    customers = after.customers[changed]
    return orders, lines, customers


# ---------------------------------------------------------------------------------------------- a fresh database

ADMIN_URL_ENV = "STORELOOP_BENCH_PG_URL"  # the server's maintenance database; default the machine's PostgreSQL


def admin_url() -> str:
    return os.environ.get(ADMIN_URL_ENV, "postgresql://postgres@127.0.0.1:5432/postgres")


def fresh_database(name: str) -> tuple[dict[str, str], str]:
    """Drop and create database `name` on the bench server; returns the environment dbt_project/profiles.yml reads
    for it and its URL. Used by every bench that builds a warehouse (bench_dbt_build, bench_ranker,
    eval_fixture_orders)."""
    drop_database(name)
    postgres.ensure_database(_server_url(), name)
    dsn = psycopg2.extensions.parse_dsn(admin_url())
    password = dsn.get("password", "")
    env = {**os.environ, "STORELOOP_WAREHOUSE_HOST": dsn.get("host", "127.0.0.1"),
           "STORELOOP_WAREHOUSE_PORT": dsn.get("port", "5432"), "STORELOOP_WAREHOUSE_USER": dsn.get("user", "postgres"),
           "STORELOOP_WAREHOUSE_PASSWORD": password, "STORELOOP_WAREHOUSE_DBNAME": name,
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_USE_COLORS": "false"}
    url = (f"postgresql://{env['STORELOOP_WAREHOUSE_USER']}:{password}@{env['STORELOOP_WAREHOUSE_HOST']}:"
           f"{env['STORELOOP_WAREHOUSE_PORT']}/{name}")
    return env, url


def _server_url() -> str:
    """`admin_url()` without its database: what devstack.postgres' helpers take."""
    return admin_url().rsplit("/", 1)[0]


def drop_database(name: str) -> None:
    postgres.drop_database(_server_url(), name)


# ---------------------------------------------------------------------------------------------------------- dbt runs


def run_dbt(args: list[str], env: dict[str, str], work: Path) -> tuple[float, dict]:
    cmd = [str(Path(sys.executable).with_name("dbt")), *args, "--project-dir", str(DBT_PROJECT),
           "--profiles-dir", str(DBT_PROJECT), "--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    t0 = time.perf_counter()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - t0
    if result.returncode != 0:
        raise SystemExit(f"`dbt {' '.join(args)}` failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}")
    results = json.loads((work / "target" / "run_results.json").read_text())
    # every node's timing, per invocation, for a closer look than the table's slowest nodes
    label = "_".join(a.strip("-") for a in args)
    run_no = len(list(work.glob("run_results_*.json"))) + 1
    (work / f"run_results_{run_no:02d}_{label}.json").write_text(json.dumps(results))
    return seconds, results


def slowest(results: dict, n: int = 4) -> str:
    nodes = sorted(results["results"], key=lambda r: r["execution_time"], reverse=True)[:n]
    return ", ".join(f"{r['unique_id'].split('.')[-1]} {r['execution_time']:.1f}s" for r in nodes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="L")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cancel", type=int, default=500, help="existing orders cancelled during the simulated day")
    ap.add_argument("--refund", type=int, default=1500, help="existing orders refunded during the simulated day")
    ap.add_argument("--no-verify", action="store_true", help="skip the full refresh after the incremental run")
    ap.add_argument("--keep-db", action="store_true")
    opts = ap.parse_args()

    env, url = fresh_database(BENCH_DB)
    work = ROOT / ".local" / "bench_dbt"
    work.mkdir(parents=True, exist_ok=True)
    for stale in work.glob("run_results_*.json"):
        stale.unlink()
    conn = psycopg2.connect(url)
    rows: list[tuple[str, float, str, str]] = []
    try:
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        t0 = time.perf_counter()
        store = simulate_store(seed=opts.seed, size=opts.size, end=today - timedelta(days=2))
        rows.append(("simulate store", time.perf_counter() - t0, "", str(store.counts())))

        migrate(conn)
        t0 = time.perf_counter()
        frames = raw_frames(store, store.orders, store.line_items, store.customers, store.products, store.variants)
        # the backfill, two nights ago
        counts = copy_frames(conn, frames, "bench_run_1", datetime.now(UTC) - timedelta(days=2))
        del frames
        rows.append(("load raw (COPY), run 1", time.perf_counter() - t0, "", str(counts)))

        def fct_rows() -> str:
            with conn.cursor() as cur:
                cur.execute("select count(*) from marts.fct_order_lines")
                n = cur.fetchone()[0]
            conn.commit()
            return f"{n:,}"

        seconds, results = run_dbt(["build", "--full-refresh"], env, work)
        rows.append(("dbt build --full-refresh", seconds, fct_rows(), slowest(results)))

        # Two simulated nights. The first nightly run after the backfill also recomputes the backfill's orders (the
        # lookback re-reads the previous load: see docs/features.md), the second is the steady state.
        for night, stamp in ((1, datetime.now(UTC) - timedelta(days=1)), (2, datetime.now(UTC))):
            t0 = time.perf_counter()
            after = advance(store, days=1, seed=opts.seed + night)
            orders, lines, customers = next_day_changes(store, after, opts.cancel, opts.refund, opts.seed + night)
            frames = raw_frames(after, orders, lines, customers, after.products.iloc[:0], after.variants.iloc[:0])
            frames = {k: v for k, v in frames.items() if len(v)}
            counts = copy_frames(conn, frames, f"bench_run_{night + 1}", stamp)
            n_new = len(after.orders) - len(store.orders)
            rows.append((f"night {night}: simulate + load raw", time.perf_counter() - t0, "",
                         f"{n_new:,} new orders, {opts.cancel} cancelled, {opts.refund} refunded; {counts}"))
            store = after

            seconds, results = run_dbt(["build"], env, work)
            fct = next(r for r in results["results"] if r["unique_id"] == "model.storeloop.fct_order_lines")
            rows.append((f"night {night}: dbt build (incremental)", seconds, fct_rows(),
                         f"fct_order_lines: {fct['adapter_response'].get('_message', '')} in "
                         f"{fct['execution_time']:.1f}s; slowest: {slowest(results)}"))
        with conn.cursor() as cur:
            cur.execute("create table public.fct_incremental as select * from marts.fct_order_lines")
        conn.commit()

        if not opts.no_verify:
            seconds, results = run_dbt(["build", "--full-refresh"], env, work)
            rows.append(("dbt build --full-refresh (same data)", seconds, fct_rows(), slowest(results)))
            with conn.cursor() as cur:
                cur.execute("""select
                    (select count(*) from (select * from public.fct_incremental except all
                                           select * from marts.fct_order_lines) a),
                    (select count(*) from (select * from marts.fct_order_lines except all
                                           select * from public.fct_incremental) b)""")
                only_inc, only_full = cur.fetchone()
            conn.commit()
            verdict = "identical" if only_inc == only_full == 0 else f"DIFFER: {only_inc} / {only_full} rows"
            rows.append(("incremental fct_order_lines vs full refresh", 0.0, "", verdict))
    finally:
        conn.close()
        if not opts.keep_db:
            drop_database(BENCH_DB)

    print(f"\nstore {opts.size}, seed {opts.seed}; PostgreSQL {env['STORELOOP_WAREHOUSE_HOST']}:{env['STORELOOP_WAREHOUSE_PORT']}; dbt threads 2\n")
    print(f"| {'phase':<44} | {'seconds':>8} | {'fct_order_lines':>15} | notes")
    print(f"|{'-' * 46}|{'-' * 10}|{'-' * 17}|------")
    for phase, secs, n, note in rows:
        print(f"| {phase:<44} | {secs:8.1f} | {n:>15} | {note}")
    full = next(s for p, s, _, _ in rows if p == "dbt build --full-refresh")
    for p, s, _, _ in rows:
        if p.endswith("(incremental)"):
            print(f"{p.split(':')[0]}: nightly build / full build = {s / full:.0%}")


if __name__ == "__main__":
    main()
