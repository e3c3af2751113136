"""Typed models of scenarios (``scenarios/*.yaml``) and of the workspace's ``sims:`` section.

These are the contract of docs/workspace-format.md (Scenarios, sims:). They are pydantic models,
frozen and strict about unknown keys, so that the spec loader can validate the raw YAML and map
each pydantic error's location to a file:line; the sims themselves read the validated values
and never parse YAML. Latencies and faults are tagged unions (``dist`` / ``kind``), which keeps
both the YAML short and the error messages precise ("unknown dist 'gama'").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Profile(BaseModel):
    """Base of every profile model: immutable, and unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --- latency ----------------------------------------------------------------------------------


class Spike(Profile):
    p: float = Field(ge=0, le=1)
    """Probability that a request gets the extra latency."""
    extra: float = Field(ge=0)
    """Seconds added when the spike happens."""


class FixedLatency(Profile):
    dist: Literal["fixed"]
    value: float = Field(ge=0)
    """Seconds, every time."""
    spike: Spike | None = None
    """Occasional extra latency on top of the distribution."""


class UniformLatency(Profile):
    dist: Literal["uniform"]
    low: float = Field(ge=0)
    """Shortest latency, in seconds."""
    high: float = Field(ge=0)
    """Longest latency, in seconds."""
    spike: Spike | None = None
    """Occasional extra latency on top of the distribution."""

    @model_validator(mode="after")
    def _ordered(self) -> UniformLatency:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must not be below low ({self.low})")
        return self


class NormalLatency(Profile):
    dist: Literal["normal"]
    mean: float = Field(ge=0)
    """Mean latency in seconds (draws below 0 are clipped to 0)."""
    stddev: float = Field(ge=0)
    """Standard deviation in seconds."""
    spike: Spike | None = None
    """Occasional extra latency on top of the distribution."""


class LognormalLatency(Profile):
    dist: Literal["lognormal"]
    median: float = Field(gt=0)
    """Median latency in seconds (the long tail is what makes lognormal realistic)."""
    sigma: float = Field(ge=0)
    """Spread of the underlying normal; 0.25 is a tight service, 1.0 a wild one."""
    spike: Spike | None = None
    """Occasional extra latency on top of the distribution."""


LatencySpec = Annotated[
    FixedLatency | UniformLatency | NormalLatency | LognormalLatency,
    Field(discriminator="dist"),
]

# --- faults -----------------------------------------------------------------------------------


class Window(Profile):
    start: float = Field(0.0, ge=0)
    """Seconds since the sims started (simulated seconds on the virtual clock), inclusive."""
    end: float | None = Field(None, ge=0)
    """Seconds since the sims started, exclusive; None: until the end of the run."""

    def contains(self, now: float) -> bool:
        return self.start <= now and (self.end is None or now < self.end)


class FaultBase(Profile):
    rate: float = Field(1.0, ge=0, le=1)
    """Probability that the fault fires for a request (inside its window)."""
    window: Window | None = None
    """When the fault is active; None: always."""


class ErrorFault(FaultBase):
    kind: Literal["error"]
    status: int = Field(ge=400, le=599)
    """The HTTP status to answer with."""
    retry_after: float | None = Field(None, ge=0)
    """Send ``Retry-After`` as a number of seconds."""
    retry_after_ms: int | None = Field(None, ge=0)
    """Send ``retry-after-ms`` (milliseconds), as OpenAI does."""
    retry_after_date: int | None = Field(None, ge=0)
    """Send ``Retry-After`` as an HTTP-date this many seconds after the reply's ``Date``."""
    message: str | None = None
    """The error message in the body; None: the service's usual message for the status."""

    @model_validator(mode="after")
    def _one_retry_after(self) -> ErrorFault:
        given = [self.retry_after, self.retry_after_ms, self.retry_after_date]
        if sum(v is not None for v in given) > 1:
            raise ValueError("give at most one of retry_after, retry_after_ms, retry_after_date")
        return self


class HangFault(FaultBase):
    kind: Literal["hang"]


class ResetFault(FaultBase):
    kind: Literal["reset"]
    phase: Literal["before", "after"] = "before"
    """``before``: dropped before any work; ``after``: the work is done, the answer is lost."""


class MalformedFault(FaultBase):
    kind: Literal["malformed"]
    mode: Literal["truncated", "wrong_types", "fenced"] = "truncated"
    """How the JSON is broken: cut in half, values of the wrong type, or wrapped in a
    Markdown ```json fence. For the LLM it is the message content that breaks."""


class DriftFault(FaultBase):
    kind: Literal["drift"]
    rename: dict[str, str] = Field(default_factory=dict)
    """Field renames (old: new), top level and one level down."""
    drop: list[str] = Field(default_factory=list)
    """Fields removed, top level and one level down."""


class SpikeFault(FaultBase):
    kind: Literal["spike"]
    extra: float = Field(ge=0)
    """Seconds of extra latency."""


