"""The store simulator's stock attributes (what publishing filters on): mostly in stock, a few variants out of stock
or untracked, every product active and none a gift card — and drawn without touching any other frame, so the orders
and lines the benchmarks depend on are exactly what they were before the attributes existed."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

import sandbox.store_simulator as simulator

END = datetime(2026, 11, 1, tzinfo=UTC)


def test_stock_attributes_shares():
    store = simulator.simulate_store(seed=1, size="S", end=END)
    v, p = store.variants, store.products
    assert (p["status"] == "ACTIVE").all() and not p["is_gift_card"].any()
    assert set(v["inventory_policy"]) == {"DENY", "CONTINUE"}
    out = v["inventory_quantity"] == 0
    assert 0.03 < out.mean() < 0.10
    assert (v.loc[~out, "inventory_quantity"] > 0).all()
    assert (v.loc[~out, "inventory_policy"] == "DENY").all(), "only out-of-stock variants keep selling (CONTINUE)"
    assert 0.005 < (~v["inventory_tracked"]).mean() < 0.08
    again = simulator.simulate_store(seed=1, size="S", end=END)
    pd.testing.assert_frame_equal(again.variants, v)


def test_stock_attributes_change_no_other_frame(monkeypatch):
    with_stock = simulator.simulate_store(seed=7, size="XS", end=END)
    monkeypatch.setattr(simulator, "_stock_attributes", lambda seed, products, variants: (products, variants))
    without = simulator.simulate_store(seed=7, size="XS", end=END)
    for name in ("orders", "line_items", "customers", "companions", "customer_taste"):
        pd.testing.assert_frame_equal(getattr(with_stock, name), getattr(without, name))
    pd.testing.assert_frame_equal(with_stock.products.drop(columns=["is_gift_card"]), without.products)
    stock = ["inventory_quantity", "inventory_policy", "inventory_tracked"]
    pd.testing.assert_frame_equal(with_stock.variants.drop(columns=stock), without.variants)


def test_a_new_product_line_arrives_in_stock():
    store = simulator.apply_scenario(simulator.simulate_store(seed=7, size="XS", end=END), "new_product_line")
    new = store.variants.tail(3)
    assert (new["inventory_quantity"] == 100).all() and (new["inventory_policy"] == "DENY").all()
    assert store.variants["inventory_quantity"].notna().all() and store.products["is_gift_card"].notna().all()
