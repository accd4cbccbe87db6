"""The repository stands alone: a clone with nothing beside it has every file its code, tests and scripts read."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from support import fixture_files

ROOT = Path(__file__).resolve().parents[2]
# a path that climbs out of the repository or names this machine's layout
OUTSIDE = re.compile(r"\.\./shared|/wor[k]/|parents\[[3-9]\]\s*/\s*\"shared\"|ROOT\.parent\s*/\s*\"shared\"")


def test_no_tracked_file_reads_from_outside_the_repository():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    offenders = []
    for name in files:
        if name.endswith((".md", ".txt", ".gz", ".csv")) or name == Path(__file__).relative_to(ROOT).as_posix():
            continue
        text = (ROOT / name).read_text(encoding="utf-8", errors="replace")
        offenders += [f"{name}:{n}: {line.strip()}" for n, line in enumerate(text.splitlines(), 1) if OUTSIDE.search(line)]
    assert not offenders, "files that reach outside the repository:\n" + "\n".join(offenders)


def test_a_missing_fixture_fails_naming_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(fixture_files, "SHOPIFY_FIXTURES", tmp_path)
    with pytest.raises(FileNotFoundError, match="orders_export_small_store.csv"):
        fixture_files.shopify_export("orders_export_small_store.csv")


def test_every_fixture_the_readme_names_is_in_the_repository():
    readme = (ROOT / "tests" / "fixtures" / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"^\| ([\w.]+\.csv)", readme, re.M)) | set(re.findall(r", ([\w.]+\.csv) \|", readme))
    assert named, "tests/fixtures/README.md names no fixture"
    for name in sorted(named):
        fixture_files.shopify_export(name)
    fixture_files.admin_schema_path()
