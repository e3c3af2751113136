"""The breaker board: one row per service and model breaker, folded from events.

State and transitions come from ``BreakerTransition``; the time to the next probe from the
workspace's cooldown (refined by ``CallRejected.retry_in``); the failure rate from a rolling
window of the attempts each breaker guards (model calls count against ``model:…``, other
calls against ``service:…``, as the engine's breakers do).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from agentdesk.engine.events import AnyEvent, AttemptFinished, BreakerTransition, CallRejected

RECENT = 6
"""Transitions shown per breaker."""


@dataclass(frozen=True)
class Transition:
    t: float
    to_state: str
    reason: str


@dataclass
class BreakerRow:
    name: str
    state: str = "closed"
    since: float = 0.0
    next_probe_at: float | None = None
    opened: int = 0
    rejected: int = 0
    outcomes: deque[bool] = field(default_factory=lambda: deque(maxlen=20))
    recent: deque[Transition] = field(default_factory=lambda: deque(maxlen=RECENT))

    @property
    def failure_rate(self) -> float:
        return self.outcomes.count(False) / len(self.outcomes) if self.outcomes else 0.0


class BreakerBoardModel:
    def __init__(self, cooldown: float = 30.0, window: int = 20) -> None:
        self.cooldown = cooldown
        self.window = window
        self.rows: dict[str, BreakerRow] = {}

    def row(self, name: str) -> BreakerRow:
        row = self.rows.get(name)
        if row is None:
            row = self.rows[name] = BreakerRow(name, outcomes=deque(maxlen=self.window))
        return row

    def apply(self, event: AnyEvent) -> None:
        if isinstance(event, AttemptFinished):
            if event.error_kind != "breaker_open":
                key = f"model:{event.model}" if event.model else f"service:{event.service}"
                self.row(key).outcomes.append(event.outcome == "ok")
        elif isinstance(event, BreakerTransition):
            self._transition(event)
        elif isinstance(event, CallRejected):
            row = self.row(event.breaker)
            row.rejected += 1
            row.next_probe_at = event.t + event.retry_in

    def _transition(self, event: BreakerTransition) -> None:
        row = self.row(event.breaker)
        row.state, row.since = event.to_state, event.t
        row.recent.append(Transition(event.t, event.to_state, event.reason))
        row.opened += event.to_state == "open"
        row.next_probe_at = event.t + self.cooldown if event.to_state == "open" else None

    def ordered(self) -> list[BreakerRow]:
        """Open first, then half-open, then closed; by name within each."""
        rank = {"open": 0, "half_open": 1, "closed": 2}
        return sorted(self.rows.values(), key=lambda r: (rank.get(r.state, 3), r.name))
