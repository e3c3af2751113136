"""Events → table rows: what the writer inserts for each batch of events.

A pure fold (no database, no thread), so it can be tested on its own and the writer stays a
loop of "take events, fold, insert, commit". It keeps, per run in progress, the spans still
open and the run's totals (dropped when the run ends, so memory stays flat over thousands of
runs). Spans become rows when they close; spans still open when their run finishes are written
as ``unfinished``. The spans are those ``projections.spans.SpanTree`` derives (same ids,
parents, names and attributes), kept flat here: the writer never needs the tree, and building
it was a third of the fold.

Rows are tuples in the column order of ``EVENT_COLUMNS`` and ``SPAN_COLUMNS``: the writer hands
them to the driver's ``executemany`` unchanged. Events of types this version does not know (a
newer engine) are stored the same way: type, run, time and JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from agentdesk.engine.events import (
    AnyEvent,
    AttemptFinished,
    AttemptStarted,
    Event,
    RetryScheduled,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
    TokensCounted,
)
from agentdesk.projections.spans import parent_of_step, present
from agentdesk.store.redaction import Redactor

EVENT_COLUMNS = ("batch_id", "seq", "run_id", "type", "t", "data")
SPAN_COLUMNS = (
    "batch_id",
    "span_id",
    "run_id",
    "parent_id",
    "kind",
    "name",
    "start",
    "end",
    "status",
    "attributes",
)
RUN_COLUMNS = (
    "batch_id",
    "run_id",
    "pipeline",
    "scenario",
    "seed",
    "session",
    "status",
    "stop_reason",
    "started",
    "finished",
    "duration",
    "prompt_tokens",
    "completion_tokens",
    "cached_prompt_tokens",
    "cost_usd",
    "attempts",
    "retries",
    "errors",
    "events",
    "approximate",
    "release_id",
    "input",
    "output",
)
RUN_TOTALS = (
    "status",
    "stop_reason",
    "finished",
    "duration",
    "prompt_tokens",
    "completion_tokens",
    "cached_prompt_tokens",
    "cost_usd",
    "attempts",
    "retries",
    "errors",
    "events",
    "approximate",
    "output",
)
"""The run columns known only once the run has finished (updated if it started earlier)."""

PAUSE_EVERY = 128
"""Events folded between two pauses (~0.8 ms of work) when the writer asks for pauses."""

_tags: dict[type, str] = {}


def event_type(event: Event) -> str:
    """The event's ``type`` tag (``run_started``)."""
    kind = type(event)
    tag = _tags.get(kind)
    if tag is None:
        tag = _tags[kind] = str(kind.__struct_config__.tag)
    return tag


@dataclass(slots=True)
class _Open:
    """A span not yet closed."""

    parent_id: str | None
    kind: str
    name: str
    start: float
    attributes: dict[str, Any]


@dataclass
class _RunState:
    row: dict[str, Any]
    spans: dict[str, _Open] = field(default_factory=dict)
    """The run's open spans by id, in the order they opened."""
    stored: bool = False
    """The run's row was inserted by an earlier batch: its end is an update, not an insert."""


@dataclass
class Rows:
    """What one batch of events writes, in one transaction."""

    events: list[tuple[Any, ...]] = field(default_factory=list)
    spans: list[tuple[Any, ...]] = field(default_factory=list)
    new_runs: list[dict[str, Any]] = field(default_factory=list)
    """Whole run rows (``RUN_COLUMNS``), final if the run also finished in this batch."""
    finished_runs: list[dict[str, Any]] = field(default_factory=list)
    """Whole rows of runs inserted by an earlier batch that finished in this one."""
    acknowledged: list[str] = field(default_factory=list)
    """Run ids whose ``run_finished`` is in this batch: acknowledged once it commits."""

    def snapshot(self) -> Rows:
        """The rows as they are now. Run rows are the fold's own dicts, which it keeps
        updating as later batches arrive; a batch written on another thread must be copied
        first, or it could store a run as finished before the events that finish it."""
        return replace(
            self,
            new_runs=[dict(r) for r in self.new_runs],
            finished_runs=[dict(r) for r in self.finished_runs],
        )


