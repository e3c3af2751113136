"""One downstream call, made resiliently: breaker, timeout, attempts and retries.

This is where policies meet the wire. The executor asks the breaker for admission, sends the
request through the service's httpx client under a timeout on the loop's clock, turns whatever
came back into either a ``Reply`` or a ``Failure``, asks the retry policy what to do about a
failure, and performs that decision — publishing an event for every step of the way. It does
not decide anything itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import msgspec

from agentdesk.engine import spending
from agentdesk.engine.events import (
    AttemptFinished,
    AttemptStarted,
    BreakerTransition,
    CallRejected,
    RetryGaveUp,
    RetryScheduled,
)
from agentdesk.engine.policies.breaker import BreakerBoard, Transition
from agentdesk.engine.policies.retry import Failure, FailureKind, GiveUp, RetryPolicy, classify
from agentdesk.engine.rng import rng_for
from agentdesk.engine.state import RunState, StepFailed, stamp
from agentdesk.engine.transport import Received, ServiceClient
from agentdesk.spec.models import PolicySpec

_ERROR_KINDS: tuple[tuple[type[Exception], FailureKind], ...] = (
    (httpx.TimeoutException, "timeout"),
    (httpx.ConnectError, "connect"),
    (httpx.TransportError, "reset"),
)


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: Any


@dataclass(frozen=True)
class Request:
    service: str
    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    model: str = ""
    """Set for model calls: the model name as the workspace knows it."""

    @property
    def target(self) -> str:
        return self.model or f"{self.method} {self.path}"


class CallFailed(StepFailed):
    """Every attempt the policies allowed has failed (or none was allowed)."""

    def __init__(self, reason: str, detail: str, failure: Failure | None) -> None:
        super().__init__(reason, detail)
        self.failure = failure


class AttemptCounter:
    """Numbers every attempt of one step, across retries, repairs and fallbacks."""

    def __init__(self) -> None:
        self.count = 0

    def next(self) -> int:
        self.count += 1
        return self.count


class AttemptMeter(Protocol):
    """Bills a call's attempts (model calls): may lower or refuse each one before it is sent.

    ``before`` returns the request to send (its output bound lowered to what the budget can
    pay for) or stops the run; ``after`` is always called once ``before`` succeeded — also
    when the breaker rejected the attempt, so a reservation is never left behind."""

    async def before(
        self, state: RunState, step: str, attempt: int, request: Request
    ) -> Request: ...

    async def after(
        self, state: RunState, step: str, attempt: int, reply: Reply | None, failure: Failure | None
    ) -> None: ...


class CallExecutor:
    """Makes calls for every run of one engine; breakers are shared across those runs."""

    def __init__(self, clients: Mapping[str, ServiceClient], board: BreakerBoard) -> None:
        self._clients = clients
        self.board = board

    async def call(
        self,
        state: RunState,
        step: str,
        request: Request,
        policy: PolicySpec,
        attempts: AttemptCounter,
        deadline: float | None,
        meter: AttemptMeter | None = None,
    ) -> Reply:
        retry = RetryPolicy(policy.retry)
        breaker_name = f"model:{request.model}" if request.model else f"service:{request.service}"
        tries = 0
        while True:
            tries += 1
            # Deadlines and budgets are checked before the breaker admits: an admitted
            # half-open probe must always be sent and recorded, or the breaker would wait for
            # it forever.
            timeout = await spending.bound_timeout(state, step, _attempt_timeout(policy, deadline))
            attempt = attempts.next()
            sent = request if meter is None else await meter.before(state, step, attempt, request)
            reply: Reply | None = None
            failure: Failure | None = None
            try:
                await self._admit(state, step, breaker_name)
                reply, failure, latency = await self._attempt(state, step, attempt, sent, timeout)
            finally:
                if meter is not None:
                    await meter.after(state, step, attempt, reply, failure)
            await self._record(state, breaker_name, failure, latency, policy)
            if failure is None:
                assert reply is not None
                return reply
            await spending.within_time(state, step)
            remaining = None if deadline is None else deadline - state.now()
            decision = retry.decide(
                tries, failure, rng_for(state.seed, state.run_id, step, attempt), remaining
            )
            if isinstance(decision, GiveUp):
                await state.emit(
                    RetryGaveUp(
                        t=stamp(),
                        run_id=state.run_id,
                        step=step,
                        attempt=attempt,
                        reason=decision.reason,
                    )
                )
                kind, _, detail = decision.reason.partition(": ")
                raise CallFailed(kind, detail or decision.reason, failure)
            await spending.afford_wait(state, step, decision.delay)
            await state.emit(
                RetryScheduled(
                    t=stamp(),
                    run_id=state.run_id,
                    step=step,
                    attempt=attempt,
                    delay=round(decision.delay, 6),
                    reason=decision.reason,
                    source=decision.source,
                )
            )
            await asyncio.sleep(decision.delay)

    def knows(self, service: str) -> bool:
        return service in self._clients

    async def _admit(self, state: RunState, step: str, breaker_name: str) -> None:
        admission = self.board.get(breaker_name).admit()
        await _emit_transition(state, admission.transition)
        if not admission.allowed:
            await state.emit(
                CallRejected(
                    t=stamp(),
                    run_id=state.run_id,
                    step=step,
                    breaker=breaker_name,
                    retry_in=round(admission.retry_in, 6),
                )
            )
            raise CallFailed("breaker_open", breaker_name, None)

    async def _record(
        self,
        state: RunState,
        breaker_name: str,
        failure: Failure | None,
        latency: float,
        policy: PolicySpec,
    ) -> None:
        # A permanent failure (a 400, a 404) says the request was wrong, not that the service is
        # unhealthy: only transient failures count against the breaker.
        ok = failure is None or classify(failure, policy.retry) == "permanent"
        await _emit_transition(state, self.board.get(breaker_name).record(ok, latency))

    async def _attempt(
        self, state: RunState, step: str, attempt: int, request: Request, timeout: float | None
    ) -> tuple[Reply | None, Failure | None, float]:
        await state.emit(
            AttemptStarted(
                t=stamp(),
                run_id=state.run_id,
                step=step,
                attempt=attempt,
                service=request.service,
                target=request.target,
                model=request.model,
                timeout=timeout,
            )
        )
        started = state.now()
        reply, failure = await self._send(state, step, attempt, request, timeout)
        latency = state.now() - started
        await state.emit(
            AttemptFinished(
                t=stamp(),
                run_id=state.run_id,
                step=step,
                attempt=attempt,
                service=request.service,
                outcome="ok" if failure is None else "error",
                latency=round(latency, 6),
                status_code=reply.status if reply else (failure.status if failure else None),
                error_kind=failure.kind if failure else "",
                error=failure.message if failure else "",
                model=request.model,
            )
        )
        return reply, failure, latency

    async def _send(
        self, state: RunState, step: str, attempt: int, request: Request, timeout: float | None
    ) -> tuple[Reply | None, Failure | None]:
        client = self._clients[request.service]
        headers = {
            "x-agentdesk-key": f"{state.run_id}/{step}#{attempt}",
            "x-agentdesk-step": step,
            **request.headers,
        }
        try:
            async with asyncio.timeout(timeout):
                response = await client.send(
                    request.method,
                    request.path,
                    params=request.params,
                    headers=headers,
                    json=request.json,
                )
        except TimeoutError:
            return None, Failure("timeout", None, {}, f"no answer within {timeout:g}s")
        except httpx.HTTPError as exc:
            return None, Failure(_transport_kind(exc), None, {}, _describe(exc))
        return _interpret(response)


def _interpret(response: Received) -> tuple[Reply | None, Failure | None]:
    headers = response.headers  # case-insensitive already
    if response.status_code >= 400:
        message = f"HTTP {response.status_code}"
        detail = _error_message(response.content)
        return None, Failure(
            "http_status",
            response.status_code,
            headers,
            f"{message}: {detail}" if detail else message,
        )
    try:
        body = msgspec.json.decode(response.content) if response.content else None
    except msgspec.DecodeError as exc:
        return None, Failure(
            "malformed", response.status_code, headers, f"malformed JSON body: {exc}"
        )
    return Reply(response.status_code, headers, body), None


def _error_message(content: bytes) -> str:
    """The message of an OpenAI- or Stripe-style error body, if there is one."""
    try:
        body = msgspec.json.decode(content)
    except msgspec.DecodeError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ""
    code, message = error.get("code"), error.get("message")
    text = f"{code}: {message}" if code and message else str(code or message or "")
    return text[:240]


def _transport_kind(exc: httpx.HTTPError) -> FailureKind:
    for exc_type, kind in _ERROR_KINDS:
        if isinstance(exc, exc_type):
            return kind
    return "reset"


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _attempt_timeout(policy: PolicySpec, deadline: float | None) -> float | None:
    limit = policy.timeout.attempt
    if deadline is None:
        return limit
    remaining = deadline - asyncio.get_running_loop().time()
    if remaining <= 0:
        raise StepFailed("step_timeout", f"the step's {policy.timeout.step:g}s are used up")
    return remaining if limit is None else min(limit, remaining)


async def _emit_transition(state: RunState, transition: Transition | None) -> None:
    if transition is None:
        return
    await state.emit(
        BreakerTransition(
            t=stamp(),
            run_id=state.run_id,
            breaker=transition.breaker,
            from_state=transition.from_state,
            to_state=transition.to_state,
            failure_rate=round(transition.failure_rate, 4),
            calls=transition.calls,
            reason=transition.reason,
        )
    )
