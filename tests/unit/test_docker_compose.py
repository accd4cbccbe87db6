"""docker-compose.yaml cannot run on these machines (no Docker engine): check that it agrees with the code."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import yaml

from devstack.settings import ROOT, Settings

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
SERVICES = COMPOSE["services"]
AIRFLOW_ENV = SERVICES["airflow-scheduler"]["environment"]
OPTIONAL_ENV = {"STORELOOP_REPORTS_BASE_URL", "STORELOOP_CODE_VERSION"}  # read with a fallback


def test_the_stack_has_every_part():
    assert {"postgres", "mlflow", "shopify-emulator", "slack-sink", "airflow-init", "airflow-api-server",
            "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"} <= set(SERVICES)


def test_airflow_components_run_real_airflow_commands():
    from airflow.cli.cli_config import core_commands

    known = {c.name for c in core_commands}
    for name in ("airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"):
        command = SERVICES[name]["command"]
        assert command[0] == "airflow" and command[1] in known, name
        assert SERVICES[name]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert SERVICES["airflow-init"]["command"] == ["airflow", "db", "migrate"]


@pytest.mark.parametrize("service, module, entry", [("shopify-emulator", "sandbox.shopify_emulator",
                                                     "sandbox.shopify_emulator.__main__"),
                                                    ("slack-sink", "sandbox.slack_sink", "sandbox.slack_sink")])
def test_sandbox_commands_use_flags_the_modules_accept(service, module, entry, capsys):
    command = SERVICES[service]["command"]
    assert command[:3] == ["python", "-m", module]
    with pytest.raises(SystemExit) as exited:  # argparse prints the help and exits 0, in this process
        importlib.import_module(entry).main(["--help"])
    assert exited.value.code == 0
    help_text = capsys.readouterr().out
    for flag in (a for a in command if a.startswith("--")):
        assert flag in help_text, f"{module} has no {flag}"


def test_connections_point_at_the_services_that_serve_them():
    shopify_port = SERVICES["shopify-emulator"]["command"][SERVICES["shopify-emulator"]["command"].index("--port") + 1]
    slack_port = SERVICES["slack-sink"]["command"][SERVICES["slack-sink"]["command"].index("--port") + 1]
    assert f"http://shopify-emulator:{shopify_port}" in AIRFLOW_ENV["AIRFLOW_CONN_SHOPIFY"]
    assert f"http://slack-sink:{slack_port}/api/" in AIRFLOW_ENV["AIRFLOW_CONN_SLACK"]
    assert "http://mlflow:5000" in AIRFLOW_ENV["MLFLOW_TRACKING_URI"]


def test_database_names_match_what_setup_creates():
    settings = Settings({"STORELOOP_DB_PREFIX": "storeloop"})
    names = {settings.db_name(r) for r in ("warehouse", "airflow", "mlflow")}
    init_sql = (ROOT / "docker" / "postgres-init.sql").read_text()
    assert set(re.findall(r"create database (\w+);", init_sql)) == names
    assert "/storeloop_airflow" in AIRFLOW_ENV["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert "/storeloop}" in AIRFLOW_ENV["AIRFLOW_CONN_WAREHOUSE"]
    assert "storeloop_mlflow" in " ".join(SERVICES["mlflow"]["command"])


def test_every_setting_the_task_code_reads_is_set_for_the_containers():
    read = set()
    for path in (ROOT / "include" / "storeloop").rglob("*.py"):
        read |= set(re.findall(r"os\.environ(?:\.get\(|\[)\"((?:STORELOOP|MLFLOW)_[A-Z_]+)\"", path.read_text()))
    assert read, "expected the task code to read its settings from the environment"
    missing = read - set(AIRFLOW_ENV) - OPTIONAL_ENV
    assert not missing, f"set these in x-airflow-env: {sorted(missing)}"


def test_mounted_folders_exist():
    for volume in SERVICES["airflow-scheduler"]["volumes"]:
        host = volume.split(":")[0]
        if host.startswith("./"):
            assert (ROOT / host).is_dir(), host
    assert Path(ROOT / "Dockerfile").read_text().count("requirements.txt") >= 1
