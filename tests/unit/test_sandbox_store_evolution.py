"""The store simulator's evolution: `advance` appends later days deterministically; drift scenarios show in the data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from sandbox.store_simulator import advance, apply_scenario, simulate_store

END = datetime(2026, 11, 1, tzinfo=UTC)
FRAMES = ("products", "variants", "customers", "orders", "line_items", "customer_taste")


@pytest.fixture(scope="module")
def xs():
    return simulate_store(seed=42, size="XS", end=END)


def _new_lines(before, after) -> pd.DataFrame:
    new_orders = after.orders.iloc[len(before.orders) :]
    lines = after.line_items[after.line_items["order_id"].isin(new_orders["order_id"])]
    return lines.merge(after.products[["product_id", "product_type"]], on="product_id")


def test_advance_is_deterministic(xs):
    a, b = advance(xs, 14), advance(xs, 14)
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    c = advance(xs, 14, seed=1)
    assert not c.orders["order_id"].equals(a.orders["order_id"])


def test_advance_appends_only_later_orders(xs):
    out = advance(xs, 7)
    assert out.end == END + timedelta(days=7)
    pd.testing.assert_frame_equal(out.orders.iloc[: len(xs.orders)], xs.orders)
    pd.testing.assert_frame_equal(out.line_items.iloc[: len(xs.line_items)], xs.line_items)
    new = out.orders.iloc[len(xs.orders) :]
    assert 5 < len(new) < 120  # ~1500 orders a year → ~29 a week
    assert (new["created_at"] >= "2026-11-01T00:00:00Z").all() and (new["created_at"] < "2026-11-08T00:00:00Z").all()
    assert new["order_id"].is_unique and not set(new["order_id"]) & set(xs.orders["order_id"])
    nums = new["order_id"].str.rsplit("/", n=1).str[1].astype(int)
    assert nums.min() > xs.orders["order_id"].str.rsplit("/", n=1).str[1].astype(int).max()
    assert new["name"].iloc[0] == f"#{1001 + len(xs.orders)}"
    # same customers and catalogue, referentially sound, totals add up
    assert set(new["customer_id"].dropna()) <= set(xs.customers["customer_id"])
    lines = out.line_items.iloc[len(xs.line_items) :]
    assert set(lines["order_id"]) <= set(new["order_id"]) and set(lines["product_id"]) <= set(xs.products["product_id"])
    assert set(lines["variant_id"]) <= set(xs.variants["variant_id"])
    totals = (lines["quantity"] * lines["unit_price"]).groupby(lines["order_id"]).sum().round(2)
    assert (new.set_index("order_id")["total_price"].loc[totals.index] - totals).abs().max() < 0.01
    # customers who ordered moved their updatedAt forward
    buyers = set(new["customer_id"].dropna())
    moved = out.customers[out.customers["customer_id"].isin(buyers)]["updated_at"]
    assert (moved >= "2026-11-01").all()
    # advancing twice = chaining
    twice = advance(out, 7)
    assert twice.end == END + timedelta(days=14) and len(twice.orders) > len(out.orders)


def test_new_product_line_is_bought(xs):
    out = advance(apply_scenario(xs, "new_product_line", product_type="Matcha", share=0.3), 14)
    assert (out.products["product_type"] == "Matcha").sum() >= 3
    assert set(out.products.loc[out.products["product_type"] == "Matcha", "product_id"]) <= set(
        out.variants["product_id"]
    )
    share = (_new_lines(xs, out)["product_type"] == "Matcha").mean()
    assert 0.1 < share < 0.6
    assert "Matcha" not in set(xs.products["product_type"])
    with pytest.raises(ValueError):
        apply_scenario(xs, "new_product_line", product_type="Tea")


def test_price_change_applies_to_orders_after_the_date(xs):
    changed = apply_scenario(xs, "price_change", product_type="Tea", factor=1.5, date="2026-11-04T00:00:00Z")
    out = advance(changed, 7)
    lines = _new_lines(xs, out).merge(out.orders[["order_id", "created_at"]], on="order_id")
    old_price = xs.variants.set_index("variant_id")["price"]
    tea = lines[lines["product_type"] == "Tea"]
    assert len(tea)
    ratio = (tea["unit_price"] / tea["variant_id"].map(old_price)).round(2)
    assert (ratio[tea["created_at"] < "2026-11-04"] == 1.0).all()
    assert (ratio[tea["created_at"] >= "2026-11-04"] == 1.5).all()
    other = lines[lines["product_type"] != "Tea"]
    assert (other["unit_price"] == other["variant_id"].map(old_price)).all()
    # after the date the catalogue price itself changed, and updatedAt moved forward
    tea_ids = set(xs.products.loc[xs.products["product_type"] == "Tea", "product_id"])
    v = out.variants[out.variants["product_id"].isin(tea_ids)]
    assert ((v["price"] / v["variant_id"].map(old_price)).round(2) == 1.5).all()
    assert (v["updated_at"] >= "2026-11-04").all()


def test_customer_mix_shift_new_customers_dominate(xs):
    out = advance(apply_scenario(xs, "customer_mix_shift", favourite_types=["Books"], share=0.7, n_customers=30), 14)
    cohort = set(out.customers["customer_id"]) - set(xs.customers["customer_id"])
    assert len(cohort) == 30
    new = out.orders.iloc[len(xs.orders) :]
    assert new["customer_id"].isin(cohort).mean() > 0.5
    lines = _new_lines(xs, out).merge(out.orders[["order_id", "customer_id"]], on="order_id")
    cohort_books = (lines[lines["customer_id"].isin(cohort)]["product_type"] == "Books").mean()
    old_books = (
        xs.line_items.merge(xs.products[["product_id", "product_type"]], on="product_id")["product_type"] == "Books"
    ).mean()
    assert cohort_books > 2 * old_books


def test_unknown_scenario(xs):
    with pytest.raises(ValueError):
        apply_scenario(xs, "nope")
    with pytest.raises(ValueError):
        advance(xs, 0)
