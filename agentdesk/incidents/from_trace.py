"""An imported OTLP trace made into an incident that replays: workspace, pipeline and tape.

A production trace holds no workspace, no pipeline and no tape — only spans. This module
derives all three from what the spans say, so a trace from any application instrumented with
the GenAI and HTTP client conventions becomes an incident like a recorded one:

- ``plan_trace`` reads the trace. Under each root, the model and tool call spans in causal and
  time order are the calls (a call span holding other call spans — a tool execution around
  its HTTP request — gives way to them); consecutive spans of one call (same parent, same
  request) after a failed one are that call's attempts: its retries.
- ``workspace_files`` writes what agentdesk needs to make those calls: ``agentdesk.yaml`` (a
  service per model provider and per HTTP host, the models with their prices written out,
  policies that let every recorded attempt happen and no more — attempts per call, retries on
  the statuses that were retried, no timeouts, no breaker, no budgets), a pipeline with one
  step per call (several roots: a route on the run's input picks each root's steps), an empty
  scenario, and ``imported/trace.json`` (every span with every attribute, redacted, and the
  step and attempt it became).
- ``TraceAnswers`` answers each request with what its span recorded, after the span's
  duration on the virtual clock: the completion (or a placeholder when the trace kept no
  content) with the recorded token usage, the HTTP status, the error.
- ``incident_from_trace`` runs the pipeline once with those answers behind a tape recorder,
  and keeps the events and the tape as a bundle (``source: otlp``): from then on the incident
  replays from its tape like any other.

What a trace cannot say is not invented: tool response bodies (HTTP spans do not carry them),
the application's own code between calls (each call's prompt is the recorded one, literal),
the retry delays (the engine's backoff waits instead), calls that overlapped (they run one
after another). The bundle's notes say which of these apply.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import httpx
import msgspec
import yaml

from agentdesk.engine.clock import run_virtual
from agentdesk.engine.events import AnyEvent
from agentdesk.errors import AgentdeskError
from agentdesk.incidents import semconv as sc
from agentdesk.incidents.bundle import Bundle
from agentdesk.incidents.record import TapeReel, make_bundle
from agentdesk.incidents.replay import EventRedaction, prepare
from agentdesk.incidents.tape import CREDENTIAL_HEADERS, KEY_HEADER, STEP_HEADER
from agentdesk.incidents.trace import ImportedTrace, TraceSpan
from agentdesk.tokens.prices import PriceBook

SCENARIO = "imported"
SCENARIO_PATH = "scenarios/imported.yaml"
TRACE_PATH = "imported/trace.json"
SEED = 0
MAX_ROOTS = 2_000
MAX_CALLS = 20_000
"""Above these a trace is refused as one incident (a pipeline of that many steps helps no
one); ``incidents import --dry-run`` still summarises it."""
DEFAULT_RETRY_ON = (408, 409, 429, 500, 502, 503, 504)
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_STATUS_OF_ERROR = {
    "badrequesterror": 400,
    "authenticationerror": 401,
    "permissiondeniederror": 403,
    "notfounderror": 404,
    "conflicterror": 409,
    "unprocessableentityerror": 422,
    "ratelimiterror": 429,
    "internalservererror": 500,
    "serviceunavailableerror": 503,
    "overloadederror": 529,
}
"""Error class names of the common provider SDKs (OpenAI, Anthropic) → the status they mean."""
_SECRET_KEYS = re.compile(r"(api[_-]?key|password|secret|passwd)$", re.IGNORECASE)


class TraceIncidentError(AgentdeskError):
    """A trace that cannot become an incident (nothing to replay); exit code 2."""

    exit_code = 2


@dataclass
class Call:
    """One logical call of a run: a pipeline step, with its recorded attempts."""

    step: str
    kind: Literal["llm", "tool"]
    service: str
    attempts: list[TraceSpan]
    model: str = ""
    """The workspace's model key (llm)."""
    messages: list[dict[str, str]] = field(default_factory=list)
    """The prompt as recorded, redacted (llm)."""
    method: str = "GET"
    path: str = "/"
    query: list[tuple[str, str]] = field(default_factory=list)
    continue_on_error: bool = False

    @property
    def failed(self) -> bool:
        return failed(self.attempts[-1])


