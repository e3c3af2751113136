"""Traces of a small fake app, made with the official OpenTelemetry Python SDK and written as
OTLP JSON by the SDK's own protobuf encoder and protobuf's JSON printer (base64 ids, as an
OTLP/JSON exporter that goes through protobuf writes them).

The app answers a question: a chat call (content as the 1.28 conventions' span events), an
HTTP GET to a weather API that answers 503 and then, retried, 200, and a second chat call
(content as the current ``gen_ai.input.messages`` / ``gen_ai.output.messages`` attributes).
Times are set explicitly, so durations are known: 1.2 s, 0.3 s + 0.25 s, 0.8 s.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, set_span_in_context

T0 = 1_763_700_000_000_000_000
"""2025-11-21 04:40 UTC, in Unix nanoseconds."""
MS = 1_000_000
QUESTION = "Should I take an umbrella in Paris tomorrow?"
FIRST_ANSWER = "I will check the forecast for Paris."
SECOND_ANSWER = "Yes: rain is forecast in Paris tomorrow afternoon."
WEATHER_URL = "https://api.weather.example/v1/forecast?city=Paris&days=1"


def _chat_attributes(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.usage.input_tokens": input_tokens,
        "gen_ai.usage.output_tokens": output_tokens,
        "gen_ai.response.finish_reasons": ["stop"],
        "server.address": "api.openai.com",
    }


class FakeApp:
    """Builds spans with explicit times under one root per ``question``."""

    def __init__(self, service: str = "umbrella-bot") -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(resource=Resource.create({"service.name": service}))
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = self.provider.get_tracer("umbrella_bot", "1.0.0")

    def span(
        self,
        name: str,
        parent: Span | None,
        start_ms: int,
        end_ms: int,
        attributes: Mapping[str, Any],
        kind: SpanKind = SpanKind.CLIENT,
        error: str | None = None,
        events: list[tuple[str, dict[str, Any]]] = (),  # type: ignore[assignment]
    ) -> Span:
        context = set_span_in_context(parent) if parent is not None else None
        span = self.tracer.start_span(
            name,
            context=context,
            kind=kind,
            attributes=dict(attributes),
            start_time=T0 + start_ms * MS,
        )
        for event_name, event_attributes in events:
            span.add_event(event_name, event_attributes, timestamp=T0 + start_ms * MS)
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, error))
        span.end(end_time=T0 + end_ms * MS)
        return span

    def question(
        self, at_ms: int = 0, *, content: bool = True, extra: Mapping[str, Any] = {}
    ) -> None:
        root = self.tracer.start_span(
            "answer question",
            kind=SpanKind.SERVER,
            attributes={"app.user_tier": "free"},
            start_time=T0 + at_ms * MS,
        )
        prompt_events = [
            ("gen_ai.system.message", {"content": "You are a weather assistant."}),
            ("gen_ai.user.message", {"content": QUESTION}),
            (
                "gen_ai.choice",
                {"index": 0, "message": json.dumps({"role": "assistant", "content": FIRST_ANSWER})},
            ),
        ]
        self.span(
            "chat gpt-4o-mini",
            root,
            at_ms + 10,
            at_ms + 1210,
            {**_chat_attributes(31, 9), **extra},
            events=prompt_events if content else [],
        )
        weather = {
            "http.request.method": "GET",
            "url.full": WEATHER_URL,
            "server.address": "api.weather.example",
        }
        self.span(
            "GET",
            root,
            at_ms + 1250,
            at_ms + 1550,
            {**weather, "http.response.status_code": 503, "error.type": "503"},
            error="Service Unavailable",
        )
        self.span(
            "GET", root, at_ms + 2050, at_ms + 2300, {**weather, "http.response.status_code": 200}
        )
        second = _chat_attributes(58, 12)
        if content:
            second["gen_ai.input.messages"] = json.dumps(
                [
                    {
                        "role": "system",
                        "parts": [{"type": "text", "content": "You are a weather assistant."}],
                    },
                    {"role": "user", "parts": [{"type": "text", "content": QUESTION}]},
                    {"role": "tool", "parts": [{"type": "text", "content": "rain 80% {pm}"}]},
                ]
            )
            second["gen_ai.output.messages"] = json.dumps(
                [
                    {
                        "role": "assistant",
                        "parts": [{"type": "text", "content": SECOND_ANSWER}],
                        "finish_reason": "stop",
                    }
                ]
            )
        self.span("chat gpt-4o-mini", root, at_ms + 2320, at_ms + 3120, second)
        root.end(end_time=T0 + (at_ms + 3150) * MS)

    def otlp_json(self) -> str:
        """What the SDK recorded, as protobuf writes OTLP JSON (base64 ids)."""
        self.provider.shutdown()
        return json_format.MessageToJson(encode_spans(self.exporter.get_finished_spans()))


def weather_trace(path: Path, *, content: bool = True, hex_ids: bool = False, **extra: Any) -> Path:
    """The fake app's trace of one question, written to ``path``."""
    app = FakeApp()
    app.question(content=content, extra=extra)
    text = app.otlp_json()
    path.write_text(as_hex_ids(text) if hex_ids else text)
    return path


def as_hex_ids(text: str) -> str:
    """The same OTLP JSON with its ids in lowercase hex, as the OTLP specification writes them."""
    request = json.loads(text)
    for resource in request["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                for field in ("traceId", "spanId", "parentSpanId"):
                    if span.get(field):
                        span[field] = base64.b64decode(span[field]).hex()
    return json.dumps(request, indent=2)
