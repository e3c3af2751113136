"""Everything the Live screen shows, folded from events and handed out as frozen snapshots.

The bridge's worker thread folds batches (``apply_batch``) while the UI thread takes a
``LiveView`` of what is on screen (``view``); a lock keeps the two apart, and the view copies
only bounded things (the retained runs' rows, one run's trace, the boards), so taking one per
frame costs the same after a million events as after ten.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Sequence
from copy import copy
from dataclasses import dataclass
from typing import Any

from agentdesk.alerts import DEFAULT_RULES, Rules
from agentdesk.engine.events import AnyEvent, TokensCounted
from agentdesk.projections.summary import RunSummary
from agentdesk.tui.models.alerts import AlertBoard
from agentdesk.tui.models.breakers import BreakerBoardModel, Transition
from agentdesk.tui.models.budgets import Meter, RunBudget, is_budget_event
from agentdesk.tui.models.latency import LatencyBook
from agentdesk.tui.models.runs import RecordedRuns, RunBook, RunRow, TraceLine, build_trace

COST_BUCKET = 5.0
"""Simulated seconds per bar of the cost-over-time sparkline."""


@dataclass(frozen=True)
class Counters:
    runs: int = 0
    running: int = 0
    ok: int = 0
    failed: int = 0
    stopped: int = 0
    events: int = 0
    dropped: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    approximate: bool = False
    usd: float = 0.0
    unpriced: int = 0
    retries: int = 0
    fallbacks: int = 0
    repairs: int = 0
    breaker_opens: int = 0


@dataclass(frozen=True)
class BreakerView:
    name: str
    state: str
    probe_in: float | None
    failure_rate: float
    opened: int
    rejected: int
    recent: tuple[Transition, ...]


@dataclass(frozen=True)
class LatencyView:
    name: str
    kind: str
    count: int
    p50: float
    p95: float
    p99: float
    recent: tuple[float, ...]


@dataclass(frozen=True)
class LiveView:
    now: float = 0.0
    counters: Counters = Counters()
    runs: tuple[RunRow, ...] = ()
    selected: str | None = None
    trace: tuple[TraceLine, ...] = ()
    meters: tuple[Meter, ...] = ()
    breakers: tuple[BreakerView, ...] = ()
    latency: tuple[LatencyView, ...] = ()
    cost: tuple[float, ...] = ()
    narration: str = ""
    version: int = 0
    alerts: tuple[str, ...] = ()
    """The alert rules firing now (``models.alerts``), in words."""


class LiveModel:
    """The Live screen's read model. ``apply_batch`` from one thread, ``view`` from another."""

    def __init__(
        self,
        cooldown: float = 30.0,
        max_runs: int = 300,
        recorded: RecordedRuns | None = None,
        alerts: Rules = DEFAULT_RULES,
    ) -> None:
        """``alerts``: the rules the status line judges (the workspace's ``alerts.yaml``)."""
        self._lock = threading.Lock()
        self.summary = RunSummary()
        self.runs = RunBook(max_runs)
        self.breakers = BreakerBoardModel(cooldown)
        self.latency = LatencyBook()
        self.alerts = AlertBoard(alerts)
        self._budgets: OrderedDict[str, RunBudget] = OrderedDict()
        self._max_budgets = max_runs * 2
        self._cost: deque[float] = deque(maxlen=60)
        self._cost_bucket = -1
        self.usd = 0.0
        self.unpriced = 0
        self.dropped = 0
        self.narration = ""
        self.version = 0
        self.recorded = recorded
        self._recorded_rows: list[RunRow] = recorded.recent_runs(200) if recorded else []

    def apply_batch(
        self, events: list[AnyEvent], notes: Sequence[str] = (), dropped: int = 0
    ) -> None:
        with self._lock:
            for event in events:
                self._apply(event)
            if notes:
                self.narration = notes[-1]
            self.dropped += dropped
            self.version += 1

    def apply(self, event: AnyEvent) -> None:
        self.apply_batch([event])

    def _apply(self, event: AnyEvent) -> None:
        self.summary.apply(event)
        self.runs.apply(event)
        self.breakers.apply(event)
        self.latency.apply(event)
        self.alerts.apply(event)
        if isinstance(event, TokensCounted):
            self._charge(event)
        elif is_budget_event(event):
            self._budget(event.run_id).apply(event)

    def _charge(self, event: TokensCounted) -> None:
        usd = float(getattr(event, "usd", 0.0) or 0.0)
        self.usd += usd
        self.unpriced += not getattr(event, "priced", True)
        bucket = int(event.t // COST_BUCKET)
        if bucket != self._cost_bucket:
            gap = min(self._cost.maxlen or 0, bucket - self._cost_bucket - 1)
            if self._cost_bucket >= 0:
                self._cost.extend([0.0] * max(0, gap))
            self._cost.append(0.0)
            self._cost_bucket = bucket
        self._cost[-1] += usd

    def _budget(self, run_id: str) -> RunBudget:
        budget = self._budgets.get(run_id)
        if budget is None:
            budget = self._budgets[run_id] = RunBudget()
            while len(self._budgets) > self._max_budgets:
                self._budgets.popitem(last=False)
        return budget

    # --- the snapshot -------------------------------------------------------------------------

    def view(self, selected: str | None = None) -> LiveView:
        with self._lock:
            # A finished run's row no longer changes: only running rows need copying.
            rows = [copy(row) if row.status == "running" else row for row in self.runs.rows()]
            rows += self._recorded_rows
            if selected is None and rows:
                selected = rows[0].run_id
            return LiveView(
                now=self.summary.sim_time,
                counters=self._counters(rows),
                runs=tuple(rows),
                selected=selected,
                trace=tuple(self._trace(selected)),
                meters=tuple(self._meters(selected)),
                breakers=tuple(self._breaker_views()),
                latency=tuple(self._latency_views()),
                cost=tuple(self._cost),
                narration=self.narration,
                version=self.version,
                alerts=self.alerts.active(),
            )

    def _counters(self, rows: list[RunRow]) -> Counters:
        s = self.summary
        tokens = s.tokens
        return Counters(
            runs=s.runs,
            running=sum(1 for row in rows if row.status == "running"),
            ok=s.statuses.get("ok", 0),
            failed=s.statuses.get("failed", 0),
            stopped=s.statuses.get("stopped", 0),
            events=s.events,
            dropped=self.dropped,
            prompt_tokens=tokens.prompt,
            completion_tokens=tokens.completion,
            approximate=tokens.approximate,
            usd=self.usd,
            unpriced=self.unpriced,
            retries=sum(step.retries for step in s.steps.values()),
            fallbacks=sum(step.fallbacks for step in s.steps.values()),
            repairs=sum(step.repairs for step in s.steps.values()),
            breaker_opens=sum(b.opened for b in s.breakers.values()),
        )

    def _events_of(self, run_id: str | None) -> list[AnyEvent]:
        if run_id is None:
            return []
        events = self.runs.events(run_id)
        if not events and self.recorded is not None:
            events = self.recorded.run_events(run_id)
        return events

    def _trace(self, run_id: str | None) -> list[TraceLine]:
        return build_trace(self._events_of(run_id))

    def _meters(self, run_id: str | None) -> list[Meter]:
        if run_id is None:
            return []
        row = self.runs.row(run_id)
        spent: dict[str, float] = {}
        if row is not None:
            end = row.started + row.duration if row.duration is not None else self.summary.sim_time
            spent = {
                "tokens": row.tokens,
                "usd": row.usd,
                "seconds": end - row.started,
                "steps": row.steps,
            }
        budget = self._budgets.get(run_id, RunBudget())
        return budget.meters(spent)

    def _breaker_views(self) -> list[BreakerView]:
        now = self.summary.sim_time
        return [
            BreakerView(
                row.name,
                row.state,
                None if row.next_probe_at is None else max(0.0, row.next_probe_at - now),
                row.failure_rate,
                row.opened,
                row.rejected,
                tuple(row.recent),
            )
            for row in self.breakers.ordered()
        ]

    def _latency_views(self) -> list[LatencyView]:
        return [
            LatencyView(
                s.name,
                s.kind,
                s.digest.count,
                s.digest.quantile(0.5),
                s.digest.quantile(0.95),
                s.digest.quantile(0.99),
                tuple(s.recent),
            )
            for s in self.latency.rows()
        ]


def fold(events: list[AnyEvent], **options: Any) -> LiveModel:
    """A model with ``events`` already applied (recorded runs, tests, snapshots)."""
    model = LiveModel(**options)
    model.apply_batch(events)
    return model
