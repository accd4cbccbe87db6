"""recommender_train's point-in-time feature snapshots against real dbt and PostgreSQL: built as of a cutoff into a
schema of their own, identical to the same models built as of that cutoff in `marts`, never touching the nightly
tables or the build bookkeeping, and readable as the ranker's feature tables."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from support.dbt_store import NOW, seed_store
from support.dbt_warehouse import Warehouse, dbt_executable, run_dbt

from storeloop.orchestration.connections import WarehouseParams
from storeloop.orchestration.feature_snapshots import TRAIN_SCHEMA, build_snapshot
from storeloop.recsys.ranker import FEATURE_MODELS, FEATURE_READ_LIMITS, PAIR_COLUMNS, feature_tables
from storeloop.warehouse.feature_tables import read_as_of, read_feature_models

pytestmark = pytest.mark.integration


def _params(warehouse: Warehouse) -> WarehouseParams:
    p = warehouse.dsn_params
    return WarehouseParams(p["host"], int(p["port"]), p["user"], p["password"], p["dbname"])


def _rows(warehouse: Warehouse, schema: str, model: str) -> list[tuple]:
    order = "customer_id, product_id" if model == "fct_customer_product_interactions" else "1, 2"
    return warehouse.query(f'select * from "{schema}"."{model}" order by {order}')


def test_a_snapshot_is_the_models_as_of_the_cutoff_in_their_own_schema(warehouse, warehouse_db, tmp_path, monkeypatch):
    monkeypatch.setenv("STORELOOP_DBT_EXECUTABLE", dbt_executable())
    seed_store(warehouse.dsn_params)
    built = run_dbt(warehouse, tmp_path, "build", "--full-refresh")
    assert built.returncode == 0, built.stdout[-3000:]
    nightly_as_of = warehouse.query("select max(as_of) from marts.customer_features")[0][0]
    builds_before = warehouse.query("select model, invocation_id from marts._dbt_model_builds order by model")

    cutoff = pd.Timestamp(NOW - timedelta(days=3)).tz_convert("UTC")
    snapshot = build_snapshot(_params(warehouse), TRAIN_SCHEMA, cutoff, list(FEATURE_MODELS))
    assert snapshot["schema"] == TRAIN_SCHEMA and snapshot["dbt_invocation_id"]

    # the nightly tables and the record of their builds are untouched
    assert warehouse.query("select max(as_of) from marts.customer_features")[0][0] == nightly_as_of
    assert warehouse.query("select model, invocation_id from marts._dbt_model_builds order by model") == builds_before
    assert read_as_of(warehouse_db, TRAIN_SCHEMA, "customer_features") == cutoff

    # the same definition: the models built as of the cutoff in marts give the snapshot's rows
    same = run_dbt(warehouse, tmp_path, "run", "--select", *FEATURE_MODELS, "--vars",
                   f"{{as_of: '{cutoff.isoformat()}'}}")
    assert same.returncode == 0, same.stdout[-3000:]
    for model in FEATURE_MODELS:
        assert _rows(warehouse, TRAIN_SCHEMA, model) == _rows(warehouse, "marts", model), model

    tables = feature_tables(read_feature_models(warehouse_db, TRAIN_SCHEMA, FEATURE_MODELS, FEATURE_READ_LIMITS), cutoff)
    assert set(PAIR_COLUMNS) <= set(tables.pairs.columns) and len(tables.pairs) > 0

    # a limited read keeps the top partners per product by confidence, ties by the partner id in byte order
    co = {"product_co_purchase": FEATURE_MODELS["product_co_purchase"]}
    full = read_feature_models(warehouse_db, TRAIN_SCHEMA, co)["product_co_purchase"]
    top1 = read_feature_models(warehouse_db, TRAIN_SCHEMA, co, {"product_co_purchase": ("product_id", "confidence", 1)})
    expected = (full.sort_values(["product_id", "confidence", "other_product_id"], ascending=[True, False, True])
                .groupby("product_id").head(1))
    got = top1["product_co_purchase"].sort_values("product_id")
    assert got[["product_id", "other_product_id"]].values.tolist() == \
        expected[["product_id", "other_product_id"]].values.tolist()
    assert full["product_id"].nunique() == len(got) <= len(full)  # one partner each (this store has few pairs)


def test_order_share_and_repurchase_interval_follow_their_definition(warehouse, tmp_path):
    seed_store(warehouse.dsn_params)
    built = run_dbt(warehouse, tmp_path, "run", "--full-refresh")
    assert built.returncode == 0, built.stdout[-3000:]
    # recomputed here from fct_order_lines, the model's own input, for every pair
    expected = warehouse.query("""
        with counted as (
            select * from marts.fct_order_lines
            where ordered_at <= (select max(as_of) from marts.fct_customer_product_interactions)
              and not (is_cancelled and cancelled_at <= (select max(as_of) from marts.fct_customer_product_interactions))
              and customer_id is not null and product_id is not null
        ), per_customer as (select customer_id, count(distinct order_id) as n from counted group by 1)
        select c.customer_id, c.product_id, count(distinct c.order_id)::float / max(p.n),
               case when count(distinct c.order_id) > 1 then extract(epoch from max(c.ordered_at) - min(c.ordered_at))
                    / 86400.0 / (count(distinct c.order_id) - 1) end
        from counted c join per_customer p using (customer_id) group by 1, 2 order by 1, 2""")
    got = warehouse.query("select customer_id, product_id, order_share, repurchase_interval_days "
                          "from marts.fct_customer_product_interactions order by 1, 2")
    assert len(got) == len(expected) > 0
    for (c, p, share, interval), (c2, p2, share2, interval2) in zip(got, expected, strict=True):
        assert (c, p) == (c2, p2)
        assert share == pytest.approx(share2) and 0 < share <= 1
        assert (interval is None and interval2 is None) or interval == pytest.approx(float(interval2))
    assert any(i is not None for *_, i in got)  # the store has re-bought pairs
