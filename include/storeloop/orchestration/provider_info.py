"""Storeloop as an Airflow provider (entry point `apache_airflow_provider` in pyproject.toml): it contributes the
`shopify` connection type with the fields a merchant's engineer expects."""

from __future__ import annotations

from storeloop.shopify.config import DEFAULT_API_VERSION


def get_provider_info() -> dict:
    return {
        "package-name": "storeloop",
        "name": "Storeloop",
        "description": "Storeloop: nightly MLOps loop for Shopify stores.",
        "connection-types": [
            {
                "connection-type": "shopify",
                "hook-class-name": "storeloop.orchestration.shopify_hook.ShopifyHook",
                "hook-name": "Shopify Admin API",
                "conn-fields": {
                    "api_version": {
                        "label": "API version",
                        "description": "Shopify Admin API version, e.g. 2025-01 (the version Storeloop's documents "
                                       "are validated against).",
                        "schema": {"type": ["string", "null"], "default": DEFAULT_API_VERSION},
                    },
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "login", "port", "extra"],
                    "relabeling": {"host": "Shop domain", "password": "Admin API access token"},
                    "placeholders": {"host": "your-shop.myshopify.com", "password": "shpat_...",
                                     "api_version": DEFAULT_API_VERSION},
                },
            }
        ],
    }
