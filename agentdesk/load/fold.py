"""Folding a load test's events as they come, into aggregates of fixed size.

A load test makes hundreds of thousands of runs and millions of events; none of them is kept.
``LoadFold`` is a bus listener that adds each event to the chart slice its time falls in
(counters and a ``LatencyDigest`` per slice), keeps one small record per run *in flight*
(dropped when it finishes), and hands each finished run to a callback as a ``FinishedRun``
(the alert monitor and the shadow comparison read those). Its memory depends on the number
of slices, breakers and runs in flight — not on how long the test runs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agentdesk.alerts.monitor import RunObservation
from agentdesk.engine.events import (
    AnyEvent,
    AttemptFinished,
    BreakerTransition,
    BudgetExhausted,
    CallRejected,
    FallbackTaken,
    RetryScheduled,
    RunFinished,
    RunStarted,
    TokensCounted,
)
from agentdesk.load.plan import LoadPlan
from agentdesk.projections.latency import LatencyDigest

_SEVERITY = {"closed": 0, "half_open": 1, "open": 2}


@dataclass(frozen=True, slots=True)
class FinishedRun:
    run_id: str
    status: str
    stop_reason: str
    output: Any
    observation: RunObservation


class Window:
    """The figures of one chart slice."""

    __slots__ = (
        "budget_exhausted",
        "digest",
        "failed",
        "fallbacks",
        "finished",
        "llm_calls",
        "llm_errors",
        "ok",
        "rejected",
        "retries",
        "started",
        "stopped",
        "tokens",
        "tool_calls",
        "tool_errors",
        "usd",
    )

    def __init__(self) -> None:
        self.started = self.finished = self.ok = self.failed = self.stopped = 0
        self.tool_calls = self.tool_errors = self.llm_calls = self.llm_errors = 0
        self.retries = self.rejected = self.fallbacks = self.budget_exhausted = 0
        self.tokens = 0
        self.usd = 0.0
        self.digest = LatencyDigest()

    def merge(self, other: Window) -> None:
        """Add ``other``'s figures (the same slice of another worker's traffic)."""
        for name in self.__slots__:
            if name != "digest":
                setattr(self, name, getattr(self, name) + getattr(other, name))
        self.digest.merge(other.digest)


class BreakerTimeline:
    """One breaker over the chart slices: its worst state in each, and how often it opened."""

    def __init__(self, windows: int) -> None:
        self.worst = [0] * windows
        """0 closed, 1 half-open, 2 open — the worst state the breaker was in during a slice."""
        self.opens = [0] * windows
        self.state = 0
        self._filled = 0
        """Slices before this one already hold the state carried into them."""

    def move(self, window: int, to_state: int) -> None:
        self._carry(window)
        self.worst[window] = max(self.worst[window], to_state)
        if to_state == 2:
            self.opens[window] += 1
        self.state = to_state

    def finish(self) -> None:
        self._carry(len(self.worst) - 1)

    def merge(self, other: BreakerTimeline) -> None:
        """The same breaker in another replica: the worse state of the two in each slice,
        and both replicas' openings."""
        self.worst = [max(a, b) for a, b in zip(self.worst, other.worst, strict=True)]
        self.opens = [a + b for a, b in zip(self.opens, other.opens, strict=True)]
        self.state = max(self.state, other.state)

    def _carry(self, window: int) -> None:
        for w in range(self._filled, window + 1):
            self.worst[w] = max(self.worst[w], self.state)
        self._filled = window


