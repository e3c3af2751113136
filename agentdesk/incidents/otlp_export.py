"""Events → OTLP JSON: one or more runs as an ``ExportTraceServiceRequest``.

The span tree is ``projections.spans.SpanTree``'s — run → step → attempt, the same tree the
store and the TUI show — and this module adds what a trace backend needs on top of it:

- **ids**: one trace per run; trace and span ids hashed from agentdesk's derived span ids
  (``ids``), so the same events always export to the same bytes;
- **time**: the event loop's seconds become Unix nanoseconds: loop time ``origin`` (by default
  the earliest event's) is ``epoch_ns``, and the rest keeps its distance from it;
- **attributes**: model attempts follow the GenAI conventions (``chat {model}`` client spans),
  tool attempts the HTTP client conventions, tool steps are GenAI tool executions, and
  agentdesk's own facts travel under ``agentdesk.*`` (``semconv`` names them all);
- **span events**: retries, fallbacks, breaker refusals, validation failures, routes, budget
  stops — every event that explains a step — become span events named ``agentdesk.{type}``
  with their fields as ``agentdesk.{field}`` attributes; breaker transitions go on the run;
- **content**: the run's input and output, each step's output, and a model step's answer as
  ``gen_ai.output.messages`` (``content=False`` leaves all of it out). Prompts are not in the
  event log, so they are not in the export.

Every string that could hold user data passes through the caller's redactor first (the
store's ``Redactor`` fits), so secrets and personal data never reach a file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from agentdesk import __version__
from agentdesk.engine.events import (
    AnyEvent,
    AttemptFinished,
    AttemptStarted,
    BreakerTransition,
    BudgetUpdated,
    Event,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
    TokensCounted,
    UsageMismatch,
)
from agentdesk.incidents import semconv as sc
from agentdesk.incidents.anyvalue import key_values
from agentdesk.incidents.ids import span_id_for, trace_id_for
from agentdesk.projections.spans import Span, SpanTree

SCOPE = "agentdesk"
KIND_INTERNAL, KIND_CLIENT = 1, 3
STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2
_NOT_REDACTED = frozenset({sc.RUN_ID, sc.RELEASE, sc.ARTIFACTS})
"""Ids and content hashes agentdesk derives itself: never user data."""
_ENVELOPE = frozenset({"v", "t", "run_id", "step"})
_encode_json = msgspec.json.Encoder().encode


class Redaction(Protocol):
    """What export needs of a redactor: ``store.redaction.Redactor`` is one."""

    def value(self, value: Any, numbers: bool = True) -> Any: ...


def export_otlp(
    events: Iterable[AnyEvent],
    *,
    redactor: Redaction,
    epoch_ns: int = 0,
    origin: float | None = None,
    content: bool = True,
) -> dict[str, Any]:
    """The runs in ``events`` as one OTLP JSON ``ExportTraceServiceRequest`` (a dict to dump).

    ``epoch_ns`` is the wall-clock time, in Unix nanoseconds, of loop time ``origin``; by
    default the earliest event is put at ``epoch_ns``. A run whose log ends early exports with
    its open spans ended at its last event and their status unset."""
    fold = TraceFold(redactor, content)
    for event in events:
        fold.apply(event)
    clock = _Clock(epoch_ns, (fold.earliest or 0.0) if origin is None else origin)
    spans = [_span_json(span, fold, clock, redactor) for span in fold.tree.spans.values()]
    scope = {"scope": {"name": SCOPE, "version": __version__}, "spans": spans}
    resource = {sc.SERVICE_NAME: SCOPE, sc.SERVICE_VERSION: __version__}
    return {
        "resourceSpans": [{"resource": {"attributes": key_values(resource)}, "scopeSpans": [scope]}]
    }


@dataclass(frozen=True)
class _Clock:
    epoch_ns: int
    origin: float

    def ns(self, t: float) -> str:
        """Proto3 JSON writes 64-bit integers as strings."""
        return str(max(0, self.epoch_ns + round((t - self.origin) * 1e9)))


@dataclass
class _Extra:
    """What a span carries beyond ``SpanTree``'s: attributes, span events, status."""

    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    status_message: str = ""


