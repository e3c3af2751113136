"""The run summary: per step, per service, per breaker — folded from events alone.

This is what ``agentdesk run`` prints (and ``--json`` emits) and what the TUI's counters show.
Because it is a fold over the same events the store keeps, a summary computed live and one
computed from a recorded log are the same summary.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from agentdesk.engine.events import (
    AnyEvent,
    AttemptFinished,
    BreakerTransition,
    CallRefused,
    CallRejected,
    FallbackTaken,
    RetryScheduled,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
    TokensCounted,
    ValidationFailed,
    ValidationRepaired,
)
from agentdesk.projections.latency import LatencyDigest

_ITERATION = re.compile(r"\[\d+\]")
BREAKER_HISTORY = 50
"""Transitions kept per breaker (the count of all of them is kept too)."""


def step_name(path: str) -> str:
    """A step path without loop iteration numbers: ``review[2]/judge`` → ``review/judge``."""
    return _ITERATION.sub("", path)


def error_label(status_code: int | None, error_kind: str) -> str:
    return f"HTTP {status_code}" if error_kind == "http_status" and status_code else error_kind


@dataclass
class StepStats:
    name: str
    kind: str = ""
    ok: int = 0
    failed: int = 0
    attempts: int = 0
    retries: int = 0
    fallbacks: int = 0
    repairs: int = 0
    invalid_outputs: int = 0
    refused: int = 0
    rejected: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    """Failed attempts by error (``HTTP 503``, ``timeout``)."""
    failures: Counter[str] = field(default_factory=Counter)
    """Failed step executions by reason (``breaker_open``, ``validation_failed``)."""
    latency: LatencyDigest = field(default_factory=LatencyDigest)


@dataclass
class ServiceStats:
    name: str
    calls: int = 0
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    latency: LatencyDigest = field(default_factory=LatencyDigest)


@dataclass
class BreakerHistory:
    name: str
    state: str = "closed"
    transitions: int = 0
    opened: int = 0
    recent: list[BreakerTransition] = field(default_factory=list)


@dataclass
class TokenTotals:
    prompt: int = 0
    completion: int = 0
    reported_prompt: int = 0
    reported_completion: int = 0
    approximate: bool = False
    disagreements: int = 0
    """LLM attempts where the provider's reported usage differs from the local count."""


class RunSummary:
    """Fold of any number of runs' events."""

    def __init__(self) -> None:
        self.runs = 0
        self.finished = 0
        self.statuses: Counter[str] = Counter()
        self.stop_reasons: Counter[str] = Counter()
        self.duration = LatencyDigest()
        self.steps: dict[str, StepStats] = {}
        self.services: dict[str, ServiceStats] = {}
        self.breakers: dict[str, BreakerHistory] = {}
        self.tokens = TokenTotals()
        self.events = 0
        self.sim_time = 0.0

    def apply(self, event: AnyEvent) -> None:
        self.events += 1
        self.sim_time = max(self.sim_time, event.t)
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def step(self, path: str) -> StepStats:
        name = step_name(path)
        stats = self.steps.get(name)
        if stats is None:
            stats = self.steps[name] = StepStats(name)
        return stats

    def service(self, name: str) -> ServiceStats:
        stats = self.services.get(name)
        if stats is None:
            stats = self.services[name] = ServiceStats(name)
        return stats

    def breaker(self, name: str) -> BreakerHistory:
        history = self.breakers.get(name)
        if history is None:
            history = self.breakers[name] = BreakerHistory(name)
        return history

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "finished": self.finished,
            "statuses": dict(sorted(self.statuses.items())),
            "stop_reasons": dict(self.stop_reasons.most_common()),
            "duration": _percentiles(self.duration),
            "sim_time": round(self.sim_time, 6),
            "events": self.events,
            "steps": [_step_json(s) for s in self.steps.values()],
            "services": [
                _service_json(s) for s in sorted(self.services.values(), key=lambda s: s.name)
            ],
            "breakers": [
                _breaker_json(b) for b in sorted(self.breakers.values(), key=lambda b: b.name)
            ],
            "tokens": vars(self.tokens).copy(),
        }


def _on_run_started(s: RunSummary, e: RunStarted) -> None:
    s.runs += 1


def _on_run_finished(s: RunSummary, e: RunFinished) -> None:
    s.finished += 1
    s.statuses[e.status] += 1
    s.stop_reasons[e.stop_reason] += 1
    s.duration.add(e.duration)


