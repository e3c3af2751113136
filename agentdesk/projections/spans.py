"""Spans — run → step → attempt — rebuilt from events alone.

Nothing in the engine creates spans: they are a view of the event log, which is what lets an
imported or replayed log produce the same trace tree as a live run. Span ids are derived
(see ``engine.events``): a run's span is its run id, a step's ``{run}/{step path}``, an
attempt's ``{step span}#{n}``. A step nested in a parallel or loop step has that step's span as
its parent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentdesk.engine.events import (
    AnyEvent,
    AttemptFinished,
    AttemptStarted,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
)


@dataclass
class Span:
    span_id: str
    parent_id: str | None
    kind: str
    """``run``, ``step`` or ``attempt``."""
    name: str
    start: float
    end: float | None = None
    status: str = "running"
    attributes: dict[str, Any] = field(default_factory=dict)
    children: list[Span] = field(default_factory=list)


class SpanTree:
    """Folds events into spans; ``roots`` holds one span per run."""

    def __init__(self) -> None:
        self.spans: dict[str, Span] = {}
        self.roots: list[Span] = []

    def apply(self, event: AnyEvent) -> None:
        if isinstance(event, RunStarted):
            self._open(
                Span(
                    event.run_id,
                    None,
                    "run",
                    event.pipeline,
                    event.t,
                    attributes=present(
                        session=event.session, scenario=event.scenario, release=event.release
                    ),
                )
            )
        elif isinstance(event, StepStarted):
            parent = parent_of_step(event.run_id, event.step)
            self._open(
                Span(
                    f"{event.run_id}/{event.step}",
                    parent,
                    "step",
                    event.step,
                    event.t,
                    attributes=present(kind=event.kind, artifacts=list(event.artifacts)),
                )
            )
        elif isinstance(event, AttemptStarted):
            self._open(
                Span(
                    f"{event.run_id}/{event.step}#{event.attempt}",
                    f"{event.run_id}/{event.step}",
                    "attempt",
                    event.target,
                    event.t,
                    attributes={"service": event.service, "model": event.model},
                )
            )
        else:
            self._close(event)

    def _open(self, span: Span) -> None:
        self.spans[span.span_id] = span
        parent = self.spans.get(span.parent_id) if span.parent_id else None
        if parent is None:
            self.roots.append(span)
        else:
            parent.children.append(span)

    def _close(self, event: AnyEvent) -> None:
        if isinstance(event, RunFinished):
            self._finish(event.run_id, event.t, event.status, stop_reason=event.stop_reason)
        elif isinstance(event, StepFinished):
            self._finish(f"{event.run_id}/{event.step}", event.t, event.status, error=event.error)
        elif isinstance(event, AttemptFinished):
            self._finish(
                f"{event.run_id}/{event.step}#{event.attempt}",
                event.t,
                event.outcome,
                status_code=event.status_code,
                error_kind=event.error_kind,
            )

    def _finish(self, span_id: str, t: float, status: str, **attributes: Any) -> None:
        span = self.spans.get(span_id)
        if span is None:
            return
        span.end = t
        span.status = status
        span.attributes.update({k: v for k, v in attributes.items() if v not in ("", None)})


def parent_of_step(run_id: str, path: str) -> str:
    """``review[2]/judge`` has ``review`` as its parent step; a top-level step has the run."""
    head, sep, _ = path.rpartition("/")
    if not sep:
        return run_id
    return f"{run_id}/{head.rsplit('[', 1)[0] if head.endswith(']') else head}"


def present(**attributes: Any) -> dict[str, Any]:
    """The attributes that hold something (an empty release or file list is left out)."""
    return {k: v for k, v in attributes.items() if v not in ("", None, [])}
