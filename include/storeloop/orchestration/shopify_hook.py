"""The `shopify` connection type: shop domain, Admin API access token, API version.

Registered with Airflow through Storeloop's provider info (see provider_info.py), so the Airflow UI offers a
"Shopify Admin API" connection form with exactly these fields."""

from __future__ import annotations

from airflow.sdk import BaseHook

from storeloop.shopify.config import ShopifyConfig


class ShopifyHook(BaseHook):
    conn_name_attr = "shopify_conn_id"
    default_conn_name = "shopify"
    conn_type = "shopify"
    hook_name = "Shopify Admin API"

    def __init__(self, shopify_conn_id: str = default_conn_name, **kwargs) -> None:
        super().__init__(**kwargs)
        self.shopify_conn_id = shopify_conn_id

    def get_config(self) -> ShopifyConfig:
        conn = self.get_connection(self.shopify_conn_id)
        return ShopifyConfig.from_connection(conn.host, conn.password, conn.extra_dejson)

    def get_client(self):
        from storeloop.shopify.client import ShopifyClient

        return ShopifyClient(self.get_config())

    def test_connection(self) -> tuple[bool, str]:
        """Used by the UI's Test button: asks the shop for its name."""
        try:
            data = self.get_client().execute("{ shop { name } }")
            return True, f"Connected to {data['shop']['name']}"
        except Exception as exc:
            return False, str(exc)
