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