@dataclass
class RunPlan:
    """One root span of the trace: one run."""

    root: TraceSpan
    calls: list[Call]


@dataclass
class TracePlan:
    """What a trace becomes: runs of calls, and the services and models they need."""

    name: str
    runs: list[RunPlan]
    services: dict[str, str] = field(default_factory=dict)
    """Service name → its URL (never called: the tape answers)."""
    models: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Model key → (service, model name sent)."""
    notes: list[str] = field(default_factory=list)

    @property
    def pipeline_path(self) -> str:
        return f"pipelines/{self.name}.yaml"

    def calls(self) -> dict[str, Call]:
        return {call.step: call for run in self.runs for call in run.calls}


# --- reading the trace ------------------------------------------------------------------------


def failed(span: TraceSpan) -> bool:
    code = status_code(span)
    return span.status == "error" or (code is not None and code >= 400)


def status_code(span: TraceSpan) -> int | None:
    """The HTTP status the span recorded (``error.type`` may be one, as the conventions say)."""
    if span.http is not None and span.http.status_code is not None:
        return span.http.status_code
    for key in (sc.HTTP_STATUS, sc.LEGACY_HTTP_STATUS):
        value = span.attributes.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    error = span.attributes.get(sc.ERROR_TYPE)
    if isinstance(error, str) and error.isdigit() and 100 <= int(error) <= 599:
        return int(error)
    return None


def plan_trace(trace: ImportedTrace, redactor: EventRedaction) -> TracePlan:
    """The runs and calls a trace holds; raises ``TraceIncidentError`` when it holds none."""
    roots = sorted(trace.roots(), key=lambda s: (s.start_ns, s.span_id))
    count = sum(s.kind in ("llm", "tool") for s in trace.spans)
    if len(roots) > MAX_ROOTS or count > MAX_CALLS:
        raise TraceIncidentError(
            f"{trace.source}: {len(roots):,} root spans and {count:,} calls are more than one "
            f"incident holds ({MAX_ROOTS:,} roots, {MAX_CALLS:,} calls): cut the trace to the "
            "traces that matter (--dry-run summarises it whole)"
        )
    plan = TracePlan(name=_pipeline_name(trace, roots), runs=[])
    names = _Names(prefix=len(roots) > 1)
    for index, root in enumerate(roots):
        spans = _call_spans(trace, root)
        calls = [_call(plan, group, names, index, redactor) for group in _attempt_groups(spans)]
        for position, call in enumerate(calls):
            last = position == len(calls) - 1
            call.continue_on_error = call.failed and (not last or root.status != "error")
        plan.runs.append(RunPlan(root, calls))
    if not any(run.calls for run in plan.runs):
        raise TraceIncidentError(
            f"{trace.source}: nothing to replay: the trace has no model or tool call spans "
            "(gen_ai.* model calls, HTTP client spans)"
        )
    _explain(plan, trace)
    return plan


def _pipeline_name(trace: ImportedTrace, roots: list[TraceSpan]) -> str:
    service = next((r.get(sc.SERVICE_NAME) for r in trace.resources if r.get(sc.SERVICE_NAME)), "")
    return _slug(str(service or (roots[0].name if roots else "") or "imported"), "imported")


def _call_spans(trace: ImportedTrace, root: TraceSpan) -> list[TraceSpan]:
    """The leaf call spans under ``root`` (itself, if it is a call), parents before children,
    siblings by start time."""
    found: list[TraceSpan] = []
    stack = [root]
    while stack:
        span = stack.pop()
        kids = sorted(trace.children(span), key=lambda s: (s.start_ns, s.span_id))
        is_call = span.llm is not None or span.kind in ("llm", "tool")
        inner_calls = any(k.kind in ("llm", "tool") or k.llm is not None for k in kids)
        if is_call and (span.llm is not None or not inner_calls):
            found.append(span)
            continue
        stack.extend(reversed(kids))
    return found


def _identity(span: TraceSpan) -> tuple[Any, ...]:
    if span.llm is not None:
        messages = json.dumps(span.llm.input_messages, sort_keys=True, default=str)
        return ("llm", span.llm.provider, span.llm.request_model, messages)
    http = span.http
    return ("tool", span.name, http.method if http else "", http.url if http else "")


def _attempt_groups(spans: list[TraceSpan]) -> list[list[TraceSpan]]:
    """Consecutive spans of the same request under the same parent, after a failure, are one
    call's attempts."""
    groups: list[list[TraceSpan]] = []
    for span in spans:
        last = groups[-1][-1] if groups else None
        if (
            last is not None
            and failed(last)
            and last.parent_id == span.parent_id
            and _identity(last) == _identity(span)
        ):
            groups[-1].append(span)
        else:
            groups.append([span])
    return groups


