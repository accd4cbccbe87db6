"""Scoring customers with the champion: each customer's top-k products (stored by storeloop.warehouse.ml_tables)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from storeloop.recsys.interactions import RECOMMENDATION_COLUMNS, empty_recommendations, not_cancelled
from storeloop.recsys.pyfunc import DEFAULT_K, model_input


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
