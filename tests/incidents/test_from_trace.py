"""Traces made into incidents (``incidents.from_trace``): what the spans become, and how the
incident replays. Traces come from the official OpenTelemetry SDK (``sdk_traces.FakeApp``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from opentelemetry.trace import SpanKind, Status, StatusCode

from agentdesk.engine.events import StepFinished
from agentdesk.incidents import from_trace
from agentdesk.incidents.from_trace import TraceIncidentError, incident_from_trace
from agentdesk.incidents.otlp import import_otlp
from agentdesk.incidents.replay import replay_exact
from agentdesk.incidents.whatif import WhatIf, run_what_if
from agentdesk.spec.models import WorkspaceSpec
from agentdesk.store import redactor_for
from tests.incidents.sdk_traces import FakeApp, weather_trace

REDACTOR = redactor_for(WorkspaceSpec(), os.environ)


def _incident(app: FakeApp, tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "trace.json"
    path.write_text(app.otlp_json())
    return incident_from_trace(import_otlp(path), redactor=REDACTOR)


def test_the_weather_trace_becomes_steps_policies_and_a_tape(tmp_path: Path) -> None:
    bundle = incident_from_trace(import_otlp(weather_trace(tmp_path / "t.json")), redactor=REDACTOR)
    workspace = yaml.safe_load(bundle.files["agentdesk.yaml"])
    assert workspace["services"] == {
        "api_weather_example": {"url": "https://api.weather.example"},
        "openai": {"url": "https://api.openai.com/v1"},
    }
    assert workspace["models"]["gpt-4o-mini"]["input_per_mtok"] > 0  # priced by name
    assert workspace["policies"]["breaker"] == {"enabled": False}
    steps = yaml.safe_load(bundle.files[bundle.pipeline])["steps"]
    assert [s["id"] for s in steps] == ["chat", "get_forecast", "chat_2"]
    get = steps[1]
    assert (get["method"], get["path"], get["query"]) == (
        "GET",
        "/v1/forecast",
        {"city": "Paris", "days": "1"},
    )
    assert get["policies"]["retry"] == {
        "max_attempts": 2,
        "backoff": {"base": 0.5, "cap": 0.5, "jitter": "none"},  # the recorded wait
    }
    # the tool message's braces stay text; the second chat's prompt as recorded
    assert steps[2]["messages"][2] == {"role": "user", "content": "rain 80% {pm}"}
    assert [(e.service, e.status, round(e.duration, 6)) for e in bundle.tape] == [
        ("openai", 200, 1.2),
        ("api_weather_example", 503, 0.3),
        ("api_weather_example", 200, 0.25),
        ("openai", 200, 0.8),
    ]
    assert replay_exact(bundle, redactor=REDACTOR).equal


def test_several_roots_are_runs_routed_to_their_own_steps(tmp_path: Path) -> None:
    app = FakeApp()
    app.question(0)
    app.question(10_000)
    bundle = _incident(app, tmp_path)
    steps = yaml.safe_load(bundle.files[bundle.pipeline])["steps"]
    assert steps[0]["kind"] == "route" and steps[0]["routes"][0]["goto"] == "r1_chat"
    assert steps[3] == {**steps[3], "id": "r0_chat_2", "next": "end"}
    assert [r.status for r in bundle.runs] == ["ok", "ok"]
    assert len(bundle.tape) == 8
    assert replay_exact(bundle, redactor=REDACTOR).equal


def test_errors_without_a_status_and_template_text_in_prompts(tmp_path: Path) -> None:
    app = FakeApp()
    root = app.tracer.start_span("job", kind=SpanKind.SERVER, start_time=1_000_000_000)
    chat = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4",
        "gen_ai.input.messages": '[{"role": "user", "content": "say {{ input.x }} {% if %}"}]',
    }
    app.span("chat", root, 0, 2000, chat, error="RateLimitError")
    app.span("chat", root, 2100, 4100, chat, error="APITimeoutError")
    app.span("chat", root, 4200, 5200, {**chat, "gen_ai.usage.output_tokens": 3})
    root.end(end_time=1_000_000_000 + 6_000_000_000)
    bundle = _incident(app, tmp_path)
    steps = yaml.safe_load(bundle.files[bundle.pipeline])["steps"]
    assert len(steps) == 1 and steps[0]["policies"]["retry"]["max_attempts"] == 3
    assert [(e.status, e.error_type) for e in bundle.tape] == [
        (429, ""),  # the SDK's error class, read as the status it means
        (None, "ReadTimeout"),
        (200, ""),
    ]
    events = bundle.decoded_events()
    finished = [e for e in events if isinstance(e, StepFinished)]
    assert finished[0].output == "[completion not recorded in the trace: 3 output tokens]"
    assert b"say {{ input.x }} {% if %}" in bundle.tape[0].request_body.encode()  # type: ignore[union-attr]
    assert replay_exact(bundle, redactor=REDACTOR).equal


def test_more_retries_than_recorded_get_the_last_recorded_answer(tmp_path: Path) -> None:
    app = FakeApp()
    root = app.tracer.start_span("job", kind=SpanKind.SERVER, start_time=1_000_000_000)
    get = {"http.request.method": "GET", "url.full": "https://pay.example/charges/1"}
    app.span("GET", root, 0, 100, {**get, "http.response.status_code": 502}, error="Bad Gateway")
    app.span("GET", root, 600, 700, {**get, "http.response.status_code": 502}, error="Bad Gateway")
    root.set_status(Status(StatusCode.ERROR, "could not charge"))
    root.end(end_time=1_000_000_000 + 1_000_000_000)
    bundle = _incident(app, tmp_path)
    assert bundle.runs[0].stop_reason == "retries_exhausted: get_1"
    result = run_what_if(bundle, WhatIf.parse(["retry.max_attempts=4"]), redactor=REDACTOR)
    assert (result.tape_answered, result.sims_answered) == (2, 2)
    assert result.changed.stop_reasons.most_common(1)[0][0] == "retries_exhausted: get_1"


def test_a_trace_too_big_for_one_incident_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = FakeApp()
    app.question(0)
    app.question(10_000)
    monkeypatch.setattr(from_trace, "MAX_ROOTS", 1)
    with pytest.raises(TraceIncidentError, match=r"2 root spans and 8 calls are more than"):
        _incident(app, tmp_path)
