"""How uvicorn serves us: its HTTP protocol with Nagle's algorithm off, and each response's
pieces written to the socket together.

asyncio turns TCP_NODELAY on only for sockets whose ``proto`` says TCP. uvicorn's own listening
socket (used whenever it runs several worker processes) is made with ``proto`` 0, so its
connections keep Nagle's algorithm: a response written in two parts (headers, then body) waits
for the client's delayed ACK, about 40 ms, and a process serves a few hundred small answers a
second instead of thousands. We set the option ourselves.

uvicorn also writes a response's headers and its body with two writes, so two packets leave
and the client reads twice. Writes made in one turn of the event loop are joined here into one
(sent at the end of that turn), which for small answers nearly halves the work per request.

Several web processes (``serve --workers N``) each listen on a socket of their own, bound to
the same port with SO_REUSEPORT, and the kernel spreads new connections evenly over them.
uvicorn's own way (one socket, whichever process accepts first) can leave one process holding
nearly every connection of a client that keeps a few open for long (a proxy, a CDN, a load
generator): one core then serves them all while the others wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

# What `uvicorn.run(http=...)` is given; an import string, so worker processes can load it.
HTTP_PROTOCOL = "app.kit.serving:NoDelayHTTPProtocol"


class _JoinedWrites:
    """A transport whose writes within one event-loop turn reach the socket as one."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class NoDelayHTTPProtocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):  # a connection the peer already closed
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        joined = _JoinedWrites(transport, asyncio.get_running_loop())
        super().connection_made(joined)  # type: ignore[arg-type]


def listening_socket(host: str, port: int, *, shared: bool, listen: bool = True) -> socket.socket:
    """A TCP socket bound to the port (listening unless told not to); ``shared``: one of a
    group on the same port (SO_REUSEPORT)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if shared:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        if listen:
            sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def reserve_port(host: str, port: int) -> socket.socket:
    """Hold the port for our web processes for as long as the returned socket is open.

    It is bound alone (so the bind fails if anything else, a server of ours included, holds
    the port), and only then marked SO_REUSEPORT, so our web processes can join it while
    nothing else can take the port, even between the restarts of a web process. It never
    listens, so it is given no connection. Port 0 picks a free port: its ``getsockname()``."""
    try:
        holder = listening_socket(host, port, shared=False, listen=False)
    except OSError as exc:
        raise SystemExit(
            f"undersigned: cannot listen on {host} port {port}: {exc.strerror}"
        ) from None
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return holder


def web_process_main(app: str, host: str, port: int, factory: bool, beat: Any) -> None:
    """One supervised web process: its own socket in the port's group, uvicorn on it, and a
    heartbeat from uvicorn's main loop every second (a hung process is replaced)."""
    import time

    import uvicorn

    from app.jobs.supervisor import stop_when_orphaned

    async def alive() -> None:
        beat.value = time.monotonic()

    stop_when_orphaned()
    sock = listening_socket(host, port, shared=True)
    config = uvicorn.Config(
        app,
        callback_notify=alive,
        timeout_notify=1,
        factory=factory,
        host=host,
        port=port,
        access_log=False,
        proxy_headers=True,
        http=HTTP_PROTOCOL,
    )
    uvicorn.Server(config).run(sockets=[sock])


def run_web_processes(
    app: str,
    *,
    holder: socket.socket,
    host: str,
    workers: int,
    factory: bool,
    heartbeat_seconds: float = 30.0,
) -> int:
    """``workers`` web processes serving ``app`` (an import string) on the port ``holder``
    reserves (``reserve_port``), supervised: restarted when one dies, all stopped gracefully
    by SIGTERM. A process whose event loop gives no sign of life for ``heartbeat_seconds``
    (hung, or stopped) is killed and replaced: its socket would otherwise keep receiving its
    share of new connections. Returns the exit status."""
    from app.jobs.supervisor import Supervisor

    port = holder.getsockname()[1]
    target = functools.partial(web_process_main, app, host, port, factory)
    supervisor = Supervisor(
        workers, target=target, label="web", heartbeat_seconds=heartbeat_seconds
    )
    return supervisor.run()


def serve_processes(app: str, *, host: str, port: int, workers: int, factory: bool) -> int:
    """``reserve_port`` then ``run_web_processes``, the port held until they stop."""
    with reserve_port(host, port) as holder:
        return run_web_processes(app, holder=holder, host=host, workers=workers, factory=factory)
