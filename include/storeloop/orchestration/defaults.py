"""What every Storeloop DAG shares: retries, the failure callback, tags."""

from __future__ import annotations

from datetime import datetime, timedelta

from storeloop.orchestration.callbacks import notify_failure

START_DATE = datetime(2026, 1, 1)

DEFAULT_ARGS = {
    "owner": "storeloop",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "on_failure_callback": notify_failure,
}
