"""Typed, frozen models of the workspace files (see docs/workspace-format.md).

The models only declare shapes and the checks that need nothing but the value itself
(positive numbers, known step kinds, bounded loops). Checks across files (a prompt file that
does not exist, a service the workspace does not declare, a route to an unknown step) live in
``loader``, which knows where each value came from and reports them with file:line:column.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_LOOP_ITERATIONS = 100
"""A loop may run at most this many iterations; anything larger is treated as unbounded."""


class Spec(BaseModel):
    """Base of every spec model: immutable, and unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --- policies ---------------------------------------------------------------------------------


class TimeoutSpec(Spec):
    attempt: float | None = Field(10.0, gt=0)
    """Seconds one attempt may take (one HTTP call, or one model call), on the loop's clock."""
    step: float | None = Field(60.0, gt=0)
    """Seconds the whole step may take, retries and back-off included."""


class BackoffSpec(Spec):
    base: float = Field(0.5, ge=0)
    """Delay before the first retry, in seconds; doubles each retry."""
    cap: float = Field(8.0, ge=0)
    """No back-off delay is longer than this."""
    jitter: Literal["full", "equal", "none"] = "full"
    """``full``: uniform in [0, delay]; ``equal``: delay/2 + uniform in [0, delay/2]."""


class RetrySpec(Spec):
    max_attempts: int = Field(3, ge=1, le=50)
    """Attempts in all, the first one included (1 = never retry)."""
    backoff: BackoffSpec = BackoffSpec()
    retry_after_cap: float = Field(30.0, ge=0)
    """A Retry-After longer than this fails the call with a clear reason instead of waiting."""
    retry_on: list[int] = Field(default_factory=lambda: [408, 409, 429, 500, 502, 503, 504])
    """HTTP statuses treated as transient (all 5xx are transient too)."""


class BreakerSpec(Spec):
    enabled: bool = True
    window: int = Field(20, ge=1)
    """How many of the most recent calls the failure rate is computed over."""
    min_calls: int = Field(5, ge=1)
    """No verdict until the window holds at least this many calls."""
    failure_rate: float = Field(0.5, gt=0, le=1)
    """The breaker opens when failures / calls in the window reach this fraction."""
    cooldown: float = Field(30.0, gt=0)
    """Seconds an open breaker rejects calls before it lets probes through."""
    half_open_probes: int = Field(2, ge=1)
    """Probes admitted while half-open; all must succeed to close again."""
    slow_call: float | None = Field(None, gt=0)
    """Calls slower than this many seconds count as failures (None: never)."""


class PolicySpec(Spec):
    """Resilience policies. Workspace defaults, overridden per pipeline, then per step."""

    timeout: TimeoutSpec = TimeoutSpec()
    retry: RetrySpec = RetrySpec()
    breaker: BreakerSpec = BreakerSpec()
    repair: int = Field(2, ge=0, le=10)
    """How many times an LLM step re-asks with the validation error before failing."""


# --- budgets ----------------------------------------------------------------------------------

BUDGET_KINDS = ("tokens", "usd", "seconds", "steps")


class BudgetSpec(Spec):
    """Limits for one scope (a run, or a session of runs). Unset limits do not apply."""

    tokens: int | None = Field(None, ge=1)
    """Prompt plus completion tokens of every LLM call, as agentdesk counts them."""
    usd: float | None = Field(None, gt=0)
    """Dollars spent on LLM calls, at the model's price."""
    seconds: float | None = Field(None, gt=0)
    """Seconds on the loop's clock (simulated seconds on the virtual clock)."""
    steps: int | None = Field(None, ge=1)
    """Step executions, each loop iteration's and parallel branch's steps included."""

    def limits(self) -> dict[str, float]:
        return {k: v for k in BUDGET_KINDS if (v := getattr(self, k)) is not None}


