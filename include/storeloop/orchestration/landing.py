"""The landing zone: raw files land here unchanged, partitioned by resource and run, before anything is loaded.

`STORELOOP_LANDING_URL` is file:///abs/path or s3://bucket/prefix; the same code path serves both (Airflow's
ObjectStoragePath). For s3://, `STORELOOP_LANDING_CONN_ID` names the Airflow AWS connection (default `aws_default`;
its extra may carry `endpoint_url` for an S3-compatible server).

Merchants drop Shopify admin CSV exports into `<landing>/exports/`; each run copies the ones it ingests into
`<landing>/shopify/exports/run=<run>/` so the run's partition holds exactly what it loaded. A file that cannot be
ingested is moved to `<landing>/exports/rejected/<name>` with `<name>.reason.txt` beside it, so it never blocks a later
night (`reject_export`).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

EXPORTS_DIR = "exports"
REJECTED_DIR = "rejected"  # inside EXPORTS_DIR; export_files() does not look into it
REASON_SUFFIX = ".reason.txt"


def run_partition(run_id: str) -> str:
    """A path-safe partition name for an Airflow run id."""
    return "run=" + re.sub(r"[^A-Za-z0-9_.=-]+", "_", run_id)


def landing_root():
    from airflow.sdk import ObjectStoragePath

    url = os.environ.get("STORELOOP_LANDING_URL")
    if not url:
        raise RuntimeError("STORELOOP_LANDING_URL is not set: set it in .env to file:///abs/path or s3://bucket/prefix.")
    if url.startswith("s3://"):
        return ObjectStoragePath(url, conn_id=os.environ.get("STORELOOP_LANDING_CONN_ID", "aws_default"))
    return ObjectStoragePath(url)


def _copy_into(src_open, dest) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with src_open() as src, dest.open("wb") as out:
        shutil.copyfileobj(src, out, length=1 << 20)


def land_file(local_file: Path, resource: str, run_id: str, name: str):
    """Copy a downloaded file into <landing>/shopify/<resource>/run=<run_id>/<name>; returns its path there."""
    dest = landing_root() / "shopify" / resource / run_partition(run_id) / name
    _copy_into(lambda: open(local_file, "rb"), dest)
    return dest


def _files_in(folder) -> list:
    """The files directly in `folder` (sorted by name; subfolders are not looked into)."""
    invalidate = getattr(getattr(folder, "fs", None), "invalidate_cache", None)
    if invalidate:  # s3fs caches listings: a long-lived process must still see files dropped (or moved) since
        invalidate()
    if not folder.exists():
        return []
    return sorted((p for p in folder.iterdir() if p.is_file()), key=lambda p: p.name)


def export_files() -> list:
    """The files waiting in <landing>/exports/ (sorted by name; subfolders, rejected/ included, are not looked into)."""
    return _files_in(landing_root() / EXPORTS_DIR)


def rejected_folder():
    """<landing>/exports/rejected/: the exports a run could not ingest, each with its <name>.reason.txt."""
    return landing_root() / EXPORTS_DIR / REJECTED_DIR


def reject_export(path, reason: str):
    """Move an export that cannot be ingested out of <landing>/exports/ to <landing>/exports/rejected/<name>, with
    `reason` written beside it as <name>.reason.txt; returns the rejected copy's path.

    The note is written before the file moves: a crash in between leaves the file in exports/, where the next run
    rejects it again (never a rejected file without its reason). A later rejection of the same name overwrites both
    (the newest drop is the one to fix). The move is ObjectStoragePath.move: a rename on file://, copy + delete on s3://.
    """
    dest = rejected_folder() / path.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    with (dest.parent / (path.name + REASON_SUFFIX)).open("wb") as out:
        out.write(reason.encode("utf-8"))
    path.move(dest)
    return dest


def rejection_notes() -> list[tuple[str, str]]:
    """(file name, note text) of every <name>.reason.txt in <landing>/exports/rejected/, sorted by name."""
    notes = []
    for p in _files_in(rejected_folder()):
        if p.name.endswith(REASON_SUFFIX):
            with p.open("rb") as f:
                notes.append((p.name[:-len(REASON_SUFFIX)], f.read().decode("utf-8", "replace")))
    return notes


def fetch_export(path, local_dir: Path) -> tuple[Path, str]:
    """Download one export to `local_dir` (a local copy for the CSV reader); returns (local path, sha256)."""
    local = local_dir / path.name
    digest = hashlib.sha256()
    with path.open("rb") as src, open(local, "wb") as out:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
    return local, digest.hexdigest()


def land_export(local_file: Path, run_id: str):
    """Copy an export this run ingests into <landing>/shopify/exports/run=<run_id>/<name>."""
    return land_file(local_file, EXPORTS_DIR, run_id, local_file.name)
