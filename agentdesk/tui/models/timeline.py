"""An incident as a timeline: a cursor over its events, marks where things went wrong, and
every panel's state as of the cursor.

An on-call engineer scrubs an incident event by event or jumps — to the first error, to each
breaker transition, to budget exhaustion — and at each position sees the panels as they were
at that moment: the run's trace, the breaker board, the budget meters, the counters. They are
computed the one way that cannot disagree with the Live screen: by folding the same events
through the same read models (``RunSummary``, ``BreakerBoardModel``, ``RunBudget``,
``build_trace``) up to and including the cursor's event.

Folding 10,000 events from the start costs ~15 ms, too much of the 50 ms a jump may take once
the panels are drawn too. So the folds over the whole incident (summary, breakers) are copied
every ``every`` events when the timeline is built, and a jump copies the nearest checkpoint at
or before it and folds forward at most ``every`` events; stepping forward folds on from where
the last step left. Panels of one run (trace, budgets) fold only that run's events up to the
cursor: a run has tens of events, not thousands. No Textual here: build it on a worker thread,
then move the cursor and take ``Moment``s on the UI thread.
"""

from __future__ import annotations

import copy
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from agentdesk.engine.events import (
    AnyEvent,
    AttemptFinished,
    BreakerTransition,
    BudgetExhausted,
    CallRefused,
    CallRejected,
    FallbackTaken,
    RetryGaveUp,
    RetryScheduled,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
    TokensCounted,
    ValidationFailed,
)
from agentdesk.projections.summary import RunSummary
from agentdesk.tui.models.breakers import BreakerBoardModel
from agentdesk.tui.models.budgets import Meter, RunBudget, is_budget_event
from agentdesk.tui.models.live import BreakerView, Counters
from agentdesk.tui.models.runs import TraceLine, build_trace

MarkKind = Literal["error", "breaker", "budget", "fallback", "retry", "step"]
MARK_KINDS: tuple[MarkKind, ...] = ("error", "breaker", "budget", "fallback", "retry", "step")
CHECKPOINT_EVERY = 256
"""Events between two checkpoints (at least; long incidents space them out)."""
MAX_CHECKPOINTS = 400
"""Checkpoints kept at most, so memory stays bounded however long the incident."""


@dataclass(frozen=True)
class Mark:
    """An event worth jumping to."""

    index: int
    kind: MarkKind
    t: float
    state: str = ""
    """For a breaker transition, the state it went to (its colour on the strip)."""


def mark_of(event: AnyEvent) -> MarkKind | None:
    """What kind of moment an event is, if any (an error wins over everything else)."""
    if _is_error(event):
        return "error"
    if isinstance(event, BreakerTransition):
        return "breaker"
    if isinstance(event, BudgetExhausted):
        return "budget"
    if isinstance(event, FallbackTaken):
        return "fallback"
    if isinstance(event, RetryScheduled):
        return "retry"
    if isinstance(event, StepStarted):
        return "step"
    return None


def _is_error(event: AnyEvent) -> bool:
    if isinstance(event, AttemptFinished):
        return event.outcome != "ok"
    if isinstance(event, StepFinished):
        return event.status == "failed"
    if isinstance(event, RunFinished):
        return event.status != "ok"
    return isinstance(event, RetryGaveUp | CallRejected | CallRefused | ValidationFailed)


@dataclass
class _Fold:
    """What is folded over the whole incident: counters and the breaker board."""

    summary: RunSummary
    breakers: BreakerBoardModel
    unpriced: int = 0

    def apply(self, event: AnyEvent) -> None:
        self.summary.apply(event)
        self.breakers.apply(event)
        if isinstance(event, TokensCounted) and not event.priced:
            self.unpriced += 1


@dataclass(frozen=True)
class Moment:
    """Every panel as of one event (the cursor's, included)."""

    index: int
    total: int
    event: AnyEvent | None
    now: float
    run_id: str
    """The run the trace and budgets are of: the event's, else the last one before it."""
    trace: tuple[TraceLine, ...] = ()
    trace_line: int | None = None
    """The trace line the event added or changed."""
    breakers: tuple[BreakerView, ...] = ()
    meters: tuple[Meter, ...] = ()
    counters: Counters = field(default_factory=Counters)


