"""Service names → httpx clients: the one seam between the engine and everything downstream.

A workspace service is either ``sim: NAME`` (an in-process sim, its gateway called directly by
``SimTransport``) or ``url: …`` (a served sim on loopback, or any real OpenAI-compatible or HTTP
API, through httpx's pooled HTTP transport). The engine only ever sees ``ServiceClient``
objects wrapping an httpx transport; it cannot tell which is which, which is the point.

API keys are read from the environment variable a service names, at the moment the client is
built; they live in the client's headers and nowhere else (never in events, logs or the store).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import httpx

from agentdesk.engine.transport import Received, ServiceClient
from agentdesk.errors import ServiceConfigError
from agentdesk.spec.models import ServiceSpec, WorkspaceSpec
from sims.asgi import ASGIApp, ConnectionReset, reply_headers, request_of
from sims.gateway import Gateway
from sims.world import SimWorld


class SimTransport(httpx.AsyncBaseTransport):
    """A sim reached in-process, plus what a real socket would do when it drops the line.

    A sim's ``Gateway`` is called directly: the request is handed over as its ASGI app would
    read it and the reply comes back as the response it would send (same status, headers and
    bytes; tests/sims/test_transport.py holds the paths to that). ASGI's message coroutines
    and response streams, and httpx's request and response objects (``exchange``, the path
    ``ServiceClient`` takes when nothing wraps this transport), cost a third of a simulated
    call and carry nothing a sim needs. Any other ASGI app (a test's wrapper) is not
    ``direct``: it goes through httpx's ASGI transport.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._gateway = app if isinstance(app, Gateway) else None
        self._inner = httpx.ASGITransport(app=app)
        self.direct = self._gateway is not None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._gateway is None:
            try:
                return await self._inner.handle_async_request(request)
            except ConnectionReset as exc:
                raise _disconnected(request) from exc
        body = await request.aread()
        headers = request.headers.multi_items()
        received = await self.exchange(request.method, request.url, headers, body)
        return httpx.Response(
            received.status_code,
            headers=received.headers.raw,
            content=received.content,
            request=request,
        )

    async def exchange(
        self, method: str, url: httpx.URL, headers: list[tuple[str, str]], content: bytes
    ) -> Received:
        """The gateway's answer (only when ``direct``)."""
        assert self._gateway is not None
        lowered = {name.lower(): value for name, value in headers}
        asked = request_of(method, url.path, url.query, lowered, content)
        try:
            reply = await self._gateway.respond(asked)
        except ConnectionReset as exc:
            raise _disconnected(None) from exc
        body = reply.body()
        return Received(reply.status, httpx.Headers(reply_headers(reply, body)), body)


def _disconnected(request: httpx.Request | None) -> httpx.RemoteProtocolError:
    return httpx.RemoteProtocolError(
        "Server disconnected without sending a response.", request=request
    )


def uses_network(spec: WorkspaceSpec) -> bool:
    """True when some service is reached over a socket: the run must use the real clock."""
    return any(service.url is not None for service in spec.services.values())


TransportWrapper = Callable[[str, str, httpx.AsyncBaseTransport], httpx.AsyncBaseTransport]
"""(service name, base URL, transport) → the transport to use instead: how the incidents
layer records every call on a tape, or answers them from one."""


def build_clients(
    spec: WorkspaceSpec,
    world: SimWorld | None,
    environ: Mapping[str, str],
    wrap: TransportWrapper | None = None,
) -> dict[str, ServiceClient]:
    """One client per workspace service; raises ServiceConfigError naming what is missing."""
    return {
        name: _client(name, service, world, environ, wrap)
        for name, service in spec.services.items()
    }


def _client(
    name: str,
    service: ServiceSpec,
    world: SimWorld | None,
    environ: Mapping[str, str],
    wrap: TransportWrapper | None,
) -> ServiceClient:
    headers = dict(service.headers)
    if service.api_key_env:
        key = environ.get(service.api_key_env)
        if not key:
            raise ServiceConfigError(
                f"service {name!r} needs an API key: set the environment variable "
                f"{service.api_key_env}"
            )
        headers["authorization"] = f"Bearer {key}"
    if service.sim is not None:
        if world is None:
            raise ServiceConfigError(f"service {name!r} is a sim but no sims are running")
        base = "http://llm.sim/v1" if service.sim == "llm" else f"http://{service.sim}.sim"
        transport: httpx.AsyncBaseTransport = SimTransport(world.app(name, service.sim))
    else:
        assert service.url is not None
        base = service.url
        # The engine enforces timeouts on the loop's clock; httpx's own would bypass the policy.
        transport = httpx.AsyncHTTPTransport(retries=0)
    if wrap is not None:
        transport = wrap(name, base, transport)
    return ServiceClient(name, base, transport, headers)