class RecordFold:
    """Turns a recording's events, batch after batch, into rows."""

    def __init__(self, batch_id: str, redactor: Redactor) -> None:
        self.batch_id = batch_id
        self.redactor = redactor
        self.seq = 0
        self.releases: set[str] = set()
        """Releases recorded in the store (a run row may only name one of these)."""
        self._runs: dict[str, _RunState] = {}

    def take(self, events: list[AnyEvent], pause: Callable[[], object] | None = None) -> Rows:
        """The rows of the next batch of events. ``pause`` is called between slices of
        ``PAUSE_EVERY`` events: the writer passes ``time.sleep(0)`` to hand the GIL over."""
        rows = Rows()
        every = PAUSE_EVERY if pause is not None else max(len(events), 1)
        for start in range(0, len(events), every):
            if start and pause is not None:
                pause()
            self._take(events[start : start + every], rows)
        for state in self._runs.values():
            state.stored = True
        return rows

    def _take(self, events: list[AnyEvent], rows: Rows) -> None:
        append, runs, batch_id = rows.events.append, self._runs, self.batch_id
        event_json, tags = self.redactor.event_json, _tags
        for seq, event in enumerate(events, start=self.seq + 1):
            kind = type(event)
            data = event_json(event).decode()
            tag = tags.get(kind) or event_type(event)
            append((batch_id, seq, event.run_id, tag, event.t, data))
            if isinstance(event, RunStarted):
                rows.new_runs.append(self._start(event).row)
            state = runs.get(event.run_id)
            if state is not None:
                state.row["events"] += 1
                handler = _HANDLERS.get(kind)
                if handler is not None:
                    handler(self, state, event, rows)
        self.seq += len(events)

    def _start(self, event: RunStarted) -> _RunState:
        row = {
            "batch_id": self.batch_id,
            "run_id": event.run_id,
            "pipeline": event.pipeline,
            "scenario": event.scenario,
            "seed": event.seed,
            "session": event.session,
            "status": "running",
            "stop_reason": "",
            "started": event.t,
            "finished": None,
            "duration": None,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "cached_prompt_tokens": 0,
            "cost_usd": 0.0,
            "attempts": 0,
            "retries": 0,
            "errors": 0,
            "events": 0,
            "approximate": False,
            "release_id": event.release if event.release in self.releases else None,
            "input": self._json(event.input),
            "output": None,
        }
        state = self._runs[event.run_id] = _RunState(row)
        return state

    def _run_span(self, state: _RunState, event: RunStarted, rows: Rows) -> None:
        attributes = present(session=event.session, scenario=event.scenario, release=event.release)
        state.spans[event.run_id] = _Open(None, "run", event.pipeline, event.t, attributes)

    def _step_span(self, state: _RunState, event: StepStarted, rows: Rows) -> None:
        attributes: dict[str, Any] = {"kind": event.kind} if event.kind else {}
        if event.artifacts:
            attributes["artifacts"] = list(event.artifacts)
        parent = parent_of_step(event.run_id, event.step)
        span = _Open(parent, "step", event.step, event.t, attributes)
        state.spans[f"{event.run_id}/{event.step}"] = span

    def _attempt_span(self, state: _RunState, event: AttemptStarted, rows: Rows) -> None:
        step = f"{event.run_id}/{event.step}"
        attributes = {"service": event.service, "model": event.model}
        state.spans[f"{step}#{event.attempt}"] = _Open(
            step, "attempt", event.target, event.t, attributes
        )

    def _attempt(self, state: _RunState, event: AttemptFinished, rows: Rows) -> None:
        state.row["attempts"] += 1
        state.row["errors"] += event.outcome == "error"
        span_id = f"{event.run_id}/{event.step}#{event.attempt}"
        span = state.spans.pop(span_id, None)
        if span is not None:
            extra: dict[str, Any] = {}
            if event.status_code is not None:
                extra["status_code"] = event.status_code
            if event.error_kind:
                extra["error_kind"] = event.error_kind
            rows.spans.append(self._span_row(span_id, span, event.t, event.outcome, extra))

    def _step(self, state: _RunState, event: StepFinished, rows: Rows) -> None:
        span_id = f"{event.run_id}/{event.step}"
        span = state.spans.pop(span_id, None)
        if span is not None:
            extra = {"error": event.error} if event.error else None
            rows.spans.append(self._span_row(span_id, span, event.t, event.status, extra))

    def _retry(self, state: _RunState, event: RetryScheduled, rows: Rows) -> None:
        state.row["retries"] += 1

    def _tokens(self, state: _RunState, event: TokensCounted, rows: Rows) -> None:
        row = state.row
        row["prompt_tokens"] += event.prompt_tokens
        row["completion_tokens"] += event.completion_tokens
        # Read defensively: these fields are newer than the store's first version.
        row["cached_prompt_tokens"] += getattr(event, "cached_prompt_tokens", 0)
        row["cost_usd"] += getattr(event, "usd", 0.0)
        row["approximate"] = row["approximate"] or event.approximate

    def _finish(self, state: _RunState, event: RunFinished, rows: Rows) -> None:
        row = state.row
        row.update(
            status=event.status,
            stop_reason=self.redactor.text(event.stop_reason),
            finished=event.t,
            duration=event.duration,
            output=self._json(event.output),
        )
        run = state.spans.pop(event.run_id, None)
        for span_id, span in state.spans.items():
            rows.spans.append(self._span_row(span_id, span, None, "unfinished", None))
        if run is not None:
            extra = {"stop_reason": event.stop_reason} if event.stop_reason else None
            rows.spans.append(self._span_row(event.run_id, run, event.t, event.status, extra))
        del self._runs[event.run_id]
        rows.acknowledged.append(event.run_id)
        if state.stored:
            rows.finished_runs.append(row)

    def _span_row(
        self,
        span_id: str,
        span: _Open,
        end: float | None,
        status: str,
        extra: dict[str, Any] | None,
    ) -> tuple[Any, ...]:
        attributes = span.attributes
        if extra:
            attributes = attributes | extra
        return (
            self.batch_id,
            span_id,
            span_id.split("/", 1)[0],
            span.parent_id,
            span.kind,
            self.redactor.text(span.name),
            span.start,
            end,
            status,
            self._json(attributes) or "{}",
        )

    def _json(self, value: Any) -> str | None:
        """A payload as redacted JSON text (None stays None)."""
        if value is None:
            return None
        return self.redactor.json(value).decode()


_HANDLERS: dict[type, Any] = {
    RunStarted: RecordFold._run_span,
    StepStarted: RecordFold._step_span,
    AttemptStarted: RecordFold._attempt_span,
    AttemptFinished: RecordFold._attempt,
    StepFinished: RecordFold._step,
    RetryScheduled: RecordFold._retry,
    TokensCounted: RecordFold._tokens,
    RunFinished: RecordFold._finish,
}
