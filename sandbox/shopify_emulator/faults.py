"""Faults on demand: transient 5xx answers, slow responses and bulk operations that end FAILED / EXPIRED / CANCELED.

Set at start (`--error-rate`, `--slow-ms`) or at runtime through `POST /_sandbox/faults` (no token):

* `error_rate`: fraction of GraphQL POSTs and bulk-result downloads answered 502/503 before any work is done (no
  state change, no cost charged). Which requests fail is drawn from a `random.Random(seed)`, so a given seed and
  request sequence always fails the same requests.
* `slow_ms`: every GraphQL response is delayed this long.
* `fail_next_bulk` / `expire_next_bulk` / `cancel_next_bulk`: the next n bulk operations (query or mutation) end
  FAILED (errorCode INTERNAL_SERVER_ERROR, partialDataUrl with the first part of the result), EXPIRED or CANCELED.

Counters (`requests`, `errors_injected`, `throttled`) are reported by `GET /_sandbox/stats`.
"""

from __future__ import annotations

import random
import threading
from typing import Any

DEFAULTS: dict[str, Any] = {
    "error_rate": 0.0,
    "slow_ms": 0,
    "fail_next_bulk": 0,
    "expire_next_bulk": 0,
    "cancel_next_bulk": 0,
    "seed": None,
}
COUNTERS = ("requests", "errors_injected", "throttled")

# What Shopify's edge answers when a backend is unavailable (JSON, like its other non-GraphQL errors).
ERROR_BODIES = {
    502: {"errors": "Bad Gateway"},
    503: {"errors": "Service Unavailable: the server is temporarily unable to handle the request. Try again later."},
}


class FaultError(ValueError):
    """An invalid fault setting (answered 400 by the control endpoint)."""


class Faults:
    """Thread-safe fault settings, their random stream and the request counters."""

    def __init__(self, error_rate: float = 0.0, slow_ms: int = 0, seed: int | None = None):
        self._lock = threading.Lock()
        self._initial = dict(DEFAULTS, error_rate=float(error_rate), slow_ms=int(slow_ms), seed=seed)
        self._validate(self._initial)
        self._settings = dict(self._initial)
        self._rng = random.Random(seed)
        self._counters = dict.fromkeys(COUNTERS, 0)

    @staticmethod
    def _validate(settings: dict[str, Any]) -> None:
        rate = settings["error_rate"]
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0.0 <= rate <= 1.0:
            raise FaultError("error_rate must be a number between 0 and 1")
        for key in ("slow_ms", "fail_next_bulk", "expire_next_bulk", "cancel_next_bulk"):
            value = settings[key]
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise FaultError(f"{key} must be a non-negative integer")
        seed = settings["seed"]
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise FaultError("seed must be an integer or null")

    def settings(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._settings)

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Change the given keys (others unchanged); a `seed` key restarts the random stream."""
        if not isinstance(changes, dict):
            raise FaultError("the body must be a JSON object")
        unknown = sorted(set(changes) - set(DEFAULTS))
        if unknown:
            raise FaultError(f"unknown fault settings: {', '.join(unknown)} (known: {', '.join(DEFAULTS)})")
        with self._lock:
            new = dict(self._settings, **changes)
            if isinstance(new["error_rate"], int) and not isinstance(new["error_rate"], bool):
                new["error_rate"] = float(new["error_rate"])
            self._validate(new)
            self._settings = new
            if "seed" in changes:
                self._rng = random.Random(new["seed"])
            return dict(new)

    def reset(self) -> dict[str, Any]:
        """Back to no faults (not the CLI's), a fresh random stream and zeroed counters."""
        with self._lock:
            self._settings = dict(DEFAULTS, seed=self._initial["seed"])
            self._rng = random.Random(self._initial["seed"])
            self._counters = dict.fromkeys(COUNTERS, 0)
            return dict(self._settings)

    # -------------------------------------------------------------------------------------------------- decisions

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counters[name] += n

    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counters)

    def reset_counters(self) -> None:
        with self._lock:
            self._counters = dict.fromkeys(COUNTERS, 0)

    def injected_error(self) -> int | None:
        """The 5xx status to answer this request with, or None (draws from the seeded stream)."""
        with self._lock:
            rate = self._settings["error_rate"]
            if rate <= 0:
                return None
            if self._rng.random() >= rate:
                return None
            self._counters["errors_injected"] += 1
            return 502 if self._rng.random() < 0.5 else 503

    def slow_seconds(self) -> float:
        with self._lock:
            return self._settings["slow_ms"] / 1000.0

    def take_bulk_fault(self) -> str | None:
        """'FAILED', 'EXPIRED' or 'CANCELED' if the bulk operation starting now must end that way (consumed)."""
        with self._lock:
            for key, status in (
                ("fail_next_bulk", "FAILED"),
                ("expire_next_bulk", "EXPIRED"),
                ("cancel_next_bulk", "CANCELED"),
            ):
                if self._settings[key] > 0:
                    self._settings[key] -= 1
                    return status
            return None
