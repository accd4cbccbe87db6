"""recommender_train's task body, its pure parts: a history without customers fails with what to do."""

import pandas as pd
import pytest

from storeloop.orchestration.train import require_customers


def lines(customers: list[str | None]) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": pd.Series(customers, dtype=object), "product_id": "p",
                         "ordered_at": pd.Timestamp("2026-01-01", tz="UTC")})


def test_order_lines_without_any_customer_cannot_train_and_the_error_says_what_to_load():
    with pytest.raises(RuntimeError, match="none of the 2 order lines in marts.fct_order_lines has a customer.*Email column"):
        require_customers(lines([None, None]))
    with pytest.raises(RuntimeError, match="fct_order_lines has no order lines"):
        require_customers(lines([]))


def test_one_customer_is_enough():
    require_customers(lines([None, "gid://shopify/Customer/1"]))
