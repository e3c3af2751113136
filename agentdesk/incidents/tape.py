"""The tape: every downstream request a run made and what came back, recorded and played back.

A run reaches everything downstream through one httpx transport per service
(``services.build_clients``), so one wrapper per transport sees every call without the
engine knowing:

- ``TapeRecorder`` passes each request through to the real transport (a sim, a served sim, a
  provider) and hands a ``TapeEntry`` to a sink: the answer (status, headers, body), a
  transport error (connection refused, reset), or a **hang** — the engine's timeout cancelled
  the call before anything came back — with the loop time the downstream took either way.
- ``ReplayTransport`` answers from a ``TapeDeck`` instead: it finds the entry by its match
  key, waits the recorded time on the loop's clock, and gives back the same answer (or raises
  the same error, or hangs until the engine gives up, as the original did). A request that is
  not on the tape raises ``TapeMiss`` naming the step and what differs from the nearest entry
  — or, in a what-if replay, is passed to a fallback transport (the recorded scenario's sims).

**Match key**: (service, method, path with query, request key, body hash). The request key is
the engine's ``x-agentdesk-key`` header, ``{run_id}/{step}#{attempt}``, unique per attempt;
the body hash is the sha256 of the request body after redaction, so a recording and its
replay hash the same bytes whatever personal data the body held.

**Redaction**: bodies and headers pass through the caller's redactor (the store's
``Redactor``) before they are kept, like events. Credentials (``authorization``, ``api-key``,
``x-api-key``, cookies) are never kept at all. A JSON body is redacted as a value and
re-encoded only when something was replaced; any other body as text.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx
import msgspec

from agentdesk.engine.state import EPOCH
from agentdesk.errors import AgentdeskError

KEY_HEADER = "x-agentdesk-key"
STEP_HEADER = "x-agentdesk-step"
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "api-key", "x-api-key", "cookie", "set-cookie"}
)
"""Headers never kept on a tape, whatever the redactor says."""
_NOT_KEPT = CREDENTIAL_HEADERS | {KEY_HEADER, STEP_HEADER, "content-length", "host"}

Outcome = Literal["response", "error", "hang"]


class Redaction(Protocol):
    """What the tape needs of a redactor: ``store.redaction.Redactor`` is one."""

    def text(self, value: str) -> str: ...

    def value(self, value: Any, numbers: bool = True) -> Any: ...


class NoRedaction:
    """Keeps everything (for tests and workspaces that store payloads as they are)."""

    def text(self, value: str) -> str:
        return value

    def value(self, value: Any, numbers: bool = True) -> Any:
        return value


class TapeEntry(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One downstream call as the run saw it."""

    seq: int
    """Position on the tape (the order calls were sent in)."""
    t: float
    """When the request was sent: loop seconds since the batch started (not rounded: a replay
    answers at exactly ``end``, so the replayed loop's clock reads the same to the last bit)."""
    service: str
    method: str
    path: str
    """Path and query, relative to the service's base URL (redacted: ids can be anything)."""
    key: str
    """The request key, ``{run_id}/{step}#{attempt}`` (``x-agentdesk-key``)."""
    step: str = ""
    body_hash: str = ""
    """sha256 of the redacted request body ('' when there was none)."""
    request_headers: list[tuple[str, str]] = []
    request_body: str | None = None
    outcome: Outcome = "response"
    end: float = 0.0
    """When the answer, the error or the cancellation (a hang) came, on the same clock."""
    status: int | None = None
    headers: list[tuple[str, str]] = []
    body: str = ""
    body_base64: bool = False
    """True when ``body`` is base64 (the response was not UTF-8)."""
    error_type: str = ""
    """The httpx exception class of a transport error (``RemoteProtocolError``…)."""
    error: str = ""

    @property
    def duration(self) -> float:
        """Loop seconds the downstream took (to the cancellation, for a hang)."""
        return self.end - self.t

    @property
    def run_id(self) -> str:
        return self.key.partition("/")[0]

    @property
    def match(self) -> tuple[str, str, str, str, str]:
        return (self.service, self.method, self.path, self.key, self.body_hash)

    def body_bytes(self) -> bytes:
        return base64.b64decode(self.body) if self.body_base64 else self.body.encode()


Sink = Callable[[TapeEntry], None]


