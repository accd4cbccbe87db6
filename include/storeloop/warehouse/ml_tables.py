"""Writes of the scores in `ml.*` (migrations 0002, 0004 and 0006), replaced per run: each customer's and each product's
list (`ml.customer_recommendations`, `ml.product_recommendations`), each customer's discovery list
(`ml.for_you_recommendations`, the `for_you` model's), the shadow challenger's (`ml.shadow_*`) and its
agreement with the champion (`ml.shadow_agreement`). What the store holds is `publish_state.py`'s."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from storeloop.warehouse.db import Connection, connection, copy_frame_to_table, copy_query_to_frame
from storeloop.warehouse.migrations import migrate

if TYPE_CHECKING:
    import pandas as pd

TABLE = "ml.customer_recommendations"
PRODUCT_TABLE = "ml.product_recommendations"
SHADOW_TABLES = {TABLE: "ml.shadow_customer_recommendations", PRODUCT_TABLE: "ml.shadow_product_recommendations"}
FOR_YOU_TABLE = "ml.for_you_recommendations"
AGREEMENT_TABLE = "ml.shadow_agreement"
# what a recommendations frame carries (the recommender's output: storeloop.recsys.interactions.RECOMMENDATION_COLUMNS)
RECOMMENDATION_COLUMNS = ("customer_id", "product_id", "rank", "score")
# what scoring adds (storeloop.recsys.scoring.CUSTOMER_COLUMNS / PRODUCT_COLUMNS)
CUSTOMER_COLUMNS = (*RECOMMENDATION_COLUMNS, "source")
PRODUCT_COLUMNS = ("product_id", "related_product_id", "rank", "score", "source")
PROVENANCE_COLUMNS = ["model_version", "run_id", "features_build", "scored_at"]
TABLE_COLUMNS = [*CUSTOMER_COLUMNS, *PROVENANCE_COLUMNS]
PRODUCT_TABLE_COLUMNS = [*PRODUCT_COLUMNS, *PROVENANCE_COLUMNS]


def _replace_run(conn: Connection | str, table: str, frame: pd.DataFrame, columns: tuple[str, ...], *,
                 model_version: int | str, run_id: str, features_build: str | None,
                 scored_at: datetime | None) -> int:
    if not run_id:
        raise ValueError("run_id is required: rows are replaced per run, so it must identify this run")
    missing = set(columns) - set(frame.columns)
    if missing:
        raise ValueError(f"{table}: the frame lacks column(s) {sorted(missing)}; expected {list(columns)}")
    rows = frame[list(columns)].copy()
    rows["model_version"] = int(model_version)
    rows["run_id"] = run_id
    rows["features_build"] = features_build
    rows["scored_at"] = (scored_at or datetime.now(UTC)).isoformat()
    with connection(conn) as c:
        migrate(c)
        with c:  # one transaction: commit on success, roll back on error
            with c.cursor() as cur:
                cur.execute(f"delete from {table} where run_id = %s", (run_id,))
            copy_frame_to_table(c, rows, table, [*columns, *PROVENANCE_COLUMNS])
    return len(rows)


def write_customer_recommendations(conn: Connection | str, recs: pd.DataFrame, model_version: int | str, run_id: str,
                                   scored_at: datetime | None = None, *, features_build: str | None = None,
                                   shadow: bool = False, for_you: bool = False) -> int:
    """Replace the rows of `run_id` in `ml.customer_recommendations` (or its shadow table, or with `for_you`
    `ml.for_you_recommendations`) with `recs`, in one transaction (a rerun never duplicates). `recs` without `source`
    are the model's. Returns the rows written."""
    if "source" not in recs.columns:
        recs = recs.assign(source="model")
    table = _customer_table(shadow, for_you)
    return _replace_run(conn, table, recs, CUSTOMER_COLUMNS, model_version=model_version, run_id=run_id,
                        features_build=features_build, scored_at=scored_at)


def write_product_recommendations(conn: Connection | str, related: pd.DataFrame, model_version: int | str,
                                  run_id: str, scored_at: datetime | None = None, *,
                                  features_build: str | None = None, shadow: bool = False) -> int:
    """Replace the rows of `run_id` in `ml.product_recommendations` (or its shadow table) with `related`."""
    table = SHADOW_TABLES[PRODUCT_TABLE] if shadow else PRODUCT_TABLE
    return _replace_run(conn, table, related, PRODUCT_COLUMNS, model_version=model_version, run_id=run_id,
                        features_build=features_build, scored_at=scored_at)


def write_shadow_agreement(conn: Connection | str, run_id: str, *, champion_version: int, challenger_version: int,
                           customers: int, overlap_at_10: float, lists_differ_share: float,
                           champion_coverage: float, challenger_coverage: float) -> None:
    """Replace the run's row in `ml.shadow_agreement`."""
    with connection(conn) as c:
        migrate(c)
        with c, c.cursor() as cur:
            cur.execute(f"delete from {AGREEMENT_TABLE} where run_id = %s", (run_id,))
            cur.execute(
                f"insert into {AGREEMENT_TABLE} (run_id, champion_version, challenger_version, customers, "
                "overlap_at_10, lists_differ_share, champion_coverage, challenger_coverage) "
                "values (%s, %s, %s, %s, %s, %s, %s, %s)",
                (run_id, int(champion_version), int(challenger_version), int(customers), float(overlap_at_10),
                 float(lists_differ_share), float(champion_coverage), float(challenger_coverage)))


def _customer_table(shadow: bool, for_you: bool) -> str:
    if shadow and for_you:
        raise ValueError("the shadow challenger has no for_you list")
    return SHADOW_TABLES[TABLE] if shadow else FOR_YOU_TABLE if for_you else TABLE


def read_run(conn: Connection | str, run_id: str, *, products: bool = False, shadow: bool = False,
             for_you: bool = False) -> pd.DataFrame:
    """The lists a run scored (customer, customer `for_you`, or product; champion or shadow), for publishing and
    comparisons."""
    if products:
        table = SHADOW_TABLES[PRODUCT_TABLE] if shadow else PRODUCT_TABLE
    else:
        table = _customer_table(shadow, for_you)
    columns = PRODUCT_COLUMNS if products else CUSTOMER_COLUMNS
    with connection(conn) as c:
        query = c.cursor().mogrify(f"select {', '.join(columns)} from {table} where run_id = %s", (run_id,))
        return copy_query_to_frame(c, query.decode(), dtype={columns[0]: object, columns[1]: object})
