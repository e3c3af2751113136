"""The little ASGI the sims need: read a request, route it, send a JSON reply.

Sims are raw ASGI apps so that the same object runs in-process under httpx's ASGI transport
(on the virtual clock) and on loopback under uvicorn. A framework would add per-request cost
on the benchmark's hot path and hide exactly the wire details (status, headers, broken bodies)
the sims exist to get wrong on purpose; a regex router and two coroutines are enough.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl

import msgspec

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ConnectionReset(Exception):
    """A sim dropped the connection: in-process the caller sees this exception (the engine's
    transport maps it to an httpx transport error); served, the server aborts the socket."""


@dataclass(slots=True)
class Request:
    """One HTTP request as a sim sees it (header names lower-cased)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)
    """The named groups of the route pattern that matched."""

    def json(self) -> Any:
        """The body parsed as JSON; raises ``ValueError`` when it is not JSON."""
        return msgspec.json.decode(self.body) if self.body else None


@dataclass(frozen=True, slots=True)
class Reply:
    """What a sim answers: a JSON-able payload (or raw bytes), a status and headers."""

    status: int
    payload: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    raw: bytes | None = None
    """Bytes to send instead of the JSON of ``payload`` (broken bodies)."""
    extra_latency: float = 0.0
    """Seconds to wait after the work is done (an LLM's generation time)."""

    def with_headers(self, *headers: tuple[str, str]) -> Reply:
        extended = self.headers + headers
        return Reply(self.status, self.payload, extended, self.raw, self.extra_latency)

    def body(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return msgspec.json.encode(self.payload)


H = TypeVar("H")


class Router(Generic[H]):
    """Routes by method and a path regex to handlers of any shape; the first match wins."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], H]] = []

    def add(self, method: str, pattern: str, handler: H) -> None:
        self._routes.append((method, re.compile(f"^{pattern}$"), handler))

    def match(self, request: Request) -> H | None:
        """The handler for the request, with ``request.params`` filled; None when none fits."""
        for method, pattern, handler in self._routes:
            found = pattern.match(request.path)
            if found is not None and method == request.method:
                request.params = found.groupdict()
                return handler
        return None


async def read_request(scope: Scope, receive: Receive) -> Request:
    """Drain the body and decode the scope into a ``Request``."""
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    query = scope.get("query_string", b"")
    return request_of(scope["method"], scope["path"], query, headers, b"".join(chunks))


def request_of(
    method: str, path: str, query_string: bytes, headers: dict[str, str], body: bytes
) -> Request:
    """A ``Request`` from its parts as they travel: the path percent-decoded, the header
    names lower-cased."""
    query = dict(parse_qsl(query_string.decode("latin-1"))) if query_string else {}
    return Request(method, path, query, headers, body)


def reply_headers(reply: Reply, body: bytes) -> list[tuple[bytes, bytes]]:
    """The response headers of a reply whose body is ``body``: JSON, its length, the sim's."""
    return [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers),
    ]


async def send_reply(send: Send, reply: Reply) -> None:
    """Send a reply as ``application/json`` with its length."""
    body = reply.body()
    headers = reply_headers(reply, body)
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
