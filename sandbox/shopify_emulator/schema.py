"""Shopify's Admin GraphQL schema (introspection of API 2025-01), loaded once per process."""

from __future__ import annotations

import gzip
import json
import os
import threading
from pathlib import Path

from graphql import GraphQLSchema, build_client_schema

SCHEMA_ENV_VAR = "STORELOOP_SHOPIFY_SCHEMA"
# kept inside the repository (where it came from: admin_schema/README.md)
DEFAULT_SCHEMA_PATH = Path(__file__).resolve().parent / "admin_schema" / "admin_schema_2025-01.json.gz"

_lock = threading.Lock()
_cache: dict[Path, GraphQLSchema] = {}


def schema_path() -> Path:
    override = os.environ.get(SCHEMA_ENV_VAR)
    return Path(override).expanduser().resolve() if override else DEFAULT_SCHEMA_PATH.resolve()


def load_schema(path: Path | None = None) -> GraphQLSchema:
    """The Admin API schema as a graphql-core schema (no resolvers: the emulator supplies them)."""
    path = (path or schema_path()).resolve()
    with _lock:
        if path not in _cache:
            if not path.exists():
                raise FileNotFoundError(
                    f"Shopify Admin schema not found at {path}; set {SCHEMA_ENV_VAR} to the path of "
                    "admin_schema_2025-01.json.gz (an introspection result, optionally gzipped)"
                )
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rt", encoding="utf-8") as fh:
                data = json.load(fh)
            _cache[path] = build_client_schema(data.get("data", data), assume_valid=True)
        return _cache[path]
