"""Import: OTLP JSON as agentdesk, SDKs and collectors write it, and bad files refused."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from agentdesk.engine.events import AnyEvent, AttemptStarted, RunStarted
from agentdesk.incidents.anyvalue import key_values
from agentdesk.incidents.otlp import (
    ImportLimits,
    TraceFileError,
    export_otlp,
    import_otlp,
    otlp_bytes,
)
from agentdesk.incidents.trace import ImportedTrace
from agentdesk.projections.summary import RunSummary
from agentdesk.store.redaction import Redactor
from tests.incidents.support import attributes, protobuf_json, spans_of

TRACE = "5b8efff798038103d269b633813fc60c"
ROOT, CHAT, TRANSPORT, TOOL = (
    "eee19b7ec3c1b174",
    "eee19b7ec3c1b173",
    "eee19b7ec3c1b172",
    "eee19b7ec3c1b171",
)


def _import_bytes(data: bytes, name: str = "trace.json", **limits: int) -> ImportedTrace:
    return import_otlp(io.BytesIO(data), name=name, limits=ImportLimits(**limits))


def _request(*spans: dict[str, Any]) -> dict[str, Any]:
    return {"resourceSpans": [{"scopeSpans": [{"spans": list(spans)}]}]}


def _span(span_id: str, parent: str = "", **fields: Any) -> dict[str, Any]:
    span = {"traceId": TRACE, "spanId": span_id, "name": "s", "kind": 1}
    span.update({"parentSpanId": parent} if parent else {})
    span.update(fields)
    return span


# --- the round trip ---------------------------------------------------------------------------


def test_export_then_import_gives_back_the_same_spans(
    batch: list[AnyEvent], redactor: Redactor
) -> None:
    request = export_otlp(batch, redactor=redactor, epoch_ns=10**18)
    trace = _import_bytes(otlp_bytes(request))
    exported = spans_of(request)
    assert len(trace.spans) == len(exported)
    for span, raw in zip(trace.spans, exported, strict=True):
        assert (span.trace_id, span.span_id, span.parent_id) == (
            raw["traceId"],
            raw["spanId"],
            raw.get("parentSpanId", ""),
        )
        assert (span.name, span.start_ns, span.end_ns) == (
            raw["name"],
            int(raw["startTimeUnixNano"]),
            int(raw["endTimeUnixNano"]),
        )
        assert span.attributes == attributes(raw)
        assert [e.name for e in span.events] == [e["name"] for e in raw.get("events", [])]
        assert span.status == {0: "unset", 1: "ok", 2: "error"}[raw["status"].get("code", 0)]
        assert span.status_message == raw["status"].get("message", "")
        assert span.kind == _expected_kind(attributes(raw), raw)


def _expected_kind(a: dict[str, Any], raw: dict[str, Any]) -> str:
    if "parentSpanId" not in raw:
        return "run"
    if "agentdesk.attempt" not in a:
        return "step"
    return "llm" if "gen_ai.request.model" in a else "tool"


def test_the_genai_values_survive_the_round_trip(storm: list[AnyEvent], redactor: Redactor) -> None:
    request = export_otlp(storm, redactor=redactor)
    trace = _import_bytes(otlp_bytes(request))
    for span in trace.spans:
        a = span.attributes
        if span.kind != "llm":
            assert span.llm is None
            continue
        assert span.llm is not None
        assert span.llm.operation == "chat"
        assert span.llm.provider == a["agentdesk.service"]
        assert span.llm.request_model == a["gen_ai.request.model"]
        assert span.llm.response_model == a.get("gen_ai.response.model")
        assert span.llm.input_tokens == a.get("gen_ai.usage.input_tokens")
        assert span.llm.output_tokens == a.get("gen_ai.usage.output_tokens")
        if "gen_ai.output.messages" in a:
            assert span.llm.output_messages == json.loads(a["gen_ai.output.messages"])
    tools = [s for s in trace.spans if s.kind == "tool"]
    assert tools and all(s.http is not None and s.http.server for s in tools)


def test_totals_agree_with_the_run_summary_of_the_same_events(
    batch: list[AnyEvent], redactor: Redactor
) -> None:
    summary = RunSummary()
    for event in batch:
        summary.apply(event)
    totals = _import_bytes(otlp_bytes(export_otlp(batch, redactor=redactor))).totals()
    assert totals.runs == summary.runs == sum(isinstance(e, RunStarted) for e in batch)
    assert totals.input_tokens == summary.tokens.prompt
    assert totals.output_tokens == summary.tokens.completion
    assert totals.cost_usd == pytest.approx(summary.tokens.usd)
    assert totals.llm_calls == sum(isinstance(e, AttemptStarted) and bool(e.model) for e in batch)
    assert totals.tool_calls == sum(isinstance(e, AttemptStarted) and not e.model for e in batch)


def test_the_tree_walks_parents_before_children(storm: list[AnyEvent], redactor: Redactor) -> None:
    trace = _import_bytes(otlp_bytes(export_otlp(storm, redactor=redactor)))
    seen: set[str] = set()
    for depth, span in trace.walk():
        assert (span.parent_id in seen) == (depth > 0)
        seen.add(span.span_id)
    assert len(seen) == len(trace.spans)


# --- what other writers write -----------------------------------------------------------------


@pytest.mark.parametrize("proto_names", [False, True], ids=["json-names", "proto-names"])
def test_protobufs_own_json_imports_the_same(
    storm: list[AnyEvent], redactor: Redactor, proto_names: bool
) -> None:
    """Base64 ids, enum names (``SPAN_KIND_CLIENT``), and with ``preserving_proto_field_name``
    snake_case fields: what a gateway using protobuf's JSON mapping writes."""
    request = export_otlp(storm, redactor=redactor)
    text = protobuf_json(request, proto_names)
    assert '"SPAN_KIND_CLIENT"' in text
    ours = _import_bytes(otlp_bytes(request))
    theirs = _import_bytes(text.encode())
    assert theirs.spans == ours.spans


