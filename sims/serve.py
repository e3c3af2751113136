"""Serve a world's sims on loopback, for clients outside the process (the openai SDK, curl).

One uvicorn server, one path prefix per sim (``/llm``, ``/crm``, ``/payments``,
``/knowledge``); the LLM's base URL is ``http://HOST:PORT/llm/v1``. The socket is bound here,
before uvicorn starts, so a port in use is a plain ``OSError`` (uvicorn itself would exit the
process) and port 0 works. A ``reset`` fault must look like a dropped connection to the
client, not a 500: the server's HTTP protocol is subclassed only to remember each
connection's transport, so the app can abort the right socket when a sim raises
``ConnectionReset``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from sims.asgi import ASGIApp, ConnectionReset, Receive, Reply, Scope, Send, send_reply
from sims.errors import tool_error
from sims.world import SIM_KINDS, SimWorld

Transports = dict[tuple[str, int], asyncio.Transport]


def base_urls(host: str, port: int) -> dict[str, str]:
    """Each sim's base URL (the LLM's ends in ``/v1``, like OpenAI's)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host else host
    return {
        kind: f"http://{shown}:{port}/{kind}" + ("/v1" if kind == "llm" else "")
        for kind in SIM_KINDS
    }


class ServedSims:
    """The server's ASGI app: routes ``/{kind}/...`` to the world's sims, drops connections."""

    def __init__(self, world: SimWorld, transports: Transports) -> None:
        self._apps: dict[str, ASGIApp] = {kind: world.app(kind) for kind in SIM_KINDS}
        self._transports = transports

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        kind, _, rest = scope["path"].lstrip("/").partition("/")
        app = self._apps.get(kind)
        if app is None:
            await send_reply(send, _unknown(scope["path"]))
            return
        child = {**scope, "path": f"/{rest}", "root_path": f"{scope.get('root_path', '')}/{kind}"}
        try:
            await app(child, receive, send)
        except ConnectionReset:
            await self._drop(scope)

    async def _drop(self, scope: Scope) -> None:
        client = scope.get("client")
        transport = self._transports.get((client[0], client[1])) if client else None
        if transport is not None:
            transport.abort()
        # Let the protocol see the connection lost before the app returns, so the server
        # does not try to answer "500: no response started" on a dead socket.
        await asyncio.sleep(0)
        await asyncio.sleep(0)


def _unknown(path: str) -> Reply:
    known = ", ".join(f"/{kind}" for kind in SIM_KINDS)
    return tool_error(404, f"No sim at {path}; the sims are under {known}.")


def _tracking_protocol(transports: Transports) -> type[asyncio.Protocol]:
    class TrackingH11Protocol(H11Protocol):
        """uvicorn's h11 protocol, remembering each connection's transport by client."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if self.client is not None:
                transports[self.client] = transport

        def connection_lost(self, exc: Exception | None) -> None:
            if self.client is not None:
                transports.pop(self.client, None)
            super().connection_lost(exc)

    return TrackingH11Protocol


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


async def serve(
    world: SimWorld,
    host: str = "127.0.0.1",
    port: int = 8787,
    ready: Callable[[dict[str, str]], None] | None = None,
) -> None:
    """Serve every sim of ``world`` until cancelled (or Ctrl-C); ``ready(urls)`` is called
    once the server listens. Binds 127.0.0.1 unless told otherwise; port 0 picks a free one."""
    transports: Transports = {}
    sock = _bind(host, port)
    server = uvicorn.Server(_config(ServedSims(world, transports), transports))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await _started(server, task)
        if ready is not None:
            ready(base_urls(host, sock.getsockname()[1]))
        await asyncio.wait({task})
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait({task})
        sock.close()
    task.result()


def _config(app: ASGIApp, transports: Transports) -> uvicorn.Config:
    options: dict[str, Any] = {
        "http": _tracking_protocol(transports),
        "lifespan": "off",
        "log_level": "warning",
        "access_log": False,
        "date_header": False,  # the sims send their own Date, from the sim clock
        "server_header": False,
    }
    return uvicorn.Config(app, **options)


async def _started(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the sim server stopped before it started listening")
        await asyncio.sleep(0.005)