class LoadFold:
    """One arm's events (all traffic, or the baseline's or the candidate's) → slices."""

    def __init__(self, plan: LoadPlan, on_run: Callable[[FinishedRun], None] | None = None) -> None:
        self.plan = plan
        self.windows = [Window() for _ in range(plan.windows)]
        self.latency = LatencyDigest()
        self.stop_reasons: Counter[str] = Counter()
        self.budget_kinds: Counter[str] = Counter()
        self.tool_errors_by_service: Counter[str] = Counter()
        self.tool_calls_by_service: Counter[str] = Counter()
        self.breakers: dict[str, BreakerTimeline] = {}
        self.on_run = on_run
        self._flight: dict[str, list[Any]] = {}
        """run id → [tool calls, tool errors, tokens, usd] while it runs."""
        self._handlers = self._handler_table()

    def _handler_table(self) -> dict[type, Callable[[Any], None]]:
        return {
            RunStarted: self._started,
            RunFinished: self._finished,
            AttemptFinished: self._attempt,
            RetryScheduled: self._retry,
            TokensCounted: self._tokens,
            BreakerTransition: self._breaker,
            CallRejected: self._rejected,
            FallbackTaken: self._fallback,
            BudgetExhausted: self._budget,
        }

    def __getstate__(self) -> dict[str, Any]:
        """A finished fold crosses from a worker process: figures only, no callbacks."""
        state = {k: v for k, v in self.__dict__.items() if k != "_handlers"}
        state["on_run"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._handlers = self._handler_table()

    def merge(self, other: LoadFold) -> None:
        """Add another worker's fold of the same plan (``load.workers``)."""
        for mine, theirs in zip(self.windows, other.windows, strict=True):
            mine.merge(theirs)
        self.latency.merge(other.latency)
        self.stop_reasons.update(other.stop_reasons)
        self.budget_kinds.update(other.budget_kinds)
        self.tool_errors_by_service.update(other.tool_errors_by_service)
        self.tool_calls_by_service.update(other.tool_calls_by_service)
        for name, timeline in other.breakers.items():
            if name in self.breakers:
                self.breakers[name].merge(timeline)
            else:
                self.breakers[name] = timeline

    def __call__(self, event: AnyEvent) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    @property
    def in_flight(self) -> int:
        return len(self._flight)

    def finish(self) -> None:
        for timeline in self.breakers.values():
            timeline.finish()

    # --- handlers -----------------------------------------------------------------------------

    def _window(self, t: float) -> Window:
        return self.windows[self.plan.window_of(t)]

    def _started(self, e: RunStarted) -> None:
        self._flight[e.run_id] = [0, 0, 0, 0.0]
        self._window(e.t).started += 1

    def _finished(self, e: RunFinished) -> None:
        w = self._window(e.t)
        w.finished += 1
        if e.status == "ok":
            w.ok += 1
        elif e.status == "failed":
            w.failed += 1
        else:
            w.stopped += 1
        w.digest.add(e.duration)
        self.latency.add(e.duration)
        self.stop_reasons[e.stop_reason] += 1
        calls, errors, tokens, usd = self._flight.pop(e.run_id, (0, 0, 0, 0.0))
        if self.on_run is not None:
            seen = RunObservation(e.t, e.duration, calls, errors, tokens, usd)
            self.on_run(FinishedRun(e.run_id, e.status, e.stop_reason, e.output, seen))

    def _attempt(self, e: AttemptFinished) -> None:
        w = self._window(e.t)
        failed = e.outcome == "error"
        if e.model:
            w.llm_calls += 1
            w.llm_errors += failed
            return
        w.tool_calls += 1
        self.tool_calls_by_service[e.service] += 1
        if failed:
            w.tool_errors += 1
            self.tool_errors_by_service[e.service] += 1
        record = self._flight.get(e.run_id)
        if record is not None:
            record[0] += 1
            record[1] += failed

    def _retry(self, e: RetryScheduled) -> None:
        self._window(e.t).retries += 1

    def _tokens(self, e: TokensCounted) -> None:
        w = self._window(e.t)
        tokens = e.prompt_tokens + e.completion_tokens
        w.tokens += tokens
        w.usd += e.usd
        record = self._flight.get(e.run_id)
        if record is not None:
            record[2] += tokens
            record[3] += e.usd

    def _breaker(self, e: BreakerTransition) -> None:
        timeline = self.breakers.get(e.breaker)
        if timeline is None:
            timeline = self.breakers[e.breaker] = BreakerTimeline(self.plan.windows)
        timeline.move(self.plan.window_of(e.t), _SEVERITY[e.to_state])

    def _rejected(self, e: CallRejected) -> None:
        self._window(e.t).rejected += 1

    def _fallback(self, e: FallbackTaken) -> None:
        self._window(e.t).fallbacks += 1

    def _budget(self, e: BudgetExhausted) -> None:
        self._window(e.t).budget_exhausted += 1
        self.budget_kinds[f"{e.scope}:{e.kind}"] += 1
