"""An imported trace: spans with parent links, kinds, timing, attributes and status.

This is what an OTLP file becomes, whoever wrote it — agentdesk's own export, an SDK, a
collector — and what incidents and replay read. It keeps everything the file said (every
attribute, known or not; span events; resources), and adds two typed views where a
convention applies: ``llm`` (the GenAI attributes of a model call) and ``http`` (an HTTP client
call). ``kind`` is agentdesk's reading of what a span is:

- ``llm``  a call to a model (a GenAI inference operation, or a requested model);
- ``tool`` a call to a downstream service (an HTTP client span, a GenAI tool execution, or any
  other client span) — but not the HTTP request that carries a model call, which is ``step``;
- ``run``  a root span (no parent, or a parent that is not in the file);
- ``step`` everything in between.

Times are nanoseconds since the Unix epoch, as OTLP has them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

SpanKind = Literal["run", "step", "llm", "tool"]
SpanStatus = Literal["unset", "ok", "error"]
OtelKind = Literal["unspecified", "internal", "server", "client", "producer", "consumer"]
OTEL_KINDS: tuple[OtelKind, ...] = (
    "unspecified",
    "internal",
    "server",
    "client",
    "producer",
    "consumer",
)
"""OTLP's span kinds in the order of their enum numbers."""


@dataclass(frozen=True)
class SpanEvent:
    name: str
    time_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LlmCall:
    """A model call as the GenAI conventions describe it; ``None`` where the span said nothing.

    Content is kept as the span had it: the messages in the conventions' JSON shape (parsed
    when it was a JSON string), or the text of older, flatter forms."""

    operation: str
    provider: str | None = None
    request_model: str | None = None
    response_model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    input_messages: Any = None
    output_messages: Any = None

    @property
    def model(self) -> str | None:
        """The model that answered, else the one asked."""
        return self.response_model or self.request_model


@dataclass(frozen=True)
class HttpCall:
    """An HTTP client call; ``url`` is the full URL, else the path, else empty."""

    method: str
    url: str = ""
    server: str | None = None
    status_code: int | None = None
    error_type: str | None = None


@dataclass(frozen=True)
class TraceSpan:
    trace_id: str
    """32 lowercase hex digits."""
    span_id: str
    """16 lowercase hex digits."""
    parent_id: str
    """The parent's span id, or ``""`` for a root."""
    name: str
    kind: SpanKind
    otel_kind: OtelKind
    start_ns: int
    end_ns: int
    status: SpanStatus = "unset"
    status_message: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    events: tuple[SpanEvent, ...] = ()
    resource: int = 0
    """Index into ``ImportedTrace.resources``."""
    scope: str = ""
    """The instrumentation scope that wrote the span."""
    llm: LlmCall | None = None
    http: HttpCall | None = None

    @property
    def duration(self) -> float:
        """Seconds from start to end."""
        return max(0, self.end_ns - self.start_ns) / 1e9


@dataclass(frozen=True)
class TraceTotals:
    """The numbers ``agentdesk run`` prints about a run, as far as a trace can tell them."""

    traces: int
    spans: int
    runs: int
    """Root spans (a run each in agentdesk's own exports)."""
    llm_calls: int
    tool_calls: int
    failed_calls: int
    """Model and tool calls whose status is an error."""
    input_tokens: int
    output_tokens: int
    cost_usd: float
    """Only what agentdesk's own export recorded (``agentdesk.cost.usd``); others give 0."""
    duration: float
    """Seconds from the first span's start to the last one's end."""
    models: dict[str, int]
    """Model calls by model."""

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class ImportedTrace:
    source: str
    """The file it came from."""
    spans: tuple[TraceSpan, ...]
    """In file order."""
    resources: tuple[dict[str, Any], ...] = ()
    _index: dict[str, TraceSpan] = field(init=False, repr=False, compare=False)
    _children: dict[str, list[TraceSpan]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, TraceSpan] = {}
        children: dict[str, list[TraceSpan]] = {}
        for span in self.spans:
            index[span.span_id] = span
            children.setdefault(span.parent_id, []).append(span)
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_children", children)

    def span(self, span_id: str) -> TraceSpan | None:
        return self._index.get(span_id)

    def children(self, span: TraceSpan) -> list[TraceSpan]:
        return self._children.get(span.span_id, [])

    def roots(self) -> list[TraceSpan]:
        """Spans without a parent in this file, in file order."""
        return [s for s in self.spans if s.parent_id not in self._index]

    def walk(self) -> Iterator[tuple[int, TraceSpan]]:
        """Every span with its depth, parents before children, siblings by start time."""
        stack = [(0, s) for s in reversed(sorted(self.roots(), key=_start))]
        while stack:
            depth, span = stack.pop()
            yield depth, span
            kids = sorted(self.children(span), key=_start)
            stack.extend((depth + 1, kid) for kid in reversed(kids))

    @property
    def trace_ids(self) -> list[str]:
        return list(dict.fromkeys(s.trace_id for s in self.spans))

    def totals(self) -> TraceTotals:
        llm = [s.llm for s in self.spans if s.llm is not None and s.kind == "llm"]
        calls = [s for s in self.spans if s.kind in ("llm", "tool")]
        models = Counter(call.model or "(unknown)" for call in llm)
        return TraceTotals(
            traces=len(self.trace_ids),
            spans=len(self.spans),
            runs=len(self.roots()),
            llm_calls=len(llm),
            tool_calls=sum(s.kind == "tool" for s in self.spans),
            failed_calls=sum(s.status == "error" for s in calls),
            input_tokens=sum(call.input_tokens or 0 for call in llm),
            output_tokens=sum(call.output_tokens or 0 for call in llm),
            cost_usd=round(sum(_cost(s) for s in self.spans if s.kind == "llm"), 10),
            duration=_extent(self.spans),
            models=dict(sorted(models.items())),
        )


def _start(span: TraceSpan) -> int:
    return span.start_ns


def _cost(span: TraceSpan) -> float:
    value = span.attributes.get("agentdesk.cost.usd")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _extent(spans: tuple[TraceSpan, ...]) -> float:
    if not spans:
        return 0.0
    return max(0, max(s.end_ns for s in spans) - min(s.start_ns for s in spans)) / 1e9
