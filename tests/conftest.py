"""Shared fixtures. Tests use the PostgreSQL server `make setup` resolved (the machine's, or the project-created
cluster when STORELOOP_PG_MODE=local), each in databases of their own that they drop afterwards."""

from __future__ import annotations

import os
import uuid

import pytest

from devstack import postgres
from devstack.settings import load_settings


def _server_url() -> str:
    settings = load_settings()
    try:
        return settings.server_url
    except RuntimeError:
        pytest.exit("No PostgreSQL server resolved: run `make setup` (or `make test`, which runs it) first.", 2)


# Helpers written against STORELOOP_TEST_PG_URL see the same server the rest of the suite uses.
if "STORELOOP_TEST_PG_URL" not in os.environ:
    try:
        os.environ["STORELOOP_TEST_PG_URL"] = load_settings().server_url.replace(
            "postgresql://postgres@", "postgresql://postgres:postgres@", 1) + "/postgres"
    except RuntimeError:
        pass


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    url = _server_url()
    postgres.wait_until_ready(url, timeout=10)
    return url


@pytest.fixture
def warehouse_db(pg_server_url):
    """A fresh, empty database; yields its URL; dropped afterwards."""
    name = f"storeloop_t_{uuid.uuid4().hex[:10]}"
    postgres.ensure_database(pg_server_url, name)
    yield f"{pg_server_url}/{name}"
    postgres.drop_database(pg_server_url, name)


@pytest.fixture
def warehouse_conn(warehouse_db):
    import psycopg2

    conn = psycopg2.connect(warehouse_db)
    yield conn
    conn.close()
