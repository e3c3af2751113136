"""How the engine reaches one service: a base URL, default headers and an httpx transport.

The engine talks to every downstream — an in-process sim, a sim served on loopback, a real
provider — through ``httpx.AsyncBaseTransport.handle_async_request``, the one method that
separates what to send from how it travels. It does not use ``httpx.AsyncClient``: cookies,
redirects, auth flows and client-side timeouts are things an API call must not do behind the
policies' back (timeouts are the engine's, on the loop's clock), and skipping them halves the
per-request cost on the in-process path (see bench/sim_throughput.py).

Default headers may hold an API key; they are sent and never published in an event.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import msgspec

_JSON = (("content-type", "application/json"),)
URL_CACHE = 4096
"""Parsed URLs remembered per service."""


@dataclass(frozen=True, slots=True)
class Received:
    """A response read in full: what the engine looks at."""

    status_code: int
    headers: httpx.Headers
    content: bytes


class Exchange(Protocol):
    """A transport that can answer a request in-process, without httpx's request and response
    objects (an in-process sim: building and reading those is a tenth of a simulated call).
    ``ServiceClient`` calls ``exchange`` when ``direct`` is true, else the httpx method."""

    direct: bool

    async def exchange(
        self, method: str, url: httpx.URL, headers: list[tuple[str, str]], content: bytes
    ) -> Received: ...


class ServiceClient:
    """Sends requests to one service; owns its transport (close it with ``aclose``)."""

    def __init__(
        self,
        name: str,
        base_url: str,
        transport: httpx.AsyncBaseTransport,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._transport = transport
        direct = getattr(transport, "direct", False)
        self._exchange: Exchange | None = transport if direct else None  # type: ignore[assignment]
        self._headers = list((headers or {}).items())
        self._urls: OrderedDict[tuple[str, tuple[tuple[str, str], ...]], httpx.URL] = OrderedDict()

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> Received:
        """One request, its body read in full; transport errors raise ``httpx.HTTPError``."""
        merged = [*self._headers, *(headers or {}).items()]
        content = b""
        if json is not None:
            content = msgspec.json.encode(json)
            merged += _JSON
        url = self._url(path, params)
        if self._exchange is not None:
            return await self._exchange.exchange(method, url, merged, content)
        request = httpx.Request(method, url, headers=merged, content=content or None)
        response = await self._transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return Received(response.status_code, response.headers, response.content)

    def _url(self, path: str, params: Mapping[str, str] | None) -> httpx.URL:
        """Parsed URLs are remembered: parsing is a third of httpx's per-request cost, and a
        pipeline calls the same few paths over and over."""
        key = (path, tuple(params.items()) if params else ())
        url = self._urls.get(key)
        if url is None:
            url = self._urls[key] = httpx.URL(self.base_url + path, params=params or None)
            if len(self._urls) > URL_CACHE:
                self._urls.popitem(last=False)
        return url

    async def aclose(self) -> None:
        await self._transport.aclose()
