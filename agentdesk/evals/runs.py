"""What one case's run did, folded from the event stream: the facts assertions are checked on.

The eval listens to the bus like every other reader (``CaseFold.apply`` is a listener) and keeps,
per run, only what a golden case can assert on or a report needs: the output of every step,
the stop reason, the duration in simulated seconds, what it cost, its retries and fallbacks,
whether a breaker opened or refused one of its calls, its calls per downstream and how each
step went for the compounding table. A run's events are dropped into a ``CaseRun`` as soon as
``run_finished`` arrives, so memory grows with the number of cases, not of events.
"""

from __future__ import annotations

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
    TokensCounted,
    ValidationFailed,
)
from agentdesk.projections.summary import step_name

WORK_STEP_KINDS = frozenset({"tool", "llm", "validate"})
"""Steps that do work and can get it wrong; routes, parallel and loop steps only arrange them."""


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """One execution of a working step: right at once (``clean``), and right in the end (``ok``)."""

    step: str
    kind: str
    clean: bool
    """No failed attempt, no invalid answer, no fallback, no refused call: right first time."""
    ok: bool
    """The step produced its output, whatever the policies had to do for it."""


@dataclass
class CaseRun:
    """Everything a case's assertions and the report read about its run."""

    run_id: str
    session: int
    release: str
    input: Any
    status: str = "running"
    stop_reason: str = ""
    output: Any = None
    duration: float = 0.0
    steps: dict[str, Any] = field(default_factory=dict)
    """Output of each step that finished, by step id (the name templates use)."""
    usd: float = 0.0
    tokens: int = 0
    retries: int = 0
    fallbacks: int = 0
    breaker_opened: bool = False
    """A breaker opened on one of this run's calls."""
    rejected: int = 0
    """Calls an open breaker refused without sending."""
    refused: int = 0
    """Calls the allowlist refused (a policy violation)."""
    calls: Counter[str] = field(default_factory=Counter)
    """Attempts by downstream service."""
    errors: Counter[str] = field(default_factory=Counter)
    """Failed attempts by downstream service."""
    outcomes: list[StepOutcome] = field(default_factory=list)
    _troubled: set[str] = field(default_factory=set)

    @property
    def finished(self) -> bool:
        return self.status != "running"

    def document(self) -> dict[str, Any]:
        """What assertion paths point into: ``$.output``, ``$.steps.<id>``, ``$.input``…"""
        return {
            "input": self.input,
            "output": self.output,
            "steps": self.steps,
            "status": self.status,
            "stop_reason": self.stop_reason,
        }


class CaseFold:
    """A bus listener that folds each run's events into its ``CaseRun``, keyed by session."""

    def __init__(self) -> None:
        self.runs: dict[int, CaseRun] = {}
        self._by_id: dict[str, CaseRun] = {}

    def apply(self, event: AnyEvent) -> None:
        if isinstance(event, RunStarted):
            started = CaseRun(event.run_id, event.session, event.release, event.input)
            self.runs[event.session] = self._by_id[event.run_id] = started
            return
        run = self._by_id.get(event.run_id)
        if run is not None:
            _fold(run, event)
            if isinstance(event, RunFinished):
                del self._by_id[event.run_id]


def _fold(run: CaseRun, event: AnyEvent) -> None:
    if isinstance(event, StepFinished):
        _step_finished(run, event)
    elif isinstance(event, AttemptFinished):
        run.calls[event.service] += 1
        if event.outcome != "ok":
            run.errors[event.service] += 1
            run._troubled.add(event.step)
    elif isinstance(event, RetryScheduled):
        run.retries += 1
    elif isinstance(event, FallbackTaken):
        run.fallbacks += 1
        run._troubled.add(event.step)
    elif isinstance(event, ValidationFailed | CallRejected | CallRefused):
        _troubled(run, event)
    elif isinstance(event, BreakerTransition):
        run.breaker_opened = run.breaker_opened or event.to_state == "open"
    elif isinstance(event, TokensCounted):
        run.usd += event.usd
        run.tokens += event.prompt_tokens + event.completion_tokens
    elif isinstance(event, RunFinished):
        run.status, run.stop_reason = event.status, event.stop_reason
        run.output, run.duration = event.output, event.duration


def _troubled(run: CaseRun, event: ValidationFailed | CallRejected | CallRefused) -> None:
    run._troubled.add(event.step)
    if isinstance(event, CallRejected):
        run.rejected += 1
    elif isinstance(event, CallRefused):
        run.refused += 1


def _step_finished(run: CaseRun, event: StepFinished) -> None:
    if event.status == "ok":
        run.steps[step_name(event.step).rsplit("/", 1)[-1]] = event.output
    if event.kind in WORK_STEP_KINDS and event.status != "skipped":
        ok = event.status == "ok"
        clean = ok and event.step not in run._troubled
        run.outcomes.append(StepOutcome(step_name(event.step), event.kind, clean, ok))
