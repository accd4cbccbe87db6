"""Start, check and stop the long-running processes of the local stack.

Each service runs in its own session (process group) so that stopping it stops everything it forked (gunicorn
workers, LocalExecutor workers, ...). PIDs live in `$STATE/run/<name>.pid`, output in `$STATE/logs/<name>.log`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devstack.settings import ROOT, Settings

VENV_BIN = ROOT / ".venv" / "bin"


@dataclass(frozen=True)
class Service:
    name: str
    command: list[str]
    health_url: str | None  # None: alive process is healthy
    description: str


def services(settings: Settings) -> list[Service]:
    s = settings
    state = s.state_dir
    py = str(VENV_BIN / "python")
    return [
        Service(
            "shopify",
            [py, "-m", "sandbox.shopify_emulator", "--host", "127.0.0.1", "--port", str(s.port("shopify")),
             "--state-dir", str(state / "sandbox" / "shopify"), "--token", s["STORELOOP_SANDBOX_SHOPIFY_TOKEN"],
             "--seed", s["STORELOOP_STORE_SEED"], "--size", s["STORELOOP_STORE_SIZE"]],
            f"http://127.0.0.1:{s.port('shopify')}/_sandbox/health",
            "Shopify Admin API emulator",
        ),
        Service(
            "slack",
            [py, "-m", "sandbox.slack_sink", "--host", "127.0.0.1", "--port", str(s.port("slack")),
             "--state-dir", str(state / "sandbox" / "slack")],
            f"http://127.0.0.1:{s.port('slack')}/_sandbox/messages",
            "Slack API sink",
        ),
        Service(
            "mlflow",
            [str(VENV_BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(s.port("mlflow")),
             "--backend-store-uri", "{MLFLOW_BACKEND_STORE_URI}", "--default-artifact-root",
             "{MLFLOW_ARTIFACTS_DIR}", "--workers", "1"],
            f"http://127.0.0.1:{s.port('mlflow')}/health",
            "MLflow tracking server + registry",
        ),
        Service(
            "docs",
            [py, "-m", "http.server", str(s.port("dbt_docs")), "--bind", "127.0.0.1", "--directory", str(s.site_dir)],
            f"http://127.0.0.1:{s.port('dbt_docs')}/",
            "dbt docs and monitoring reports (static)",
        ),
        Service(
            "airflow-api-server",
            [str(VENV_BIN / "airflow"), "api-server", "--port", str(s.port("airflow")), "--host", "127.0.0.1"],
            f"http://127.0.0.1:{s.port('airflow')}/api/v2/monitor/health",
            "Airflow UI + REST API",
        ),
        Service("airflow-dag-processor", [str(VENV_BIN / "airflow"), "dag-processor"], None, "Airflow DAG processor"),
        Service("airflow-scheduler", [str(VENV_BIN / "airflow"), "scheduler"], None, "Airflow scheduler"),
        Service("airflow-triggerer", [str(VENV_BIN / "airflow"), "triggerer"], None, "Airflow triggerer"),
    ]


def _pid_file(settings: Settings, name: str) -> Path:
    return settings.state_dir / "run" / f"{name}.pid"


def _log_file(settings: Settings, name: str) -> Path:
    return settings.state_dir / "logs" / f"{name}.log"


def running_pid(settings: Settings, name: str) -> int | None:
    path = _pid_file(settings, name)
    if not path.exists():
        return None
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        path.unlink(missing_ok=True)
        return None
    except PermissionError:
        return None
    # a zombie or a reused pid is not our service
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.split(") ", 1)[1].startswith("Z"):
            return None
    except OSError:
        pass
    return pid


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return 200 <= resp.status < 400
    except Exception:
        return False


def start(settings: Settings, service: Service, env: dict[str, str]) -> tuple[int, bool]:
    """Start service unless it already runs. Returns (pid, started_now)."""
    pid = running_pid(settings, service.name)
    if pid:
        return pid, False
    log_path = _log_file(settings, service.name)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    _pid_file(settings, service.name).parent.mkdir(parents=True, exist_ok=True)
    command = [part.format(**env) if "{" in part else part for part in service.command]
    with open(log_path, "ab") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {service.name}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            command, cwd=str(ROOT), env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    _pid_file(settings, service.name).write_text(str(proc.pid))
    return proc.pid, True


def wait_healthy(settings: Settings, todo: list[Service], timeout: float = 180,
                 progress: Callable[[str], None] = print) -> None:
    deadline = time.monotonic() + timeout
    pending = {svc.name: svc for svc in todo}
    while pending:
        for name, svc in list(pending.items()):
            if not running_pid(settings, name):
                tail = _tail(_log_file(settings, name))
                raise RuntimeError(f"{svc.description} ({name}) exited while starting. Last lines of its log "
                                   f"{_log_file(settings, name)}:\n{tail}")
            if svc.health_url is None or http_ok(svc.health_url):
                progress(f"  ✓ {svc.description} is up")
                del pending[name]
        if pending and time.monotonic() > deadline:
            names = ", ".join(pending)
            raise RuntimeError(f"Not healthy after {timeout:.0f}s: {names}. See the logs in {settings.state_dir / 'logs'}.")
        time.sleep(0.5)


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(settings: Settings, name: str, timeout: float = 30) -> bool:
    pid = running_pid(settings, name)
    if not pid:
        _pid_file(settings, name).unlink(missing_ok=True)
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _group_alive(pid):
        time.sleep(0.3)
    if _group_alive(pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _pid_file(settings, name).unlink(missing_ok=True)
    return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # only zombies left?
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().split(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False