class _Names:
    """Unique step ids: ``chat``, ``chat_2``, ``get_forecast``; ``r1_…`` with several roots."""

    def __init__(self, prefix: bool) -> None:
        self.prefix = prefix
        self.used: set[str] = set()

    def take(self, base: str, root: int) -> str:
        base = _slug(base, "call")[:40]
        if self.prefix:
            base = f"r{root}_{base}"
        name, n = base, 1
        while name in self.used:
            n += 1
            name = f"{base}_{n}"
        self.used.add(name)
        return name


def _call(
    plan: TracePlan, attempts: list[TraceSpan], names: _Names, root: int, redactor: EventRedaction
) -> Call:
    first = attempts[0]
    if first.llm is not None:
        return _llm_call(plan, attempts, names, root, redactor)
    service = _tool_service(plan, first)
    method, path, query = _request_of(first)
    if method not in _METHODS:
        plan.notes.append(
            f"{first.name}: {method} is sent as GET (agentdesk's tools send {_METHODS})"
        )
        method = "GET"
    last_segment = next((p for p in reversed(path.split("/")) if p), service)
    return Call(
        step=names.take(f"{method.lower()}_{last_segment}", root),
        kind="tool",
        service=service,
        attempts=attempts,
        method=method,
        path=redactor.text(path),
        query=[(redactor.text(k), redactor.text(v)) for k, v in query],
    )


def _llm_call(
    plan: TracePlan, attempts: list[TraceSpan], names: _Names, root: int, redactor: EventRedaction
) -> Call:
    first = attempts[0]
    llm = first.llm
    assert llm is not None
    host = _host(first.attributes.get(sc.SERVER_ADDRESS))
    service = _slug(llm.provider or host or "llm", "llm").lower()
    plan.services.setdefault(
        service, f"https://{host}/v1" if host else f"https://{service}.invalid/v1"
    )
    wire = llm.request_model or llm.response_model or "unknown-model"
    key = wire
    if plan.models.get(key, (service, wire))[0] != service:
        key = f"{service}/{wire}"
    plan.models[key] = (service, wire)
    messages = [
        {"role": m["role"], "content": redactor.text(m["content"])} for m in prompt_messages(first)
    ]
    return Call(
        step=names.take(llm.operation or "chat", root),
        kind="llm",
        service=service,
        attempts=attempts,
        model=key,
        messages=messages,
    )


def _tool_service(plan: TracePlan, span: TraceSpan) -> str:
    http = span.http
    url = http.url if http else ""
    host = _host(http.server if http else None) or _host(
        urlsplit(url).hostname if "://" in url else None
    )
    tool = span.attributes.get(sc.GEN_AI_TOOL_NAME)
    name = _slug(host or (str(tool) if tool else "") or "tools", "tools").lower()
    if name in plan.services and plan.services[name].endswith("/v1") and name not in _hosts(plan):
        name += "-http"  # a model provider's service name, taken
    port = span.attributes.get("server.port")
    where = f"{host}:{port}" if host and isinstance(port, int) and port not in (80, 443) else host
    plan.services.setdefault(name, f"https://{where}" if where else f"https://{name}.invalid")
    return name


def _hosts(plan: TracePlan) -> set[str]:
    return {n for n, url in plan.services.items() if not url.endswith("/v1")}


def _request_of(span: TraceSpan) -> tuple[str, str, list[tuple[str, str]]]:
    """Method, path and query of a tool call (a tool execution without HTTP: POST /{tool})."""
    http = span.http
    if http is None:
        tool = span.attributes.get(sc.GEN_AI_TOOL_NAME) or span.name
        return "POST", "/" + _slug(str(tool), "tool"), []
    url = http.url
    if "://" in url:
        parts = urlsplit(url)
        path, query = parts.path, parts.query
    else:
        path, _, query = url.partition("?")
    path = path if path.startswith("/") else "/" + path
    return http.method.upper(), path, parse_qsl(query, keep_blank_values=True)