class TraceFold:
    """Events folded into spans plus everything OTLP can say about each of them."""

    def __init__(self, redactor: Redaction, content: bool = True) -> None:
        self.tree = SpanTree()
        self.redactor = redactor
        self.extra: dict[str, _Extra] = {}
        self.last_t: dict[str, float] = {}
        self.earliest: float | None = None
        self.content = content
        self._last_ok_attempt: dict[str, str] = {}

    def apply(self, event: AnyEvent) -> None:
        self.tree.apply(event)
        self.earliest = event.t if self.earliest is None else min(self.earliest, event.t)
        self.last_t[event.run_id] = max(self.last_t.get(event.run_id, event.t), event.t)
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)
        elif getattr(event, "step", ""):
            self.span_extra(_step_span(event)).events.append(event)
        elif event.run_id:
            self.span_extra(event.run_id).events.append(event)

    def payload(self, value: Any) -> str | None:
        """A run's or step's data as JSON text, redacted as a value (so a card number sent
        as a JSON number is found, and a replacement cannot break the JSON); None without
        content."""
        if not self.content or value is None:
            return None
        return _json_text(self.redactor.value(value))

    def span_extra(self, span_id: str) -> _Extra:
        extra = self.extra.get(span_id)
        if extra is None:
            extra = self.extra[span_id] = _Extra()
        return extra

    def attributes(self, span_id: str) -> dict[str, Any]:
        return self.span_extra(span_id).attributes

    # --- runs ---------------------------------------------------------------------------------

    def run_started(self, e: RunStarted) -> None:
        self.attributes(e.run_id).update(
            {
                sc.RUN_ID: e.run_id,
                sc.PIPELINE: e.pipeline,
                sc.SESSION: e.session,
                sc.SEED: e.seed,
                sc.SCENARIO: e.scenario,
                sc.RELEASE: e.release or None,
                sc.RUN_INPUT: self.payload(e.input),
            }
        )

    def run_finished(self, e: RunFinished) -> None:
        extra = self.span_extra(e.run_id)
        extra.attributes[sc.RUN_STATUS] = e.status
        extra.attributes[sc.STOP_REASON] = e.stop_reason
        extra.attributes[sc.RUN_OUTPUT] = self.payload(e.output)
        extra.status_message = "" if e.status == "ok" else e.stop_reason

    def budget_updated(self, e: BudgetUpdated) -> None:
        if e.scope != "run" or not e.run_id:
            return
        attributes = self.attributes(e.run_id)
        attributes.update({sc.BUDGET_USED + kind: used for kind, used in e.used.items()})
        attributes.update({sc.BUDGET_LIMIT + kind: limit for kind, limit in e.limits.items()})

    def breaker_transition(self, e: BreakerTransition) -> None:
        if e.run_id:
            self.span_extra(e.run_id).events.append(e)

    # --- steps --------------------------------------------------------------------------------

    def step_started(self, e: StepStarted) -> None:
        attributes = self.attributes(_step_span(e))
        attributes.update({sc.RUN_ID: e.run_id, sc.STEP_PATH: e.step, sc.STEP_KIND: e.kind})
        if e.artifacts:
            attributes[sc.ARTIFACTS] = list(e.artifacts)
        if e.kind == "tool":
            attributes.update({sc.GEN_AI_OPERATION: sc.EXECUTE_TOOL, sc.GEN_AI_TOOL_NAME: e.step})

    def step_finished(self, e: StepFinished) -> None:
        extra = self.span_extra(_step_span(e))
        extra.attributes[sc.STEP_STATUS] = e.status
        if e.error:
            extra.attributes[sc.STEP_ERROR] = extra.status_message = e.error
        extra.attributes[sc.STEP_OUTPUT] = self.payload(e.output)
        answered = self._last_ok_attempt.get(_step_span(e))
        if e.kind == "llm" and e.status == "ok" and answered and self.content:
            answer = self.redactor.value(e.output)
            self.attributes(answered)[sc.GEN_AI_OUTPUT_MESSAGES] = _output_messages(answer)

    # --- attempts -----------------------------------------------------------------------------

    def attempt_started(self, e: AttemptStarted) -> None:
        attributes = self.attributes(_attempt_span(e))
        attributes.update(
            {
                sc.RUN_ID: e.run_id,
                sc.STEP_PATH: e.step,
                sc.ATTEMPT: e.attempt,
                sc.SERVICE: e.service,
                sc.TARGET: e.target,
                sc.TIMEOUT: e.timeout,
                sc.SERVER_ADDRESS: e.service,
            }
        )
        if e.model:
            attributes.update(_model_call(e.service, e.model))
        else:
            method, _, path = e.target.partition(" ")
            attributes.update({sc.HTTP_METHOD: method, sc.URL_PATH: path or None})

    def attempt_finished(self, e: AttemptFinished) -> None:
        span_id = _attempt_span(e)
        extra = self.span_extra(span_id)
        extra.attributes[sc.HTTP_STATUS] = e.status_code
        if e.model:
            extra.attributes[sc.GEN_AI_RESPONSE_MODEL] = e.model
        if e.outcome == "ok":
            self._last_ok_attempt[_step_span(e)] = span_id
            return
        error_type = str(e.status_code) if e.error_kind == "http_status" else e.error_kind
        extra.attributes.update({sc.ERROR_KIND: e.error_kind, sc.ERROR_TYPE: error_type})
        extra.status_message = e.error or e.error_kind

    def tokens_counted(self, e: TokensCounted) -> None:
        self.attributes(_attempt_span(e)).update(
            {
                sc.GEN_AI_INPUT_TOKENS: e.prompt_tokens,
                sc.GEN_AI_OUTPUT_TOKENS: e.completion_tokens,
                sc.GEN_AI_CACHED_INPUT_TOKENS: e.cached_prompt_tokens or None,
                sc.REPORTED_INPUT_TOKENS: e.reported_prompt_tokens,
                sc.REPORTED_OUTPUT_TOKENS: e.reported_completion_tokens,
                sc.APPROXIMATE: e.approximate or None,
                sc.COST_USD: e.usd,
                sc.UNPRICED: None if e.priced else True,
            }
        )

    def usage_mismatch(self, e: UsageMismatch) -> None:
        self.attributes(_attempt_span(e))[sc.USAGE_MISMATCH] = True


