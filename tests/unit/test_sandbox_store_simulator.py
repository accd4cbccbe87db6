"""The store simulator: deterministic, sized as documented, referentially sound, and carrying a learnable signal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from sandbox.store_simulator import SIZES, default_end, simulate_store

END = datetime(2026, 11, 1, tzinfo=UTC)
FRAMES = ("products", "variants", "customers", "orders", "line_items", "companions", "customer_taste")


@pytest.fixture(scope="module")
def xs():
    return simulate_store(seed=42, size="XS", end=END)


@pytest.fixture(scope="module")
def s_store():
    return simulate_store(seed=42, size="S", end=END)


def test_same_seed_gives_identical_data(xs):
    again = simulate_store(seed=42, size="XS", end=END)
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(xs, name), getattr(again, name))


def test_different_seed_gives_different_data(xs):
    other = simulate_store(seed=43, size="XS", end=END)
    assert not xs.orders["order_id"].equals(other.orders["order_id"])
    assert set(xs.products["title"]) != set(other.products["title"])


@pytest.mark.parametrize("size", ["XS", "S"])
def test_sizes_are_roughly_as_stated(size):
    data = simulate_store(seed=7, size=size, end=END)
    spec = SIZES[size]
    counts = data.counts()
    assert counts["products"] == spec.products
    assert counts["customers"] == spec.customers
    assert counts["orders"] == spec.orders
    assert spec.products < counts["variants"] <= 3 * spec.products
    assert 1.5 * spec.orders < counts["line_items"] < 2.5 * spec.orders


def test_size_table_has_room_for_bigger_stores():
    assert (SIZES["L"].orders, SIZES["L"].customers, SIZES["L"].products) == (1_000_000, 250_000, 20_000)
    assert SIZES["M"].orders > SIZES["S"].orders
    with pytest.raises(ValueError, match="unknown store size"):
        simulate_store(size="XXL")


def test_every_line_item_points_at_an_existing_product_and_its_variant(s_store):
    li, variants = s_store.line_items, s_store.variants
    assert li["product_id"].isin(s_store.products["product_id"]).all()
    assert li["variant_id"].isin(variants["variant_id"]).all()
    owner = variants.set_index("variant_id")["product_id"]
    assert (owner.loc[li["variant_id"]].to_numpy() == li["product_id"].to_numpy()).all()
    assert li["order_id"].isin(s_store.orders["order_id"]).all()
    assert s_store.orders["order_id"].isin(li["order_id"]).all(), "every order has at least one line"
    assert not li.duplicated(["order_id", "product_id"]).any(), "one line per product per order"
    price = variants.set_index("variant_id")["price"]
    assert np.allclose(price.loc[li["variant_id"]].to_numpy(), li["unit_price"].to_numpy())
    assert ((li["quantity"] >= 1) & (li["quantity"] <= 3)).all()


def test_ids_names_and_timestamps_look_like_shopify(s_store):
    o = s_store.orders
    assert o["order_id"].str.fullmatch(r"gid://shopify/Order/\d+").all()
    assert s_store.products["product_id"].str.fullmatch(r"gid://shopify/Product/\d+").all()
    assert s_store.variants["variant_id"].str.fullmatch(r"gid://shopify/ProductVariant/\d+").all()
    assert s_store.customers["customer_id"].str.fullmatch(r"gid://shopify/Customer/\d+").all()
    assert s_store.line_items["line_item_id"].str.fullmatch(r"gid://shopify/LineItem/\d+").all()
    for frame, col in ((o, "order_id"), (s_store.products, "product_id"), (s_store.line_items, "line_item_id")):
        assert frame[col].is_unique
    assert o["name"].iloc[0] == "#1001"
    assert o["name"].tolist() == [f"#{1001 + i}" for i in range(len(o))]
    nums = o["order_id"].str.rsplit("/", n=1).str[1].astype("int64")
    assert nums.is_monotonic_increasing, "order ids increase with time"
    assert o["created_at"].is_monotonic_increasing
    assert o["created_at"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all()
    assert s_store.products["status"].eq("ACTIVE").all()
    assert s_store.products["product_type"].nunique() == 8
    assert s_store.products["vendor"].nunique() >= 5


def test_dates_fall_within_the_period_and_respect_causality(s_store):
    start, end = pd.Timestamp(s_store.start), pd.Timestamp(s_store.end)
    assert s_store.end - s_store.start == timedelta(days=365)
    o = s_store.orders.assign(t=lambda d: pd.to_datetime(d["created_at"]))
    assert (o["t"] >= start).all() and (o["t"] < end).all()
    assert (pd.to_datetime(o["updated_at"]) >= o["t"]).all()
    assert (pd.to_datetime(o["updated_at"]) < end).all()
    cust = s_store.customers.set_index("customer_id")["created_at"].map(pd.Timestamp)
    known = o[o["customer_id"].notna()]
    assert (cust.loc[known["customer_id"]].to_numpy() <= known["t"].to_numpy()).all(), "no orders before sign-up"
    lines = s_store.line_items.merge(o[["order_id", "t"]], on="order_id")
    launched = s_store.products.set_index("product_id")["created_at"].map(pd.Timestamp)
    assert (launched.loc[lines["product_id"]].to_numpy() <= lines["t"].to_numpy()).all(), "no sales before launch"


def test_order_statuses_and_guests(s_store):
    o = s_store.orders
    cancelled = o["cancelled_at"].notna()
    assert 0.01 < cancelled.mean() < 0.035
    assert (o.loc[cancelled, "financial_status"] == "VOIDED").all()
    assert 0.015 < (o["financial_status"] == "REFUNDED").mean() < 0.05
    assert (o["financial_status"] == "PAID").mean() > 0.9
    assert 0.005 < o["customer_id"].isna().mean() < 0.04, "a few guest checkouts without a customer"
    totals = s_store.line_items.assign(v=lambda d: d["quantity"] * d["unit_price"]).groupby("order_id")["v"].sum()
    assert np.allclose(totals.loc[o["order_id"]].to_numpy(), o["total_price"].to_numpy())


def test_seasonality_weekly_and_holiday(s_store):
    t = pd.to_datetime(s_store.orders["created_at"])
    per_day = t.dt.floor("D").value_counts()
    weekend = per_day[per_day.index.dayofweek >= 5].mean()
    midweek = per_day[per_day.index.dayofweek.isin([0, 1, 2])].mean()
    assert weekend > 1.1 * midweek
    december = per_day[per_day.index.month == 12].mean()
    jan_feb = per_day[per_day.index.month.isin([1, 2])].mean()
    assert december > 1.3 * jan_feb, "holiday bump in December"


def test_taste_is_concentrated_and_repeats_happen(s_store):
    li = s_store.line_items.merge(s_store.orders[["order_id", "customer_id", "created_at"]], on="order_id")
    li = li[li["customer_id"].notna()].merge(s_store.products[["product_id", "product_type"]], on="product_id")
    top_share = li.groupby("customer_id")["product_type"].agg(lambda s: s.value_counts(normalize=True).iloc[0])
    heavy = li.groupby("customer_id").size() >= 10
    assert top_share[heavy].median() > 0.4, "customers concentrate on favourite types"
    li = li.sort_values("created_at")
    first = li.groupby(["customer_id", "product_id"])["created_at"].transform("min")
    repeat_share = (li["created_at"] > first).mean()
    assert 0.15 < repeat_share < 0.5
    taste = s_store.customer_taste
    assert taste["favourite_types"].map(len).between(1, 2).all()
    assert set(s_store.companions["product_id"]) <= set(s_store.products["product_id"])


def _hit_rate_at_10(data, personalised: bool) -> float:
    li = data.line_items.merge(data.orders[["order_id", "customer_id", "created_at", "cancelled_at"]], on="order_id")
    li = li[li["cancelled_at"].isna() & li["customer_id"].notna()]
    cut = (data.end - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    train, test = li[li["created_at"] < cut], li[li["created_at"] >= cut]
    products = sorted(data.products["product_id"])
    idx = {p: i for i, p in enumerate(products)}
    n = len(products)
    popularity = np.bincount(train["product_id"].map(idx), minlength=n).astype(float)
    history = train.assign(p=train["product_id"].map(idx)).groupby("customer_id")["p"].apply(list)
    co = np.zeros((n, n))
    for items in history:
        u = np.unique(items)
        co[np.ix_(u, u)] += 1
    np.fill_diagonal(co, 0)
    co /= np.sqrt(np.outer(popularity + 1, popularity + 1))
    top_popular = set(np.argsort(-popularity)[:10])
    truth = test.assign(p=test["product_id"].map(idx)).groupby("customer_id")["p"].apply(set)
    hits = total = 0
    for customer, bought in truth.items():
        if customer not in history.index:
            continue
        if personalised:
            seen = np.bincount(history[customer], minlength=n)
            score = co[np.unique(history[customer])].sum(axis=0)
            score = score / (score.max() + 1e-9) + seen
            recommended = set(np.argsort(-score)[:10])
        else:
            recommended = top_popular
        hits += bool(bought & recommended)
        total += 1
    assert total > 100
    return hits / total


def test_signal_is_learnable_cooccurrence_beats_popularity(s_store):
    popular = _hit_rate_at_10(s_store, personalised=False)
    personal = _hit_rate_at_10(s_store, personalised=True)
    assert personal > 1.5 * popular, (personal, popular)


def test_end_defaults_to_midnight_utc_today():
    data = simulate_store(seed=1, size="XS")
    assert data.end == default_end()
    assert (data.end.hour, data.end.minute, data.end.second) == (0, 0, 0)
    assert data.end.tzinfo is not None