def _host(value: Any) -> str | None:
    text = str(value) if isinstance(value, str) else ""
    return text.lower() if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}", text) else None


def _slug(text: str, default: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_-")
    if not slug:
        return default
    return slug if re.match(r"[A-Za-z_]", slug) else f"{default}_{slug}"


# --- content ----------------------------------------------------------------------------------

_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


def prompt_messages(span: TraceSpan) -> list[dict[str, str]]:
    """The prompt a model call span recorded, as chat messages (empty when it kept none)."""
    llm = span.llm
    found = _as_messages(llm.input_messages if llm else None)
    if not found:
        for event in span.events:
            role = event.name.removeprefix("gen_ai.").removesuffix(".message")
            if event.name.endswith(".message") and role in _ROLES:
                text = _text(event.attributes.get("content"))
                if text is not None:
                    found.append({"role": _ROLES[role], "content": text})
    instructions = _text(span.attributes.get(sc.GEN_AI_SYSTEM_INSTRUCTIONS))
    if instructions and not any(m["role"] == "system" for m in found):
        found.insert(0, {"role": "system", "content": instructions})
    return found


def completion_of(span: TraceSpan) -> str | None:
    """The answer a model call span recorded, or None when it kept none."""
    llm = span.llm
    messages = llm.output_messages if llm else None
    if isinstance(messages, list) and messages:
        return _text(messages[0].get("content") if isinstance(messages[0], dict) else None) or (
            _parts(messages[0]) if isinstance(messages[0], dict) else _text(messages[0])
        )
    if messages is not None:
        return _text(messages.get("content") if isinstance(messages, dict) else messages)
    for event in span.events:
        if event.name == "gen_ai.choice":
            message = event.attributes.get("message")
            if isinstance(message, str):
                try:
                    message = json.loads(message)
                except ValueError:
                    return message
            if isinstance(message, dict) and _text(message.get("content")) is not None:
                return _text(message.get("content"))
            if _text(event.attributes.get("content")) is not None:
                return _text(event.attributes.get("content"))
    return None


def _as_messages(raw: Any) -> list[dict[str, str]]:
    if isinstance(raw, str):
        return [{"role": "user", "content": raw}]
    if not isinstance(raw, list):
        return []
    out = []
    for item in raw:
        if isinstance(item, dict):
            text = _text(item.get("content"))
            text = text if text is not None else _parts(item)
            role = _ROLES.get(str(item.get("role", "user")), "user")
        else:
            text, role = _text(item), "user"
        if text is not None:
            out.append({"role": role, "content": text})
    return out


def _parts(message: dict[str, Any]) -> str | None:
    parts = message.get("parts")
    if not isinstance(parts, list):
        return None
    texts = []
    for part in parts:
        if isinstance(part, dict) and part.get("type") == "text":
            texts.append(str(part.get("content", part.get("text", ""))))
        else:
            texts.append(json.dumps(part, sort_keys=True, ensure_ascii=False, default=str))
    return "\n".join(texts)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = [_text(v.get("text") if isinstance(v, dict) else v) for v in value]
        return "\n".join(t for t in texts if t is not None)
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _literal(text: str) -> str:
    """Text a template renders as itself: every ``{`` becomes an expression printing it."""
    if not any(marker in text for marker in ("{{", "{%", "{#")):
        return text
    return text.replace("{", '{{ "{" }}')


# --- the files --------------------------------------------------------------------------------


def workspace_files(
    plan: TracePlan,
    trace: ImportedTrace,
    redactor: EventRedaction,
    store: Mapping[str, Any] | None = None,
) -> dict[str, bytes]:
    """agentdesk.yaml, the pipeline, the scenario and the redacted spans, by workspace path."""
    return {
        "agentdesk.yaml": _yaml(_workspace(plan, store)),
        plan.pipeline_path: _yaml(_pipeline(plan)),
        SCENARIO_PATH: _yaml(
            {
                "description": "Imported from an OpenTelemetry trace: the tape answers every "
                "call; nothing is simulated.",
                "services": {},
            }
        ),
        TRACE_PATH: _spans_json(plan, trace, redactor),
    }


def _yaml(data: Any) -> bytes:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100).encode()


