"""Storeloop's local stack: `python -m devstack {setup|up|down|status|demo|run|env}` (the Makefile calls these)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from devstack import postgres, services
from devstack.settings import ROOT, load_settings, redact_url
from devstack.setup import run_setup

AIRFLOW_COMPONENTS = ("airflow-api-server", "airflow-dag-processor", "airflow-scheduler", "airflow-triggerer")


def cmd_up(only: list[str] | None = None) -> None:
    settings = load_settings()
    env = settings.process_env()
    todo = []
    print("▸ starting services", flush=True)
    t0 = time.monotonic()
    for svc in services.services(settings):
        if only and svc.name not in only:
            continue
        pid, started = services.start(settings, svc, env)
        if started:
            todo.append(svc)
        else:
            print(f"  ✓ {svc.description} already running (pid {pid})")
    services.wait_healthy(settings, todo)
    print(f"  ✓ all up ({time.monotonic() - t0:.1f}s)", flush=True)


def cmd_down() -> None:
    settings = load_settings()
    for svc in reversed(services.services(settings)):
        if services.stop(settings, svc.name):
            print(f"  ✓ stopped {svc.description}")
    if settings.get("STORELOOP_PG_RESOLVED_BY") == "local":
        if postgres.stop_local_cluster(postgres.local_cluster_dir(settings)):
            print("  ✓ stopped the project's PostgreSQL cluster")


def cmd_status() -> None:
    settings = load_settings()
    for svc in services.services(settings):
        pid = services.running_pid(settings, svc.name)
        health = "" if not pid or not svc.health_url else (" healthy" if services.http_ok(svc.health_url) else " NOT healthy")
        print(f"{svc.name:24s} {'running pid ' + str(pid) if pid else 'stopped'}{health}")
    if settings.get("STORELOOP_DATABASE_URL"):
        print(f"{'postgres':24s} {redact_url(settings['STORELOOP_DATABASE_URL'])} "
              f"({settings.get('STORELOOP_PG_RESOLVED_BY', 'configured')})")


def cmd_run(dag_id: str, conf: str | None) -> int:
    """One DAG, once, now, through `airflow dags test` (no scheduler); the sandbox and MLflow must answer."""
    settings = run_setup()
    cmd_up(only=["shopify", "slack", "mlflow", "docs"])
    env = {**os.environ, **settings.process_env()}
    args = [str(ROOT / ".venv/bin/airflow"), "dags", "test", dag_id]
    if conf:
        args += ["-c", conf]
    print(f"▸ airflow dags test {dag_id}", flush=True)
    return subprocess.call(args, env=env, cwd=str(ROOT))


def cmd_env() -> None:
    """Print `export` lines for a shell (secrets included: for eval, not for logs)."""
    settings = load_settings()
    for key, value in sorted(settings.process_env().items()):
        print(f"export {key}='{value}'")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup", help="venv is done by the Makefile; PostgreSQL, databases, Airflow DB, dbt manifest")
    up = sub.add_parser("up", help="start (or reuse) every service")
    up.add_argument("--only", nargs="*")
    sub.add_parser("down", help="stop every service this project started")
    sub.add_parser("status")
    demo = sub.add_parser("demo", help="setup, up, and run the whole loop once through the scheduler")
    demo.add_argument("--timeout", type=float, default=1800)
    run = sub.add_parser("run", help="run one DAG once through `airflow dags test`")
    run.add_argument("dag_id")
    run.add_argument("--conf")
    sub.add_parser("env")
    args = parser.parse_args(argv)
    try:
        if args.command == "setup":
            run_setup()
        elif args.command == "up":
            cmd_up(args.only)
        elif args.command == "down":
            cmd_down()
        elif args.command == "status":
            cmd_status()
        elif args.command == "demo":
            from devstack.demo import run_demo

            return run_demo(timeout=args.timeout)
        elif args.command == "run":
            return cmd_run(args.dag_id, args.conf)
        elif args.command == "env":
            cmd_env()
    except (RuntimeError, postgres.PostgresSetupError) as exc:
        print(f"\n✗ {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
