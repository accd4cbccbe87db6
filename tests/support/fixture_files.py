"""The real Shopify files the tests read, all inside the repository (where each came from: tests/fixtures/README.md).

A missing file fails the test that needs it, naming the file: a test never skips because a fixture is absent."""

from __future__ import annotations

from pathlib import Path

from sandbox.shopify_emulator.schema import DEFAULT_SCHEMA_PATH

SHOPIFY_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "shopify"


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise FileNotFoundError(
            f"test fixture {path} is missing: it is part of the repository (see tests/fixtures/README.md); "
            f"restore it with `git checkout -- {path}`"
        )
    return path


def shopify_export(name: str) -> Path:
    """A real Shopify admin export from tests/fixtures/shopify/ (e.g. `orders_export_small_store.csv`)."""
    return _existing(SHOPIFY_FIXTURES / name)


def admin_schema_path() -> Path:
    """Shopify's Admin GraphQL schema (introspection, API 2025-01), the copy the emulator serves from."""
    return _existing(DEFAULT_SCHEMA_PATH)
