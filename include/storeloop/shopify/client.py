"""A small GraphQL client for the Shopify Admin API: token header, retries with backoff on 429/5xx/THROTTLED,
clear errors for 401/403 and for rejected documents. (Cost-aware pacing beyond honouring THROTTLED is issue #3.)"""

from __future__ import annotations

import logging
import random
import time
from typing import Any

import requests

from storeloop.shopify.config import ShopifyConfig
from storeloop.shopify.errors import ShopifyAuthError, ShopifyError, ShopifyGraphQLError

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {429, 500, 502, 503, 504}


class ShopifyClient:
    def __init__(self, config: ShopifyConfig, *, max_attempts: int = 6, backoff_s: float = 0.5,
                 session: requests.Session | None = None, sleep=time.sleep):
        self.config = config
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.session = session or requests.Session()
        self.session.headers.update({"X-Shopify-Access-Token": config.access_token, "Content-Type": "application/json"})
        self._sleep = sleep
        self.requests_sent = 0
        self.last_cost: dict[str, Any] | None = None

    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST a document; returns `data`. Raises ShopifyGraphQLError on `errors` (not retried)."""
        payload = {"query": query, "variables": variables or {}}
        for attempt in range(1, self.max_attempts + 1):
            try:
                self.requests_sent += 1
                resp = self.session.post(self.config.graphql_url, json=payload, timeout=self.config.timeout_s)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt == self.max_attempts:
                    raise ShopifyError(f"Shopify at {self.config.base_url} did not answer after {attempt} attempts: {exc}") from exc
                self._backoff(attempt, f"network error: {exc.__class__.__name__}")
                continue
            if resp.status_code in (401, 403):
                raise ShopifyAuthError(self._auth_message(resp))
            if resp.status_code == 404:
                raise ShopifyError(f"{self.config.graphql_url} answered 404: check the shop domain and the API version "
                                   f"{self.config.api_version!r} in the shopify connection.")
            if resp.status_code in RETRYABLE_STATUS:
                if attempt == self.max_attempts:
                    raise ShopifyError(f"Shopify answered HTTP {resp.status_code} {attempt} times in a row; giving up.")
                retry_after = resp.headers.get("Retry-After")
                self._backoff(attempt, f"HTTP {resp.status_code}", float(retry_after) if retry_after else None)
                continue
            if resp.status_code >= 400:
                raise ShopifyError(f"Shopify answered HTTP {resp.status_code}: {resp.text[:500]}")
            body = resp.json()
            self.last_cost = (body.get("extensions") or {}).get("cost")
            errors = body.get("errors")
            if errors:
                if _is_throttled(errors):
                    if attempt == self.max_attempts:
                        raise ShopifyError("Shopify kept throttling the request (THROTTLED); giving up.")
                    self._backoff(attempt, "THROTTLED", _seconds_until_affordable(self.last_cost))
                    continue
                raise ShopifyGraphQLError(_describe_errors(errors), errors if isinstance(errors, list) else [errors])
            return body.get("data") or {}
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int, why: str, at_least: float | None = None) -> None:
        delay = max(at_least or 0.0, self.backoff_s * (2 ** (attempt - 1)) * (0.5 + random.random()))
        log.warning("Shopify request retry %d/%d in %.1fs (%s)", attempt, self.max_attempts, delay, why)
        self._sleep(delay)

    def _auth_message(self, resp: requests.Response) -> str:
        detail = resp.text[:300]
        if resp.status_code == 401:
            return (f"Shopify rejected the access token (HTTP 401: {detail}). Check the password of the `shopify` "
                    "connection: it must be the store's Admin API access token (shpat_...).")
        return (f"Shopify refused the request (HTTP 403: {detail}). The app lacks an access scope: Storeloop needs "
                "read_products, read_customers, read_orders (read_all_orders for history older than 60 days) and "
                "write_products, write_customers for metafields.")


def _is_throttled(errors: Any) -> bool:
    return isinstance(errors, list) and any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors)


def _seconds_until_affordable(cost: dict | None) -> float | None:
    if not cost:
        return None
    status = cost.get("throttleStatus") or {}
    need = cost.get("requestedQueryCost") or 0
    have = status.get("currentlyAvailable") or 0
    rate = status.get("restoreRate") or 0
    return max(0.0, (need - have) / rate) if rate else None


def _describe_errors(errors: Any) -> str:
    if isinstance(errors, str):
        return f"Shopify rejected the request: {errors}"
    parts = []
    for e in errors:
        where = e.get("locations")
        code = (e.get("extensions") or {}).get("code")
        parts.append(f"{e.get('message')}" + (f" [{code}]" if code else "") + (f" at {where}" if where else ""))
    return "Shopify rejected the GraphQL document: " + "; ".join(parts)