class InjectFault(FaultBase):
    """Prompt injection. On a tool service, the reply carries instructions for the agent:
    ``text`` is appended to the top-level string ``fields`` of its JSON body. On the LLM, the
    model follows such instructions: when ``text`` is in the last user message, it answers
    ``json`` instead of what it would have said (``rate``: how often it falls for it)."""

    kind: Literal["inject"]
    text: str = Field(min_length=1)
    """The injected instruction (tool) or the words that trigger obedience (LLM)."""
    fields: list[str] = Field(default_factory=lambda: ["body"])
    """Tool services: the top-level string fields the text is appended to."""
    json_: Any = Field(None, alias="json")
    """LLM: the answer of a model that obeys; None leaves its answers alone."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


Fault = Annotated[
    ErrorFault | HangFault | ResetFault | MalformedFault | DriftFault | SpikeFault | InjectFault,
    Field(discriminator="kind"),
]

# --- services and scenarios -------------------------------------------------------------------


class RateLimitSpec(Profile):
    rate: float = Field(gt=0)
    """Requests per second the token bucket refills."""
    burst: int = Field(1, ge=1)
    """Bucket size: requests allowed at once after a quiet period."""


class ServiceProfile(Profile):
    latency: LatencySpec | None = None
    """Replaces the sim's baseline latency (for the LLM: its time to first token)."""
    faults: list[Fault] = Field(default_factory=list)
    """Tried in order; the first that fires decides the request."""
    rate_limit: RateLimitSpec | None = None
    """A token bucket; requests beyond it get 429 with an exact Retry-After."""


class Scenario(Profile):
    description: str = ""
    """What goes wrong, in a sentence (shown in the TUI's Chaos screen)."""
    seed: int | None = None
    """Overrides the run's seed when set."""
    services: dict[str, ServiceProfile] = Field(default_factory=dict)
    """Service name → what it does wrong."""


# --- the workspace's sims: section ------------------------------------------------------------


class Choice(Profile):
    weight: float = Field(1.0, gt=0)
    """Relative weight of this answer among the rule's choices."""
    json_: Any = Field(None, alias="json")
    """A JSON answer (sent as the message content, serialised)."""
    text: str | None = None
    """A text answer."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _one_answer(self) -> Choice:
        if ("json_" in self.model_fields_set) == (self.text is not None):
            raise ValueError("give exactly one of 'json' or 'text'")
        return self


class LLMRule(Profile):
    step: str | None = None
    """Answers for this step id (the last segment of the ``x-agentdesk-step`` header)."""
    match: str | None = None
    """A regex searched in the last user message."""
    json_: Any = Field(None, alias="json")
    """A fixed JSON answer."""
    text: str | None = None
    """A fixed text answer."""
    choices: list[Choice] | None = Field(None, min_length=1)
    """Weighted answers, drawn with the request's seeded generator."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _well_formed(self) -> LLMRule:
        if (self.step is None) == (self.match is None):
            raise ValueError("a rule needs exactly one of 'step' or 'match'")
        if self.match is not None:
            _compile(self.match)
        answers = ["json_" in self.model_fields_set, self.text is not None, bool(self.choices)]
        if sum(answers) != 1:
            raise ValueError("a rule needs exactly one of 'json', 'text' or 'choices'")
        return self

    def answers(self) -> list[Choice]:
        """The rule's answers as weighted choices (a fixed answer is one choice)."""
        if self.choices:
            return self.choices
        if self.text is not None:
            return [Choice(text=self.text)]
        return [Choice.model_validate({"json": self.json_})]


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regex {pattern!r}: {exc}") from exc


class LLMSimConfig(Profile):
    ttft: LatencySpec = LognormalLatency(dist="lognormal", median=0.35, sigma=0.25)
    """Time to first token."""
    per_token: float = Field(0.01, ge=0)
    """Seconds per output token, added to the time to first token."""
    wrong_answer_rate: float = Field(0.0, ge=0, le=1)
    """Probability that a JSON answer violates its schema (a required field missing, or a
    value of the wrong type)."""
    usage_skew: float = Field(0.0, ge=-1, le=10)
    """Reported prompt tokens are off by this fraction (0.1: 10 % more than counted)."""
    context_window: int = Field(128_000, ge=1)
    """Prompt tokens a model accepts before ``context_length_exceeded``."""
    context_windows: dict[str, int] = Field(default_factory=dict)
    """Per-model overrides of ``context_window``."""
    rules: list[LLMRule] = Field(default_factory=list)
    """Canned answers, first match wins; without one the sim generates an answer."""


class ToolSimConfig(Profile):
    latency: LatencySpec = FixedLatency(dist="fixed", value=0.05)
    """Baseline latency of every request."""


class SimsConfig(Profile):
    """The ``sims:`` section of agentdesk.yaml: baseline behaviour of each sim."""

    llm: LLMSimConfig = LLMSimConfig()
    """The OpenAI-compatible model sim."""
    crm: ToolSimConfig = ToolSimConfig(latency=FixedLatency(dist="fixed", value=0.08))
    """Tickets, customers, escalations and replies."""
    payments: ToolSimConfig = ToolSimConfig(latency=FixedLatency(dist="fixed", value=0.15))
    """Charges and idempotent refunds."""
    knowledge: ToolSimConfig = ToolSimConfig(latency=FixedLatency(dist="fixed", value=0.05))
    """Search over support articles."""


def validate_sims(raw: Mapping[str, Any] | None) -> SimsConfig:
    """Validate the raw ``sims:`` section; raises ``pydantic.ValidationError`` with locations
    relative to that section (e.g. ``('llm', 'rules', 0, 'match')``)."""
    return SimsConfig.model_validate(dict(raw or {}))


def validate_scenario(raw: Mapping[str, Any]) -> Scenario:
    """Validate a raw scenario file's content; raises ``pydantic.ValidationError``."""
    return Scenario.model_validate(dict(raw))
