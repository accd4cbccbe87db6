"""What recommender_train, recommender_score and recommender_monitor share about MLflow: the registered model's
name, the tracking server, the experiment, and the code version a run records."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

EXPERIMENT = "storeloop_recommender"


def model_name() -> str:
    return os.environ.get("STORELOOP_MODEL_NAME", "storeloop_recommender")


def tracking_uri() -> str:
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise RuntimeError("MLFLOW_TRACKING_URI is not set: set it in .env to your MLflow tracking server.")
    return uri


def code_version() -> str:
    """The git commit the code runs from (plus '-dirty' when it has uncommitted changes), else 'unknown'."""
    root = Path(__file__).resolve().parents[3]
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return os.environ.get("STORELOOP_CODE_VERSION", "unknown")
