"""Airflow connections → the plain configs the core library takes. Only this module reads connections."""

from __future__ import annotations

import os
from dataclasses import dataclass

from storeloop.shopify.config import ShopifyConfig

WAREHOUSE_CONN_ID = "warehouse"
SHOPIFY_CONN_ID = "shopify"
SLACK_CONN_ID = "slack"


def _get(conn_id: str):
    from airflow.sdk import BaseHook

    try:
        return BaseHook.get_connection(conn_id)
    except Exception as exc:  # AirflowNotFoundException and friends
        raise RuntimeError(
            f"Airflow connection {conn_id!r} is not defined: set AIRFLOW_CONN_{conn_id.upper()} in .env "
            "(see .env.example) or add it in the Airflow UI (Admin → Connections)."
        ) from exc


@dataclass(frozen=True)
class WarehouseParams:
    host: str
    port: int
    user: str
    password: str
    dbname: str

    def connect(self):
        import psycopg2

        return psycopg2.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                                dbname=self.dbname, application_name="storeloop")

    def dbt_env(self) -> dict[str, str]:
        """The env vars dbt_project/profiles.yml reads."""
        return {"STORELOOP_WAREHOUSE_HOST": self.host, "STORELOOP_WAREHOUSE_PORT": str(self.port),
                "STORELOOP_WAREHOUSE_USER": self.user, "STORELOOP_WAREHOUSE_PASSWORD": self.password,
                "STORELOOP_WAREHOUSE_DBNAME": self.dbname}


def warehouse() -> WarehouseParams:
    c = _get(WAREHOUSE_CONN_ID)
    if not c.schema:
        raise RuntimeError("The warehouse connection names no database: its URI must end in /<database>.")
    return WarehouseParams(c.host or "127.0.0.1", int(c.port or 5432), c.login or "postgres", c.password or "",
                           c.schema)


def shopify() -> ShopifyConfig:
    """From the `shopify` connection (type `shopify`: shop domain, access token, API version)."""
    c = _get(SHOPIFY_CONN_ID)
    return ShopifyConfig.from_connection(c.host, c.password, c.extra_dejson)


def slack_client():
    """A slack_sdk WebClient from the `slack` connection (its extra base_url points at the sink locally)."""
    from slack_sdk import WebClient

    c = _get(SLACK_CONN_ID)
    extra = c.extra_dejson
    kwargs = {"token": c.password}
    if extra.get("base_url"):
        kwargs["base_url"] = extra["base_url"]
    return WebClient(**kwargs)


def slack_channel() -> str:
    return os.environ.get("STORELOOP_SLACK_CHANNEL", "#storeloop-alerts")
