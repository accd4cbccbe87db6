"""recommender_train's point-in-time features: the dbt feature models built as of a cutoff into a schema of their
own, then read for the learned ranker (recsys/ranker.py).

`dbt run --select <the models the ranker reads> --vars '{as_of: <cutoff>, feature_schema: <schema>}'`: the models
compute exactly what the nightly build computes, as they were known at the cutoff (macros/as_of.sql), and land in
`features_at_train` (the ranker's examples, as of C - label days) or `features_at_cutoff` (as of C, the start of the
holdout, for evaluation) instead of `marts` (macros/generate_schema_name.sql). The nightly tables are never touched,
and a rerun replaces the snapshot. The MLflow runs record each snapshot's schema, cutoff and dbt invocation id.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd

from storeloop.orchestration.connections import WarehouseParams
from storeloop.orchestration.features import dbt_executable, dbt_project_dir
from storeloop.recsys.interactions import as_utc

log = logging.getLogger(__name__)

TRAIN_SCHEMA = "features_at_train"
CUTOFF_SCHEMA = "features_at_cutoff"


def build_snapshot(params: WarehouseParams, schema: str, as_of: pd.Timestamp, models: list[str]) -> dict[str, str]:
    """Build `models` as of `as_of` into `schema`; returns what the MLflow runs record about it."""
    project = dbt_project_dir()
    stamp = as_utc(as_of).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    dbt_vars = json.dumps({"as_of": stamp, "feature_schema": schema})
    env = {**os.environ, **params.dbt_env()}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="storeloop-dbt-snapshot-") as target:
        cmd = [dbt_executable(), "run", "--select", *models, "--vars", dbt_vars, "--project-dir", str(project),
               "--profiles-dir", str(project), "--target-path", target]
        log.info("building the feature snapshot %s as of %s: dbt run --select %s", schema, stamp, " ".join(models))
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=str(project))
        for line in result.stdout.splitlines():
            if " OK created " in line or "ERROR" in line or "Finished running" in line:
                log.info("dbt: %s", line.strip())
        if result.returncode != 0:
            raise RuntimeError(f"the point-in-time feature build ({schema} as of {stamp}) failed; dbt said:\n"
                               f"{result.stdout[-3000:]}\n{result.stderr[-1500:]}")
        invocation = json.loads((Path(target) / "run_results.json").read_text())["metadata"]["invocation_id"]
    seconds = time.perf_counter() - started
    log.info("feature snapshot %s as of %s built in %.1fs (dbt invocation %s)", schema, stamp, seconds, invocation)
    return {"schema": schema, "as_of": stamp, "dbt_invocation_id": invocation, "seconds": f"{seconds:.1f}"}
