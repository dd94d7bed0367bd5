"""A throwaway PostgreSQL cluster on loopback from the machine's server binaries (initdb + pg_ctl), for the
load benchmark (console/loadtest_compare.py) and the tests (tests/conftest.py `pg_server`)."""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else (Path(shutil.which("initdb")).parent if shutil.which("initdb") else None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ClusterUnavailable(RuntimeError):
    """This machine cannot start a throwaway cluster; the message says why (callers may skip on it)."""


@contextmanager
def throwaway_cluster(*settings: str) -> Iterator[str]:
    """Yields the SQLAlchemy URL prefix (no database) of a fresh cluster on loopback; removes it afterwards.
    ``settings`` are extra server settings such as ``"fsync=off"`` (the tests' cluster)."""
    bin_dir = binaries()
    if bin_dir is None:
        raise ClusterUnavailable("no PostgreSQL server binaries (Debian: apt-get install postgresql)")
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: the cluster belongs to the postgres user
        if shutil.which("runuser") is None or subprocess.run(["id", "postgres"], capture_output=True).returncode:
            raise ClusterUnavailable("running as root without a postgres user to own a throwaway cluster")
        as_user = ["runuser", "-u", "postgres", "--"]
    data = Path(tempfile.mkdtemp(prefix="riskdesk-pg-"))
    if as_user:
        shutil.chown(data, "postgres")
    port = _free_port()
    options = " ".join(f"-c {setting}" for setting in ("listen_addresses=127.0.0.1", "max_connections=200", *settings))
    try:
        subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(data / "db"), "-A", "trust", "-U", "riskdesk",
                        "-E", "UTF8", "--no-locale"], check=True, capture_output=True)
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-l", str(data / "log"), "-w",
                        "-o", f"-p {port} -k {data} {options}", "start"], check=True, capture_output=True)
        yield f"postgresql+psycopg://riskdesk@127.0.0.1:{port}"
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


def new_database(prefix: str) -> str:
    """A new empty database on the server at `prefix`; its URL."""
    from sqlalchemy import create_engine, text
    name = f"rd_{uuid.uuid4().hex[:10]}"
    engine = create_engine(f"{prefix}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return f"{prefix}/{name}"
