"""Run the nightly loop once through the real scheduler and follow it: trigger shopify_ingest, then watch the
Asset-triggered runs of the four downstream DAGs appear and finish, printing task progress as it happens."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from devstack.airflow_api import AirflowAPI

LOOP = ("shopify_ingest", "shopify_features", "recommender_train", "recommender_score", "recommender_monitor")
FINISHED_OK = {"success"}
FINISHED_BAD = {"failed", "upstream_failed"}


class LoopFailed(RuntimeError):
    pass


@dataclass
class LoopResult:
    runs: dict[str, dict] = field(default_factory=dict)  # dag_id -> the run of this loop
    seconds: dict[str, float] = field(default_factory=dict)


def wait_for_dags(api: AirflowAPI, timeout: float = 240, say: Callable[[str], None] = print) -> None:
    """Wait until the DAG processor has registered all five DAGs; fail with the import errors if any."""
    deadline = time.monotonic() + timeout
    while True:
        errors = api.import_errors()
        if errors:
            details = "\n".join(f"  {e['filename']}:\n    {e['stack_trace'].strip().splitlines()[-1]}" for e in errors)
            raise LoopFailed(f"Airflow could not import some DAG files:\n{details}")
        dags = api.dags()
        missing = [d for d in LOOP if d not in dags]
        if not missing:
            for dag_id in LOOP:
                if dags[dag_id].get("is_paused"):
                    api.unpause(dag_id)
            say(f"  ✓ the five DAGs are registered: {', '.join(LOOP)}")
            return
        if time.monotonic() > deadline:
            raise LoopFailed(f"Airflow has not registered {', '.join(missing)} after {timeout:.0f}s: see "
                             "the dag-processor log.")
        time.sleep(2)


def run_loop(api: AirflowAPI, *, timeout: float = 1800, poll_s: float = 3.0, conf: dict | None = None,
             say: Callable[[str], None] = print) -> LoopResult:
    """Trigger shopify_ingest and follow the chain until recommender_monitor's run finishes."""
    result = LoopResult()
    started = api.trigger("shopify_ingest", conf)
    say(f"▸ triggered shopify_ingest (run {started['dag_run_id']}); the rest follows through Assets")
    result.runs["shopify_ingest"] = started
    known_runs = {dag_id: {r["dag_run_id"] for r in api.runs(dag_id)} for dag_id in LOOP[1:]}
    deadline = time.monotonic() + timeout
    seen_states: dict[tuple[str, str], str] = {}
    t0 = time.monotonic()
    for idx, dag_id in enumerate(LOOP):
        run = result.runs.get(dag_id)
        step_t0 = time.monotonic()
        while True:
            if time.monotonic() > deadline:
                raise LoopFailed(f"The loop did not finish within {timeout:.0f}s (waiting for {dag_id}).")
            if run is None:  # the run that the previous DAG's run triggered through its Asset
                run = _triggered_by(api, dag_id, LOOP[idx - 1], result.runs[LOOP[idx - 1]]["dag_run_id"],
                                    known_runs[dag_id])
                if run is None:
                    time.sleep(poll_s)
                    continue
                result.runs[dag_id] = run
                say(f"▸ {dag_id}: run {run['dag_run_id']} ({run.get('run_type')})")
            for ti in api.task_instances(dag_id, run["dag_run_id"]):
                key = (dag_id, ti["task_id"] + (f"[{ti['map_index']}]" if ti.get("map_index", -1) >= 0 else ""))
                state = ti.get("state") or "none"
                if seen_states.get(key) != state and state in ("running", "success", "failed", "up_for_retry",
                                                                "upstream_failed"):
                    seen_states[key] = state
                    dur = f" ({ti['duration']:.0f}s)" if ti.get("duration") and state != "running" else ""
                    mark = {"success": "✓", "failed": "✗", "up_for_retry": "↻", "upstream_failed": "✗"}.get(state, "…")
                    say(f"    {mark} {key[1]} {state}{dur}")
            current = api.request("GET", f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}")
            if current["state"] in FINISHED_OK:
                result.runs[dag_id] = current
                result.seconds[dag_id] = time.monotonic() - step_t0
                say(f"  ✓ {dag_id} succeeded ({result.seconds[dag_id]:.0f}s; loop {time.monotonic() - t0:.0f}s)")
                break
            if current["state"] in FINISHED_BAD:
                failed = [ti["task_id"] for ti in api.task_instances(dag_id, run["dag_run_id"])
                          if ti.get("state") in ("failed", "upstream_failed")]
                raise LoopFailed(f"{dag_id} run {run['dag_run_id']} failed at {', '.join(failed) or '?'}: open it in "
                                 "the Airflow UI for the task log.")
            time.sleep(poll_s)
    return result


def _triggered_by(api: AirflowAPI, dag_id: str, upstream_dag: str, upstream_run: str, old: set[str]) -> dict | None:
    """The new run of dag_id whose triggering Asset events include one from upstream_run (other runs, e.g. a
    scheduled one happening meanwhile, are not ours to follow)."""
    for run in api.runs(dag_id):
        if run["dag_run_id"] in old:
            continue
        events = api.upstream_asset_events(dag_id, run["dag_run_id"])
        if any(e["source_dag_id"] == upstream_dag and e["source_run_id"] == upstream_run for e in events):
            return run
    return None