class Timeline:
    """A cursor over an incident's events, its marks, and the panels as of the cursor."""

    def __init__(
        self, events: Sequence[AnyEvent], cooldown: float = 30.0, every: int | None = None
    ) -> None:
        self.events: tuple[AnyEvent, ...] = tuple(events)
        self.cooldown = cooldown
        self.every = every or max(CHECKPOINT_EVERY, -(-len(self.events) // MAX_CHECKPOINTS))
        self.cursor = 0
        self.marks: tuple[Mark, ...] = tuple(self._marks())
        self._by_kind: dict[MarkKind, list[int]] = {kind: [] for kind in MARK_KINDS}
        for mark in self.marks:
            self._by_kind[mark.kind].append(mark.index)
        self._runs: dict[str, list[int]] = {}
        """Event indices per run id, in order."""
        self._run_of: list[str] = []
        """Each event's run: its own, else the last one seen before it."""
        run = ""
        for index, event in enumerate(self.events):
            if event.run_id:
                run = event.run_id
                self._runs.setdefault(run, []).append(index)
            self._run_of.append(run)
        self._checkpoints = self._fold_checkpoints()
        self._scratch: tuple[int, _Fold] | None = None
        """A private fold and how many events it holds (stepping forward folds on from it)."""

    def __len__(self) -> int:
        return len(self.events)

    @property
    def checkpoints(self) -> int:
        return len(self._checkpoints)

    def _marks(self) -> list[Mark]:
        marks = []
        for index, event in enumerate(self.events):
            kind = mark_of(event)
            if kind is not None:
                state = event.to_state if isinstance(event, BreakerTransition) else ""
                marks.append(Mark(index, kind, event.t, state))
        return marks

    def _new_fold(self) -> _Fold:
        return _Fold(RunSummary(), BreakerBoardModel(self.cooldown))

    def _fold_checkpoints(self) -> list[_Fold]:
        """Checkpoint ``j`` holds the first ``j * every`` events folded."""
        fold = self._new_fold()
        checkpoints = [copy.deepcopy(fold)]
        for index, event in enumerate(self.events, start=1):
            fold.apply(event)
            if index % self.every == 0:
                checkpoints.append(copy.deepcopy(fold))
        return checkpoints

    # --- the cursor ---------------------------------------------------------------------------

    @property
    def start(self) -> float:
        return self.events[0].t if self.events else 0.0

    @property
    def end(self) -> float:
        return self.events[-1].t if self.events else 0.0

    def go(self, index: int) -> int:
        """Put the cursor on event ``index`` (clamped to the incident)."""
        self.cursor = max(0, min(len(self.events) - 1, index)) if self.events else 0
        return self.cursor

    def step(self, delta: int) -> int:
        """Move by ``delta`` events."""
        return self.go(self.cursor + delta)

    def indices(self, kind: MarkKind) -> list[int]:
        """Where every mark of one kind is, in order."""
        return list(self._by_kind[kind])

    def first(self, kind: MarkKind) -> int | None:
        found = self._by_kind[kind]
        return found[0] if found else None

    def after(self, kind: MarkKind, index: int) -> int | None:
        """The first mark of ``kind`` after event ``index``."""
        found = self._by_kind[kind]
        at = bisect_right(found, index)
        return found[at] if at < len(found) else None

    def before(self, kind: MarkKind, index: int) -> int | None:
        """The last mark of ``kind`` before event ``index``."""
        found = self._by_kind[kind]
        at = bisect_left(found, index)
        return found[at - 1] if at > 0 else None

    def jump(self, kind: MarkKind, direction: int = 1, wrap: bool = True) -> int | None:
        """Move to the next (or previous) mark of ``kind``; at the last one, back to the first
        when ``wrap``. None (the cursor stays) when the incident has no such mark."""
        found = self.after(kind, self.cursor) if direction > 0 else self.before(kind, self.cursor)
        if found is None and wrap and self._by_kind[kind]:
            found = self._by_kind[kind][0 if direction > 0 else -1]
        return None if found is None else self.go(found)

    def jump_first(self, kind: MarkKind) -> int | None:
        found = self.first(kind)
        return None if found is None else self.go(found)

    # --- the panels ---------------------------------------------------------------------------

    def moment(self, index: int | None = None) -> Moment:
        """The panels as of event ``index`` (default: the cursor's), that event included."""
        if not self.events:
            return Moment(0, 0, None, 0.0, "")
        index = self.cursor if index is None else max(0, min(len(self.events) - 1, index))
        event = self.events[index]
        fold = self._fold_to(index + 1)
        run_id = self._run_of[index]
        trace, line = self._trace(run_id, index)
        return Moment(
            index=index,
            total=len(self.events),
            event=event,
            now=event.t,
            run_id=run_id,
            trace=trace,
            trace_line=line,
            breakers=breaker_views(fold.breakers, event.t),
            meters=tuple(self._meters(run_id, index, event.t)),
            counters=counters(fold),
        )

    def _fold_to(self, count: int) -> _Fold:
        """The incident folded over its first ``count`` events."""
        if self._scratch is not None:
            held, fold = self._scratch
            if held <= count < held + self.every:
                for event in self.events[held:count]:
                    fold.apply(event)
                self._scratch = (count, fold)
                return fold
        base = min(count // self.every, len(self._checkpoints) - 1)
        fold = copy.deepcopy(self._checkpoints[base])
        for event in self.events[base * self.every : count]:
            fold.apply(event)
        self._scratch = (count, fold)
        return fold

    def run_events(self, run_id: str, index: int) -> list[AnyEvent]:
        """The run's events up to and including event ``index``."""
        positions = self._runs.get(run_id, [])
        return [self.events[i] for i in positions[: bisect_right(positions, index)]]

    def _trace(self, run_id: str, index: int) -> tuple[tuple[TraceLine, ...], int | None]:
        events = self.run_events(run_id, index)
        lines = build_trace(events)
        if not events or events[-1] is not self.events[index]:
            return tuple(lines), None
        return tuple(lines), _changed_line(build_trace(events[:-1]), lines)

    def _meters(self, run_id: str, index: int, now: float) -> list[Meter]:
        budget = RunBudget()
        spent = {"tokens": 0.0, "usd": 0.0, "seconds": 0.0, "steps": 0.0}
        started = finished = None
        for event in self.run_events(run_id, index):
            if is_budget_event(event):
                budget.apply(event)
            elif isinstance(event, TokensCounted):
                spent["tokens"] += event.prompt_tokens + event.completion_tokens
                spent["usd"] += event.usd
            elif isinstance(event, StepStarted):
                spent["steps"] += 1
            elif isinstance(event, RunStarted):
                started = event.t
            elif isinstance(event, RunFinished):
                finished = event.duration
        if started is not None:
            spent["seconds"] = finished if finished is not None else now - started
        return budget.meters(spent)


def _changed_line(before: list[TraceLine], after: list[TraceLine]) -> int | None:
    """The first line the last event added or changed."""
    for index, line in enumerate(after):
        if index >= len(before) or before[index] != line:
            return index
    return None


def breaker_views(board: BreakerBoardModel, now: float) -> tuple[BreakerView, ...]:
    """The board as the Live screen shows it, with probe times counted from ``now``."""
    return tuple(
        BreakerView(
            row.name,
            row.state,
            None if row.next_probe_at is None else max(0.0, row.next_probe_at - now),
            row.failure_rate,
            row.opened,
            row.rejected,
            tuple(row.recent),
        )
        for row in board.ordered()
    )


def counters(fold: _Fold) -> Counters:
    s = fold.summary
    return Counters(
        runs=s.runs,
        running=s.runs - s.finished,
        ok=s.statuses.get("ok", 0),
        failed=s.statuses.get("failed", 0),
        stopped=s.statuses.get("stopped", 0),
        events=s.events,
        prompt_tokens=s.tokens.prompt,
        completion_tokens=s.tokens.completion,
        approximate=s.tokens.approximate,
        usd=s.tokens.usd,
        unpriced=fold.unpriced,
        retries=sum(step.retries for step in s.steps.values()),
        fallbacks=sum(step.fallbacks for step in s.steps.values()),
        repairs=sum(step.repairs for step in s.steps.values()),
        breaker_opens=sum(b.opened for b in s.breakers.values()),
    )
