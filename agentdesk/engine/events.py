"""The typed events the engine publishes: the spine every other part of agentdesk reads.

Events are frozen msgspec structs in one tagged union, so a log of them encodes to JSON Lines
and decodes back to the same typed values. Every event carries:

- ``v``: the schema version of the event catalogue (bumped on an incompatible change);
- ``t``: the event loop's clock in seconds when it happened (simulated seconds on the virtual
  clock), rounded to the microsecond so logs stay byte-stable across platforms;
- ``run_id``: the run it belongs to ("" for events that belong to no single run).

Span ids are derived, never random: a run's span is its ``run_id``; a step's is
``{run_id}/{step_path}``; an attempt's is ``{step span}#{attempt}``. ``projections.spans``
rebuilds the run → step → attempt tree from events alone.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

SCHEMA_VERSION = 1

JSON = Any
"""A JSON-compatible value (dict, list, str, int, float, bool or None)."""

BreakerState = Literal["closed", "open", "half_open"]
Outcome = Literal["ok", "error"]
RunStatus = Literal["ok", "failed", "stopped"]


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", omit_defaults=False):
    """Base of every event. Subclasses add their own fields after the envelope."""

    v: int = SCHEMA_VERSION
    t: float
    run_id: str = ""


# --- runs -----------------------------------------------------------------------------------


class RunStarted(Event, frozen=True, tag="run_started"):
    pipeline: str
    session: int
    seed: int
    scenario: str
    input: JSON
    release: str = ""
    """The release id of what ran (``LoadedPipeline.release``): files, models, version."""


class RunFinished(Event, frozen=True, tag="run_finished"):
    status: RunStatus
    stop_reason: str
    """``completed`` for a successful run; otherwise a typed reason such as
    ``step_failed: refund``, ``policy_violation: draft``, ``budget_exhausted: usd``."""
    output: JSON = None
    duration: float = 0.0


# --- steps ----------------------------------------------------------------------------------


class StepStarted(Event, frozen=True, tag="step_started"):
    step: str
    """The step's path: its id, prefixed by enclosing parallel/loop steps (``review[2]/judge``)."""
    kind: str
    artifacts: tuple[str, ...] = ()
    """The artifact ids of the prompt and schema files the step reads."""


class StepFinished(Event, frozen=True, tag="step_finished"):
    step: str
    kind: str
    status: Literal["ok", "failed", "skipped"]
    duration: float
    output: JSON = None
    error: str = ""


class RouteTaken(Event, frozen=True, tag="route_taken"):
    step: str
    target: str
    condition: str
    """The condition that matched, or ``default``."""


class LoopIteration(Event, frozen=True, tag="loop_iteration"):
    step: str
    iteration: int
    done: bool
    """True when the loop's ``until`` condition held after this iteration."""


# --- attempts and calls ---------------------------------------------------------------------


class AttemptStarted(Event, frozen=True, tag="attempt_started"):
    step: str
    attempt: int
    service: str
    target: str
    """``POST /v1/chat/completions`` for a tool call; the model name for an LLM call."""
    model: str = ""
    timeout: float | None = None


class AttemptFinished(Event, frozen=True, tag="attempt_finished"):
    step: str
    attempt: int
    service: str
    outcome: Outcome
    latency: float
    status_code: int | None = None
    error_kind: str = ""
    """Empty on success. Otherwise one of ``timeout``, ``connect``, ``reset``, ``http_status``,
    ``malformed``, ``breaker_open``, ``schema``, ``context_length``."""
    error: str = ""
    model: str = ""


class RetryScheduled(Event, frozen=True, tag="retry_scheduled"):
    step: str
    attempt: int
    """The attempt that failed; the next one is ``attempt + 1``."""
    delay: float
    reason: str
    source: Literal["backoff", "retry_after", "retry_after_ms"] = "backoff"


class RetryGaveUp(Event, frozen=True, tag="retry_gave_up"):
    step: str
    attempt: int
    reason: str


class BreakerTransition(Event, frozen=True, tag="breaker_transition"):
    breaker: str
    """``service:payments`` or ``model:gpt-4o-mini``."""
    from_state: BreakerState
    to_state: BreakerState
    failure_rate: float
    calls: int
    reason: str


class CallRejected(Event, frozen=True, tag="call_rejected"):
    """A call the breaker refused without sending it."""

    step: str
    breaker: str
    retry_in: float


class FallbackTaken(Event, frozen=True, tag="fallback_taken"):
    step: str
    from_model: str
    to_model: str
    reason: str
    """``breaker_open``, ``retries_exhausted``, ``context_too_long`` or ``permanent_error``."""


class ValidationFailed(Event, frozen=True, tag="validation_failed"):
    step: str
    attempt: int
    errors: list[str]
    repair: int
    """How many re-asks were made before this failure (0 for the first answer)."""


