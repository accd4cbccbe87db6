"""The landing zone: raw files land here unchanged, partitioned by resource and run, before anything is loaded.

`STORELOOP_LANDING_URL` is file:///abs/path or s3://bucket/prefix; the same code path serves both (Airflow's
ObjectStoragePath). For s3://, `STORELOOP_LANDING_CONN_ID` names the Airflow AWS connection (default `aws_default`;
its extra may carry `endpoint_url` for an S3-compatible server).

Merchants drop Shopify admin CSV exports into `<landing>/exports/`; each run copies the ones it ingests into
`<landing>/shopify/exports/run=<run>/` so the run's partition holds exactly what it loaded.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

EXPORTS_DIR = "exports"


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


def export_files() -> list:
    """The files waiting in <landing>/exports/ (sorted by name; subfolders are not looked into)."""
    folder = landing_root() / EXPORTS_DIR
    invalidate = getattr(getattr(folder, "fs", None), "invalidate_cache", None)
    if invalidate:  # s3fs caches listings: a long-lived process must still see files dropped since
        invalidate()
    if not folder.exists():
        return []
    return sorted((p for p in folder.iterdir() if p.is_file()), key=lambda p: p.name)


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