def _workspace(plan: TracePlan, store: Mapping[str, Any] | None) -> dict[str, Any]:
    prices = PriceBook({})
    models: dict[str, Any] = {}
    for key, (service, wire) in sorted(plan.models.items()):
        entry: dict[str, Any] = {"service": service}
        if wire != key:
            entry["name"] = wire
        entry["context_window"] = _context_window(plan, key)
        price = prices.price_for(wire)
        if price is not None:  # written out: a replay must not depend on the price database
            entry["input_per_mtok"] = float(price.input_per_mtok)
            entry["output_per_mtok"] = float(price.output_per_mtok)
            if price.cached_input_per_mtok is not None:
                entry["cached_input_per_mtok"] = float(price.cached_input_per_mtok)
        models[key] = entry
    workspace: dict[str, Any] = {
        "name": plan.name,
        "seed": SEED,
        "scenario": SCENARIO,
        "services": {name: {"url": url} for name, url in sorted(plan.services.items())},
        "models": models,
        "policies": {
            "timeout": {"attempt": None, "step": None},
            "retry": {"max_attempts": 1},
            "breaker": {"enabled": False},
            "repair": 0,
        },
    }
    if store is not None:
        workspace["store"] = dict(store)
    return workspace


def _context_window(plan: TracePlan, model: str) -> int:
    need = [
        (s.llm.input_tokens or 0) + _max_tokens(call) + 1
        for call in plan.calls().values()
        if call.model == model
        for s in call.attempts
        if s.llm is not None
    ]
    return max([128_000, *need])


def _max_tokens(call: Call) -> int:
    asked = call.attempts[0].attributes.get("gen_ai.request.max_tokens")
    if isinstance(asked, int) and not isinstance(asked, bool) and asked >= 1:
        return asked
    told = [s.llm.output_tokens or 0 for s in call.attempts if s.llm is not None]
    return max([512, *told])


def _pipeline(plan: TracePlan) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    if len(plan.runs) > 1:
        firsts = [run.calls[0].step if run.calls else "end" for run in plan.runs]
        steps.append(
            {
                "id": "trace_root",
                "kind": "route",
                "description": "Each run is one root span of the trace: go to its calls.",
                "routes": [
                    {"when": f"input.root == {i}", "goto": first}
                    for i, first in enumerate(firsts)
                    if i
                ],
                "default": firsts[0],
            }
        )
    for index, run in enumerate(plan.runs):
        for position, call in enumerate(run.calls):
            step = _step(call)
            ends_section = position == len(run.calls) - 1 and index < len(plan.runs) - 1
            if ends_section:
                step["next"] = "end"
            steps.append(step)
    return {
        "name": plan.name,
        "description": "Made from an imported OpenTelemetry trace: one step per model or "
        "tool call span; see imported/trace.json.",
        "steps": steps,
    }


def _step(call: Call) -> dict[str, Any]:
    first = call.attempts[0]
    step: dict[str, Any] = {"id": call.step, "kind": call.kind, "description": first.name[:200]}
    if call.kind == "llm":
        step["model"] = call.model
        messages = call.messages or [
            {"role": "user", "content": f"[prompt not recorded in the trace: span {first.name}]"}
        ]
        step["messages"] = [
            {"role": m["role"], "content": _literal(m["content"])} for m in messages
        ]
        step["max_tokens"] = _max_tokens(call)
    else:
        step.update(service=call.service, method=call.method, path=_literal(call.path))
        if call.query:
            step["query"] = {k: _literal(v) for k, v in call.query}
    retried = sorted(
        {c for s in call.attempts[:-1] if (c := status_code(s)) is not None} - set(DEFAULT_RETRY_ON)
    )
    retry: dict[str, Any] = {"max_attempts": len(call.attempts)}
    if retried:
        retry["retry_on"] = sorted({*DEFAULT_RETRY_ON, *retried})
    gaps = [round(max(0, b.start_ns - a.end_ns) / 1e9, 6) for a, b in pairwise(call.attempts)]
    if gaps:  # the recorded wait before the first retry, doubling up to the longest one
        retry["backoff"] = {"base": gaps[0], "cap": max(gaps), "jitter": "none"}
    step["policies"] = {"retry": retry}
    if call.continue_on_error:
        step["on_error"] = "continue"
    return step