def test_json_lines_as_the_collectors_file_exporter_writes(
    storm: list[AnyEvent], redactor: Redactor
) -> None:
    runs = list(dict.fromkeys(e.run_id for e in storm))
    lines = b"".join(
        otlp_bytes(export_otlp([e for e in storm if e.run_id == run], redactor=redactor))
        for run in runs
    )
    trace = _import_bytes(lines, "traces.jsonl")
    assert len(trace.trace_ids) == len(runs)
    assert len(trace.resources) == len(runs)
    whole = _import_bytes(otlp_bytes(export_otlp(storm, redactor=redactor)))
    assert sorted(s.span_id for s in trace.spans) == sorted(s.span_id for s in whole.spans)


def test_a_trace_from_the_opentelemetry_sdk(tmp_path: Path) -> None:
    """Spans made with the official SDK the way an OpenAI client instrumentation makes them
    (older attribute names, content as indexed attributes), encoded by the SDK's own OTLP
    encoder and written as protobuf JSON."""
    from google.protobuf import json_format
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind, Status, StatusCode

    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("opentelemetry.instrumentation.openai", "0.40.0")
    with tracer.start_as_current_span("handle ticket", attributes={"ticket.id": "T-7"}):
        chat = {
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "gen_ai.usage.prompt_tokens": 31,
            "gen_ai.usage.completion_tokens": 12,
            "gen_ai.prompt.0.role": "user",
            "gen_ai.prompt.0.content": "Where is my parcel?",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": "It ships today.",
            "llm.is_streaming": False,
        }
        with tracer.start_as_current_span("openai.chat", kind=SpanKind.CLIENT, attributes=chat):
            http = {"http.method": "POST", "http.url": "https://api.openai.com/v1/chat/completions"}
            with tracer.start_as_current_span("POST", kind=SpanKind.CLIENT, attributes=http):
                pass
        tool = {"http.request.method": "GET", "url.full": "https://crm.internal/tickets/T-7"}
        with tracer.start_as_current_span("GET", kind=SpanKind.CLIENT, attributes=tool) as span:
            span.set_attribute("http.response.status_code", 503)
            span.set_attribute("error.type", "503")
            span.add_event("retry", {"attempt": 2})
            span.set_status(Status(StatusCode.ERROR, "Service Unavailable"))
    provider.shutdown()
    message = encode_spans(exporter.get_finished_spans())
    path = tmp_path / "sdk.json"
    path.write_text(json_format.MessageToJson(message))

    trace = import_otlp(path)
    by_name = {span.name: span for span in trace.spans}
    assert {name: span.kind for name, span in by_name.items()} == {
        "handle ticket": "run",
        "openai.chat": "llm",
        "POST": "step",  # the HTTP request that carries the model call, not a tool call
        "GET": "tool",
    }
    llm = by_name["openai.chat"].llm
    assert llm is not None
    assert (llm.provider, llm.request_model, llm.model) == (
        "openai",
        "gpt-4o-mini",
        "gpt-4o-mini-2024-07-18",
    )
    assert (llm.input_tokens, llm.output_tokens) == (31, 12)
    assert llm.input_messages == [{"role": "user", "content": "Where is my parcel?"}]
    assert llm.output_messages == [{"role": "assistant", "content": "It ships today."}]
    assert by_name["openai.chat"].attributes["llm.is_streaming"] is False  # unknown: kept
    assert by_name["handle ticket"].attributes == {"ticket.id": "T-7"}
    get = by_name["GET"]
    assert get.http is not None
    assert (get.http.url, get.http.status_code, get.http.error_type) == (
        "https://crm.internal/tickets/T-7",
        503,
        "503",
    )
    assert (get.status, get.status_message) == ("error", "Service Unavailable")
    assert [(e.name, e.attributes) for e in get.events] == [("retry", {"attempt": 2})]
    assert trace.resources[0]["service.name"] == "support-bot"
    assert {s.scope for s in trace.spans} == {"opentelemetry.instrumentation.openai"}
    totals = trace.totals()
    assert (totals.runs, totals.llm_calls, totals.tool_calls, totals.failed_calls) == (1, 1, 1, 1)


