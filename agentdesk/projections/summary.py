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
    BudgetExhausted,
    BudgetUpdated,
    CallRefused,
    CallRejected,
    FallbackTaken,
    OutputLimited,
    RetryScheduled,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
    TokensCounted,
    UsageMismatch,
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
    tokens: int = 0
    usd: float = 0.0
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
    """Tokens and cost of billed LLM attempts: agentdesk's count beside the provider's."""

    calls: int = 0
    prompt: int = 0
    completion: int = 0
    reported_prompt: int = 0
    reported_completion: int = 0
    cached_prompt: int = 0
    usd: float = 0.0
    approximate: bool = False
    unpriced: bool = False
    """At least one call was to a model with no known price (counted as $0)."""
    disagreements: int = 0
    """LLM attempts where the provider's reported usage differs from the local count."""

    def add(self, e: TokensCounted) -> None:
        self.calls += 1
        self.prompt += e.prompt_tokens
        self.completion += e.completion_tokens
        self.reported_prompt += e.reported_prompt_tokens or 0
        self.reported_completion += e.reported_completion_tokens or 0
        self.cached_prompt += e.cached_prompt_tokens
        self.usd += e.usd
        self.approximate = self.approximate or e.approximate
        self.unpriced = self.unpriced or not e.priced


@dataclass
class ScopeBudget:
    """One budget scope (``run`` or ``session``) across the runs folded so far."""

    limits: dict[str, float] = field(default_factory=dict)
    peak: dict[str, float] = field(default_factory=dict)
    """The most any one run (or session) spent, by kind."""
    last: dict[str, float] = field(default_factory=dict)
    """What the most recent run (or session) had spent at its last charge."""
    exhausted: Counter[str] = field(default_factory=Counter)
    """Runs stopped by this scope, by kind."""

    def update(self, used: dict[str, float], limits: dict[str, float]) -> None:
        # Events are never changed after they are published: their dicts can be kept as they are.
        self.limits = limits
        self.last = used
        for kind, value in used.items():
            self.peak[kind] = max(self.peak.get(kind, 0.0), value)


@dataclass
class BudgetTotals:
    scopes: dict[str, ScopeBudget] = field(default_factory=dict)
    output_limited: int = 0
    """LLM calls whose output bound a budget lowered."""

    def scope(self, name: str) -> ScopeBudget:
        if name not in self.scopes:
            self.scopes[name] = ScopeBudget()
        return self.scopes[name]


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
        self.models: dict[str, TokenTotals] = {}
        self.budgets = BudgetTotals()
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
            "models": {name: vars(t).copy() for name, t in sorted(self.models.items())},
            "budgets": {
                "output_limited": self.budgets.output_limited,
                **{
                    name: {
                        "limits": b.limits,
                        "peak": b.peak,
                        "last": b.last,
                        "exhausted": dict(b.exhausted),
                    }
                    for name, b in sorted(self.budgets.scopes.items())
                },
            },
        }


def _on_run_started(s: RunSummary, e: RunStarted) -> None:
    s.runs += 1


def _on_run_finished(s: RunSummary, e: RunFinished) -> None:
    run_budget = s.budgets.scopes.get("run")
    if run_budget is not None and "seconds" in run_budget.last:
        # The run's time is spent up to its end, not only up to its last charge.
        run_budget.update({**run_budget.last, "seconds": e.duration}, run_budget.limits)
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
    s.tokens.add(e)
    if e.model not in s.models:
        s.models[e.model] = TokenTotals()
    s.models[e.model].add(e)
    step = s.step(e.step)
    step.tokens += e.prompt_tokens + e.completion_tokens
    step.usd += e.usd


def _on_mismatch(s: RunSummary, e: UsageMismatch) -> None:
    s.tokens.disagreements += 1
    if e.model in s.models:
        s.models[e.model].disagreements += 1


def _on_budget(s: RunSummary, e: BudgetUpdated) -> None:
    s.budgets.scope(e.scope).update(e.used, e.limits)


def _on_budget_exhausted(s: RunSummary, e: BudgetExhausted) -> None:
    s.budgets.scope(e.scope).exhausted[e.kind] += 1


def _on_output_limited(s: RunSummary, e: OutputLimited) -> None:
    s.budgets.output_limited += 1


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
    UsageMismatch: _on_mismatch,
    BudgetUpdated: _on_budget,
    BudgetExhausted: _on_budget_exhausted,
    OutputLimited: _on_output_limited,
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
        "tokens": s.tokens,
        "usd": round(s.usd, 9),
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