def _spans_json(plan: TracePlan, trace: ImportedTrace, redactor: EventRedaction) -> bytes:
    where = {
        span.span_id: (call.step, attempt)
        for call in plan.calls().values()
        for attempt, span in enumerate(call.attempts, 1)
    }
    spans = []
    for span in trace.spans:
        item: dict[str, Any] = {
            "trace_id": span.trace_id,
            "span_id": span.span_id,
            "parent_id": span.parent_id,
            "name": span.name,
            "kind": span.kind,
            "otel_kind": span.otel_kind,
            "start_ns": span.start_ns,
            "end_ns": span.end_ns,
            "status": span.status,
            "status_message": span.status_message,
            "scope": span.scope,
            "resource": span.resource,
            "attributes": _kept(span.attributes),
            "events": [
                {"name": e.name, "time_ns": e.time_ns, "attributes": _kept(e.attributes)}
                for e in span.events
            ],
        }
        if span.span_id in where:
            item["step"], item["attempt"] = where[span.span_id]
        spans.append(item)
    document = {
        "traces": trace.trace_ids,
        "resources": [_kept(r) for r in trace.resources],
        "spans": spans,
    }
    encoded = msgspec.json.encode(redactor.value(document))
    return msgspec.json.format(encoded, indent=1) + b"\n"


def _kept(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Every attribute, but credentials: header attributes naming one, and keys or passwords."""
    kept = {}
    for key, value in attributes.items():
        header = key.rpartition(".header.")[2] if ".header." in key else ""
        secret = header.lower() in CREDENTIAL_HEADERS or _SECRET_KEYS.search(key)
        kept[key] = "[redacted]" if secret else value
    return kept


def _explain(plan: TracePlan, trace: ImportedTrace) -> None:
    ids = ", ".join(trace.trace_ids[:5]) + (" …" if len(trace.trace_ids) > 5 else "")
    # Not the file's name: the same trace is the same incident, whatever file brought it.
    plan.notes.insert(0, f"imported from OTLP trace(s) {ids}")
    calls = plan.calls().values()
    blank = [
        c.step
        for c in calls
        if c.kind == "llm" and any(completion_of(s) is None for s in c.attempts)
    ]
    if blank:
        plan.notes.append(
            "content absent: the trace kept no model answer for "
            + _listed(blank)
            + "; placeholder completions carry the recorded token counts"
        )
    unprompted = [c.step for c in calls if c.kind == "llm" and not c.messages]
    if unprompted:
        plan.notes.append(f"content absent: no prompt recorded for {_listed(unprompted)}")
    if any(c.kind == "tool" for c in calls):
        plan.notes.append("tool responses: status and timing as recorded; bodies are not in traces")
    if any(_overlaps(run.calls) for run in plan.runs):
        plan.notes.append("calls that overlapped in the trace run one after another here")
    retried = [c.step for c in calls if len(c.attempts) > 1]
    if retried:
        plan.notes.append(f"retries recorded: {_listed(retried)} (max_attempts set per step)")


def _listed(steps: Sequence[str]) -> str:
    return ", ".join(steps[:8]) + (f" and {len(steps) - 8} more" if len(steps) > 8 else "")


def _overlaps(calls: list[Call]) -> bool:
    spans = sorted((s for c in calls for s in c.attempts), key=lambda s: s.start_ns)
    return any(b.start_ns < a.end_ns for a, b in pairwise(spans))


# --- answering from the spans -----------------------------------------------------------------


class TraceAnswers(httpx.AsyncBaseTransport):
    """Answers each request with what the span of its step and attempt recorded, after the
    span's duration on the loop's clock (the incident's one recording run)."""

    def __init__(self, plan: TracePlan, redactor: EventRedaction) -> None:
        self._calls = plan.calls()
        self._redactor = redactor

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        call = self._calls[request.headers[STEP_HEADER]]
        attempt = int(request.headers[KEY_HEADER].rpartition("#")[2])
        span = call.attempts[min(attempt, len(call.attempts)) - 1]
        await asyncio.sleep(span.duration)
        status, body = self._answer(call, span, request)
        headers = [("content-type", "application/json")] if body else []
        return httpx.Response(status, headers=headers, content=body, request=request)

    def _answer(self, call: Call, span: TraceSpan, request: httpx.Request) -> tuple[int, bytes]:
        code = status_code(span)
        if failed(span) and (code is None or code < 400):
            error = str(span.attributes.get(sc.ERROR_TYPE) or span.status_message or "error")
            transport = _transport_error(error)
            if transport is not None:
                raise transport(self._redactor.text(span.status_message or error), request=request)
            code = _STATUS_OF_ERROR.get(error.rpartition(".")[2].lower(), 500)
        if code is not None and code >= 400:
            message = self._redactor.text(span.status_message or f"HTTP {code}")
            return code, msgspec.json.encode({"error": {"message": message}})
        if call.kind == "tool":
            return code or 200, b""
        return code or 200, msgspec.json.encode(self._completion(span))

    def _completion(self, span: TraceSpan) -> dict[str, Any]:
        llm = span.llm
        assert llm is not None
        text = completion_of(span)
        if text is None:
            told = llm.output_tokens
            text = "[completion not recorded in the trace" + (
                f": {told} output tokens]" if told is not None else "]"
            )
        reasons = span.attributes.get("gen_ai.response.finish_reasons")
        reason = reasons[0] if isinstance(reasons, list) and reasons else "stop"
        usage = {
            name: value
            for name, value in (
                ("prompt_tokens", llm.input_tokens),
                ("completion_tokens", llm.output_tokens),
            )
            if value is not None
        }
        body: dict[str, Any] = {
            "id": f"imported-{span.span_id}",
            "object": "chat.completion",
            "model": llm.model or "",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": self._redactor.text(text)},
                    "finish_reason": str(reason),
                }
            ],
        }
        if usage:
            body["usage"] = usage
        return body


