"""Running a DAG the way `airflow dags test` does, for the DAG-level tests: in a subprocess, against an Airflow
metadata database of the tests' own (the `dag_test_env` fixture in tests/dags/conftest.py), so that a test's runs and
Asset events never reach a stack `make up` / `make demo` has running on the same machine (its scheduler would start
the next DAGs on the test's data)."""

from __future__ import annotations

import re
import subprocess

from devstack.settings import ROOT

RUN_FINISHED = re.compile(r"DagRun Finished: dag_id=(\S+), logical_date=[^,]*, run_id=([^,\s]+),.*?state=(\w+)")


def dags_test(dag_id: str, env: dict[str, str], *args: str, timeout: float = 900) -> str:
    """`airflow dags test <dag_id> <args>`; returns its log (stdout + stderr) whatever the outcome."""
    result = subprocess.run([str(ROOT / ".venv/bin/airflow"), "dags", "test", dag_id, *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=timeout)
    return result.stdout + result.stderr


def finished_run(log: str) -> tuple[str, str]:
    """(run_id, state) of the run a `dags test` log finished; ("", "not finished") when it did not."""
    found = RUN_FINISHED.search(log)
    return (found[2], found[3]) if found else ("", "not finished")


def assert_succeeded(dag_id: str, log: str) -> str:
    """The run id of the successful run in `log`; fails with the log's tail otherwise."""
    run_id, state = finished_run(log)
    if state != "success":
        # what failed, first: dbt's ERROR/FAIL lines and exception lines, then the end of the log
        errors = [line for line in log.splitlines() if re.search(r"\b(ERROR|FAIL)\b|^\w*(Error|Exception):", line)]
        raise AssertionError(f"{dag_id}: run {run_id or '?'} ended {state}. Errors:\n" + "\n".join(errors[:40])
                             + f"\n--- end of the log:\n{log[-3000:]}")
    return run_id
