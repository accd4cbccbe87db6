"""Where the Shopify Admin API is and how to authenticate: built from the `shopify` Airflow connection's fields."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_API_VERSION = "2025-01"


@dataclass(frozen=True)
class ShopifyConfig:
    base_url: str  # https://your-shop.myshopify.com (or the local emulator's http://127.0.0.1:PORT)
    access_token: str = field(repr=False)  # never in repr, never in logs
    api_version: str = DEFAULT_API_VERSION
    timeout_s: float = 30.0

    @property
    def graphql_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/admin/api/{self.api_version}/graphql.json"

    @classmethod
    def from_connection(cls, host: str | None, password: str | None, extra: dict | None) -> ShopifyConfig:
        """host: shop domain (`your-shop.myshopify.com`) or a URL; password: the Admin API access token."""
        extra = extra or {}
        if not host:
            raise ValueError("The shopify connection has no host: set it to your shop domain, e.g. your-shop.myshopify.com.")
        if not password:
            raise ValueError("The shopify connection has no password: set it to the Admin API access token (shpat_...).")
        base = host if "://" in host else f"https://{host}"
        version = extra.get("api_version") or extra.get("extra__shopify__api_version") or DEFAULT_API_VERSION
        return cls(base_url=base, access_token=password, api_version=version)