def _transport_error(error: str) -> type[httpx.TransportError] | None:
    lowered = error.lower()
    if "timeout" in lowered or "timedout" in lowered:
        return httpx.ReadTimeout
    if "connect" in lowered:
        return httpx.ConnectError
    if any(word in lowered for word in ("reset", "disconnect", "protocol", "eof")):
        return httpx.RemoteProtocolError
    return None


# --- the incident -----------------------------------------------------------------------------


def incident_from_trace(
    trace: ImportedTrace,
    *,
    redactor: EventRedaction,
    title: str = "",
    store: Mapping[str, Any] | None = None,
) -> Bundle:
    """The trace as an incident bundle (``source: otlp``): its workspace, pipeline and tape,
    and the event log of one run of it on that tape. ``redactor``: the store's (anything with
    ``text``, ``value`` and ``event_json``); ``store``: the ``store:`` settings to write into
    the incident's agentdesk.yaml, so a replay redacts by the same rules."""
    plan = plan_trace(trace, redactor)
    files = workspace_files(plan, trace, redactor, store)
    inputs = [
        {"root": i, "trace_id": run.root.trace_id, "span": redactor.text(run.root.name)}
        for i, run in enumerate(plan.runs)
    ]
    draft = Bundle(
        title="",
        pipeline=plan.pipeline_path,
        scenario=SCENARIO,
        scenario_path=SCENARIO_PATH,
        seed=SEED,
        files=files,
        runs=(),
        events=(),
        tape=(),
    )
    sim = prepare(draft)
    reel = TapeReel(redactor)
    answers = TraceAnswers(plan, redactor)
    events: list[AnyEvent] = []

    def wrap(service: str, base: str, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        return reel.wrap(service, base, answers)

    run_virtual(sim.run_async(inputs, 1, [events.append], environ={}, wrap=wrap))
    start = min(s.start_ns for s in trace.spans)
    return make_bundle(
        title=title or _title(plan, trace),
        files=files,
        pipeline_path=plan.pipeline_path,
        scenario=SCENARIO,
        scenario_path=SCENARIO_PATH,
        seed=SEED,
        events=[redactor.event_json(e) for e in events],
        decoded=events,
        tape=reel.entries,
        release=sim.pipeline.release,
        recorded=datetime.fromtimestamp(start / 1e9, UTC).isoformat(),
        notes=plan.notes,
        source="otlp",
    )


def _title(plan: TracePlan, trace: ImportedTrace) -> str:
    roots = [run.root.name for run in plan.runs]
    what = roots[0] if len(roots) == 1 else f"{len(roots)} root spans"
    return f"{what} (OTLP trace {trace.trace_ids[0][:12]})"
