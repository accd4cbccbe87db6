"""Helpers for tests and benchmarks that talk to the stand-ins."""

from __future__ import annotations

import requests


class CountingSession(requests.Session):
    """A requests session that counts every HTTP answer by status (to prove "zero failed requests")."""

    def __init__(self):
        super().__init__()
        self.statuses: dict[int, int] = {}

    def request(self, *args, **kwargs):
        resp = super().request(*args, **kwargs)
        self.statuses[resp.status_code] = self.statuses.get(resp.status_code, 0) + 1
        return resp


def wait_for_health(base_url: str, timeout: float = 30.0) -> None:
    """Poll `<base_url>/_sandbox/health` until it answers `{"ok": true}`; AssertionError after `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(base_url + "/_sandbox/health", timeout=1).json() == {"ok": True}:
                return
        except (requests.ConnectionError, ValueError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"{base_url} did not become healthy within {timeout:.0f}s")