@dataclass
class RequestView:
    """What the tape keeps of a request, redacted: the parts of its match key and its body."""

    service: str
    method: str
    path: str
    key: str
    step: str
    body_hash: str
    body: str | None
    headers: list[tuple[str, str]]

    @classmethod
    def of(
        cls, service: str, base_path: str, request: httpx.Request, redactor: Redaction
    ) -> RequestView:
        raw = request.url.raw_path.decode("ascii", "replace")
        path = raw[len(base_path) :] if base_path and raw.startswith(base_path) else raw
        content = request.content
        body = redact_body(content, redactor) if content else None
        return cls(
            service=service,
            method=request.method,
            path=redactor.text(path),
            key=request.headers.get(KEY_HEADER, ""),
            step=request.headers.get(STEP_HEADER, ""),
            body_hash=hashlib.sha256(body.encode()).hexdigest() if body is not None else "",
            body=body,
            headers=kept_headers(request.headers.multi_items(), redactor),
        )

    @property
    def match(self) -> tuple[str, str, str, str, str]:
        return (self.service, self.method, self.path, self.key, self.body_hash)


def redact_body(content: bytes, redactor: Redaction) -> str:
    """A body as the tape keeps it: JSON redacted as a value (re-encoded only when changed),
    anything else redacted as text (a broken body stays broken the same way)."""
    text = content.decode("utf-8", "surrogateescape")
    try:
        value = msgspec.json.decode(content)
    except msgspec.DecodeError:
        return redactor.text(text)
    redacted = redactor.value(value)
    return text if redacted is value else msgspec.json.encode(redacted).decode()


def kept_headers(items: Iterable[tuple[str, str]], redactor: Redaction) -> list[tuple[str, str]]:
    return [
        (name.lower(), redactor.text(value))
        for name, value in items
        if name.lower() not in _NOT_KEPT
    ]


def _body_field(text: str) -> tuple[str, bool]:
    try:
        text.encode()
    except UnicodeEncodeError:  # surrogate-escaped bytes: not UTF-8
        raw = text.encode("utf-8", "surrogateescape")
        return base64.b64encode(raw).decode(), True
    return text, False


