"""The landing zone: raw files land here unchanged, partitioned by resource and run, before anything is loaded.

`STORELOOP_LANDING_URL` is file:///abs/path or s3://bucket/prefix; the same code path serves both
(Airflow's ObjectStoragePath)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path


def run_partition(run_id: str) -> str:
    """A path-safe partition name for an Airflow run id."""
    return "run=" + re.sub(r"[^A-Za-z0-9_.=-]+", "_", run_id)


def landing_root():
    from airflow.sdk import ObjectStoragePath

    url = os.environ.get("STORELOOP_LANDING_URL")
    if not url:
        raise RuntimeError("STORELOOP_LANDING_URL is not set: set it in .env to file:///abs/path or s3://bucket/prefix.")
    return ObjectStoragePath(url)


def land_file(local_file: Path, resource: str, run_id: str, name: str):
    """Copy a downloaded file into <landing>/shopify/<resource>/run=<run_id>/<name>; returns its path there."""
    dest = landing_root() / "shopify" / resource / run_partition(run_id) / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(local_file, "rb") as src, dest.open("wb") as out:
        shutil.copyfileobj(src, out, length=1 << 20)
    return dest
