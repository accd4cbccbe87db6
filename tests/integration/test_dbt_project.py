"""The dbt project against a real PostgreSQL: raw_shopify rows in, staging views and marts tables out, tests as a gate.

Each test gets its own database (the `warehouse` fixture, tests/integration/conftest.py), creates the raw schema from
`storeloop.warehouse.raw_schema`, loads the small hand-made store of tests/support/dbt_store.py, runs `dbt build` in a
subprocess (tests/support/dbt_warehouse.py) and drops the database afterwards. dbt writes its target/ and logs/ into
the test's tmp dir, so a developer's dbt_project/target is never touched.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from support.dbt_store import (
    C_ANN,
    C_BOB,
    C_CAT,
    LOADED_2,
    O_1,
    O_2_EDITED,
    O_6_UNPROCESSED,
    P_MUG,
    P_POSTER,
    P_TEE,
    RUN_2,
    gid,
    line,
    seed_store,
)
from support.dbt_warehouse import Warehouse, run_dbt, run_results

pytestmark = pytest.mark.integration


# ---------------------------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.timeout(180)
def test_dbt_build_turns_raw_versions_into_latest_marts(warehouse: Warehouse, tmp_path: Path) -> None:
    seed_store(warehouse.dsn_params)

    result = run_dbt(warehouse, tmp_path, "build")

    assert result.returncode == 0, f"dbt build failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
    statuses = run_results(tmp_path)
    assert statuses, "dbt build ran nothing"
    assert set(statuses.values()) <= {"success", "pass", "no-op"}, statuses  # no-op: the exposure

    q = warehouse.query
    # one row per id in staging, latest version wins
    assert q("select count(*) from staging.stg_shopify__products") == [(4,)]
    assert q("select count(*) from staging.stg_shopify__orders") == [(6,)]
    assert q("select count(*) from staging.stg_shopify__order_lines") == [(8,)]
    assert q(f"select title, _run_id from staging.stg_shopify__products where product_id = '{P_MUG}'") == [
        ("Coffee Mug", RUN_2)
    ]
    # Ann's CSV re-export has the same updated_at as her API row: the API row wins whatever was loaded later
    assert q(f"select email, _source from staging.stg_shopify__customers where customer_id = '{C_ANN}'") == [
        ("ann@example.com", "api_bulk")
    ]
    assert q(f"select financial_status from staging.stg_shopify__orders where order_id = '{O_2_EDITED}'") == [("paid",)]

    # marts
    # the four catalogue products; order 6's custom item is an API line without product: no product of its own
    assert q("select product_source, count(*) from marts.dim_products group by 1 order by 1") == [("api", 4)]
    assert q(f"select title, price from marts.dim_products where product_id = '{P_MUG}'") == [
        ("Coffee Mug", Decimal("11.00"))
    ]
    assert q("select count(*), count(*) filter (where is_cancelled) from marts.fct_order_lines") == [(8, 1)]
    assert q(
        f"select quantity, line_revenue from marts.fct_order_lines where order_line_id = '{gid('LineItem', 3)}'"
    ) == [(3, Decimal("45.00"))]
    assert q(
        f"select ordered_at = created_at from marts.fct_order_lines join staging.stg_shopify__orders using (order_id) where order_id = '{O_6_UNPROCESSED}' limit 1"
    ) == [(True,)]

    interactions = {
        (c, p): (n, qty, share)
        for c, p, n, qty, share in q(
            "select customer_id, product_id, n_orders, quantity, order_share from marts.fct_customer_product_interactions"
        )
    }
    assert interactions == {
        (C_ANN, P_MUG): (2, 5, 1.0),  # order 1 (2 units) + edited order 2 (3 units): both of Ann's orders
        (C_ANN, P_TEE): (1, 1, 0.5),
        (C_BOB, P_MUG): (1, 1, 1.0),  # refunded order kept; Bob's cancelled poster order is not here
        (C_CAT, P_POSTER): (1, 2, 1.0),  # the custom item without product is not here
    }

    # the build log names the dbt invocation that built each mart (recommender_train tags its runs with it)
    invocation = json.loads((tmp_path / "target" / "run_results.json").read_text())["metadata"]["invocation_id"]
    builds = dict(q("select model, invocation_id from marts._dbt_model_builds"))
    assert builds["fct_order_lines"] == builds["dim_customers"] == invocation
    assert q("select rows_affected from marts._dbt_model_builds where model = 'fct_order_lines'") == [(8,)]


@pytest.mark.timeout(180)
def test_dbt_build_fails_on_a_line_of_an_unknown_product(warehouse: Warehouse, tmp_path: Path) -> None:
    ghost = gid("Product", 999)
    bad_line = ("order_line_items", RUN_2, "api_bulk", LOADED_2, line(99, O_1, ghost, None, 1, "1.00"))
    seed_store(warehouse.dsn_params, extra_rows=[bad_line])

    result = run_dbt(warehouse, tmp_path, "build")

    assert result.returncode != 0, (
        f"dbt build passed although a line sells unknown product {ghost}:\n{result.stdout[-4000:]}"
    )
    failed = sorted(uid for uid, status in run_results(tmp_path).items() if status in ("fail", "error"))
    assert failed, f"dbt build failed without a failing node:\n{result.stdout[-4000:]}"
    assert all("relationships" in uid and "product_id" in uid for uid in failed), failed
    assert any("fct_order_lines" in uid for uid in failed), failed
