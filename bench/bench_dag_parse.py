"""Benchmark: how long Airflow takes to parse each DAG file (what the DAG processor pays on every parse loop).

Each run of each file is a fresh Python process (as the DAG processor's parsing subprocess is): Airflow is imported
first (the processor has it loaded already), then `DagBag(<the file>)` is timed: the file's own imports included. shopify_features renders the dbt project with Cosmos from the prebuilt
manifest (dbt_project/target/manifest.json, written by `make setup`), so no `dbt parse` runs while parsing.

Prints: file | tasks | median s | min s | max s over --runs runs (default 5).
Run: .venv/bin/python bench/bench_dag_parse.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from devstack.settings import load_settings  # noqa: E402

PROBE = r"""
import json, sys, time
from airflow.dag_processing.dagbag import DagBag  # already imported in the DAG processor: not timed
t = time.perf_counter()
bag = DagBag(sys.argv[1])
seconds = time.perf_counter() - t
if bag.import_errors:
    sys.exit(f"{sys.argv[1]}: {bag.import_errors}")
print("PROBE" + json.dumps({"seconds": seconds, "tasks": sum(len(d.tasks) for d in bag.dags.values())}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    opts = ap.parse_args()
    env = {**os.environ, **load_settings().process_env()}
    files = sorted((ROOT / "dags").glob("*.py"))
    runs: dict[str, list[dict]] = {f.name: [] for f in files}
    for _ in range(opts.runs):
        for path in files:
            result = subprocess.run([sys.executable, "-c", PROBE, str(path.relative_to(ROOT))], cwd=ROOT, env=env,
                                    capture_output=True, text=True, timeout=300)
            line = next((ln for ln in result.stdout.splitlines() if ln.startswith("PROBE")), None)
            if result.returncode != 0 or line is None:
                raise SystemExit(f"parsing {path.name} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
            runs[path.name].append(json.loads(line[len("PROBE"):]))
    print(f"\n{opts.runs} runs per file, each a fresh process with Airflow already imported; DagBag(<file>)\n")
    print(f"| {'file':28s} | tasks | median s | min s | max s |")
    print(f"|{'-' * 30}|------:|---------:|------:|------:|")
    for name, results in runs.items():
        times = [r["seconds"] for r in results]
        print(f"| {name:28s} | {results[0]['tasks']:5d} | {statistics.median(times):8.2f} | {min(times):5.2f} "
              f"| {max(times):5.2f} |")

if __name__ == "__main__":
    main()
