"""OTLP JSON files → ``ImportedTrace``, streamed, with errors that say where.

Two shapes are read, told apart by nothing but their content:

- one ``ExportTraceServiceRequest`` object (what an SDK's JSON exporter or agentdesk's own
  export writes, indented or not);
- JSON Lines of them (what the OpenTelemetry Collector's file exporter writes: one request
  per line) — or any sequence of requests one after another.

The file is parsed as a stream of JSON tokens (``ijson`` over yajl), fed one line at a time,
so memory holds the spans read so far and never the text; a span is built as an object only
when its closing brace arrives. Feeding by line is also what makes errors exact: every error
names the file, the line and the JSON path (``resourceSpans[0].scopeSpans[1].spans[7].spanId``)
of what is wrong, and raises before anything is returned — a bad file imports nothing.

Files are read as protobuf's parser reads them — field names in camelCase or snake_case, enums
as numbers or names, 64-bit integers as strings or numbers — with two OTLP rules on top: ids
may be hex (the OTLP spec) or base64 (protobuf's mapping), and unknown fields are ignored while
unknown *attributes* are kept. ``huge`` is configurable: by default more than 1 GiB or a
million spans is refused before memory runs out.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any, cast

import ijson  # type: ignore[import-untyped]

from agentdesk.errors import AgentdeskError
from agentdesk.incidents import semconv as sc
from agentdesk.incidents.anyvalue import BadValue, kind_of, read_attributes, read_int
from agentdesk.incidents.ids import SPAN_ID_BYTES, TRACE_ID_BYTES, parse_id
from agentdesk.incidents.trace import (
    OTEL_KINDS,
    HttpCall,
    ImportedTrace,
    LlmCall,
    OtelKind,
    SpanEvent,
    SpanKind,
    SpanStatus,
    TraceSpan,
)

GIB = 1 << 30
_BOM = b"\xef\xbb\xbf"


class TraceFileError(AgentdeskError):
    """A trace file that cannot be imported; the message names the file, line and JSON path."""

    exit_code = 2

    def __init__(self, file: str, line: int, path: str, message: str) -> None:
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {path}: {message}" if path else f"{where}: {message}")
        self.file, self.line, self.path, self.message = file, line, path, message


@dataclass(frozen=True)
class ImportLimits:
    """Past these a file is "huge": refused with a clear error, not read until memory runs out."""

    max_bytes: int = GIB
    max_spans: int = 1_000_000


def import_otlp(
    source: str | os.PathLike[str] | IO[bytes],
    *,
    name: str | None = None,
    limits: ImportLimits | None = None,
) -> ImportedTrace:
    """Read an OTLP JSON trace file (one request or JSON Lines of them); ``name`` is what
    errors call a stream (a path names itself)."""
    limits = limits or ImportLimits()
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        label = name or str(path)
        try:
            with path.open("rb") as stream:
                return _read(stream, label, limits)
        except OSError as exc:
            raise TraceFileError(label, 0, "", f"cannot read it: {exc.strerror or exc}") from exc
    return _read(source, name or getattr(source, "name", None) or "<stream>", limits)


def _read(stream: IO[bytes], label: str, limits: ImportLimits) -> ImportedTrace:
    size = _size(stream)
    if size is not None and size > limits.max_bytes:
        raise TraceFileError(label, 0, "", _too_big(size, limits))
    feed = _LineFeed(stream, label, limits)
    reader = _Reader(feed, limits)
    try:
        reader.read(ijson.basic_parse(feed, multiple_values=True, use_float=True))
    except ijson.JSONError as exc:
        if feed.blank:
            raise TraceFileError(label, 0, "", "nothing to import: it holds no JSON") from exc
        raise TraceFileError(label, feed.line, "", _json_problem(exc)) from exc
    except BadValue as exc:
        raise TraceFileError(label, feed.line, exc.path, exc.message) from exc
    if not reader.spans:
        where = "it holds no JSON" if not reader.documents else "it holds no spans"
        raise TraceFileError(label, 0, "", f"nothing to import: {where}")
    return ImportedTrace(label, _with_kinds(reader.spans), tuple(reader.resources))


def _size(stream: IO[bytes]) -> int | None:
    try:
        return os.fstat(stream.fileno()).st_size
    except (OSError, AttributeError, ValueError):
        return None


def _too_big(size: int, limits: ImportLimits) -> str:
    return f"it is {_bytes(size)}, over the import limit of {_bytes(limits.max_bytes)}"


def _bytes(size: int) -> str:
    if size < 1 << 20:
        return f"{size:,} bytes"
    return f"{size / (1 << 20):,.1f} MiB" if size < GIB else f"{size / GIB:,.1f} GiB"


def _json_problem(exc: Exception) -> str:
    """yajl's message, on one line; a file cut short says so in words."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "premature EOF" in first:
        return "the file ends in the middle of a JSON value (truncated?)"
    return f"not valid JSON ({first})"


