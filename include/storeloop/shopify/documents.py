"""The GraphQL documents Storeloop sends, kept as .graphql files beside this module."""

from __future__ import annotations

from functools import cache
from pathlib import Path

DOCUMENTS_DIR = Path(__file__).parent / "graphql"


@cache
def load_document(name: str) -> str:
    path = DOCUMENTS_DIR / f"{name}.graphql"
    if not path.exists():
        raise FileNotFoundError(f"No GraphQL document {name!r} in {DOCUMENTS_DIR}")
    return path.read_text()


def all_documents() -> dict[str, str]:
    return {p.stem: p.read_text() for p in sorted(DOCUMENTS_DIR.glob("*.graphql"))}