class ValidationRepaired(Event, frozen=True, tag="validation_repaired"):
    step: str
    attempt: int
    repairs: int


class CallRefused(Event, frozen=True, tag="call_refused"):
    """A call the step's allowlist forbids: a policy violation, never executed."""

    step: str
    service: str
    method: str
    target: str
    reason: str


class TokensCounted(Event, frozen=True, tag="tokens_counted"):
    """One billed LLM attempt: agentdesk's own count, the provider's, and what it cost.

    Emitted for every attempt the provider answered — validation failures and unreadable
    bodies included, since those tokens are paid for too."""

    step: str
    attempt: int
    model: str
    prompt_tokens: int
    completion_tokens: int
    approximate: bool = False
    reported_prompt_tokens: int | None = None
    reported_completion_tokens: int | None = None
    cached_prompt_tokens: int = 0
    """Prompt tokens the provider reported as served from its cache (billed cheaper)."""
    usd: float = 0.0
    """The attempt's cost at the model's price, from agentdesk's counts."""
    priced: bool = True
    """False when no price is known for the model (its cost shows as 0 and unpriced)."""


class UsageMismatch(Event, frozen=True, tag="usage_mismatch"):
    """The provider's reported usage disagrees with agentdesk's own count."""

    step: str
    attempt: int
    model: str
    prompt_tokens: int
    reported_prompt_tokens: int | None
    completion_tokens: int
    reported_completion_tokens: int | None


# --- budgets --------------------------------------------------------------------------------

BudgetScope = Literal["run", "session"]


class BudgetUpdated(Event, frozen=True, tag="budget_updated"):
    """A scope's spend after a charge; only scopes with limits are reported."""

    scope: BudgetScope
    session: int
    used: dict[str, float]
    """Spend by kind: ``tokens``, ``usd``, ``seconds``, ``steps``."""
    limits: dict[str, float]
    """The limits that apply, by kind."""


class OutputLimited(Event, frozen=True, tag="output_limited"):
    """A budget lowered an LLM call's output bound to what it can still pay for."""

    step: str
    attempt: int
    model: str
    requested: int
    allowed: int
    budget: str
    """Which budget bound it: ``run:usd``, ``session:tokens``…"""


class BudgetExhausted(Event, frozen=True, tag="budget_exhausted"):
    """A step or call was refused: it would have taken a budget over its limit."""

    step: str
    scope: BudgetScope
    kind: Literal["tokens", "usd", "seconds", "steps"]
    used: float
    limit: float
    needed: float


# --- alerts ---------------------------------------------------------------------------------


class AlertFired(Event, frozen=True, tag="alert_fired"):
    """An alert rule's figure crossed its threshold (``agentdesk.alerts``); ``run_id`` is ""."""

    rule: str
    """``tool_error_rate``, ``latency_p95``, ``daily_cost`` or ``tokens_per_task``."""
    value: float
    """The figure that crossed: a rate, seconds, USD per day or tokens per run."""
    threshold: float
    """What it crossed, in the same unit (a ratio rule's multiple of its baseline, resolved)."""
    window: float
    """The seconds of traffic the figure covers."""
    message: str
    arm: str = ""
    """Which traffic it watched: "" (all of it), ``baseline`` or ``candidate`` (load canaries)."""


class AlertResolved(Event, frozen=True, tag="alert_resolved"):
    """The figure of a fired alert is back within its threshold."""

    rule: str
    value: float
    threshold: float
    fired_at: float
    """The ``t`` of the ``alert_fired`` this ends."""
    arm: str = ""


AnyEvent = (
    RunStarted
    | RunFinished
    | StepStarted
    | StepFinished
    | RouteTaken
    | LoopIteration
    | AttemptStarted
    | AttemptFinished
    | RetryScheduled
    | RetryGaveUp
    | BreakerTransition
    | CallRejected
    | FallbackTaken
    | ValidationFailed
    | ValidationRepaired
    | CallRefused
    | TokensCounted
    | UsageMismatch
    | BudgetUpdated
    | OutputLimited
    | BudgetExhausted
    | AlertFired
    | AlertResolved
)

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(AnyEvent)


def encode(event: Event) -> bytes:
    """One event as compact JSON (no trailing newline)."""
    return _encoder.encode(event)


def decode(line: bytes | str) -> AnyEvent:
    """Parse one JSON-encoded event back into its typed form."""
    event: AnyEvent = _decoder.decode(line)
    return event


def encode_lines(events: list[AnyEvent]) -> bytes:
    """A list of events as JSON Lines."""
    return b"".join(_encoder.encode(e) + b"\n" for e in events)


def decode_lines(data: bytes) -> list[AnyEvent]:
    return [decode(line) for line in data.splitlines() if line.strip()]
