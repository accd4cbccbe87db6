"""One place that turns `.env` (+ what setup resolved) into the environment every process of the stack gets.

Precedence: the process environment, then `.env`, then `$STORELOOP_STATE_DIR/resolved.env` (written by setup, e.g.
which PostgreSQL server was found or created), then the defaults below (the same as `.env.example`).
Nothing here prints a secret.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]

DEFAULTS: dict[str, str] = {
    "STORELOOP_STATE_DIR": str(ROOT / ".local"),
    "STORELOOP_PG_MODE": "auto",  # auto | local
    "STORELOOP_DATABASE_URL": "",  # a server URL without database; empty = find or create one
    "STORELOOP_LOCAL_PG_PORT": "5433",
    "STORELOOP_DB_PREFIX": "storeloop",
    "STORELOOP_AIRFLOW_PORT": "8080",
    "STORELOOP_MLFLOW_PORT": "5000",
    "STORELOOP_SHOPIFY_PORT": "8010",
    "STORELOOP_SLACK_PORT": "8020",
    "STORELOOP_DBT_DOCS_PORT": "8030",
    "STORELOOP_AIRFLOW_ADMIN_PASSWORD": "admin",
    "STORELOOP_SANDBOX_SHOPIFY_TOKEN": "shpat_sandbox_token",
    "STORELOOP_SANDBOX_SLACK_TOKEN": "xoxb-sandbox-token",
    "STORELOOP_STORE_SEED": "42",
    "STORELOOP_STORE_SIZE": "S",
    "STORELOOP_SLACK_CHANNEL": "#storeloop-alerts",
    "STORELOOP_MODEL_NAME": "storeloop_recommender",
    "STORELOOP_SHOPIFY_API_VERSION": "2025-01",
    "AIRFLOW_CONN_WAREHOUSE": "",
    "AIRFLOW_CONN_SHOPIFY": "",
    "AIRFLOW_CONN_SLACK": "",
    "MLFLOW_TRACKING_URI": "",
    "STORELOOP_LANDING_URL": "",
    "STORELOOP_LANDING_CONN_ID": "aws_default",
    "STORELOOP_INGEST_SOURCES": "api,exports",
    "STORELOOP_INGEST_OVERLAP_MINUTES": "30",
    "STORELOOP_RETRAIN_COOLDOWN_HOURS": "24",
    "STORELOOP_HOLDOUT_DAYS": "30",
    "STORELOOP_PROMOTION_MARGIN": "0.01",
}


def parse_env_file(path: Path) -> dict[str, str]:
    """Minimal dotenv: KEY=VALUE lines, optional quotes, # comments. No interpolation."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values


