"""The runs list and one run's trace, folded from events and bounded.

``RunBook`` keeps the last ``max_runs`` runs (running ones are never evicted) and, per run, at
most ``max_events`` of its events: enough to rebuild its trace — run → step → attempt, with
retries, fallbacks, repairs, rejections and errors inline — whenever it is selected. The trace
is built only for the run on screen, so a thousand runs cost a thousand small rows, not a
thousand trees.

Recorded runs (from the store) arrive through the ``RecordedRuns`` protocol, the seam the
store plugs into; until it does, the list shows live runs only.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol

from agentdesk.engine.events import (
    AnyEvent,
    AttemptFinished,
    AttemptStarted,
    CallRefused,
    CallRejected,
    FallbackTaken,
    RetryGaveUp,
    RetryScheduled,
    RouteTaken,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
    TokensCounted,
    ValidationFailed,
    ValidationRepaired,
)
from agentdesk.projections.summary import error_label
from agentdesk.tokens.prices import short_usd


@dataclass
class RunRow:
    """One line of the runs list."""

    run_id: str
    pipeline: str
    session: int
    started: float
    status: str = "running"
    """``running``, ``ok``, ``failed`` or ``stopped``."""
    duration: float | None = None
    stop_reason: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    approximate: bool = False
    usd: float = 0.0
    unpriced: bool = False
    attempts: int = 0
    retries: int = 0
    errors: int = 0
    steps: int = 0
    recorded: bool = False

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class RecordedRuns(Protocol):
    """Where recorded runs come from (the store implements this; tests use a list)."""

    def recent_runs(self, limit: int) -> list[RunRow]: ...

    def run_events(self, run_id: str) -> list[AnyEvent]: ...


@dataclass
class TraceLine:
    """One line of a run's trace."""

    depth: int
    kind: str
    """``run``, ``step``, ``attempt`` or ``note`` (retry, fallback, repair, error…)."""
    label: str
    status: str = "running"
    start: float = 0.0
    duration: float | None = None
    detail: str = ""
    """Untrusted text (errors, model names from payloads): sanitised when rendered."""
    tone: str = ""
    """For notes: ``retry``, ``fallback``, ``repair``, ``error``, ``route``, ``budget``."""


@dataclass
class _Record:
    row: RunRow
    events: list[AnyEvent] = field(default_factory=list)
    truncated: int = 0


RUNNING_CAP = 4
"""Runs in flight are kept past ``max_runs``, up to this many times it."""


class RunBook:
    """The last ``max_runs`` runs and their events."""

    def __init__(self, max_runs: int = 300, max_events: int = 2_000) -> None:
        self.max_runs = max_runs
        self.max_events = max_events
        self._runs: OrderedDict[str, _Record] = OrderedDict()
        self.started = 0

    def apply(self, event: AnyEvent) -> None:
        if isinstance(event, RunStarted):
            self._start(event)
            return
        record = self._runs.get(event.run_id)
        if record is None:
            return
        if len(record.events) < self.max_events:
            record.events.append(event)
        else:
            record.truncated += 1
        _update_row(record.row, event)

    def rows(self) -> list[RunRow]:
        """Newest first."""
        return [record.row for record in reversed(self._runs.values())]

    def row(self, run_id: str) -> RunRow | None:
        record = self._runs.get(run_id)
        return record.row if record else None

    def events(self, run_id: str) -> list[AnyEvent]:
        record = self._runs.get(run_id)
        return list(record.events) if record else []

    def _start(self, event: RunStarted) -> None:
        self.started += 1
        row = RunRow(event.run_id, event.pipeline, event.session, event.t)
        self._runs[event.run_id] = _Record(row, [event])
        self._evict()

    def _evict(self) -> None:
        excess = len(self._runs) - self.max_runs
        if excess <= 0:
            return
        finished = [k for k, r in self._runs.items() if r.row.status != "running"][:excess]
        for key in finished:
            del self._runs[key]
        # A run whose run_finished was shed (the UI fell behind and the bridge dropped events)
        # would stay "running" for ever: past a hard cap the oldest go, whatever their state.
        while len(self._runs) > RUNNING_CAP * self.max_runs:
            self._runs.popitem(last=False)


def _update_row(row: RunRow, event: AnyEvent) -> None:
    if row.status != "running":
        return  # run_finished is a run's last word: a finished row never changes again
    if isinstance(event, RunFinished):
        row.status, row.duration, row.stop_reason = event.status, event.duration, event.stop_reason
    elif isinstance(event, StepStarted):
        row.steps += 1
    elif isinstance(event, AttemptFinished):
        row.attempts += 1
        row.errors += event.outcome != "ok"
    elif isinstance(event, RetryScheduled):
        row.retries += 1
    elif isinstance(event, TokensCounted):
        row.prompt_tokens += event.prompt_tokens
        row.completion_tokens += event.completion_tokens
        row.approximate = row.approximate or event.approximate
        row.usd += float(getattr(event, "usd", 0.0) or 0.0)
        row.unpriced = row.unpriced or not getattr(event, "priced", True)


# --- the trace --------------------------------------------------------------------------------


def build_trace(events: list[AnyEvent]) -> list[TraceLine]:
    """A run's events as trace lines, in the order things happened."""
    builder = _TraceBuilder()
    for event in events:
        builder.apply(event)
    return builder.lines


