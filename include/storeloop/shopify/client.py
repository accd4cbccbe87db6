"""A small GraphQL client for the Shopify Admin API: token header, cost-aware pacing (see `cost.CostBudget`),
retries with exponential backoff + jitter on 429/5xx/timeouts/connection errors and THROTTLED, clear errors for
401/403 and for rejected documents (never retried)."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

import requests

from storeloop.shopify.config import ShopifyConfig
from storeloop.shopify.cost import CostBudget, document_key
from storeloop.shopify.errors import ShopifyAuthError, ShopifyError, ShopifyGraphQLError

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {429, 500, 502, 503, 504, 520, 522, 524}
# Error codes in a 200 answer that mean "try again", not "your document is wrong".
# GraphQL error codes retried with backoff, in order of precedence when a response has several
RETRYABLE_ERROR_CODES = ("THROTTLED", "INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE")
MAX_BACKOFF_S = 60.0

# The Admin API access scopes Storeloop's app needs: reading the three resources, and writing product and customer
# metafields. `read_all_orders` is needed as well for orders older than 60 days. The README's "Pointing Storeloop at
# a real store" lists the same (tests/unit/test_docs_match_code.py checks it).
ADMIN_API_SCOPES = ("read_products", "read_customers", "read_orders", "write_products", "write_customers")
HISTORY_SCOPE = "read_all_orders"


class ShopifyClient:
    def __init__(self, config: ShopifyConfig, *, max_attempts: int = 6, backoff_s: float = 0.5,
                 session: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, budget: CostBudget | None = None,
                 pace: bool = True, rng: Callable[[], float] = random.random):
        self.config = config
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.session = session or requests.Session()
        self.session.headers.update({"X-Shopify-Access-Token": config.access_token, "Content-Type": "application/json"})
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self.budget = budget or CostBudget(clock=clock)
        self.pace = pace
        self.requests_sent = 0
        self.last_cost: dict[str, Any] | None = None
        self.paced_s = 0.0  # total time slept to stay inside the cost budget (not counting retries)

    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST a document; returns `data`. Raises ShopifyGraphQLError on `errors` (not retried)."""
        payload = {"query": query, "variables": variables or {}}
        key = document_key(query)
        for attempt in range(1, self.max_attempts + 1):
            if self.pace:
                wait = self.budget.delay_for(key)
                if wait > 0:
                    log.debug("pacing %.2fs for an expected cost of %.0f", wait, self.budget.expected_cost(key))
                    self.paced_s += wait
                    self._sleep(wait)
                self.budget.reserve(key)
            try:
                self.requests_sent += 1
                resp = self.session.post(self.config.graphql_url, json=payload, timeout=self.config.timeout_s)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt == self.max_attempts:
                    raise ShopifyError(f"Shopify at {self.config.base_url} did not answer after {attempt} attempts: "
                                       f"{exc.__class__.__name__}: {exc}") from exc
                self._backoff(attempt, f"network error: {exc.__class__.__name__}")
                continue
            status = resp.status_code
            if status in (401, 403):
                raise ShopifyAuthError(self._auth_message(resp))
            if status == 404:
                raise ShopifyError(f"{self.config.graphql_url} answered 404: check the shop domain and the API version "
                                   f"{self.config.api_version!r} in the shopify connection.")
            if status in RETRYABLE_STATUS or 500 <= status < 600:
                body = _json_or_none(resp)  # a 5xx body is often an HTML page: never assume JSON
                if body:
                    self._observe(body, key)
                if attempt == self.max_attempts:
                    raise ShopifyError(f"Shopify answered HTTP {status} {attempt} times in a row; giving up. "
                                       f"Last body: {_snippet(resp)}")
                self._backoff(attempt, f"HTTP {status}", _retry_after(resp))
                continue
            if status >= 400:
                raise ShopifyError(f"Shopify answered HTTP {status}: {_snippet(resp)}")
            body = _json_or_none(resp)
            if not isinstance(body, dict):
                # A 200 that is not JSON (a proxy's HTML page, a truncated body): transient, retry.
                if attempt == self.max_attempts:
                    raise ShopifyError(f"Shopify answered HTTP {status} with a body that is not JSON {attempt} times; "
                                       f"giving up. Body: {_snippet(resp)}")
                self._backoff(attempt, "non-JSON body")
                continue
            self._observe(body, key)
            errors = body.get("errors")
            if errors:
                code = _retryable_code(errors)
                if code == "THROTTLED" and _never_affordable(self.last_cost):
                    c = self.last_cost
                    raise ShopifyError(
                        f"This request costs {c.get('requestedQueryCost')} points but the shop's bucket holds at most "
                        f"{c['throttleStatus']['maximumAvailable']}: it can never run. Ask for fewer items per page "
                        "(smaller `first:`) or use a bulk operation.")
                if code:
                    if attempt == self.max_attempts:
                        raise ShopifyError(f"Shopify kept answering {code}; giving up after {attempt} attempts.")
                    at_least = CostBudget.throttled_wait(self.last_cost) if code == "THROTTLED" else None
                    self._backoff(attempt, code, at_least, jitter_only=code == "THROTTLED")
                    continue
                raise ShopifyGraphQLError(_describe_errors(errors), errors if isinstance(errors, list) else [errors])
            return body.get("data") or {}
        raise AssertionError("unreachable")

    def _observe(self, body: dict, key: str) -> None:
        cost = (body.get("extensions") or {}).get("cost")
        if cost:
            self.last_cost = cost
            self.budget.observe(cost, key)

    def _backoff(self, attempt: int, why: str, at_least: float | None = None, jitter_only: bool = False) -> None:
        if jitter_only and at_least is not None:
            # THROTTLED: the response says exactly how long until the points are back; add a little jitter only.
            delay = at_least + self.backoff_s * 0.2 * self._rng()
        else:
            expo = min(MAX_BACKOFF_S, self.backoff_s * (2 ** (attempt - 1)))
            delay = max(at_least or 0.0, expo * (0.5 + self._rng()))
        log.warning("Shopify request retry %d/%d in %.2fs (%s)", attempt, self.max_attempts, delay, why)
        self._sleep(delay)

    def _auth_message(self, resp: requests.Response) -> str:
        detail = _snippet(resp, 300)
        if resp.status_code == 401:
            return (f"Shopify rejected the access token (HTTP 401: {detail}). Check the password of the `shopify` "
                    "connection: it must be the store's Admin API access token (shpat_...).")
        return (f"Shopify refused the request (HTTP 403: {detail}). The app lacks an access scope: Storeloop needs "
                f"{', '.join(ADMIN_API_SCOPES)} (and {HISTORY_SCOPE} for orders older than 60 days).")


def _json_or_none(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def _snippet(resp: requests.Response, n: int = 500) -> str:
    text = resp.text or ""
    return " ".join(text.split())[:n]


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP-date: fall back to our own backoff


def _retryable_code(errors: Any) -> str | None:
    if not isinstance(errors, list):
        return None
    codes = {(e.get("extensions") or {}).get("code") for e in errors if isinstance(e, dict)}
    for code in RETRYABLE_ERROR_CODES:
        if code in codes:
            return code
    return None


def _never_affordable(cost: dict | None) -> bool:
    if not cost:
        return False
    need = cost.get("requestedQueryCost")
    maximum = (cost.get("throttleStatus") or {}).get("maximumAvailable")
    return isinstance(need, (int, float)) and isinstance(maximum, (int, float)) and need > maximum


def _describe_errors(errors: Any) -> str:
    if isinstance(errors, str):
        return f"Shopify rejected the request: {errors}"
    parts = []
    for e in errors:
        where = e.get("locations")
        code = (e.get("extensions") or {}).get("code")
        parts.append(f"{e.get('message')}" + (f" [{code}]" if code else "") + (f" at {where}" if where else ""))
    return "Shopify rejected the GraphQL document: " + "; ".join(parts)