class TapeRecorder(httpx.AsyncBaseTransport):
    """Wraps one service's transport and records every call it carries."""

    def __init__(
        self,
        service: str,
        base_url: str,
        inner: httpx.AsyncBaseTransport,
        sink: Sink,
        redactor: Redaction,
        counter: Callable[[], int],
    ) -> None:
        self._service = service
        self._base = httpx.URL(base_url).raw_path.decode("ascii").rstrip("/")
        self._inner = inner
        self._sink = sink
        self._redactor = redactor
        self._next = counter

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        loop = asyncio.get_running_loop()
        sent_at = loop.time() - EPOCH.get()
        seq = self._next()
        try:
            response = await self._inner.handle_async_request(request)
            await response.aread()
        except asyncio.CancelledError:
            self._record(seq, sent_at, request, loop.time() - EPOCH.get(), outcome="hang")
            raise
        except httpx.HTTPError as exc:
            self._record(
                seq,
                sent_at,
                request,
                loop.time() - EPOCH.get(),
                outcome="error",
                error_type=type(exc).__name__,
                error=self._redactor.text(str(exc)),
            )
            raise
        body, encoded = _body_field(redact_body(response.content, self._redactor))
        self._record(
            seq,
            sent_at,
            request,
            loop.time() - EPOCH.get(),
            status=response.status_code,
            headers=kept_headers(response.headers.multi_items(), self._redactor),
            body=body,
            body_base64=encoded,
        )
        return response

    def _record(
        self, seq: int, sent_at: float, request: httpx.Request, end: float, **answer: Any
    ) -> None:
        view = RequestView.of(self._service, self._base, request, self._redactor)
        self._sink(
            TapeEntry(
                seq=seq,
                t=sent_at,
                service=view.service,
                method=view.method,
                path=view.path,
                key=view.key,
                step=view.step,
                body_hash=view.body_hash,
                request_headers=view.headers,
                request_body=view.body,
                end=end,
                **answer,
            )
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


class TapeMiss(AgentdeskError):
    """A replayed run made a request the tape holds no answer for (exit code 5)."""

    exit_code = 5

    def __init__(self, message: str, request: RequestView) -> None:
        super().__init__(message)
        self.request = request


@dataclass
class TapeDeck:
    """The tape of an incident, indexed by match key; counts what it answered."""

    entries: list[TapeEntry]
    answered: int = 0
    passed_on: int = 0
    """Requests the tape could not answer, sent to the fallback transport (what-if)."""
    _by_match: dict[tuple[str, str, str, str, str], TapeEntry] = field(default_factory=dict)
    _by_key: dict[tuple[str, str], list[TapeEntry]] = field(default_factory=dict)
    _by_step: dict[tuple[str, str, str], list[TapeEntry]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for entry in self.entries:
            self._by_match.setdefault(entry.match, entry)
            self._by_key.setdefault((entry.service, entry.key), []).append(entry)
            step_of = (entry.service, entry.run_id, entry.step)
            self._by_step.setdefault(step_of, []).append(entry)

    def find(self, request: RequestView) -> TapeEntry | None:
        return self._by_match.get(request.match)

    def miss(self, request: RequestView) -> TapeMiss:
        """The error for a request not on the tape: what differs from the nearest entry."""
        where = f"step {request.step or '?'} ({request.key or 'no request key'})"
        said = f"{request.method} {request.service}{request.path}"
        nearest = self._nearest(request)
        if nearest is None:
            detail = f"the tape has no call to {request.service} from this step of this run"
        else:
            detail = f"nearest entry #{nearest.seq} ({nearest.key}) differs in " + "; ".join(
                _differences(request, nearest)
            )
        return TapeMiss(f"{where}: {said} is not on the tape: {detail}", request)

    def same_call(self, service: str, key: str, step: str) -> TapeEntry | None:
        """The entry with this request key, else the last one of this step of this run."""
        same_key = self._by_key.get((service, key))
        if same_key:
            return same_key[0]
        same_step = self._by_step.get((service, key.partition("/")[0], step))
        return same_step[-1] if same_step else None

    def _nearest(self, request: RequestView) -> TapeEntry | None:
        found = self.same_call(request.service, request.key, request.step)
        if found is not None:
            return found
        same_service = [e for e in self.entries if e.service == request.service]
        return same_service[-1] if same_service else None


def _differences(request: RequestView, entry: TapeEntry) -> list[str]:
    found = []
    for name in ("service", "method", "path", "key"):
        ours, theirs = getattr(request, name), getattr(entry, name)
        if ours != theirs:
            found.append(f"{name}: {ours!r} (tape: {theirs!r})")
    if request.body_hash != entry.body_hash:
        found.append("body: " + body_difference(request.body, entry.request_body))
    return found or ["nothing visible (a duplicate request?)"]


def body_difference(ours: str | None, theirs: str | None) -> str:
    """Where two request bodies first differ: a JSON path, or a character offset."""
    if ours is None or theirs is None:
        here, there = ("none" if b is None else "a body" for b in (ours, theirs))
        return f"{here} (tape: {there})"
    try:
        path = _first_json_difference(msgspec.json.decode(ours), msgspec.json.decode(theirs), "$")
    except msgspec.DecodeError:
        path = None
    if path is not None:
        return path
    at = next(
        (i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b),
        min(len(ours), len(theirs)),
    )
    return f"from character {at}: {ours[at : at + 40]!r} (tape: {theirs[at : at + 40]!r})"


def _first_json_difference(ours: Any, theirs: Any, at: str) -> str | None:
    if type(ours) is not type(theirs):
        return f"{at}: {_short(ours)} (tape: {_short(theirs)})"
    if isinstance(ours, dict):
        for key in sorted(set(ours) | set(theirs)):
            if key not in ours or key not in theirs:
                side = "missing here" if key not in ours else "not on the tape"
                return f"{at}.{key}: {side}"
            found = _first_json_difference(ours[key], theirs[key], f"{at}.{key}")
            if found:
                return found
        return None
    if isinstance(ours, list):
        for index, (a, b) in enumerate(zip(ours, theirs, strict=False)):
            found = _first_json_difference(a, b, f"{at}[{index}]")
            if found:
                return found
        if len(ours) != len(theirs):
            return f"{at}: {len(ours)} items (tape: {len(theirs)})"
        return None
    return None if ours == theirs else f"{at}: {_short(ours)} (tape: {_short(theirs)})"


def _short(value: Any) -> str:
    text = msgspec.json.encode(value).decode()
    return text if len(text) <= 60 else text[:57] + "..."


_ERRORS: Mapping[str, type[httpx.TransportError]] = {
    cls.__name__: cls
    for cls in (
        httpx.ConnectError,
        httpx.ConnectTimeout,
        httpx.ReadTimeout,
        httpx.WriteTimeout,
        httpx.PoolTimeout,
        httpx.ReadError,
        httpx.WriteError,
        httpx.RemoteProtocolError,
        httpx.LocalProtocolError,
        httpx.ProxyError,
        httpx.UnsupportedProtocol,
        httpx.CloseError,
    )
}


class ReplayTransport(httpx.AsyncBaseTransport):
    """Answers one service's requests from the tape (see the module docstring).

    ``fallback``: where requests the tape cannot answer go (the recorded scenario's sims, in
    a what-if replay); None makes a miss a ``TapeMiss``. A recorded hang waits forever on an
    exact replay (the engine's timeout ends it at the same moment as before); with a fallback
    the call goes to it instead, since a longer timeout would wait past what the tape saw.
    ``closed``: once it returns True, every request waits forever (the replay has all the
    events it compares and is being wound down)."""

    def __init__(
        self,
        service: str,
        base_url: str,
        deck: TapeDeck,
        redactor: Redaction,
        fallback: httpx.AsyncBaseTransport | None = None,
        closed: Callable[[], bool] = lambda: False,
    ) -> None:
        self._service = service
        self._base = httpx.URL(base_url).raw_path.decode("ascii").rstrip("/")
        self._deck = deck
        self._redactor = redactor
        self._fallback = fallback
        self._closed = closed

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed():
            await asyncio.get_running_loop().create_future()
        view = RequestView.of(self._service, self._base, request, self._redactor)
        entry = self._deck.find(view)
        if entry is None or (entry.outcome == "hang" and self._fallback is not None):
            if self._fallback is None:
                raise self._deck.miss(view)
            self._deck.passed_on += 1
            return await self._fallback.handle_async_request(request)
        self._deck.answered += 1
        return await play(entry, request)

    async def aclose(self) -> None:
        if self._fallback is not None:
            await self._fallback.aclose()


async def play(entry: TapeEntry, request: httpx.Request) -> httpx.Response:
    """The recorded answer, after the recorded time on the loop's clock: at exactly the
    recorded moment when the request comes when it came, else after the recorded duration."""
    loop = asyncio.get_running_loop()
    if entry.outcome == "hang":
        await loop.create_future()  # until the engine's timeout cancels it, as it did
    epoch = EPOCH.get()
    if loop.time() - epoch == entry.t:
        woken = loop.create_future()
        handle = loop.call_at(epoch + entry.end, _wake, woken)
        try:
            await woken
        finally:
            handle.cancel()
    else:
        await asyncio.sleep(entry.duration)
    if entry.outcome == "error":
        raise _ERRORS.get(entry.error_type, httpx.TransportError)(entry.error, request=request)
    return httpx.Response(
        entry.status or 200, headers=entry.headers, content=entry.body_bytes(), request=request
    )


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class StandIn(httpx.AsyncBaseTransport):
    """What-if replay of an incident imported from a trace, where no sims stand behind the
    tape: a call the tape cannot answer is answered as the same call was last answered — the
    entry with its request key (a changed body), else the last recorded attempt of its step
    in its run (an attempt the trace never made) — after that entry's duration. A recorded
    hang comes back as a read timeout after its duration. A call of a step the tape never saw
    is a ``TapeMiss``: there is nothing to answer it with."""

    def __init__(self, service: str, base_url: str, deck: TapeDeck, redactor: Redaction) -> None:
        self._service = service
        self._base = httpx.URL(base_url).raw_path.decode("ascii").rstrip("/")
        self._deck = deck
        self._redactor = redactor

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = request.headers.get(KEY_HEADER, "")
        entry = self._deck.same_call(self._service, key, request.headers.get(STEP_HEADER, ""))
        if entry is None:
            view = RequestView.of(self._service, self._base, request, self._redactor)
            raise self._deck.miss(view)
        await asyncio.sleep(entry.duration)
        if entry.outcome == "hang":
            raise httpx.ReadTimeout(f"no answer within the recorded {entry.duration:g}s")
        if entry.outcome == "error":
            raise _ERRORS.get(entry.error_type, httpx.TransportError)(entry.error, request=request)
        return httpx.Response(
            entry.status or 200, headers=entry.headers, content=entry.body_bytes(), request=request
        )
