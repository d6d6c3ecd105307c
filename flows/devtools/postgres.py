"""A private PostgreSQL server for the multi-machine tests and the scale bench, started and stopped by them.

It uses Debian's PostgreSQL binaries (the Makefile installs the package when missing), a data folder in a
temporary directory, a free port on loopback and trust authentication: nothing outside the test run is
touched. PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` user.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
from pathlib import Path

import psycopg


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: `make test` installs Debian's postgresql package")
    return Path(found[-1]).parent


class PostgresServer:
    def __init__(self, root: Path) -> None:
        self.bin = _binaries()
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0

    def _run(self, *argv: str) -> None:
        command = [str(self.bin / argv[0]), *argv[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> PostgresServer:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        log = self.root / "server.log"
        # The port was free when chosen, but another process of the run (a pytest-xdist worker's mocks or
        # PostgreSQL) may bind it first: then the server starts again on another free port.
        for attempt in range(1, 6):
            seen = log.stat().st_size if log.exists() else 0
            try:
                self._run(
                    "pg_ctl",
                    "-D",
                    str(self.data),
                    "-l",
                    str(log),
                    "-w",
                    "-o",
                    f"-p {self.port} -h 127.0.0.1 -k {self.root} -c fsync=off -c max_connections=300",
                    "start",
                )
                return self
            except subprocess.CalledProcessError:
                said = log.read_bytes()[seen:].decode(errors="replace") if log.exists() else ""
                if "already in use" not in said or attempt == 5:
                    raise
                self.port = free_port()
        return self

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass
