"""Events → table rows: what the writer inserts for each batch of events.

A pure fold (no database, no thread), so it can be tested on its own and the writer stays a
loop of "take events, fold, insert, commit". It keeps, per run in progress, the span tree
(``projections.spans.SpanTree``, dropped when the run ends so memory stays flat over thousands
of runs) and the run's totals. Spans become rows when they close; spans still open when their
run finishes are written as ``unfinished``.

Rows are tuples in the column order of ``EVENT_COLUMNS`` and ``SPAN_COLUMNS``: the writer hands
them to the driver's ``executemany`` unchanged. Events of types this version does not know (a
newer engine) are stored the same way: type, run, time and JSON.
"""

from __future__ import annotations

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
from agentdesk.projections.spans import Span, SpanTree
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

_tags: dict[type, str] = {}


def event_type(event: Event) -> str:
    """The event's ``type`` tag (``run_started``)."""
    kind = type(event)
    tag = _tags.get(kind)
    if tag is None:
        tag = _tags[kind] = str(kind.__struct_config__.tag)
    return tag


@dataclass
class _RunState:
    row: dict[str, Any]
    tree: SpanTree = field(default_factory=SpanTree)
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

    def take(self, events: list[AnyEvent]) -> Rows:
        rows = Rows()
        append, runs, batch_id = rows.events.append, self._runs, self.batch_id
        event_json = self.redactor.event_json
        for seq, event in enumerate(events, start=self.seq + 1):
            kind = type(event)
            data = event_json(event).decode()
            append((batch_id, seq, event.run_id, event_type(event), event.t, data))
            if isinstance(event, RunStarted):
                rows.new_runs.append(self._start(event).row)
            state = runs.get(event.run_id)
            if state is not None:
                state.row["events"] += 1
                handler = _HANDLERS.get(kind)
                if handler is not None:
                    handler(self, state, event, rows)
        self.seq += len(events)
        for state in runs.values():
            state.stored = True
        return rows

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

    def _open(self, state: _RunState, event: AnyEvent, rows: Rows) -> None:
        state.tree.apply(event)

    def _attempt(self, state: _RunState, event: AttemptFinished, rows: Rows) -> None:
        state.row["attempts"] += 1
        state.row["errors"] += event.outcome == "error"
        state.tree.apply(event)
        self._span(state, f"{event.run_id}/{event.step}#{event.attempt}", rows)

    def _step(self, state: _RunState, event: StepFinished, rows: Rows) -> None:
        state.tree.apply(event)
        self._span(state, f"{event.run_id}/{event.step}", rows)

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
        state.tree.apply(event)
        row = state.row
        row.update(
            status=event.status,
            stop_reason=self.redactor.text(event.stop_reason),
            finished=event.t,
            duration=event.duration,
            output=self._json(event.output),
        )
        for span_id in [s for s in state.tree.spans if s != event.run_id]:
            state.tree.spans[span_id].status = "unfinished"
            self._span(state, span_id, rows)
        self._span(state, event.run_id, rows)
        del self._runs[event.run_id]
        rows.acknowledged.append(event.run_id)
        if state.stored:
            rows.finished_runs.append(row)

    def _span(self, state: _RunState, span_id: str, rows: Rows) -> None:
        span = state.tree.spans.pop(span_id, None)
        if span is not None:
            rows.spans.append(self._span_row(span))

    def _span_row(self, span: Span) -> tuple[Any, ...]:
        run_id = span.span_id.split("/", 1)[0]
        attributes = self._json(span.attributes) or "{}"
        return (
            self.batch_id,
            span.span_id,
            run_id,
            span.parent_id,
            span.kind,
            self.redactor.text(span.name),
            span.start,
            span.end,
            span.status,
            attributes,
        )

    def _json(self, value: Any) -> str | None:
        """A payload as redacted JSON text (None stays None)."""
        if value is None:
            return None
        return self.redactor.json(value).decode()


_HANDLERS: dict[type, Any] = {
    RunStarted: RecordFold._open,
    StepStarted: RecordFold._open,
    AttemptStarted: RecordFold._open,
    AttemptFinished: RecordFold._attempt,
    StepFinished: RecordFold._step,
    RetryScheduled: RecordFold._retry,
    TokensCounted: RecordFold._tokens,
    RunFinished: RecordFold._finish,
}
