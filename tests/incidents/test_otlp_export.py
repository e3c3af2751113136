"""Export: recorded runs as OTLP JSON that protobuf accepts and trace backends understand."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import pytest

from agentdesk.engine.events import (
    AnyEvent,
    AttemptFinished,
    AttemptStarted,
    BreakerTransition,
    FallbackTaken,
    RetryScheduled,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
    TokensCounted,
)
from agentdesk.incidents.ids import span_id_for, trace_id_for
from agentdesk.incidents.otlp import export_otlp, otlp_bytes
from agentdesk.projections.spans import SpanTree
from agentdesk.store.redaction import Redactor
from tests.incidents.support import (
    attributes,
    parse_with_protobuf,
    spans_of,
    with_base64_ids,
)

GOLDEN = Path(__file__).parent / "golden"
EPOCH = 1_767_225_600 * 10**9
"""2026-01-01T00:00:00Z in Unix nanoseconds."""


def _by_run_step_attempt(request: dict[str, Any]) -> dict[tuple[str, str, int], dict[str, Any]]:
    found = {}
    for span in spans_of(request):
        a = attributes(span)
        if "agentdesk.attempt" in a:
            found[a["agentdesk.run.id"], a["agentdesk.step.path"], a["agentdesk.attempt"]] = a
    return found


def test_the_export_is_an_export_trace_service_request_protobuf_accepts(
    batch: list[AnyEvent], redactor: Redactor
) -> None:
    """Strict protobuf parsing (no unknown fields), with ids as protobuf's JSON mapping has
    them: 16-byte trace ids, 8-byte span ids, the same ids the JSON carries in hex."""
    request = export_otlp(batch, redactor=redactor, epoch_ns=EPOCH)
    message = parse_with_protobuf(with_base64_ids(request))
    parsed = [s for r in message.resource_spans for ss in r.scope_spans for s in ss.spans]
    ours = spans_of(request)
    assert len(parsed) == len(ours) > 0
    for proto, span in zip(parsed, ours, strict=True):
        assert (len(proto.trace_id), len(proto.span_id)) == (16, 8)
        assert proto.trace_id.hex() == span["traceId"]
        assert proto.span_id.hex() == span["spanId"]
        assert proto.parent_span_id.hex() == span.get("parentSpanId", "")
        assert EPOCH <= proto.start_time_unix_nano <= proto.end_time_unix_nano
        assert proto.kind in (1, 3)  # INTERNAL, CLIENT
    # The hex form itself is schema-valid JSON for protobuf too (field names, types, enums).
    parse_with_protobuf(request)


def test_spans_are_the_span_tree_one_trace_per_run(
    batch: list[AnyEvent], redactor: Redactor
) -> None:
    tree = SpanTree()
    for event in batch:
        tree.apply(event)
    request = export_otlp(batch, redactor=redactor)
    spans = spans_of(request)
    assert [s["spanId"] for s in spans] == [span_id_for(i) for i in tree.spans]
    expected_parents = [
        span_id_for(s.parent_id) if s.parent_id else None for s in tree.spans.values()
    ]
    assert [s.get("parentSpanId") for s in spans] == expected_parents
    runs = {e.run_id for e in batch if isinstance(e, RunStarted)}
    assert {s["traceId"] for s in spans} == {trace_id_for(r) for r in runs}


def test_model_attempts_carry_the_genai_attributes(
    storm: list[AnyEvent], redactor: Redactor
) -> None:
    attempts = _by_run_step_attempt(export_otlp(storm, redactor=redactor))
    billed = [e for e in storm if isinstance(e, TokensCounted)]
    assert billed
    for e in billed:
        a = attempts[e.run_id, e.step, e.attempt]
        assert a["gen_ai.operation.name"] == "chat"
        assert a["gen_ai.request.model"] == a["gen_ai.response.model"] == e.model
        assert a["gen_ai.provider.name"] == a["gen_ai.system"] == a["agentdesk.service"]
        assert a["gen_ai.usage.input_tokens"] == e.prompt_tokens
        assert a["gen_ai.usage.output_tokens"] == e.completion_tokens
        assert a["agentdesk.cost.usd"] == e.usd
    answered = [a for a in attempts.values() if "gen_ai.output.messages" in a]
    (message,) = json.loads(answered[0]["gen_ai.output.messages"])
    assert message["role"] == "assistant"
    assert json.loads(message["parts"][0]["content"])["category"] in ("refund", "shipping")


def test_failed_attempts_say_why_as_error_type_and_status(
    storm: list[AnyEvent], redactor: Redactor
) -> None:
    request = export_otlp(storm, redactor=redactor)
    failed = [e for e in storm if isinstance(e, AttemptFinished) and e.outcome == "error"]
    assert failed
    spans = {
        (a["agentdesk.run.id"], a["agentdesk.step.path"], a["agentdesk.attempt"]): s
        for s in spans_of(request)
        if "agentdesk.attempt" in (a := attributes(s))
    }
    for e in failed:
        span = spans[e.run_id, e.step, e.attempt]
        a = attributes(span)
        assert a["error.type"] == (
            str(e.status_code) if e.error_kind == "http_status" else e.error_kind
        )
        assert span["status"] == {"code": 2, "message": e.error or e.error_kind}
        assert span["name"] == f"chat {a['gen_ai.request.model']}"


def test_tool_calls_carry_the_http_client_attributes(
    storm: list[AnyEvent], redactor: Redactor
) -> None:
    attempts = _by_run_step_attempt(export_otlp(storm, redactor=redactor))
    started = [e for e in storm if isinstance(e, AttemptStarted) and not e.model]
    assert started
    for e in started:
        a = attempts[e.run_id, e.step, e.attempt]
        method, path = e.target.split(" ", 1)
        assert (a["http.request.method"], a["url.path"]) == (method, path)
        assert a["server.address"] == a["agentdesk.service"] == e.service
        assert "gen_ai.operation.name" not in a
    tool_steps = [
        s
        for s in spans_of(export_otlp(storm, redactor=redactor))
        if s["name"].startswith("execute_tool ")
    ]
    assert {attributes(s)["gen_ai.operation.name"] for s in tool_steps} == {"execute_tool"}


def test_retries_fallbacks_and_breaker_transitions_are_span_events(
    storm: list[AnyEvent], redactor: Redactor
) -> None:
    request = export_otlp(storm, redactor=redactor)
    named = Counter(e["name"] for s in spans_of(request) for e in s.get("events", []))
    for kind, tag in (
        (RetryScheduled, "retry_scheduled"),
        (FallbackTaken, "fallback_taken"),
        (BreakerTransition, "breaker_transition"),
    ):
        assert named[f"agentdesk.{tag}"] == sum(isinstance(e, kind) for e in storm) > 0, tag
    retry = next(
        e
        for s in spans_of(request)
        for e in s.get("events", [])
        if e["name"].endswith("retry_scheduled")
    )
    assert {"agentdesk.attempt", "agentdesk.delay", "agentdesk.reason"} <= set(attributes(retry))


def test_runs_and_steps_carry_agentdesks_own_facts(
    storm: list[AnyEvent], redactor: Redactor
) -> None:
    spans = spans_of(export_otlp(storm, redactor=redactor))
    started = next(e for e in storm if isinstance(e, RunStarted))
    finished = next(e for e in storm if isinstance(e, RunFinished) and e.run_id == started.run_id)
    run = attributes(next(s for s in spans if s["spanId"] == span_id_for(started.run_id)))
    assert run["agentdesk.release.id"] == started.release != ""
    assert run["agentdesk.stop_reason"] == finished.stop_reason
    assert json.loads(run["agentdesk.run.input"]) == started.input
    step = next(e for e in storm if isinstance(e, StepStarted) and e.artifacts)
    step_span = next(s for s in spans if s["spanId"] == span_id_for(f"{step.run_id}/{step.step}"))
    assert attributes(step_span)["agentdesk.artifact.ids"] == list(step.artifacts)


def test_loop_time_becomes_unix_nanoseconds_from_the_epoch_given(
    storm: list[AnyEvent], redactor: Redactor
) -> None:
    later = next(e for e in storm if isinstance(e, RunStarted) and e.t > 0)
    request = export_otlp(storm, redactor=redactor, epoch_ns=EPOCH, origin=0.0)
    span = next(s for s in spans_of(request) if s["spanId"] == span_id_for(later.run_id))
    assert span["startTimeUnixNano"] == str(EPOCH + round(later.t * 1e9))
    shifted = export_otlp(storm, redactor=redactor, epoch_ns=EPOCH, origin=later.t)
    span = next(s for s in spans_of(shifted) if s["spanId"] == span_id_for(later.run_id))
    assert span["startTimeUnixNano"] == str(EPOCH)


def test_secrets_and_personal_data_never_reach_the_export(storm: list[AnyEvent]) -> None:
    """A secret the workspace names, a key-shaped string, an email and a card number sent
    as a JSON number, planted in a step's output and an attempt's error."""
    payload = {
        "note": "key sk-live0123456789abcdef, mail ada@example.com",
        "card": 4111111111111111,
    }
    planted = [
        msgspec.structs.replace(e, output=payload)
        if isinstance(e, StepFinished) and e.output is not None
        else msgspec.structs.replace(e, error="refused: token hunter2-workspace-secret")
        if isinstance(e, AttemptFinished) and e.outcome == "error"
        else e
        for e in storm
    ]
    redactor = Redactor(secrets=["hunter2-workspace-secret"])
    text = otlp_bytes(export_otlp(planted, redactor=redactor)).decode()
    for leaked in ("sk-live0123", "ada@example.com", "4111111111111111", "hunter2"):
        assert leaked not in text
    step = next(s for s in spans_of(json.loads(text)) if "agentdesk.step.output" in attributes(s))
    assert json.loads(attributes(step)["agentdesk.step.output"])["card"] == "[redacted:card]"


def test_without_content_no_payload_leaves(storm: list[AnyEvent], redactor: Redactor) -> None:
    spans = spans_of(export_otlp(storm, redactor=redactor, content=False))
    keys = {k for s in spans for k in attributes(s)}
    assert keys.isdisjoint(
        {
            "agentdesk.run.input",
            "agentdesk.run.output",
            "agentdesk.step.output",
            "gen_ai.output.messages",
        }
    )
    assert "gen_ai.usage.input_tokens" in keys


def test_a_run_cut_short_exports_its_open_spans_unfinished(
    storm: list[AnyEvent], redactor: Redactor
) -> None:
    cut = next(i for i, e in enumerate(storm) if isinstance(e, AttemptStarted) and e.model)
    events = storm[: cut + 1]
    spans = spans_of(export_otlp(events, redactor=redactor))
    open_attempt = spans[-1]
    assert open_attempt["name"].startswith("chat ")
    assert open_attempt["status"] == {}
    assert open_attempt["endTimeUnixNano"] == open_attempt["startTimeUnixNano"]
    parse_with_protobuf(with_base64_ids(export_otlp(events, redactor=redactor)))


def test_the_same_events_export_to_the_same_bytes(
    storm: list[AnyEvent], redactor: Redactor
) -> None:
    first = otlp_bytes(export_otlp(storm, redactor=redactor, epoch_ns=EPOCH))
    again = otlp_bytes(export_otlp(list(storm), redactor=Redactor(), epoch_ns=EPOCH))
    assert first == again


def _golden_events() -> list[AnyEvent]:
    """One small run written out by hand: a tool step, and a model step that is retried on a
    429, falls back to another model and is billed — the mapping's every branch, without the
    simulator (so the golden bytes change only when the mapping does)."""
    run = "run-golden"
    return [
        RunStarted(
            t=0.0,
            run_id=run,
            pipeline="greet",
            session=0,
            seed=7,
            scenario="happy",
            input={"name": "Ada"},
            release="r" * 64,
        ),
        StepStarted(t=0.0, run_id=run, step="ticket", kind="tool"),
        AttemptStarted(
            t=0.0,
            run_id=run,
            step="ticket",
            attempt=1,
            service="crm",
            target="GET /tickets/T-1",
            timeout=8.0,
        ),
        AttemptFinished(
            t=0.05,
            run_id=run,
            step="ticket",
            attempt=1,
            service="crm",
            outcome="ok",
            latency=0.05,
            status_code=200,
        ),
        StepFinished(
            t=0.05,
            run_id=run,
            step="ticket",
            kind="tool",
            status="ok",
            duration=0.05,
            output={"subject": "refund"},
        ),
        StepStarted(t=0.05, run_id=run, step="greet", kind="llm", artifacts=("a" * 64,)),
        AttemptStarted(
            t=0.05,
            run_id=run,
            step="greet",
            attempt=1,
            service="llm",
            target="gpt-4o-mini",
            model="gpt-4o-mini",
            timeout=20.0,
        ),
        AttemptFinished(
            t=0.3,
            run_id=run,
            step="greet",
            attempt=1,
            service="llm",
            outcome="error",
            latency=0.25,
            status_code=429,
            error_kind="http_status",
            error="HTTP 429: slow down",
            model="gpt-4o-mini",
        ),
        BreakerTransition(
            t=0.3,
            run_id=run,
            breaker="model:gpt-4o-mini",
            from_state="closed",
            to_state="open",
            failure_rate=1.0,
            calls=1,
            reason="failure rate 1.00",
        ),
        FallbackTaken(
            t=0.3,
            run_id=run,
            step="greet",
            from_model="gpt-4o-mini",
            to_model="gpt-4o",
            reason="breaker_open",
        ),
        AttemptStarted(
            t=0.3,
            run_id=run,
            step="greet",
            attempt=2,
            service="llm",
            target="gpt-4o",
            model="gpt-4o",
            timeout=20.0,
        ),
        AttemptFinished(
            t=0.9,
            run_id=run,
            step="greet",
            attempt=2,
            service="llm",
            outcome="ok",
            latency=0.6,
            status_code=200,
            model="gpt-4o",
        ),
        TokensCounted(
            t=0.9,
            run_id=run,
            step="greet",
            attempt=2,
            model="gpt-4o",
            prompt_tokens=21,
            completion_tokens=9,
            reported_prompt_tokens=21,
            reported_completion_tokens=9,
            usd=0.0001425,
        ),
        StepFinished(
            t=0.9,
            run_id=run,
            step="greet",
            kind="llm",
            status="ok",
            duration=0.85,
            output="Hello Ada.",
        ),
        RunFinished(
            t=0.9,
            run_id=run,
            status="ok",
            stop_reason="completed",
            output="Hello Ada.",
            duration=0.9,
        ),
    ]


def test_the_export_bytes_are_pinned_by_a_golden_file(redactor: Redactor) -> None:
    """Indented here so a change reads as a diff; ``UPDATE_GOLDEN=1`` rewrites it."""
    request = export_otlp(_golden_events(), redactor=redactor, epoch_ns=EPOCH)
    text = json.dumps(request, indent=2, ensure_ascii=False) + "\n"
    golden = GOLDEN / "run.otlp.json"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("content", [True, False])
def test_the_golden_run_is_valid_for_protobuf(content: bool, redactor: Redactor) -> None:
    request = export_otlp(_golden_events(), redactor=redactor, content=content)
    message = parse_with_protobuf(with_base64_ids(request))
    (chat,) = [s for s in message.resource_spans[0].scope_spans[0].spans if s.name == "chat gpt-4o"]
    assert chat.kind == chat.SPAN_KIND_CLIENT
    assert chat.status.code == chat.status.STATUS_CODE_OK