_HANDLERS: dict[type[Event], Callable[[TraceFold, Any], None]] = {
    RunStarted: TraceFold.run_started,
    RunFinished: TraceFold.run_finished,
    BudgetUpdated: TraceFold.budget_updated,
    BreakerTransition: TraceFold.breaker_transition,
    StepStarted: TraceFold.step_started,
    StepFinished: TraceFold.step_finished,
    AttemptStarted: TraceFold.attempt_started,
    AttemptFinished: TraceFold.attempt_finished,
    TokensCounted: TraceFold.tokens_counted,
    UsageMismatch: TraceFold.usage_mismatch,
}


def _step_span(e: Any) -> str:
    return f"{e.run_id}/{e.step}"


def _attempt_span(e: Any) -> str:
    return f"{e.run_id}/{e.step}#{e.attempt}"


def _model_call(service: str, model: str) -> dict[str, Any]:
    """GenAI attributes known when a model attempt starts (what sampling decisions read)."""
    return {
        sc.GEN_AI_OPERATION: sc.CHAT,
        sc.GEN_AI_PROVIDER: service,
        sc.GEN_AI_SYSTEM: service,
        sc.GEN_AI_REQUEST_MODEL: model,
    }


def _output_messages(output: Any) -> str:
    """The step's answer as the conventions' output messages, JSON-encoded (as most backends
    want it). agentdesk does not record the finish reason; an answer that passed the step's
    checks is recorded as ``stop``."""
    text = output if isinstance(output, str) else _json_text(output)
    part = {"type": "text", "content": text}
    return _json_text([{"role": "assistant", "parts": [part], "finish_reason": "stop"}])


def _json_text(value: Any) -> str:
    return _encode_json(value).decode()


# --- one span as OTLP JSON --------------------------------------------------------------------


def _span_json(span: Span, fold: TraceFold, clock: _Clock, redactor: Redaction) -> dict[str, Any]:
    extra = fold.extra.get(span.span_id) or _Extra()
    run_id = span.span_id.split("/", 1)[0].split("#", 1)[0]
    end = fold.last_t.get(run_id, span.start) if span.end is None else span.end
    out: dict[str, Any] = {
        "traceId": trace_id_for(run_id),
        "spanId": span_id_for(span.span_id),
    }
    if span.parent_id:
        out["parentSpanId"] = span_id_for(span.parent_id)
    out.update(
        {
            "name": _span_name(span, extra.attributes),
            "kind": KIND_CLIENT if span.kind == "attempt" else KIND_INTERNAL,
            "startTimeUnixNano": clock.ns(span.start),
            "endTimeUnixNano": clock.ns(end),
            "attributes": key_values(_redacted(extra.attributes, redactor)),
        }
    )
    if extra.events:
        out["events"] = [_event_json(e, clock, redactor) for e in extra.events]
    out["status"] = _status(span, extra, redactor)
    return out


def _span_name(span: Span, attributes: dict[str, Any]) -> str:
    """``chat {model}``, ``{METHOD}`` and ``execute_tool {step}``, as the conventions name
    them; the pipeline for a run and the step path for any other step."""
    if span.kind == "attempt":
        model = attributes.get(sc.GEN_AI_REQUEST_MODEL)
        return f"{sc.CHAT} {model}" if model else str(attributes.get(sc.HTTP_METHOD) or span.name)
    if attributes.get(sc.GEN_AI_OPERATION) == sc.EXECUTE_TOOL:
        return f"{sc.EXECUTE_TOOL} {span.name}"
    return span.name


def _status(span: Span, extra: _Extra, redactor: Redaction) -> dict[str, Any]:
    if span.status == "ok":
        return {"code": STATUS_OK}
    if span.status in ("error", "failed", "stopped"):
        message = redactor.value(extra.status_message, numbers=False)
        return {"code": STATUS_ERROR, "message": message} if message else {"code": STATUS_ERROR}
    return {}


def _event_json(event: Event, clock: _Clock, redactor: Redaction) -> dict[str, Any]:
    fields = msgspec.structs.asdict(event)
    attributes = {
        sc.EVENT_PREFIX + name: _event_value(value)
        for name, value in fields.items()
        if name not in _ENVELOPE
    }
    return {
        "timeUnixNano": clock.ns(event.t),
        "name": sc.EVENT_PREFIX + str(type(event).__struct_config__.tag),
        "attributes": key_values(_redacted(attributes, redactor)),
    }


def _event_value(value: Any) -> Any:
    """Lists of strings stay lists (OTLP arrays); anything shaped like a payload is JSON."""
    if isinstance(value, dict) or (
        isinstance(value, list) and not all(isinstance(v, str) for v in value)
    ):
        return _json_text(value)
    return value


def _redacted(attributes: dict[str, Any], redactor: Redaction) -> dict[str, Any]:
    return {
        key: value if key in _NOT_REDACTED else redactor.value(value, numbers=False)
        for key, value in attributes.items()
    }