def test_current_genai_content_and_content_events() -> None:
    """Messages as the current conventions put them (structured or as JSON text), and as the
    1.26 conventions' ``gen_ai.content.*`` span events did."""
    messages = [{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]
    current = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.input.messages": messages,
        "gen_ai.output.messages": json.dumps(messages),
        "gen_ai.usage.input_tokens": 3,
    }
    older = {"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4"}
    events = [
        {"name": "gen_ai.content.prompt", "attributes": key_values({"gen_ai.prompt": "hello"})},
        {
            "name": "gen_ai.content.completion",
            "attributes": key_values({"gen_ai.completion": "hey"}),
        },
    ]
    request = _request(
        _span(ROOT),
        _span(CHAT, ROOT, attributes=key_values(current)),
        _span(TOOL, ROOT, attributes=key_values(older), events=events),
    )
    spans = {s.span_id: s for s in _import_bytes(json.dumps(request).encode()).spans}
    chat, older = spans[CHAT].llm, spans[TOOL].llm
    assert chat is not None and older is not None
    assert chat.input_messages == chat.output_messages == messages
    assert (chat.provider, chat.input_tokens, chat.output_tokens) == ("anthropic", 3, None)
    assert (older.input_messages, older.output_messages) == ("hello", "hey")


def test_an_orphan_is_a_root_and_an_all_zero_parent_means_none() -> None:
    request = _request(
        _span(ROOT, "AAAAAAAAAAA="),
        _span(CHAT, "0123456789abcdef"),
    )
    trace = _import_bytes(json.dumps(request).encode())
    assert [(s.parent_id, s.kind) for s in trace.spans] == [
        ("", "run"),
        ("0123456789abcdef", "run"),
    ]
    assert trace.roots() == list(trace.spans)


def test_a_byte_order_mark_is_allowed() -> None:
    trace = _import_bytes(b"\xef\xbb\xbf" + json.dumps(_request(_span(ROOT))).encode())
    assert [s.span_id for s in trace.spans] == [ROOT]


# --- streaming --------------------------------------------------------------------------------


class _LinesOnly(io.BytesIO):
    """A file that may be read line by line but never whole; it remembers its largest read."""

    largest = 0

    def read(self, size: int | None = -1) -> bytes:
        raise AssertionError("the importer read the whole file")

    def readline(self, size: int | None = -1) -> bytes:
        line = super().readline(size)
        self.largest = max(self.largest, len(line))
        return line


def test_a_file_is_streamed_never_read_whole(storm: list[AnyEvent], redactor: Redactor) -> None:
    text = json.dumps(export_otlp(storm, redactor=redactor), indent=1).encode()
    stream = _LinesOnly(text)
    trace = import_otlp(stream, name="big.json")
    assert len(trace.spans) > 100
    assert stream.largest <= max(len(line) for line in text.splitlines(keepends=True))
    one_line = _LinesOnly(otlp_bytes(export_otlp(storm, redactor=redactor)))
    import_otlp(one_line, name="big.json")
    assert one_line.largest <= 64 * 1024 < len(one_line.getvalue())


# --- bad files --------------------------------------------------------------------------------


def _deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"stringValue": "bottom"}
    for _ in range(levels):
        value = {"arrayValue": {"values": [value]}}
    return value


