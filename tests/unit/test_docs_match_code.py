"""The docs name files that exist: every backticked path in the README and docs/ resolves in the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ["README.md", "docs/architecture.md", "docs/contracts.md", "docs/features.md", "docs/recommender.md",
        "bench/README.md", "tests/fixtures/README.md"]
# `some/dir/file.py`, `warehouse/migrations/`, `recsys/models.py`: a path with a slash and a known suffix or a trailing /
PATH = re.compile(r"`([\w.\-]+(?:/[\w.\-*<>]+)*/(?:[\w.\-]+\.(?:py|sql|md|yml|yaml|graphql|sh|toml|json|gz|csv))?)`")
# where a doc's relative path may start: the repository, the library, the dbt project
BASES = [ROOT, ROOT / "include" / "storeloop", ROOT / "include", ROOT / "dbt_project"]


def _named_paths(doc: str) -> list[str]:
    text = (ROOT / doc).read_text(encoding="utf-8")
    return sorted({m for m in PATH.findall(text) if "<" not in m and "*" not in m and "://" not in m})


@pytest.mark.parametrize("doc", DOCS)
def test_every_path_a_doc_names_exists(doc):
    missing = [p for p in _named_paths(doc) if not any((base / p).exists() for base in BASES)]
    assert not missing, f"{doc} names paths that do not exist: {missing}"


def test_the_readme_asks_for_exactly_the_scopes_the_client_names():
    from storeloop.shopify.client import ADMIN_API_SCOPES, HISTORY_SCOPE

    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Pointing Storeloop at a real store"):]
    section = section[:section.index("\n## ", 1)]
    named = set(re.findall(r"`((?:read|write)_[a-z_]+)`", section))
    assert named == {*ADMIN_API_SCOPES, HISTORY_SCOPE}, (
        "README's scopes and storeloop.shopify.client.ADMIN_API_SCOPES differ: update one to match the other")