def _on_step_started(s: RunSummary, e: StepStarted) -> None:
    s.step(e.step).kind = e.kind  # steps are listed in the order they first start


def _on_step_finished(s: RunSummary, e: StepFinished) -> None:
    stats = s.step(e.step)
    if e.status == "ok":
        stats.ok += 1
    elif e.status == "failed":
        stats.failed += 1
        stats.failures[e.error.split(":", 1)[0]] += 1
    stats.latency.add(e.duration)


def _on_attempt_finished(s: RunSummary, e: AttemptFinished) -> None:
    step = s.step(e.step)
    step.attempts += 1
    service = s.service(e.service)
    service.calls += 1
    service.latency.add(e.latency)
    if e.outcome == "ok":
        service.ok += 1
        return
    label = error_label(e.status_code, e.error_kind)
    step.errors[label] += 1
    service.errors[label] += 1


def _on_retry(s: RunSummary, e: RetryScheduled) -> None:
    s.step(e.step).retries += 1


def _on_fallback(s: RunSummary, e: FallbackTaken) -> None:
    s.step(e.step).fallbacks += 1


def _on_validation_failed(s: RunSummary, e: ValidationFailed) -> None:
    s.step(e.step).invalid_outputs += 1


def _on_repaired(s: RunSummary, e: ValidationRepaired) -> None:
    s.step(e.step).repairs += 1


def _on_refused(s: RunSummary, e: CallRefused) -> None:
    s.step(e.step).refused += 1


def _on_rejected(s: RunSummary, e: CallRejected) -> None:
    s.step(e.step).rejected += 1


def _on_breaker(s: RunSummary, e: BreakerTransition) -> None:
    history = s.breaker(e.breaker)
    history.state = e.to_state
    history.transitions += 1
    history.opened += e.to_state == "open"
    history.recent.append(e)
    del history.recent[:-BREAKER_HISTORY]


def _on_tokens(s: RunSummary, e: TokensCounted) -> None:
    totals = s.tokens
    totals.prompt += e.prompt_tokens
    totals.completion += e.completion_tokens
    totals.reported_prompt += e.reported_prompt_tokens or 0
    totals.reported_completion += e.reported_completion_tokens or 0
    totals.approximate = totals.approximate or e.approximate
    reported = (e.reported_prompt_tokens, e.reported_completion_tokens)
    if None not in reported and reported != (e.prompt_tokens, e.completion_tokens):
        totals.disagreements += 1


_HANDLERS: dict[type, Any] = {
    RunStarted: _on_run_started,
    RunFinished: _on_run_finished,
    StepStarted: _on_step_started,
    StepFinished: _on_step_finished,
    AttemptFinished: _on_attempt_finished,
    RetryScheduled: _on_retry,
    FallbackTaken: _on_fallback,
    ValidationFailed: _on_validation_failed,
    ValidationRepaired: _on_repaired,
    CallRefused: _on_refused,
    CallRejected: _on_rejected,
    BreakerTransition: _on_breaker,
    TokensCounted: _on_tokens,
}


def _percentiles(digest: LatencyDigest) -> dict[str, float]:
    return {
        "count": digest.count,
        "p50": round(digest.quantile(0.50), 6),
        "p95": round(digest.quantile(0.95), 6),
        "p99": round(digest.quantile(0.99), 6),
        "max": round(digest.max, 6),
    }


def _step_json(s: StepStats) -> dict[str, Any]:
    return {
        "step": s.name,
        "kind": s.kind,
        "ok": s.ok,
        "failed": s.failed,
        "attempts": s.attempts,
        "retries": s.retries,
        "fallbacks": s.fallbacks,
        "repairs": s.repairs,
        "invalid_outputs": s.invalid_outputs,
        "refused": s.refused,
        "rejected": s.rejected,
        "errors": dict(s.errors.most_common()),
        "failures": dict(s.failures.most_common()),
        "latency": _percentiles(s.latency),
    }


def _service_json(s: ServiceStats) -> dict[str, Any]:
    return {
        "service": s.name,
        "calls": s.calls,
        "ok": s.ok,
        "errors": dict(s.errors.most_common()),
        "latency": _percentiles(s.latency),
    }


def _breaker_json(b: BreakerHistory) -> dict[str, Any]:
    return {
        "breaker": b.name,
        "state": b.state,
        "transitions": b.transitions,
        "opened": b.opened,
        "recent": [
            {"t": e.t, "from": e.from_state, "to": e.to_state, "reason": e.reason} for e in b.recent
        ],
    }
