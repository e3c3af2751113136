"""The front door of one simulated service: every request passes the fault engine first.

A sim (``llm``, ``crm``, ...) only knows its domain: it turns a request into a reply,
synchronously, so that a stateful action (a refund) can never interleave with another. The
``Gateway`` around it does what every service shares: it reads the request key, asks the
fault engine for the request's fate, waits the latency on the loop's clock (free on the
virtual clock), answers errors and rate limits in the sim's own error shape, hangs, drops the
connection, or damages the body, and stamps ``Date`` and ``x-request-id`` from the sim clock.
"""

from __future__ import annotations

import asyncio
import calendar
import functools
import math
import random
from dataclasses import dataclass
from email.utils import formatdate
from typing import TYPE_CHECKING, Protocol

from agentdesk.engine.rng import derive_seed, rng_for
from sims.asgi import (
    ConnectionReset,
    Receive,
    Reply,
    Request,
    Scope,
    Send,
    read_request,
    send_reply,
)
from sims.damage import damage_reply
from sims.faults import TokenBucket, decide, retry_after_seconds
from sims.profiles import (
    DriftFault,
    ErrorFault,
    Fault,
    HangFault,
    InjectFault,
    MalformedFault,
    ResetFault,
)

if TYPE_CHECKING:
    from sims.world import SimWorld

KEY_HEADER = "x-agentdesk-key"
STEP_HEADER = "x-agentdesk-step"
SIM_EPOCH = calendar.timegm((2026, 1, 1, 0, 0, 0))
"""Sim time 0 as a Unix timestamp (2026-01-01T00:00:00Z): dates never read the wall clock."""
HANG_SECONDS = 86_400.0
"""A hung request answers 504 after a simulated day; the caller's timeout fires long before."""


def http_date(sim_seconds: float) -> str:
    """An HTTP-date for a sim-clock time (whole seconds, rounded down)."""
    return _http_date(math.floor(sim_seconds))


@functools.lru_cache(maxsize=256)
def _http_date(whole_seconds: int) -> str:
    """Every reply is dated; a sim second holds hundreds of them."""
    return formatdate(SIM_EPOCH + whole_seconds, usegmt=True)


@dataclass(frozen=True, slots=True)
class Call:
    """One request as handed to a sim, with what it needs to answer deterministically."""

    request: Request
    service: str
    key: str
    """The request key: ``x-agentdesk-key``, or the service's arrival counter."""
    seed: int
    now: float
    """Sim-clock seconds when the work is done (after the latency)."""
    fault: Fault | None
    """The fault that fired, for sims that apply it themselves (the LLM's content)."""

    def rng(self, purpose: str) -> random.Random:
        """A generator for this request and purpose, independent of the fault engine's."""
        return rng_for(self.seed, self.service, self.key, purpose)

    @property
    def request_id(self) -> str:
        return f"{derive_seed(self.seed, self.service, self.key, 'id'):016x}"


class Sim(Protocol):
    """A simulated service's domain logic."""

    damages_content: bool
    """True when the sim applies malformed/drift faults itself (the LLM: to its content)."""

    def handle(self, call: Call) -> Reply: ...

    def error(self, status: int, message: str | None) -> Reply:
        """An error reply in this service's shape; ``message`` None: the usual one."""
        ...


class Gateway:
    """The ASGI app of one service: fault engine, latency, then the sim."""

    def __init__(self, world: SimWorld, service: str, sim: Sim) -> None:
        self.world = world
        self.service = service
        self.sim = sim
        self._arrivals = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        reply = await self.respond(await read_request(scope, receive))
        await send_reply(send, reply)

    async def respond(self, request: Request) -> Reply:
        """The reply to one request, after its latency; raises ``ConnectionReset``."""
        key = request.headers.get(KEY_HEADER) or self._arrival_key()
        rng = rng_for(self.world.seed, self.service, key)
        bucket = self.world.bucket(self.service)
        verdict = decide(self.world.profile(self.service), rng, self.world.clock(), bucket)
        if verdict.retry_after is not None:
            return self._stamp(self._rate_limited(verdict.retry_after, bucket), key)
        if verdict.latency > 0:
            await asyncio.sleep(verdict.latency)
        return self._stamp(await self._act(request, key, verdict.fault), key)

    def _arrival_key(self) -> str:
        self._arrivals += 1
        return f"arrival-{self._arrivals}"

    async def _act(self, request: Request, key: str, fault: Fault | None) -> Reply:
        if isinstance(fault, ErrorFault):
            return self._error(fault)
        if isinstance(fault, HangFault):
            await asyncio.sleep(HANG_SECONDS)
            return self.sim.error(504, None)
        if isinstance(fault, ResetFault) and fault.phase == "before":
            raise ConnectionReset(f"{self.service}: connection reset before the request")
        call = Call(request, self.service, key, self.world.seed, self.world.clock(), fault)
        reply = self.sim.handle(call)
        if reply.extra_latency > 0:
            await asyncio.sleep(reply.extra_latency)
        if isinstance(fault, ResetFault):
            raise ConnectionReset(f"{self.service}: connection reset after the request")
        if (
            isinstance(fault, MalformedFault | DriftFault | InjectFault)
            and not self.sim.damages_content
        ):
            return damage_reply(reply, fault)
        return reply

    def _error(self, fault: ErrorFault) -> Reply:
        reply = self.sim.error(fault.status, fault.message)
        if fault.retry_after is not None:
            return reply.with_headers(("Retry-After", f"{fault.retry_after:g}"))
        if fault.retry_after_ms is not None:
            return reply.with_headers(("retry-after-ms", str(fault.retry_after_ms)))
        if fault.retry_after_date is not None:
            now = self.world.clock()
            later = http_date(now + fault.retry_after_date)
            return reply.with_headers(("Date", http_date(now)), ("Retry-After", later))
        return reply

    def _rate_limited(self, wait: float, bucket: TokenBucket | None) -> Reply:
        reply = self.sim.error(429, None)
        return reply.with_headers(
            ("Retry-After", str(retry_after_seconds(wait))),
            ("x-ratelimit-limit-requests", str(bucket.burst if bucket else 0)),
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", f"{math.ceil(wait * 1000)}ms"),
        )

    def _stamp(self, reply: Reply, key: str) -> Reply:
        if any(name == "Date" for name, _ in reply.headers):
            return reply.with_headers(("x-request-id", self._request_id(key)))
        date = http_date(self.world.clock())
        return reply.with_headers(("Date", date), ("x-request-id", self._request_id(key)))

    def _request_id(self, key: str) -> str:
        return f"req_{derive_seed(self.world.seed, self.service, key, 'id'):016x}"