class _LineFeed:
    """The file for ijson, one line per read, counting lines and refusing to pass the limit."""

    def __init__(self, stream: IO[bytes], label: str, limits: ImportLimits) -> None:
        self.stream, self.label, self.limits = stream, label, limits
        self.line = 0
        self.offset = 0
        self._at_line_start = True
        self.blank = True
        """Nothing but white space so far."""

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson's probe for bytes or text: must not consume anything
            return b""
        chunk = self.stream.readline(size)
        if self.offset == 0 and chunk.startswith(_BOM):  # Windows editors write one
            self.offset, chunk = len(_BOM), chunk[len(_BOM) :]
        if chunk and self._at_line_start:
            self.line += 1
        self._at_line_start = chunk.endswith(b"\n")
        self.blank = self.blank and not chunk.strip()
        self.offset += len(chunk)
        if self.offset > self.limits.max_bytes:
            limit = _bytes(self.limits.max_bytes)
            raise TraceFileError(self.label, self.line, "", f"it goes on past the limit of {limit}")
        return chunk


# --- walking the token stream -----------------------------------------------------------------

Token = tuple[str, Any]
_CONTAINER_START = frozenset({"start_map", "start_array"})
_CONTAINER_END = frozenset({"end_map", "end_array"})
_RESOURCE_SPANS = ("resourceSpans", "resource_spans")
_SCOPE_SPANS = (
    "scopeSpans",
    "scope_spans",
    "instrumentationLibrarySpans",
    "instrumentation_library_spans",
)
_SCOPE = ("scope", "instrumentationLibrary", "instrumentation_library")
_OTHER_SIGNALS = {
    "resourceLogs": "logs",
    "resource_logs": "logs",
    "resourceMetrics": "metrics",
    "resource_metrics": "metrics",
    "resourceProfiles": "profiles",
}