class BudgetsSpec(Spec):
    """Budgets per run and per session; a pipeline's override the workspace's key by key."""

    run: BudgetSpec = BudgetSpec()
    session: BudgetSpec = BudgetSpec()

    def overridden_by(self, other: BudgetsSpec | None) -> BudgetsSpec:
        """These budgets with every limit ``other`` sets replacing ours."""
        if other is None:
            return self
        merged = self.model_dump()
        for scope, limits in other.model_dump(exclude_unset=True).items():
            merged[scope].update(limits)
        return BudgetsSpec.model_validate(merged)


# --- steps ------------------------------------------------------------------------------------

StepId = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$", max_length=64)]
Next = str
"""A later step's id, or ``end``."""


class StepBase(Spec):
    id: StepId
    description: str = ""
    policies: dict[str, Any] | None = None
    """Overrides of the pipeline's policies for this step (merged key by key)."""
    next: Next | None = None
    """Where to go after this step instead of the next one in the list (``end`` stops)."""
    on_error: Literal["fail", "continue"] | Next = "fail"
    """``fail`` stops the run; ``continue`` goes on with a null output; a step id jumps there."""


class Message(Spec):
    role: Literal["system", "user", "assistant"]
    prompt: str | None = None
    """Path of a template file, relative to the workspace."""
    content: str | None = None
    """Inline template text (instead of ``prompt``)."""

    @model_validator(mode="after")
    def _one_source(self) -> Message:
        if (self.prompt is None) == (self.content is None):
            raise ValueError("a message needs exactly one of 'prompt' (a file) or 'content'")
        return self


class OutputSpec(Spec):
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    """An inline JSON Schema the output must satisfy."""
    schema_file: str | None = None
    """A JSON or YAML file holding the schema, relative to the workspace."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class LLMStep(StepBase):
    kind: Literal["llm"]
    model: str
    fallback: list[str] = Field(default_factory=list)
    """Models to try, in order, when the one before is open, exhausted or too small."""
    prompt: str | None = None
    """Shorthand for a single user message from this template file."""
    messages: list[Message] = Field(default_factory=list)
    output: OutputSpec | None = None
    """Makes the step structured: the answer must be JSON valid against this schema."""
    max_tokens: int = Field(512, ge=1)
    temperature: float = Field(0.0, ge=0, le=2)

    @model_validator(mode="after")
    def _has_prompt(self) -> LLMStep:
        if (self.prompt is None) == (not self.messages):
            raise ValueError("an llm step needs exactly one of 'prompt' or 'messages'")
        return self


class AllowRule(Spec):
    service: str
    methods: list[str] = Field(default_factory=lambda: ["GET", "POST", "PUT", "PATCH", "DELETE"])
    paths: list[str]
    """Glob patterns (``*`` matches within one path segment, ``**`` across segments)."""


class ToolStep(StepBase):
    kind: Literal["tool"]
    service: str
    """A service name from the workspace; may be a template, then ``allow`` must list it."""
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    path: str
    """Template of the request path (``/tickets/{{ input.ticket_id }}``)."""
    query: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    json_: Any = Field(None, alias="json")
    """The request body: strings are templates; ``"{{ expr }}"`` alone keeps the value's type."""
    allow: list[AllowRule] | None = None
    """Least privilege: what this step may call. By default only its own service, method and
    path shape, each ``{{ }}`` placeholder matching exactly one path segment."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class ValidateStep(StepBase):
    kind: Literal["validate"]
    value: str
    """A template expression for what to check (``"{{ steps.triage }}"``)."""
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    schema_file: str | None = None

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Route(Spec):
    when: str
    """A condition over ``input``, ``steps`` and ``loop`` (``steps.triage.confidence < 0.6``)."""
    goto: Next


class RouteStep(StepBase):
    kind: Literal["route"]
    routes: list[Route] = Field(min_length=1)
    default: Next


class ParallelStep(StepBase):
    kind: Literal["parallel"]
    steps: list[AnyStep] = Field(min_length=1)
    """Run concurrently; the step's output maps each child id to its output."""


