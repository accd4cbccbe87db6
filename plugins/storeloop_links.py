"""Airflow UI plugin: links from the Airflow navigation to the rest of the loop (MLflow, dbt docs, reports, store).

URLs come from the environment the stack sets (see devstack/settings.py); unset ones are left out."""

from __future__ import annotations

import os

from airflow.plugins_manager import AirflowPlugin


def _links() -> list[dict]:
    docs = os.environ.get("STORELOOP_DOCS_BASE_URL", "").rstrip("/")
    candidates = [
        ("MLflow", os.environ.get("MLFLOW_TRACKING_URI", "")),
        ("dbt docs", f"{docs}/dbt/index.html" if docs else ""),
        ("Drift reports", f"{docs}/reports/" if docs else ""),
        ("Shopify store", os.environ.get("STORELOOP_STORE_ADMIN_URL", "")),
    ]
    return [{"name": name, "href": href, "destination": "nav", "category": "Storeloop"}
            for name, href in candidates if href.startswith("http")]


class StoreloopLinksPlugin(AirflowPlugin):
    name = "storeloop_links"
    external_views = _links()
