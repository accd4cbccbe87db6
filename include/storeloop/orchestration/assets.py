"""The Assets the five DAGs hand over through (public contract: DAGs schedule on these, never on sensors)."""

from __future__ import annotations

from airflow.sdk import Asset

RAW_SHOPIFY = Asset(name="raw_shopify", uri="storeloop://warehouse/raw_shopify", group="storeloop")
FEATURES = Asset(name="features", uri="storeloop://warehouse/marts", group="storeloop")
RECOMMENDER_MODEL = Asset(name="recommender_model", uri="storeloop://mlflow/recommender/champion", group="storeloop")
RECOMMENDATIONS = Asset(name="recommendations", uri="storeloop://warehouse/ml/customer_recommendations",
                        group="storeloop")
