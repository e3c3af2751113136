"""An in-process sim answers the same whichever way the engine reaches it.

``SimTransport`` calls a sim's gateway directly (``exchange``, and ``handle_async_request``
when the incidents tape wraps it) instead of through ASGI. A user reading a run cannot be
allowed to see the difference: for every kind of reply — plain, error with each kind of
``Retry-After``, rate limited, broken body, drifted fields, a chat completion, a query
string — the three paths give the same status, headers and bytes, and a dropped connection is
the same transport error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from agentdesk.engine.transport import Received, ServiceClient
from agentdesk.services import SimTransport
from sims import SimWorld

Run = Callable[..., Any]
FAST = {
    "crm": {"latency": {"dist": "fixed", "value": 0.1}},
    "llm": {"ttft": {"dist": "fixed", "value": 0.2}},
}


class _Wrapped(httpx.AsyncBaseTransport):
    """A transport around another, as the incidents tape is: hides ``exchange``."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(request)


def _transport(path: str, world: SimWorld, service: str) -> httpx.AsyncBaseTransport:
    app = world.app(service)
    if path == "asgi":
        return httpx.ASGITransport(app=app)
    if path == "wrapped":
        return _Wrapped(SimTransport(app))
    return SimTransport(app)


PATHS = ("asgi", "wrapped", "direct")
CALLS: dict[str, tuple[str, list[dict[str, Any]], str, str, dict[str, str], Any]] = {
    "plain": ("crm", [], "GET", "/tickets/T-1001", {}, None),
    "post": ("crm", [], "POST", "/tickets/T-1001/replies", {}, {"body": "hi"}),
    "query": ("knowledge", [], "GET", "/search", {"q": "refund policy", "k": "2"}, None),
    "not found": ("crm", [], "GET", "/nowhere", {}, None),
    "429 seconds": ("crm", [{"kind": "error", "status": 429, "retry_after": 2}], "GET",
                    "/tickets/T-1001", {}, None),
    "429 ms": ("crm", [{"kind": "error", "status": 429, "retry_after_ms": 1500}], "GET",
               "/tickets/T-1001", {}, None),
    "503 date": ("crm", [{"kind": "error", "status": 503, "retry_after_date": 30}], "GET",
                 "/tickets/T-1001", {}, None),
    "rate limit": ("crm", [], "GET", "/tickets/T-1001", {}, None),
    "truncated": ("crm", [{"kind": "malformed", "mode": "truncated"}], "GET",
                  "/tickets/T-1001", {}, None),
    "drift": ("crm", [{"kind": "drift", "rename": {"subject": "title"}}], "GET",
              "/tickets/T-1001", {}, None),
    "chat": ("llm", [], "POST", "/chat/completions", {},
             {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}),
}  # fmt: skip


def _world(service: str, faults: list[dict[str, Any]], rate_limited: bool) -> SimWorld:
    profile: dict[str, Any] = {"faults": faults}
    if rate_limited:
        profile["rate_limit"] = {"rate": 1, "burst": 1}
    return SimWorld(7, {"services": {service: profile}}, FAST, epoch=0.0)


async def _answers(path: str, name: str) -> list[tuple[int, list[tuple[str, str]], bytes]]:
    service, faults, method, target, params, body = CALLS[name]
    world = _world(service, faults, rate_limited=name == "rate limit")
    base = "http://llm.sim/v1" if service == "llm" else f"http://{service}.sim"
    client = ServiceClient(service, base, _transport(path, world, service))
    answers = []
    for attempt in range(3):  # the rate limit answers the second and third with a 429
        headers = {"x-agentdesk-key": f"run/step#{attempt}", "x-agentdesk-step": "step"}
        sent = client.send(method, target, params=params, headers=headers, json=body)
        received: Received = await sent
        answers.append((received.status_code, received.headers.multi_items(), received.content))
    await client.aclose()
    return answers


@pytest.mark.parametrize("name", list(CALLS))
def test_every_path_gives_the_same_status_headers_and_bytes(run: Run, name: str) -> None:
    asgi, wrapped, direct = (run(_answers(path, name)) for path in PATHS)
    assert direct == asgi
    assert wrapped == asgi
    statuses = {status for status, _, _ in asgi}
    if name == "rate limit":
        assert statuses == {200, 429}
    elif name.startswith(("429", "503")):
        assert statuses == {int(name[:3])}


@pytest.mark.parametrize("phase", ["before", "after"])
@pytest.mark.parametrize("path", ["wrapped", "direct"])
def test_a_dropped_connection_is_a_transport_error(run: Run, path: str, phase: str) -> None:
    world = _world("crm", [{"kind": "reset", "phase": phase}], rate_limited=False)
    client = ServiceClient("crm", "http://crm.sim", _transport(path, world, "crm"))
    with pytest.raises(httpx.RemoteProtocolError, match="Server disconnected"):
        run(client.send("POST", "/tickets/T-1001/replies", json={"body": "hi"}))
    assert len(world.sim("crm").replies.get("T-1001", [])) == (1 if phase == "after" else 0)
