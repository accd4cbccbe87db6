"""Writes of the `ml.*` tables: each run's recommendations in `ml.customer_recommendations` (migration 0002)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from storeloop.warehouse.db import Connection, connection, copy_frame_to_table
from storeloop.warehouse.migrations import migrate

if TYPE_CHECKING:
    import pandas as pd

TABLE = "ml.customer_recommendations"
# what a recommendations frame carries (the recommender's output: storeloop.recsys.interactions.RECOMMENDATION_COLUMNS)
RECOMMENDATION_COLUMNS = ("customer_id", "product_id", "rank", "score")
TABLE_COLUMNS = [*RECOMMENDATION_COLUMNS, "model_version", "run_id", "scored_at"]


def write_customer_recommendations(
    conn: Connection | str,
    recs: pd.DataFrame,
    model_version: int | str,
    run_id: str,
    scored_at: datetime | None = None,
) -> int:
    """Replace the rows of `run_id` in `ml.customer_recommendations` with `recs`, in one transaction.

    Applies pending migrations first (the table is migration 0002's), deletes this run's rows, then COPYs the new
    ones: rerunning a run never duplicates. Returns the number of rows written.
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
        migrate(c)
        with c:  # one transaction: commit on success, roll back on error
            with c.cursor() as cur:
                cur.execute(f"delete from {TABLE} where run_id = %s", (run_id,))
            copy_frame_to_table(c, rows, TABLE, TABLE_COLUMNS)
    return len(rows)
