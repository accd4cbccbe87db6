"""The second PostgreSQL path: no server on the port, so the scripts create and start a cluster of their own."""

from __future__ import annotations

import shutil
import socket
import uuid

import pytest

from devstack import postgres
from devstack.settings import ROOT, Settings

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster_dir():
    # under the repo, not /tmp/pytest-of-root (0700): as root the cluster runs as the postgres user
    path = ROOT / ".local" / f"test-pg-{uuid.uuid4().hex[:8]}"
    yield path
    postgres.stop_local_cluster(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(not (postgres.find_pg_bin("initdb") and postgres.find_pg_bin("pg_ctl")),
                    reason="initdb/pg_ctl not installed (make setup installs them only when it needs a cluster)")
def test_a_project_cluster_is_created_started_reused_and_stopped(cluster_dir):
    port = _free_port()
    url = postgres.start_local_cluster(cluster_dir, port, log=lambda m: None)
    assert url == f"postgresql://postgres@127.0.0.1:{port}"
    postgres.wait_until_ready(url)
    assert postgres.ensure_database(url, "storeloop_probe") is True
    assert postgres.ensure_database(url, "storeloop_probe") is False  # idempotent
    # a second start reuses the running cluster
    assert postgres.start_local_cluster(cluster_dir, port, log=lambda m: None) == url
    assert postgres.stop_local_cluster(cluster_dir)
    assert not postgres.answers("127.0.0.1", port)


def test_local_mode_ignores_the_machine_server(monkeypatch, cluster_dir):
    """STORELOOP_PG_MODE=local must not pick the server on 5432 even when one answers."""
    calls = []
    monkeypatch.setattr(postgres, "start_local_cluster", lambda d, p, log=print: calls.append((d, p)) or "pg://local")
    monkeypatch.setattr(postgres, "answers", lambda host, port, timeout=1.0: True)
    settings = Settings({"STORELOOP_PG_MODE": "local", "STORELOOP_LOCAL_PG_PORT": "5999",
                         "STORELOOP_STATE_DIR": str(cluster_dir), "STORELOOP_DATABASE_URL_CONFIGURED": ""})
    assert postgres.resolve_server(settings) == ("pg://local", "local")
    assert calls == [(cluster_dir / "postgres", 5999)]
    settings.values["STORELOOP_PG_MODE"] = "auto"
    assert postgres.resolve_server(settings) == (postgres.MACHINE_SERVER_URL, "machine")
    settings.values["STORELOOP_DATABASE_URL_CONFIGURED"] = "postgresql://u:p@db:5432/"
    assert postgres.resolve_server(settings) == ("postgresql://u:p@db:5432", "configured")
