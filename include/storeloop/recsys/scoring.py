"""Scoring customers with the champion and keeping the result in `ml.customer_recommendations`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd

from storeloop.recsys.db import Connection, connection, copy_frame_to_table
from storeloop.recsys.interactions import RECOMMENDATION_COLUMNS, empty_recommendations, not_cancelled
from storeloop.recsys.pyfunc import DEFAULT_K, model_input

TABLE = "ml.customer_recommendations"
TABLE_COLUMNS = ["customer_id", "product_id", "rank", "score", "model_version", "run_id", "scored_at"]

CREATE_SQL = f"""
create schema if not exists ml;
create table if not exists {TABLE} (
    customer_id text not null,
    product_id text not null,
    rank integer not null,
    score double precision not null,
    model_version integer not null,
    run_id text not null,
    scored_at timestamptz not null default now(),
    primary key (run_id, customer_id, rank)
);
"""


def score_customers(model: Any, order_lines: pd.DataFrame, k: int = DEFAULT_K) -> pd.DataFrame:
    """Top-`k` products for every customer with a purchase in `order_lines`.

    `model` is a loaded pyfunc (`predict(df, params={"k": k})`) or a fitted recommender (`recommend(df, k)`).
    Cancelled lines (if the column is present) and lines without customer or product are ignored.
    """
    history = model_input(not_cancelled(order_lines))
    if history.empty:
        return empty_recommendations()
    if hasattr(model, "recommend"):
        recs = model.recommend(history, k=k)
    else:
        recs = model.predict(history, params={"k": k})
    return recs[list(RECOMMENDATION_COLUMNS)].reset_index(drop=True)


def ensure_recommendations_table(conn: Connection) -> None:
    with conn.cursor() as cur:
        cur.execute(CREATE_SQL)


def write_customer_recommendations(
    conn: Connection | str,
    recs: pd.DataFrame,
    model_version: int | str,
    run_id: str,
    scored_at: datetime | None = None,
) -> int:
    """Replace the rows of `run_id` in `ml.customer_recommendations` with `recs`, in one transaction.

    Creates the table if absent, deletes this run's rows, then COPYs the new ones: rerunning a run never duplicates.
    Returns the number of rows written.
    """
    if not run_id:
        raise ValueError("run_id is required: rows are replaced per run, so it must identify this run")
    missing = set(RECOMMENDATION_COLUMNS) - set(recs.columns)
    if missing:
        raise ValueError(f"recommendations lack column(s) {sorted(missing)}; expected {list(RECOMMENDATION_COLUMNS)}")
    rows = recs[list(RECOMMENDATION_COLUMNS)].copy()
    rows["model_version"] = int(model_version)
    rows["run_id"] = run_id
    rows["scored_at"] = (scored_at or datetime.now(UTC)).isoformat()
    with connection(conn) as c:
        with c:  # one transaction: commit on success, roll back on error
            ensure_recommendations_table(c)
            with c.cursor() as cur:
                cur.execute(f"delete from {TABLE} where run_id = %s", (run_id,))
            copy_frame_to_table(c, rows, TABLE, TABLE_COLUMNS)
    return len(rows)
