"""Client-side model of Shopify's GraphQL cost bucket (the "calculated query cost" leaky bucket).

Every Admin API response carries `extensions.cost`:

    {"requestedQueryCost": 12, "actualQueryCost": 7,
     "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1993, "restoreRate": 100.0}}

`CostBudget` remembers the last throttleStatus and when it was seen, estimates the points available *now* (restored
at `restoreRate` per second since then, capped at `maximumAvailable`), remembers the last `requestedQueryCost` of each
document, and tells the client how long to sleep before sending a request so that it is not THROTTLED. Shopify
checks the *requested* cost against the bucket before running a query (the difference to the actual cost is refunded
afterwards), so the requested cost is what we must wait for.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEFAULT_EXPECTED_COST = 50.0


def document_key(query: str) -> str:
    """A stable key for 'the same document' (whitespace-insensitive)."""
    return hashlib.sha1(" ".join(query.split()).encode()).hexdigest()


@dataclass
class ThrottleStatus:
    maximum_available: float
    currently_available: float
    restore_rate: float
    seen_at: float


class CostBudget:
    """Tracks Shopify's cost bucket from responses; `delay_for(key)` says how long to wait before sending."""

    def __init__(self, default_cost: float = DEFAULT_EXPECTED_COST, clock: Callable[[], float] = time.monotonic):
        self.default_cost = float(default_cost)
        self._clock = clock
        self._lock = threading.Lock()
        self.status: ThrottleStatus | None = None
        self._expected: dict[str, float] = {}

    # ------------------------------------------------------------------ learning from responses
    def observe(self, cost: dict[str, Any] | None, key: str | None = None) -> None:
        """Record `extensions.cost` of a response (THROTTLED ones too) for the document `key`."""
        if not cost:
            return
        with self._lock:
            requested = cost.get("requestedQueryCost")
            if key is not None and isinstance(requested, (int, float)):
                self._expected[key] = float(requested)
            ts = cost.get("throttleStatus") or {}
            try:
                self.status = ThrottleStatus(
                    maximum_available=float(ts["maximumAvailable"]),
                    currently_available=float(ts["currentlyAvailable"]),
                    restore_rate=float(ts["restoreRate"]),
                    seen_at=self._clock(),
                )
            except (KeyError, TypeError, ValueError):
                pass  # no (or a malformed) throttleStatus: keep what we knew

    # ------------------------------------------------------------------ estimates
    def expected_cost(self, key: str | None) -> float:
        return self._expected.get(key, self.default_cost) if key is not None else self.default_cost

    def available_now(self) -> float | None:
        """Points estimated to be in the bucket now, or None before the first response."""
        s = self.status
        if s is None:
            return None
        elapsed = max(0.0, self._clock() - s.seen_at)
        return min(s.maximum_available, s.currently_available + elapsed * s.restore_rate)

    def delay_for(self, key: str | None = None, cost: float | None = None) -> float:
        """Seconds to wait before a request of `cost` (default: the expected cost of `key`) is affordable."""
        with self._lock:
            s = self.status
            if s is None or s.restore_rate <= 0:
                return 0.0
            need = min(cost if cost is not None else self.expected_cost(key), s.maximum_available)
            have = self.available_now()
            return 0.0 if have >= need else (need - have) / s.restore_rate

    def reserve(self, key: str | None = None, cost: float | None = None) -> None:
        """Debit the expected cost when a request is sent, so back-to-back sends (before their responses arrive,
        or when a response carries no cost, e.g. a 5xx) do not all count on the same points."""
        with self._lock:
            s = self.status
            if s is None:
                return
            now = self._clock()
            have = self.available_now()
            spend = cost if cost is not None else self.expected_cost(key)
            self.status = ThrottleStatus(s.maximum_available, have - spend, s.restore_rate, now)

    @staticmethod
    def throttled_wait(cost: dict[str, Any] | None) -> float | None:
        """After THROTTLED: (requested − available) / restoreRate, from that response's own cost."""
        if not cost:
            return None
        ts = cost.get("throttleStatus") or {}
        need = cost.get("requestedQueryCost") or 0
        have = ts.get("currentlyAvailable") or 0
        rate = ts.get("restoreRate") or 0
        return max(0.0, (need - have) / rate) if rate else None
