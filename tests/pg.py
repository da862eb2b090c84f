"""A throwaway PostgreSQL server started from the machine's own binaries."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def find_pg_bin() -> Path | None:
    candidates = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for directory in candidates:
        if (
            directory
            and (Path(directory) / "initdb").exists()
            and (Path(directory) / "pg_ctl").exists()
        ):
            return Path(directory)
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    port: int
    run_as: str | None

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.run_as:
            # initdb and postgres refuse to run as root.
            command = ["runuser", "-u", self.run_as, "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True)

    @classmethod
    def start(cls, bindir: Path) -> PostgresServer:
        root = Path(tempfile.mkdtemp(prefix="undersigned-pg-"))
        run_as = None
        if os.geteuid() == 0:
            run_as = "postgres"
            user = pwd.getpwnam(run_as)
            os.chown(root, user.pw_uid, user.pw_gid)
        server = cls(bindir=bindir, root=root, port=free_port(), run_as=run_as)
        data = root / "data"
        server._run(
            "initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale"
        )
        options = (
            f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        server._run(
            "pg_ctl", "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"
        )
        return server

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def bench_databases(name: str) -> Iterator[tuple[str, str | None, Path]]:
    """For benchmarks: (label, URL, work folder) for SQLite, then for a database on a throwaway
    PostgreSQL (URL None where it is not installed). Everything is removed afterwards."""
    from sqlalchemy import create_engine, text

    workdir = Path(tempfile.mkdtemp(prefix=f"undersigned-{name}-"))
    try:
        yield "SQLite", f"sqlite:///{workdir / (name + '.db')}", workdir
        bindir = find_pg_bin()
        if bindir is None:
            yield "PostgreSQL", None, workdir
            return
        server = PostgresServer.start(bindir)
        try:
            admin = create_engine(server.admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f"CREATE DATABASE {name}"))
            admin.dispose()
            yield "PostgreSQL", server.url(name), workdir
        finally:
            server.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