class _TraceBuilder:
    def __init__(self) -> None:
        self.lines: list[TraceLine] = []
        self._open: dict[str, TraceLine] = {}
        self._depth: dict[str, int] = {}

    def apply(self, event: AnyEvent) -> None:
        handler = _TRACE.get(type(event)) or _budget_handler(event)
        if handler is not None:
            handler(self, event)

    def add(self, key: str | None, line: TraceLine) -> None:
        self.lines.append(line)
        if key is not None:
            self._open[key] = line

    def note(self, step: str, tone: str, label: str, detail: str = "", t: float = 0.0) -> None:
        depth = self.depth(step) + 1
        self.add(None, TraceLine(depth, "note", label, tone, t, detail=detail, tone=tone))

    def depth(self, step: str) -> int:
        return self._depth.get(step, step.count("/") + 1)

    def get(self, key: str) -> TraceLine | None:
        return self._open.get(key)


def _run_started(b: _TraceBuilder, e: RunStarted) -> None:
    label = f"{e.pipeline} · session {e.session} · {e.scenario}"
    b.add("run", TraceLine(0, "run", label, start=e.t))


def _run_finished(b: _TraceBuilder, e: RunFinished) -> None:
    line = b.get("run")
    if line is not None:
        line.status, line.duration = e.status, e.duration
        line.detail = "" if e.stop_reason == "completed" else e.stop_reason


def _step_started(b: _TraceBuilder, e: StepStarted) -> None:
    depth = e.step.count("/") + 1
    b._depth[e.step] = depth
    b.add(e.step, TraceLine(depth, "step", f"{e.step} ({e.kind})", start=e.t))


def _step_finished(b: _TraceBuilder, e: StepFinished) -> None:
    line = b.get(e.step)
    if line is not None:
        line.status, line.duration = e.status, e.duration
    if e.status == "failed" and e.error:
        b.note(e.step, "error", "✗ step failed", e.error, e.t)


def _attempt_started(b: _TraceBuilder, e: AttemptStarted) -> None:
    target = e.model or e.target
    label = f"#{e.attempt} {e.service} {target}"
    b.add(f"{e.step}#{e.attempt}", TraceLine(b.depth(e.step) + 1, "attempt", label, start=e.t))


def _attempt_finished(b: _TraceBuilder, e: AttemptFinished) -> None:
    line = b.get(f"{e.step}#{e.attempt}")
    if line is None:
        return
    line.status, line.duration = e.outcome, e.latency
    if e.outcome != "ok":
        label = error_label(e.status_code, e.error_kind)
        line.detail = f"{label}: {e.error}" if e.error else label


def _tokens(b: _TraceBuilder, e: TokensCounted) -> None:
    line = b.get(f"{e.step}#{e.attempt}")
    if line is None:
        return
    mark = "~" if e.approximate else ""
    cost = getattr(e, "usd", 0.0) or 0.0
    money = f" · {short_usd(cost)}" if cost else ""
    tokens = f"{mark}{e.prompt_tokens}+{mark}{e.completion_tokens} tok{money}"
    line.detail = f"{line.detail} · {tokens}" if line.detail else tokens


def _retry(b: _TraceBuilder, e: RetryScheduled) -> None:
    source = "" if e.source == "backoff" else f", {e.source.replace('_', '-')}"
    b.note(e.step, "retry", f"↻ retry in {e.delay:.2f}s{source}", e.reason, e.t)


def _gave_up(b: _TraceBuilder, e: RetryGaveUp) -> None:
    b.note(e.step, "error", f"✗ gave up after attempt {e.attempt}", e.reason, e.t)


def _fallback(b: _TraceBuilder, e: FallbackTaken) -> None:
    b.note(e.step, "fallback", f"⤷ fallback {e.from_model} → {e.to_model}", e.reason, e.t)


def _invalid(b: _TraceBuilder, e: ValidationFailed) -> None:
    detail = "; ".join(e.errors[:2])
    b.note(e.step, "repair", f"✎ invalid output (re-ask {e.repair})", detail, e.t)


def _repaired(b: _TraceBuilder, e: ValidationRepaired) -> None:
    b.note(e.step, "repair", f"✔ repaired after {e.repairs} re-ask(s)", "", e.t)


def _rejected(b: _TraceBuilder, e: CallRejected) -> None:
    b.note(e.step, "error", f"⊘ {e.breaker} open", f"probe in {e.retry_in:.1f}s", e.t)


def _refused(b: _TraceBuilder, e: CallRefused) -> None:
    b.note(e.step, "error", f"⊘ refused {e.method} {e.service}{e.target}", e.reason, e.t)


def _route(b: _TraceBuilder, e: RouteTaken) -> None:
    b.note(e.step, "route", f"→ {e.target}", e.condition, e.t)


def _budget_handler(event: AnyEvent) -> Any:
    """Budget events are handled by name, so this module works before and after they exist."""
    if type(event).__name__ != "BudgetExhausted":
        return None

    def exhausted(b: _TraceBuilder, e: Any) -> None:
        label = f"$ {e.scope} budget exhausted: {e.kind}"
        b.note(e.step, "budget", label, f"{e.used:g} of {e.limit:g}", e.t)

    return exhausted


_TRACE: dict[type, Any] = {
    RunStarted: _run_started,
    RunFinished: _run_finished,
    StepStarted: _step_started,
    StepFinished: _step_finished,
    AttemptStarted: _attempt_started,
    AttemptFinished: _attempt_finished,
    TokensCounted: _tokens,
    RetryScheduled: _retry,
    RetryGaveUp: _gave_up,
    FallbackTaken: _fallback,
    ValidationFailed: _invalid,
    ValidationRepaired: _repaired,
    CallRejected: _rejected,
    CallRefused: _refused,
    RouteTaken: _route,
}
