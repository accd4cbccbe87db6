"""The recommender's warehouse inputs: marts.dim_customers is read when present, and its absence is not an error."""

import pandas as pd
import pytest

from storeloop.recsys.data import load_customers
from storeloop.recsys.protocol import customer_segments

pytestmark = pytest.mark.integration


def test_dim_customers_absent_then_present(warehouse_conn):
    assert load_customers(warehouse_conn) is None  # the mart is not built yet: segment by order-line cohorts
    with warehouse_conn, warehouse_conn.cursor() as cur:
        cur.execute("create schema marts")
        cur.execute("create table marts.dim_customers (customer_id text primary key, country_code text, "
                    "cohort_month date)")
        cur.execute("insert into marts.dim_customers values ('gid://shopify/Customer/1', 'DE', '2025-12-01'), "
                    "('gid://shopify/Customer/2', null, '2026-01-01')")
    customers = load_customers(warehouse_conn)
    assert customers["customer_id"].tolist() == ["gid://shopify/Customer/1", "gid://shopify/Customer/2"]
    lines = pd.DataFrame({"customer_id": ["gid://shopify/Customer/1", "gid://shopify/Customer/2"],
                          "product_id": ["p", "q"], "ordered_at": pd.to_datetime(["2026-02-03", "2026-02-04"],
                                                                                 utc=True)})
    segments = customer_segments(lines, customers).set_index("customer_id")
    assert segments.loc["gid://shopify/Customer/1", ["country", "cohort"]].tolist() == ["DE", "2025-12"]
    assert segments.loc["gid://shopify/Customer/2", ["country", "cohort"]].tolist() == ["unknown", "2026-01"]