_GOOD = _span(ROOT)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "trace.json: nothing to import: it holds no JSON"),
        ("{}", "trace.json:1: $: no resourceSpans: not an OTLP trace export"),
        ("[1, 2]", "trace.json:1: $: expected an object (an OTLP ExportTraceServiceRequest)"),
        ('{"resourceLogs": []}', "trace.json:1: resourceLogs: this is OTLP logs, not traces"),
        ('{"resourceSpans": {}}', "trace.json:1: resourceSpans: expected a list, found an object"),
        (
            '{"resourceSpans": [{"scopeSpans": [{"spans": []}]}]}',
            "trace.json: nothing to import: it holds no spans",
        ),
        (
            '{\n"resourceSpans": [\n{"scopeSpans": [{"spans": [\n' + json.dumps(_GOOD) + ",\n tru",
            "trace.json:5: not valid JSON (lexical error: invalid string in json text.)",
        ),
        (
            '{"resourceSpans": [\n{"scopeSpans": [{"spans": [\n' + json.dumps(_GOOD)[:40],
            "trace.json:3: the file ends in the middle of a JSON value (truncated?)",
        ),
        (
            json.dumps(_request(_GOOD, _span("xyz", ROOT)), indent=1),
            "trace.json:13: resourceSpans[0].scopeSpans[0].spans[1].spanId: 'xyz' is not a "
            "8-byte id in hex or base64",
        ),
        (
            json.dumps(_request({"spanId": ROOT})),
            "trace.json:1: resourceSpans[0].scopeSpans[0].spans[0].traceId: missing",
        ),
        (
            json.dumps(_request(_span(ROOT, traceId="0" * 32))),
            "trace.json:1: resourceSpans[0].scopeSpans[0].spans[0].traceId: an all-zero id is "
            "not a valid id",
        ),
        (
            json.dumps(_request(_span(ROOT, kind=9))),
            "trace.json:1: resourceSpans[0].scopeSpans[0].spans[0].kind: 9 is not a span kind",
        ),
        (
            json.dumps(_request(_span(ROOT, startTimeUnixNano="soon"))),
            "trace.json:1: resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano: expected "
            "an integer, found 'soon'",
        ),
        (
            json.dumps(
                _request(_span(ROOT, attributes=[{"key": "n", "value": {"intValue": "x"}}]))
            ),
            "trace.json:1: resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value.intValue: "
            "expected an integer, found 'x'",
        ),
        (
            json.dumps(_request(_span(ROOT, attributes=[{"key": "deep", "value": _deep(40)}]))),
            "values nested more than 32 deep",
        ),
    ],
    ids=[
        "empty",
        "no-resource-spans",
        "not-an-object",
        "logs",
        "resource-spans-not-a-list",
        "no-spans",
        "invalid-json",
        "truncated",
        "bad-span-id",
        "missing-trace-id",
        "zero-trace-id",
        "bad-kind",
        "bad-time",
        "bad-attribute",
        "too-deep",
    ],
)
def test_a_bad_file_is_refused_with_where_and_what(text: str, message: str) -> None:
    with pytest.raises(TraceFileError) as caught:
        _import_bytes(text.encode())
    assert message in str(caught.value)
    assert caught.value.exit_code == 2


def test_a_bad_line_in_json_lines_is_named_by_its_line(
    storm: list[AnyEvent], redactor: Redactor
) -> None:
    line = otlp_bytes(export_otlp(storm[:30], redactor=redactor))
    with pytest.raises(TraceFileError, match=r"^traces\.jsonl:3: the file ends"):
        _import_bytes(line + line + line[: len(line) // 2], "traces.jsonl")


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(_request(*[_span(f"{i + 1:016x}") for i in range(50)])))
    with pytest.raises(
        TraceFileError,
        match=r"huge\.json: it is 5,200 bytes, over the import limit of 1,000 bytes",
    ):
        import_otlp(path, limits=ImportLimits(max_bytes=1000))
    with pytest.raises(TraceFileError, match=r"huge\.json:1: .*spans\[10\]: more than 10 spans"):
        import_otlp(path, limits=ImportLimits(max_spans=10))
    assert len(import_otlp(path).spans) == 50


def test_a_stream_without_a_size_stops_at_the_limit() -> None:
    data = json.dumps(_request(*[_span(f"{i + 1:016x}") for i in range(50)]), indent=1).encode()
    with pytest.raises(
        TraceFileError, match=r"^pipe:\d+: it goes on past the limit of 2,000 bytes"
    ):
        import_otlp(
            io.BufferedReader(io.BytesIO(data)), name="pipe", limits=ImportLimits(max_bytes=2000)
        )


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(TraceFileError, match=r"nope\.json: cannot read it: No such file"):
        import_otlp(tmp_path / "nope.json")