def write_env_file(path: Path, values: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# written by `make setup`: what it resolved. Delete to resolve again."]
    lines += [f"{k}='{v}'" for k, v in sorted(values.items())]
    path.write_text("\n".join(lines) + "\n")


def with_database(server_url: str, database: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url


@dataclass
class Settings:
    values: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, key: str) -> str:
        return self.values[key]

    def get(self, key: str, default: str = "") -> str:
        return self.values.get(key, default) or default

    # --- places -------------------------------------------------------------------------------------------------
    @property
    def state_dir(self) -> Path:
        return Path(self.values["STORELOOP_STATE_DIR"]).resolve()

    @property
    def airflow_home(self) -> Path:
        return self.state_dir / "airflow"

    @property
    def site_dir(self) -> Path:
        """Static files served on the dbt docs port: dbt docs at /dbt/, monitoring reports at /reports/."""
        return self.state_dir / "site"

    def port(self, name: str) -> int:
        return int(self.values[f"STORELOOP_{name.upper()}_PORT"])

    # --- databases ----------------------------------------------------------------------------------------------
    @property
    def server_url(self) -> str:
        url = self.get("STORELOOP_DATABASE_URL")
        if not url:
            raise RuntimeError("No PostgreSQL server resolved yet: run `make setup` first.")
        return url

    def db_name(self, role: str) -> str:
        prefix = self.values["STORELOOP_DB_PREFIX"]
        return prefix if role == "warehouse" else f"{prefix}_{role}"

    @property
    def warehouse_url(self) -> str:
        explicit = self.get("AIRFLOW_CONN_WAREHOUSE")
        return explicit or with_database(self.server_url, self.db_name("warehouse"))

    @property
    def warehouse_is_managed(self) -> bool:
        """True when Storeloop derives the warehouse database itself (and may create it)."""
        return not self.get("AIRFLOW_CONN_WAREHOUSE")

    # --- the environment of every process -----------------------------------------------------------------------
    def process_env(self) -> dict[str, str]:
        """Everything Airflow, MLflow, dbt and the sandbox need, on top of os.environ."""
        s = self.values
        state = self.state_dir
        home = self.airflow_home
        af_port = self.port("airflow")
        secrets_file = state / "secrets.json"
        gen = _generated_secrets(secrets_file)
        wh = urlsplit(self.warehouse_url)
        landing = self.get("STORELOOP_LANDING_URL") or (state / "landing").as_uri()
        env = {
            "STORELOOP_ROOT": str(ROOT),
            "STORELOOP_STATE_DIR": str(state),
            "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "TMPDIR": str(state / "tmp"),
            "PYTHONUNBUFFERED": "1",
            # Airflow
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "simple_auth_manager_passwords.json"),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{af_port}/execution/",
            "AIRFLOW__CORE__FERNET_KEY": gen["fernet_key"],
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": with_database(self.server_url, self.db_name("airflow")).replace(
                "postgresql://", "postgresql+psycopg2://", 1
            ),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(af_port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{af_port}",
            "AIRFLOW__API__SECRET_KEY": gen["api_secret_key"],
            "AIRFLOW__API_AUTH__JWT_SECRET": gen["jwt_secret"],
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "60",
            # per-stack ports for Airflow's own log servers, so a test stack can run beside the demo stack
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(af_port + 713),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(af_port + 714),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__COSMOS__CACHE_DIR": str(state / "cosmos"),
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
            "DO_NOT_TRACK": "1",
            # connections the DAGs use (Airflow reads AIRFLOW_CONN_*)
            "AIRFLOW_CONN_WAREHOUSE": _with_password(self.warehouse_url),
            "AIRFLOW_CONN_SHOPIFY": self.get("AIRFLOW_CONN_SHOPIFY") or json.dumps(
                {
                    "conn_type": "shopify",
                    "host": f"http://127.0.0.1:{self.port('shopify')}",
                    "password": s["STORELOOP_SANDBOX_SHOPIFY_TOKEN"],
                    "extra": {"api_version": s["STORELOOP_SHOPIFY_API_VERSION"]},
                }
            ),
            "AIRFLOW_CONN_SLACK": self.get("AIRFLOW_CONN_SLACK") or json.dumps(
                {
                    "conn_type": "slack",
                    "password": s["STORELOOP_SANDBOX_SLACK_TOKEN"],
                    "extra": {"base_url": f"http://127.0.0.1:{self.port('slack')}/api/"},
                }
            ),
            "MLFLOW_TRACKING_URI": self.get("MLFLOW_TRACKING_URI") or f"http://127.0.0.1:{self.port('mlflow')}",
            "MLFLOW_BACKEND_STORE_URI": with_database(self.server_url, self.db_name("mlflow")),
            "MLFLOW_ARTIFACTS_DIR": str(state / "mlartifacts"),
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            "GIT_PYTHON_REFRESH": "quiet",
            # Storeloop
            "STORELOOP_LANDING_URL": landing,
            "STORELOOP_REPORTS_URL": self.get("STORELOOP_REPORTS_URL") or (self.site_dir / "reports").as_uri(),
            "STORELOOP_REPORTS_BASE_URL": f"http://127.0.0.1:{self.port('dbt_docs')}/reports",
            "STORELOOP_DOCS_BASE_URL": f"http://127.0.0.1:{self.port('dbt_docs')}",
            "STORELOOP_STORE_ADMIN_URL": f"http://127.0.0.1:{self.port('shopify')}/",
            "STORELOOP_DBT_PROJECT_DIR": str(ROOT / "dbt_project"),
            "STORELOOP_DBT_EXECUTABLE": str(ROOT / ".venv" / "bin" / "dbt"),
            "STORELOOP_DBT_DOCS_DIR": str(self.site_dir / "dbt"),
            "STORELOOP_WAREHOUSE_HOST": wh.hostname or "127.0.0.1",
            "STORELOOP_WAREHOUSE_PORT": str(wh.port or 5432),
            "STORELOOP_WAREHOUSE_USER": wh.username or "postgres",
            "STORELOOP_WAREHOUSE_PASSWORD": wh.password or "postgres",
            "STORELOOP_WAREHOUSE_DBNAME": wh.path.lstrip("/"),
        }
        for key in DEFAULTS:
            if key.startswith("STORELOOP_") and key not in env:
                env[key] = s.get(key, "")
        for key, value in s.items():  # further settings from .env: more connections (e.g. the S3 landing zone's)
            if key.startswith(("STORELOOP_", "AIRFLOW_CONN_", "AWS_")) and key not in env and value != "":
                env[key] = value
        return env


def _with_password(url: str) -> str:
    """Cosmos' Postgres profile mapping needs a password even under trust auth."""
    parts = urlsplit(url)
    if parts.username and parts.password is None:
        host = parts.hostname or ""
        netloc = f"{parts.username}:{quote('postgres')}@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url


def _generated_secrets(path: Path) -> dict[str, str]:
    """Secrets the Airflow components must share; generated once per state dir, never printed."""
    if path.exists():
        return json.loads(path.read_text())
    from cryptography.fernet import Fernet

    values = {
        "fernet_key": Fernet.generate_key().decode(),
        "api_secret_key": secrets.token_urlsafe(32),
        "jwt_secret": secrets.token_urlsafe(32),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    return values


def load_settings(env_file: Path | None = None) -> Settings:
    values = dict(DEFAULTS)
    state_dir = Path(os.environ.get("STORELOOP_STATE_DIR") or DEFAULTS["STORELOOP_STATE_DIR"])
    env_file = env_file or Path(os.environ.get("STORELOOP_ENV_FILE", str(ROOT / ".env")))
    file_values = parse_env_file(env_file)
    state_dir = Path(os.environ.get("STORELOOP_STATE_DIR") or file_values.get("STORELOOP_STATE_DIR") or state_dir)
    resolved = parse_env_file(state_dir / "resolved.env")
    from_process = {k: v for k, v in os.environ.items() if k in DEFAULTS or k.startswith("STORELOOP_")}
    for layer in (resolved, file_values, from_process):
        for key, value in layer.items():
            if value != "" or key not in values:
                values[key] = value
    values["STORELOOP_STATE_DIR"] = str(state_dir.resolve())
    # What the user configured (not what setup resolved): decides whether setup looks for a server at all.
    values["STORELOOP_DATABASE_URL_CONFIGURED"] = os.environ.get("STORELOOP_DATABASE_URL") or file_values.get(
        "STORELOOP_DATABASE_URL", ""
    )
    return Settings(values)
