"""`undersigned serve --workers 2`: two web processes on one port, each with its own counter
cache, agree on the count once the parent's job worker has folded a new signature; a client
keeping many connections open (a proxy, a CDN) has them spread over both processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx

from app.db import make_engine
from tests.helpers import add_signature
from tests.pg import free_port

ROOT = Path(__file__).resolve().parents[2]


def connections_by_process(port: int, pids: set[int]) -> dict[int, int]:
    """How many established connections to ``port`` each process holds (from /proc)."""
    established = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        if local_port == port and fields[3] == "01":  # 01: ESTABLISHED
            established.add(fields[9])  # the socket's inode
    held = {}
    for pid in pids:
        inodes = set()
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            target = os.readlink(fd) if fd.is_symlink() else ""
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
        held[pid] = len(inodes & established)
    return held


def test_two_processes_serve_one_coherent_count(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNDERSIGNED_")}
    env.update(
        PYTHONPATH=str(ROOT),  # this checkout, in the parent and in the web processes
        UNDERSIGNED_DATA_DIR=str(tmp_path / "data"),
        UNDERSIGNED_COUNT_FRESHNESS_SECONDS="1",
    )
    command = [sys.executable, "-m", "app.cli"]
    for step in ("migrate", "demo"):
        done = subprocess.run([*command, step], env=env, capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [*command, "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'undersigned.db'}")
    try:

        def counts() -> set[int]:
            """What fresh connections (spread over both processes) are told."""
            seen = set()
            for _ in range(12):
                with httpx.Client(base_url=base, timeout=5) as client:
                    response = client.get("/letters/all-for-all/count.json")
                    seen.add(int(response.json()["signatures"]))
            return seen

        deadline = time.monotonic() + 180  # a busy machine starts processes slowly
        while True:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if counts() == {0}:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        add_signature(engine, "all-for-all", name="Anna Example", email="anna@example.org")
        while counts() != {1}:  # the parent folds it; each process re-reads its counts
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        started = re.findall(r"Started server process \[(\d+)\]", log.read_text())
        assert len(set(started)) >= 2

        # Sixteen connections held open at once land in both processes (each listens on a
        # socket of its own; one shared socket can leave one process holding them all).
        clients = [httpx.Client(base_url=base, timeout=5) for _ in range(16)]
        try:
            for client in clients:
                assert client.get("/letters/all-for-all/count.json").status_code == 200
            held = connections_by_process(port, {int(pid) for pid in started})
            assert sum(held.values()) == 16 and all(held.values()), held
        finally:
            for client in clients:
                client.close()

        # A second server on the same port is refused: it must not join the first one's group
        # (its processes would take half the connections, answering from its own database).
        second = subprocess.run(
            [*command, "serve", "--port", str(port), "--workers", "2", "--no-worker"],
            env={**env, "UNDERSIGNED_DATA_DIR": str(tmp_path / "other")},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 1, second.stderr
        assert "Address already in use" in second.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
        engine.dispose()
    assert "job worker stopped" in log.read_text()


def test_a_port_in_use_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    """The web processes join the port's group silently (SO_REUSEPORT), so serve checks first
    that nothing else listens there."""
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNDERSIGNED_")}
    env.update(PYTHONPATH=str(ROOT), UNDERSIGNED_DATA_DIR=str(tmp_path / "data"))
    command = [sys.executable, "-m", "app.cli"]
    try:
        subprocess.run([*command, "migrate"], env=env, capture_output=True, timeout=120, check=True)
        done = subprocess.run(
            [*command, "serve", "--port", str(port), "--workers", "2"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        taken.close()
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1 port {port}: Address already in use" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_hung_web_process_is_replaced(tmp_path: Path) -> None:
    """A web process that stops answering (here: stopped with SIGSTOP) keeps its socket in the
    port's group, so it would keep receiving new connections: the supervisor, missing its
    heartbeat, kills it and starts another."""
    import signal

    env = {k: v for k, v in os.environ.items() if not k.startswith("UNDERSIGNED_")}
    env.update(
        PYTHONPATH=str(ROOT),
        UNDERSIGNED_DATA_DIR=str(tmp_path / "data"),
        UNDERSIGNED_WEB_HEARTBEAT_SECONDS="2",
    )
    command = [sys.executable, "-m", "app.cli"]
    subprocess.run([*command, "migrate"], env=env, capture_output=True, timeout=120, check=True)
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [*command, "serve", "--port", str(port), "--workers", "2", "--no-worker"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    started = re.compile(r"Started server process \[(\d+)\]")
    try:
        deadline = time.monotonic() + 180
        while len(started.findall(log.read_text())) < 2:
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        victim = int(started.findall(log.read_text())[0])
        os.kill(victim, signal.SIGSTOP)
        while len(started.findall(log.read_text())) < 3:
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        assert f"(pid {victim}) gave no sign of life for 2 s; killing it" in log.read_text()
        for _ in range(20):  # fresh connections, spread over both processes: all answered
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
                assert client.get("/embed.js").status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