class _Reader:
    """Walks ExportTraceServiceRequest → resourceSpans → scopeSpans → spans, building one
    span at a time; everything else (unknown fields, schema URLs, dropped counts) is skipped."""

    def __init__(self, feed: _LineFeed, limits: ImportLimits) -> None:
        self.feed = feed
        self.limits = limits
        self.spans: list[TraceSpan] = []
        self.resources: list[dict[str, Any]] = []
        self.documents = 0
        self._tokens: Iterator[Token] = iter(())

    def read(self, tokens: Iterator[Token]) -> None:
        self._tokens = tokens
        for event, _ in tokens:
            self.documents += 1
            if event != "start_map":
                raise BadValue("$", "expected an object (an OTLP ExportTraceServiceRequest)")
            self._request()

    def _next(self) -> Token:
        return next(self._tokens)

    def _fields(self) -> Iterator[str]:
        """The keys of the object just opened; the caller reads or skips each value."""
        while True:
            event, value = self._next()
            if event == "end_map":
                return
            yield value

    def _items(self, path: str, read_item: Callable[[str, Token], None]) -> None:
        """Reads a list, handing each item's path and first token to ``read_item``."""
        event, value = self._next()
        if event != "start_array":
            raise BadValue(path, f"expected a list, found {_token_kind(event, value)}")
        index = 0
        while (token := self._next())[0] != "end_array":
            read_item(f"{path}[{index}]", token)
            index += 1

    def _request(self) -> None:
        found = False
        for key in self._fields():
            if key in _RESOURCE_SPANS:
                found = True
                self._items(key, self._resource_spans)
            elif key in _OTHER_SIGNALS:
                raise BadValue(key, f"this is OTLP {_OTHER_SIGNALS[key]}, not traces")
            else:
                self._skip(self._next()[0])
        if not found:
            raise BadValue("$", "no resourceSpans: not an OTLP trace export")

    def _resource_spans(self, path: str, token: Token) -> None:
        _expect_object(path, token)
        resource = len(self.resources)
        self.resources.append({})
        for key in self._fields():
            if key == "resource":
                raw = self._value(f"{path}.resource")
                self.resources[resource] = _resource(raw, f"{path}.resource")
            elif key in _SCOPE_SPANS:
                where = f"{path}.{key}"
                self._items(where, lambda p, t: self._scope_spans(p, t, resource))
            else:
                self._skip(self._next()[0])

    def _scope_spans(self, path: str, token: Token, resource: int) -> None:
        _expect_object(path, token)
        first, scope = len(self.spans), None
        for key in self._fields():
            if key in _SCOPE:
                scope = _scope_name(self._value(f"{path}.{key}"), f"{path}.{key}")
            elif key == "spans":
                read = functools.partial(self._span, resource=resource, scope=scope)
                self._items(f"{path}.spans", read)
            else:
                self._skip(self._next()[0])
        if scope:  # the scope came after its spans: name them now
            for index in range(first, len(self.spans)):
                if not self.spans[index].scope:
                    self.spans[index] = replace(self.spans[index], scope=scope)

    def _span(self, path: str, token: Token, resource: int, scope: str | None) -> None:
        if len(self.spans) >= self.limits.max_spans:
            raise BadValue(path, f"more than {self.limits.max_spans:,} spans: over the limit")
        start = self.feed.line
        raw = self._build(token)
        try:
            if not isinstance(raw, dict):
                raise BadValue(path, f"expected a span object, found {kind_of(raw)}")
            self.spans.append(read_span(raw, path, resource, scope or ""))
        except BadValue as exc:  # the whole span is read by now: point at where it starts
            raise TraceFileError(self.feed.label, start, exc.path, exc.message) from exc

    def _value(self, path: str) -> Any:
        return self._build(self._next())

    def _build(self, token: Token) -> Any:
        """One JSON value from its first token on, as Python objects.

        ijson's own ``ObjectBuilder`` does the same at twice the cost: this loop is where an
        import spends most of its time, so it is written flat."""
        event, value = token
        if event not in _CONTAINER_START:
            return value
        root: Any = {} if event == "start_map" else []
        stack, container, key = [root], root, ""
        tokens = self._tokens
        while True:
            event, value = next(tokens)
            if event == "map_key":
                key = value
                continue
            if event in _CONTAINER_END:
                stack.pop()
                if not stack:
                    return root
                container = stack[-1]
                continue
            if event == "start_map":
                value = {}
            elif event == "start_array":
                value = []
            if type(container) is dict:
                container[key] = value
            else:
                container.append(value)
            if event in _CONTAINER_START:
                stack.append(value)
                container = value

    def _skip(self, first_event: str) -> None:
        depth = 1 if first_event in _CONTAINER_START else 0
        while depth:
            event, _ = self._next()
            depth += (event in _CONTAINER_START) - (event in _CONTAINER_END)


def _expect_object(path: str, token: Token) -> None:
    if token[0] != "start_map":
        raise BadValue(path, f"expected an object, found {_token_kind(*token)}")


def _token_kind(event: str, value: Any) -> str:
    names = {"start_map": "an object", "start_array": "a list", "null": "null"}
    return names.get(event) or kind_of(value)


