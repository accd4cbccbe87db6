"""Fixtures shared by the integration tests (the builders they use are in tests/support/)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from support.dbt_warehouse import Warehouse, warehouse_from_url


@pytest.fixture
def warehouse(warehouse_db: str) -> Warehouse:
    """A fresh, empty database (tests/conftest.py's `warehouse_db`, dropped afterwards) as a `Warehouse` for dbt."""
    return warehouse_from_url(warehouse_db)


@pytest.fixture(scope="module")
def mlflow_workspace(tmp_path_factory) -> Iterator[Path]:
    """A folder for a file-backed MLflow (`sqlite:///<folder>/mlflow.db`, artifacts beside it), no server.

    MLflow writes lock files to the temp dir: they are kept in the folder. The URI is set both in the environment and
    as MLflow's process-wide tracking URI: an earlier module's `mlflow.set_tracking_uri` outranks the environment, and
    a test that logs through `mlflow.*` would otherwise write to that module's database while the code under test
    reads this one (CI saw exactly that: a registered champion "missing"). Both are restored when the module ends, so
    that no later test (an Airflow one reading the stack's links, say) inherits this module's sqlite URI."""
    root = tmp_path_factory.mktemp("mlflow")
    tmp = root / "tmp"
    tmp.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TMPDIR", str(tmp))
        mp.setattr(tempfile, "tempdir", str(tmp))
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root}/mlflow.db")
        mlflow.set_tracking_uri(f"sqlite:///{root}/mlflow.db")
        try:
            yield root
        finally:
            mlflow.set_tracking_uri(None)