class LoopStep(StepBase):
    kind: Literal["loop"]
    max_iterations: int | None = None
    """Required: a loop without a bound is rejected."""
    until: str | None = None
    """Stop early once this condition holds after an iteration."""
    steps: list[AnyStep] = Field(min_length=1)

    @model_validator(mode="after")
    def _bounded(self) -> LoopStep:
        if self.max_iterations is None:
            raise ValueError("unbounded loop: set max_iterations (1 to 100)")
        if not 1 <= self.max_iterations <= MAX_LOOP_ITERATIONS:
            raise ValueError(
                f"max_iterations must be between 1 and {MAX_LOOP_ITERATIONS}, "
                f"got {self.max_iterations}"
            )
        return self


AnyStep = Annotated[
    LLMStep | ToolStep | ValidateStep | RouteStep | ParallelStep | LoopStep,
    Field(discriminator="kind"),
]

ParallelStep.model_rebuild()
LoopStep.model_rebuild()


class InputSpec(Spec):
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    example: Any = None
    """The input used when none is given on the command line."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class PipelineSpec(Spec):
    name: str
    description: str = ""
    input: InputSpec = InputSpec()
    policies: dict[str, Any] | None = None
    """Overrides of the workspace's default policies for every step of this pipeline."""
    budgets: BudgetsSpec | None = None
    """Overrides of the workspace's budgets (limits set here replace the workspace's)."""
    steps: list[AnyStep] = Field(min_length=1)


# --- workspace --------------------------------------------------------------------------------


class ServiceSpec(Spec):
    """Where a service name resolves: an in-process sim, or a URL (a served sim or a real API)."""

    sim: str | None = None
    url: str | None = None
    api_key_env: str | None = None
    """Name of the environment variable holding the API key (sent as a Bearer token)."""
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_target(self) -> ServiceSpec:
        if (self.sim is None) == (self.url is None):
            raise ValueError("a service needs exactly one of 'sim' or 'url'")
        return self


class ModelSpec(Spec):
    service: str
    """The OpenAI-compatible service that serves this model."""
    name: str | None = None
    """The model name sent to the service, when it differs from the key."""
    context_window: int = Field(128_000, ge=1)
    max_output_tokens: int = Field(16_384, ge=1)
    input_per_mtok: float | None = Field(None, ge=0)
    """Dollars per million input tokens; with ``output_per_mtok``, replaces genai-prices'."""
    cached_input_per_mtok: float | None = Field(None, ge=0)
    """Dollars per million cached input tokens (default: the input price)."""
    output_per_mtok: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _whole_price(self) -> ModelSpec:
        given = (self.input_per_mtok is None, self.output_per_mtok is None)
        if given[0] != given[1]:
            raise ValueError("a price needs both 'input_per_mtok' and 'output_per_mtok'")
        if self.cached_input_per_mtok is not None and given[0]:
            raise ValueError("'cached_input_per_mtok' needs 'input_per_mtok' and 'output_per_mtok'")
        return self


class StoreSpec(Spec):
    """What the run store keeps out of payloads (secrets are always removed)."""

    redact: list[Literal["email", "phone", "card"]] = ["email", "phone", "card"]
    """Personal data replaced before anything is stored: email addresses, phone numbers, card
    numbers that pass the Luhn check. ``[]`` stores payloads as they are."""
    extra_patterns: list[str] = Field(default_factory=list)
    """More regular expressions (Python syntax) whose matches are replaced by ``[redacted]``."""

    @model_validator(mode="after")
    def _patterns_compile(self) -> StoreSpec:
        import re

        for pattern in self.extra_patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"extra_patterns: {pattern!r} is not a regex: {exc}") from exc
        return self


class WorkspaceSpec(Spec):
    name: str = "workspace"
    seed: int = 42
    scenario: str = "happy"
    services: dict[str, ServiceSpec] = Field(default_factory=dict)
    models: dict[str, ModelSpec] = Field(default_factory=dict)
    policies: PolicySpec = PolicySpec()
    budgets: BudgetsSpec = BudgetsSpec()
    """Default budgets for every pipeline (none by default)."""
    sims: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Baseline behaviour of each sim (latency, LLM rules); validated by the sim itself."""
    store: StoreSpec = StoreSpec()
    """Redaction of what runs record (see docs/workspace-format.md, "Recording")."""
