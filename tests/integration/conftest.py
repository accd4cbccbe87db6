"""Fixtures shared by the integration tests (the builders they use are in tests/support/)."""

from __future__ import annotations

import pytest
from support.dbt_warehouse import Warehouse, warehouse_from_url


@pytest.fixture
def warehouse(warehouse_db: str) -> Warehouse:
    """A fresh, empty database (tests/conftest.py's `warehouse_db`, dropped afterwards) as a `Warehouse` for dbt."""
    return warehouse_from_url(warehouse_db)
