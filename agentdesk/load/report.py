"""What a load test found: per arm and per chart slice, in a form the CLI draws and ``--json``
prints. Everything here is read from the folds' bounded aggregates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentdesk.alerts.monitor import AlertEvent
from agentdesk.engine.events import AlertFired
from agentdesk.load.fold import LoadFold, Window
from agentdesk.load.plan import LoadPlan
from agentdesk.load.shadow import ShadowComparison

STATES = ("closed", "half_open", "open")


@dataclass(frozen=True, slots=True)
class Rollback:
    """The canary was stopped: from ``t`` every session runs on the baseline."""

    t: float
    rule: str
    message: str


@dataclass
class ArmReport:
    name: str
    """``all`` without a candidate; ``baseline`` or ``candidate`` with one."""
    release: str
    fold: LoadFold

    @property
    def windows(self) -> list[Window]:
        return self.fold.windows

    @property
    def runs(self) -> int:
        return self.fold.latency.count

    def total(self, attribute: str) -> float:
        return float(sum(getattr(w, attribute) for w in self.windows))

    def rate(self, part: str, whole: str) -> float:
        denominator = self.total(whole)
        return self.total(part) / denominator if denominator else 0.0

    def latency(self, q: float) -> float:
        return self.fold.latency.quantile(q)

    def breaker_rows(self) -> dict[str, list[str]]:
        """Breaker name → its worst state in each slice."""
        return {
            name: [STATES[s] for s in timeline.worst]
            for name, timeline in sorted(self.fold.breakers.items())
        }

    def breaker_opens(self) -> dict[str, int]:
        return {name: sum(t.opens) for name, t in sorted(self.fold.breakers.items())}

    def to_json(self, plan: LoadPlan) -> dict[str, Any]:
        usd = self.total("usd")
        return {
            "arm": self.name,
            "release": self.release,
            "runs": self.runs,
            "completed": self.fold.stop_reasons.get("completed", 0),
            "status": {
                "ok": int(self.total("ok")),
                "failed": int(self.total("failed")),
                "stopped": int(self.total("stopped")),
            },
            "throughput_per_s": self.runs / plan.duration,
            "latency": {
                "p50": self.latency(0.50),
                "p95": self.latency(0.95),
                "p99": self.latency(0.99),
                "max": self.fold.latency.max,
                "mean": self.fold.latency.mean,
            },
            "tool_calls": int(self.total("tool_calls")),
            "tool_error_rate": self.rate("tool_errors", "tool_calls"),
            "llm_calls": int(self.total("llm_calls")),
            "llm_error_rate": self.rate("llm_errors", "llm_calls"),
            "retries": int(self.total("retries")),
            "retries_per_run": self.total("retries") / self.runs if self.runs else 0.0,
            "calls_refused_by_breakers": int(self.total("rejected")),
            "fallbacks": int(self.total("fallbacks")),
            "tokens": int(self.total("tokens")),
            "usd": usd,
            "usd_per_hour": usd / plan.duration * 3600,
            "budget_exhaustions": dict(sorted(self.fold.budget_kinds.items())),
            "stop_reasons": dict(self.fold.stop_reasons.most_common()),
            "tool_error_rate_by_service": {
                service: self.fold.tool_errors_by_service[service] / calls
                for service, calls in sorted(self.fold.tool_calls_by_service.items())
            },
            "breakers": {
                name: {"opened": opens, "timeline": self.breaker_rows()[name]}
                for name, opens in self.breaker_opens().items()
            },
            "windows": [_window_json(i, w, plan) for i, w in enumerate(self.windows)],
        }


@dataclass
class LoadReport:
    pipeline: str
    scenario: str
    seed: int
    plan: LoadPlan
    arms: list[ArmReport]
    active: list[int]
    """Sessions present in each slice (the arrival pattern)."""
    simulated: float = 0.0
    """Simulated seconds until the last run finished."""
    alerts: list[AlertEvent] = field(default_factory=list)
    rollback: Rollback | None = None
    shadow: ShadowComparison | None = None
    alert_rules: list[str] = field(default_factory=list)
    """The rules in force, in words."""
    workers: int = 1
    """Processes the sessions were split across (replicas with breakers of their own)."""

    @property
    def runs(self) -> int:
        return sum(arm.runs for arm in self.arms)

    def fired(self) -> list[AlertFired]:
        return [a for a in self.alerts if isinstance(a, AlertFired)]

    def to_json(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "pipeline": self.pipeline,
            "scenario": self.scenario,
            "seed": self.seed,
            "plan": {
                "sessions": plan.sessions,
                "duration": plan.duration,
                "think": plan.think,
                "arrival": plan.arrival,
                "window": plan.window,
                "canary": plan.canary,
                "shadow": plan.shadow,
            },
            "runs": self.runs,
            "workers": self.workers,
            "simulated_seconds": self.simulated,
            "active_sessions": self.active,
            "arms": [arm.to_json(plan) for arm in self.arms],
            "alert_rules": self.alert_rules,
            "alerts": [_alert_json(a) for a in self.alerts],
            "rollback": None
            if self.rollback is None
            else {
                "t": self.rollback.t,
                "rule": self.rollback.rule,
                "message": self.rollback.message,
            },
            "shadow": None if self.shadow is None else self.shadow.to_json(),
        }


def _window_json(index: int, w: Window, plan: LoadPlan) -> dict[str, Any]:
    return {
        "start": index * plan.window,
        "runs": w.finished,
        "started": w.started,
        "ok": w.ok,
        "failed": w.failed,
        "stopped": w.stopped,
        "p50": w.digest.quantile(0.50),
        "p95": w.digest.quantile(0.95),
        "p99": w.digest.quantile(0.99),
        "tool_calls": w.tool_calls,
        "tool_errors": w.tool_errors,
        "llm_calls": w.llm_calls,
        "llm_errors": w.llm_errors,
        "retries": w.retries,
        "refused": w.rejected,
        "fallbacks": w.fallbacks,
        "budget_exhausted": w.budget_exhausted,
        "tokens": w.tokens,
        "usd": w.usd,
    }


def _alert_json(a: AlertEvent) -> dict[str, Any]:
    if isinstance(a, AlertFired):
        return {
            "type": "alert_fired",
            "t": a.t,
            "arm": a.arm,
            "rule": a.rule,
            "value": a.value,
            "threshold": a.threshold,
            "window": a.window,
            "message": a.message,
        }
    return {
        "type": "alert_resolved",
        "t": a.t,
        "arm": a.arm,
        "rule": a.rule,
        "value": a.value,
        "threshold": a.threshold,
        "fired_at": a.fired_at,
    }
