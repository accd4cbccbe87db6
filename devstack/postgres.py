"""Find or create the PostgreSQL server the stack uses.

Order: the URL in `.env` (STORELOOP_DATABASE_URL) if set; else a server answering on 127.0.0.1:5432; else a cluster
created and started under `$STORELOOP_STATE_DIR/postgres` with the system's initdb/pg_ctl (Debian's postgresql is
installed first when missing and we are root). STORELOOP_PG_MODE=local forces the last one.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

from devstack.settings import Settings

MACHINE_SERVER_URL = "postgresql://postgres@127.0.0.1:5432"


class PostgresSetupError(RuntimeError):
    pass


def answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def find_pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def _install_debian_postgresql(log) -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise PostgresSetupError(
            "No PostgreSQL server answers on 127.0.0.1:5432 and initdb/pg_ctl are not installed. "
            "Install PostgreSQL (Debian/Ubuntu: `sudo apt-get install postgresql`; macOS: `brew install postgresql`), "
            "or set STORELOOP_DATABASE_URL in .env to a server you have (postgresql://user:password@host:port)."
        )
    log("installing Debian's postgresql (apt-get) ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql"], check=True, env=env)


def _run_as_owner(cmd: list[str], owner: str | None, **kw) -> subprocess.CompletedProcess:
    if owner:
        import shlex

        return subprocess.run(["su", owner, "-s", "/bin/sh", "-c", shlex.join(cmd)], **kw)
    return subprocess.run(cmd, **kw)


def local_cluster_dir(settings: Settings) -> Path:
    return settings.state_dir / "postgres"


def start_local_cluster(data_dir: Path, port: int, log=print) -> str:
    """Create (once) and start a cluster in data_dir on 127.0.0.1:port. Returns its server URL."""
    url = f"postgresql://postgres@127.0.0.1:{port}"
    initdb, pg_ctl = find_pg_bin("initdb"), find_pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        _install_debian_postgresql(log)
        initdb, pg_ctl = find_pg_bin("initdb"), find_pg_bin("pg_ctl")
        if not (initdb and pg_ctl):
            raise PostgresSetupError("PostgreSQL was installed but initdb/pg_ctl were not found under /usr/lib/postgresql.")
    owner = None
    if os.geteuid() == 0:  # initdb refuses root: run the cluster as the postgres system user
        try:
            pwd.getpwnam("postgres")
        except KeyError as exc:
            raise PostgresSetupError("Running as root but there is no `postgres` system user to own the cluster.") from exc
        owner = "postgres"
    data_dir.mkdir(parents=True, exist_ok=True)
    if owner:
        shutil.chown(data_dir, owner, owner)
        data_dir.chmod(0o700)
    if not (data_dir / "PG_VERSION").exists():
        log(f"creating a PostgreSQL cluster in {data_dir} ...")
        _run_as_owner([initdb, "-D", str(data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8"], owner,
                      check=True, capture_output=True)
    if answers("127.0.0.1", port):
        return url
    log(f"starting PostgreSQL from {data_dir} on 127.0.0.1:{port} ...")
    result = _run_as_owner(
        [pg_ctl, "-D", str(data_dir), "-o", f"-p {port} -k {data_dir} -c listen_addresses=127.0.0.1", "-l",
         str(data_dir / "server.log"), "-w", "-t", "60", "start"],
        owner, capture_output=True, text=True,
    )
    if result.returncode != 0 or not answers("127.0.0.1", port):
        tail = (data_dir / "server.log").read_text()[-1500:] if (data_dir / "server.log").exists() else result.stderr
        raise PostgresSetupError(f"PostgreSQL in {data_dir} did not start on port {port}:\n{tail}")
    return url


def stop_local_cluster(data_dir: Path) -> bool:
    pg_ctl = find_pg_bin("pg_ctl")
    if not pg_ctl or not (data_dir / "postmaster.pid").exists():
        return False
    owner = "postgres" if os.geteuid() == 0 else None
    _run_as_owner([pg_ctl, "-D", str(data_dir), "-m", "fast", "-w", "stop"], owner, capture_output=True)
    return True


def resolve_server(settings: Settings, log=print) -> tuple[str, str]:
    """Returns (server_url, how) where how is 'configured', 'machine' or 'local'."""
    mode = settings.get("STORELOOP_PG_MODE", "auto")
    configured = settings.get("STORELOOP_DATABASE_URL_CONFIGURED")
    if configured:
        return configured.rstrip("/"), "configured"
    if mode != "local" and answers("127.0.0.1", 5432):
        return MACHINE_SERVER_URL, "machine"
    port = int(settings["STORELOOP_LOCAL_PG_PORT"])
    return start_local_cluster(local_cluster_dir(settings), port, log), "local"


def wait_until_ready(server_url: str, timeout: float = 30) -> None:
    import psycopg2

    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg2.connect(server_url + "/postgres", connect_timeout=3).close()
            return
        except psycopg2.OperationalError as exc:
            if time.monotonic() > deadline:
                raise PostgresSetupError(f"PostgreSQL at {server_url} does not accept connections: {exc}") from exc
            time.sleep(0.5)


def ensure_database(server_url: str, name: str) -> bool:
    """Create database `name` if absent. Returns True when it was created."""
    import psycopg2

    conn = psycopg2.connect(server_url + "/postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("select 1 from pg_database where datname = %s", (name,))
            if cur.fetchone():
                return False
            cur.execute(f'create database "{name}"')
            return True
    finally:
        conn.close()


def drop_database(server_url: str, name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(server_url + "/postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(f'drop database if exists "{name}" with (force)')
    finally:
        conn.close()
