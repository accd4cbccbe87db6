"""The Airflow REST client logs in before its first request, whatever the monotonic clock reads (near 0 after boot)."""

from __future__ import annotations

import devstack.airflow_api as airflow_api
from devstack.airflow_api import AirflowAPI


class _Response:
    def __init__(self, payload: dict, status_code: int = 200):
        self._payload = payload
        self.status_code = status_code
        self.content = b"{}"
        self.text = str(payload)

    def json(self) -> dict:
        return self._payload


class _Session:
    def __init__(self):
        self.headers: dict[str, str] = {}
        self.calls: list[str] = []

    def post(self, url, **kw):
        self.calls.append(f"POST {url}")
        return _Response({"access_token": "t0k"})

    def request(self, method, url, **kw):
        self.calls.append(f"{method} {url} auth={self.headers.get('Authorization')}")
        return _Response({"import_errors": []})


def test_first_request_logs_in_even_right_after_boot(monkeypatch):
    monkeypatch.setattr(airflow_api.time, "monotonic", lambda: 5.0)  # a machine booted 5 s ago
    api = AirflowAPI("http://127.0.0.1:1", "admin", "pw")
    api.session = _Session()
    assert api.import_errors() == []
    assert api.session.calls == ["POST http://127.0.0.1:1/auth/token",
                                 "GET http://127.0.0.1:1/api/v2/importErrors auth=Bearer t0k"]
    api.import_errors()
    assert len([c for c in api.session.calls if c.startswith("POST")]) == 1, "the token is reused, not fetched again"