def _resource(raw: Any, path: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise BadValue(path, f"expected an object, found {kind_of(raw)}")
    return read_attributes(raw.get("attributes"), f"{path}.attributes")


def _scope_name(raw: Any, path: str) -> str:
    if not isinstance(raw, dict):
        raise BadValue(path, f"expected an object, found {kind_of(raw)}")
    name = raw.get("name", "")
    if not isinstance(name, str):
        raise BadValue(f"{path}.name", f"expected a string, found {kind_of(name)}")
    return name


# --- one span ---------------------------------------------------------------------------------

_STATUS = {0: "unset", 1: "ok", 2: "error"}
_STATUS_NAMES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
_KIND_NAMES = {f"SPAN_KIND_{k.upper()}": i for i, k in enumerate(OTEL_KINDS)}


def read_span(raw: dict[str, Any], path: str, resource: int = 0, scope: str = "") -> TraceSpan:
    """One OTLP span object, checked; ``kind`` is provisional until its parent is known."""
    attributes = read_attributes(_get(raw, "attributes"), f"{path}.attributes")
    events = _events(_get(raw, "events"), f"{path}.events")
    status, message = _status(_get(raw, "status"), f"{path}.status")
    otel_kind = _otel_kind(_get(raw, "kind"), f"{path}.kind")
    llm = llm_call(attributes, events)
    http = http_call(attributes)
    return TraceSpan(
        trace_id=_id(raw, "traceId", TRACE_ID_BYTES, path, required=True),
        span_id=_id(raw, "spanId", SPAN_ID_BYTES, path, required=True),
        parent_id=_id(raw, "parentSpanId", SPAN_ID_BYTES, path, required=False),
        name=_string(_get(raw, "name"), f"{path}.name"),
        kind=_own_kind(attributes, otel_kind, llm, http),
        otel_kind=otel_kind,
        start_ns=_time(_get(raw, "startTimeUnixNano"), f"{path}.startTimeUnixNano"),
        end_ns=_time(_get(raw, "endTimeUnixNano"), f"{path}.endTimeUnixNano"),
        status=status,
        status_message=message,
        attributes=attributes,
        events=events,
        resource=resource,
        scope=scope,
        llm=llm,
        http=http,
    )


def _get(raw: dict[str, Any], camel: str) -> Any:
    """A field by its JSON name (``startTimeUnixNano``) or proto name (``start_time_unix_nano``)."""
    if camel in raw:
        return raw[camel]
    return raw.get("".join(f"_{c.lower()}" if c.isupper() else c for c in camel))


def _id(raw: dict[str, Any], field: str, size: int, path: str, required: bool) -> str:
    value = _get(raw, field)
    where = f"{path}.{field}"
    if value is None or value == "":
        if required:
            raise BadValue(where, "missing")
        return ""
    if not isinstance(value, str):
        raise BadValue(where, f"expected a string, found {kind_of(value)}")
    parsed = parse_id(value, size)
    if parsed is None:
        raise BadValue(where, f"{value!r:.50} is not a {size}-byte id in hex or base64")
    if required and not parsed:
        raise BadValue(where, "an all-zero id is not a valid id")
    return parsed


def _string(value: Any, path: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadValue(path, f"expected a string, found {kind_of(value)}")
    return value


def _time(value: Any, path: str) -> int:
    if value is None:
        return 0
    nanoseconds = read_int(value, path)
    if nanoseconds < 0:
        raise BadValue(path, f"a time before 1970 ({nanoseconds})")
    return nanoseconds


def _otel_kind(value: Any, path: str) -> OtelKind:
    number = _KIND_NAMES.get(value) if isinstance(value, str) else value
    if number is None:
        return "unspecified"
    if not isinstance(number, int) or isinstance(number, bool) or number not in range(6):
        raise BadValue(path, f"{value!r:.40} is not a span kind")
    return OTEL_KINDS[number]


def _status(value: Any, path: str) -> tuple[SpanStatus, str]:
    if value is None:
        return "unset", ""
    if not isinstance(value, dict):
        raise BadValue(path, f"expected an object, found {kind_of(value)}")
    code = value.get("code", 0)
    number = _STATUS_NAMES.get(code) if isinstance(code, str) else code
    if not isinstance(number, int) or isinstance(number, bool) or number not in _STATUS:
        raise BadValue(f"{path}.code", f"{code!r:.40} is not a status code")
    return cast(SpanStatus, _STATUS[number]), _string(value.get("message"), f"{path}.message")


def _events(value: Any, path: str) -> tuple[SpanEvent, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise BadValue(path, f"expected a list, found {kind_of(value)}")
    return tuple(_event(item, f"{path}[{i}]") for i, item in enumerate(value))


def _event(value: Any, path: str) -> SpanEvent:
    if not isinstance(value, dict):
        raise BadValue(path, f"expected an event object, found {kind_of(value)}")
    return SpanEvent(
        name=_string(_get(value, "name"), f"{path}.name"),
        time_ns=_time(_get(value, "timeUnixNano"), f"{path}.timeUnixNano"),
        attributes=read_attributes(_get(value, "attributes"), f"{path}.attributes"),
    )


# --- what a span is ---------------------------------------------------------------------------


def llm_call(attributes: dict[str, Any], events: tuple[SpanEvent, ...] = ()) -> LlmCall | None:
    """The GenAI view of a span, if it is a model call: an inference operation, or no
    operation but a model or token counts (older instrumentations)."""
    operation = _text(attributes.get(sc.GEN_AI_OPERATION))
    asked = _text(attributes.get(sc.GEN_AI_REQUEST_MODEL))
    answered = _text(attributes.get(sc.GEN_AI_RESPONSE_MODEL))
    input_tokens = _count(attributes, sc.GEN_AI_INPUT_TOKENS, sc.LEGACY_INPUT_TOKENS)
    output_tokens = _count(attributes, sc.GEN_AI_OUTPUT_TOKENS, sc.LEGACY_OUTPUT_TOKENS)
    if operation not in sc.MODEL_OPERATIONS and (
        operation or (asked, answered, input_tokens, output_tokens) == (None,) * 4
    ):
        return None
    found = {**_content_events(events), **attributes}
    return LlmCall(
        operation=operation or sc.CHAT,
        provider=_text(attributes.get(sc.GEN_AI_PROVIDER) or attributes.get(sc.GEN_AI_SYSTEM)),
        request_model=asked,
        response_model=answered,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        input_messages=_content(found, sc.GEN_AI_INPUT_MESSAGES, sc.LEGACY_PROMPT),
        output_messages=_content(found, sc.GEN_AI_OUTPUT_MESSAGES, sc.LEGACY_COMPLETION),
    )


def http_call(attributes: dict[str, Any]) -> HttpCall | None:
    """The HTTP client view of a span (current names first, then the pre-1.21 ones)."""
    method = _text(attributes.get(sc.HTTP_METHOD) or attributes.get(sc.LEGACY_HTTP_METHOD))
    if method is None:
        return None
    url = attributes.get(sc.URL_FULL) or attributes.get(sc.LEGACY_HTTP_URL)
    status = attributes.get(sc.HTTP_STATUS, attributes.get(sc.LEGACY_HTTP_STATUS))
    return HttpCall(
        method=method,
        url=_text(url or attributes.get(sc.URL_PATH) or attributes.get("http.target")) or "",
        server=_text(attributes.get(sc.SERVER_ADDRESS) or attributes.get("net.peer.name")),
        status_code=_whole(status),
        error_type=_text(attributes.get(sc.ERROR_TYPE)),
    )


def _own_kind(
    attributes: dict[str, Any], otel_kind: str, llm: LlmCall | None, http: HttpCall | None
) -> SpanKind:
    """What a span is by its own attributes; ``_with_kinds`` then looks at its parent."""
    if llm is not None:
        return "llm"
    if http is not None:
        return "tool"
    if sc.STEP_PATH in attributes and sc.ATTEMPT not in attributes:
        return "step"
    if attributes.get(sc.GEN_AI_OPERATION) == sc.EXECUTE_TOOL or otel_kind == "client":
        return "tool"
    return "step"


def _with_kinds(spans: list[TraceSpan]) -> tuple[TraceSpan, ...]:
    """Roots become runs (unless they are calls themselves); an HTTP span inside a model call
    is that call's transport, not a tool call."""
    by_id = {span.span_id: span for span in spans}
    out = []
    for span in spans:
        parent = by_id.get(span.parent_id) if span.parent_id else None
        kind = span.kind
        if parent is None and kind == "step":
            kind = "run"
        elif parent is not None and kind == "tool" and parent.kind == "llm":
            kind = "step"
        out.append(span if kind == span.kind else replace(span, kind=kind))
    return tuple(out)


def _content_events(events: tuple[SpanEvent, ...]) -> dict[str, Any]:
    """Content carried by span events: 1.26-style ``gen_ai.content.*`` events, and any event
    with the current message attributes on it."""
    found: dict[str, Any] = {}
    for event in events:
        attribute = sc.CONTENT_EVENTS.get(event.name)
        if attribute is not None and attribute in event.attributes:
            found[attribute] = event.attributes[attribute]
        for key in (sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES):
            if key in event.attributes:
                found[key] = event.attributes[key]
    return found


def _content(attributes: dict[str, Any], current: str, legacy: str) -> Any:
    """Messages from the current attribute, else the legacy one, else OpenLLMetry's indexed
    ``gen_ai.prompt.N.role``/``.content`` — JSON text parsed, anything else as it was."""
    for key in (current, legacy):
        if key in attributes:
            return _maybe_json(attributes[key])
    return _indexed_messages(attributes, legacy + ".") or None


def _indexed_messages(attributes: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    messages: dict[int, dict[str, Any]] = {}
    for key, value in attributes.items():
        index, _, field = key.removeprefix(prefix).partition(".")
        if key.startswith(prefix) and index.isdigit() and field:
            messages.setdefault(int(index), {})[field] = value
    return [messages[i] for i in sorted(messages)]


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _count(attributes: dict[str, Any], *keys: str) -> int | None:
    for key in keys:
        found = _whole(attributes.get(key))
        if found is not None:
            return found
    return None
