"""A small client for Airflow 3's REST API (/api/v2), used by `make demo` and the end-to-end test."""

from __future__ import annotations

import time
from typing import Any

import requests


class AirflowAPI:
    def __init__(self, base_url: str, username: str, password: str, timeout: float = 20):
        self.base_url = base_url.rstrip("/")
        self.username = username
        self._password = password
        self.timeout = timeout
        self.session = requests.Session()
        self._token_at: float | None = None  # monotonic time of the last login (None: not logged in yet)

    def _auth(self) -> None:
        # not `monotonic() - 0.0 < 600`: the monotonic clock starts near 0 at boot, and a fresh CI machine would skip
        # the first login
        if self._token_at is not None and time.monotonic() - self._token_at < 600:
            return
        resp = self.session.post(f"{self.base_url}/auth/token", json={"username": self.username,
                                                                        "password": self._password},
                                 timeout=self.timeout)
        if resp.status_code >= 400:
            raise RuntimeError(f"Airflow refused the login for {self.username!r} (HTTP {resp.status_code}): check "
                               "STORELOOP_AIRFLOW_ADMIN_PASSWORD in .env and rerun `make setup`.")
        self.session.headers["Authorization"] = f"Bearer {resp.json()['access_token']}"
        self._token_at = time.monotonic()

    def request(self, method: str, path: str, **kw) -> Any:
        self._auth()
        resp = self.session.request(method, f"{self.base_url}/api/v2{path}", timeout=self.timeout, **kw)
        if resp.status_code >= 400:
            raise RuntimeError(f"Airflow API {method} {path} → HTTP {resp.status_code}: {resp.text[:500]}")
        return resp.json() if resp.content else None

    def dags(self) -> dict[str, dict]:
        return {d["dag_id"]: d for d in self.request("GET", "/dags", params={"limit": 100})["dags"]}

    def import_errors(self) -> list[dict]:
        return self.request("GET", "/importErrors", params={"limit": 100})["import_errors"]

    def unpause(self, dag_id: str) -> None:
        self.request("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict | None = None) -> dict:
        return self.request("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})

    def runs(self, dag_id: str, limit: int = 10) -> list[dict]:
        return self.request("GET", f"/dags/{dag_id}/dagRuns",
                            params={"limit": limit, "order_by": "-run_after"})["dag_runs"]

    def upstream_asset_events(self, dag_id: str, run_id: str) -> list[dict]:
        return self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/upstreamAssetEvents")["asset_events"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                            params={"limit": 200})["task_instances"]
