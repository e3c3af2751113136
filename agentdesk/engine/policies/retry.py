"""Whether and when to try a failed call again: classification, Retry-After and back-off.

Policies decide, the runner acts. ``RetryPolicy.decide`` takes the number of the attempt that
just failed, what went wrong and an injected random generator, and returns a decision —
``Retry`` after so many seconds, or ``GiveUp`` with a reason — without sleeping or reading the
clock. The runner sleeps on the loop's clock and turns the decision into a ``retry_scheduled``
or ``retry_gave_up`` event, so the reasons here are short, stable strings meant for events.

A server's own word beats our guess: an ``x-should-retry`` header overrides the status-based
classification (as the OpenAI SDKs do), and ``retry-after-ms`` / ``Retry-After`` beat the
computed back-off. An HTTP-date Retry-After is measured against the response's own ``Date``
header, so simulated services on the virtual clock need no wall time at all.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import MappingProxyType
from typing import Literal

from agentdesk.spec.models import BackoffSpec, RetrySpec

FailureKind = Literal["timeout", "connect", "reset", "http_status", "malformed", "schema"]
Classification = Literal["transient", "permanent"]
DelaySource = Literal["backoff", "retry_after", "retry_after_ms"]
RetryAfterSource = Literal["retry_after", "retry_after_ms"]

_ALWAYS_TRANSIENT: frozenset[FailureKind] = frozenset({"timeout", "connect", "reset", "malformed"})
_KIND_REASONS: dict[FailureKind, str] = {
    "timeout": "timeout",
    "connect": "connection failed",
    "reset": "connection reset",
    "malformed": "malformed response",
    "schema": "schema mismatch",
}
_SECONDS = re.compile(r"-?\d+(?:\.\d+)?")
_MAX_EXPONENT = 64
"""2**64 times any base is beyond every sane cap; larger exponents would only overflow."""


@dataclass(frozen=True)
class Failure:
    """What went wrong with one attempt. Header names are stored in lower case."""

    kind: FailureKind
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)
    message: str = ""

    def __post_init__(self) -> None:
        lowered = {name.lower(): value for name, value in self.headers.items()}
        object.__setattr__(self, "headers", MappingProxyType(lowered))

    @property
    def reason(self) -> str:
        """A short, stable description: ``HTTP 503``, ``timeout``, ``connection reset``."""
        if self.kind == "http_status":
            return f"HTTP {self.status}" if self.status is not None else "HTTP error"
        return _KIND_REASONS[self.kind]


@dataclass(frozen=True)
class Retry:
    """Try again after ``delay`` seconds."""

    delay: float
    reason: str
    source: DelaySource = "backoff"


@dataclass(frozen=True)
class GiveUp:
    """Stop retrying; ``reason`` starts with a stable tag (``permanent``, ``retries_exhausted``,
    ``retry_after_exceeds_cap``, ``step_deadline``)."""

    reason: str


RetryDecision = Retry | GiveUp


def classify(failure: Failure, spec: RetrySpec) -> Classification:
    """Transient failures may succeed if tried again; permanent ones never will.

    Timeouts, connection failures, resets and malformed bodies are transient. So are every
    5xx and the statuses in ``spec.retry_on`` (408, 409 and 429 by default); other statuses
    are permanent, as is a well-formed body of the wrong shape (``schema``): sending the same
    request again gets the same answer. ``x-should-retry: true|false`` overrides all of this.
    """
    override = failure.headers.get("x-should-retry", "").strip().lower()
    if override in ("true", "false"):
        return "transient" if override == "true" else "permanent"
    if failure.kind in _ALWAYS_TRANSIENT:
        return "transient"
    if failure.kind == "http_status" and failure.status is not None:
        transient = 500 <= failure.status <= 599 or failure.status in spec.retry_on
        return "transient" if transient else "permanent"
    return "permanent"


def retry_after(
    headers: Mapping[str, str], now_date: datetime | None = None
) -> tuple[float, RetryAfterSource] | None:
    """The delay a server asked for, in seconds, and which header said so; None if none did.

    ``retry-after-ms`` (float milliseconds) is read first, then ``Retry-After`` as seconds or
    as an HTTP-date. A date is measured against the response's ``Date`` header, else against
    ``now_date``; with neither it is ignored. Negative delays become 0; garbage is ignored.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    millis = _parse_seconds(lowered.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000.0, "retry_after_ms"
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    seconds = _parse_seconds(raw)
    if seconds is None:
        seconds = _seconds_until(raw, lowered.get("date"), now_date)
    return None if seconds is None else (seconds, "retry_after")


def _parse_seconds(raw: str | None) -> float | None:
    """A plain decimal number, clamped at 0; None for anything else (including nan, inf)."""
    if raw is None or not _SECONDS.fullmatch(raw.strip()):
        return None
    return max(0.0, float(raw))


def _seconds_until(raw: str, date_header: str | None, now_date: datetime | None) -> float | None:
    target = _parse_http_date(raw)
    reference = _parse_http_date(date_header) if date_header else None
    if reference is None and now_date is not None:
        reference = _as_utc(now_date)
    if target is None or reference is None:
        return None
    return max(0.0, (target - reference).total_seconds())


def _parse_http_date(raw: str) -> datetime | None:
    """IMF-fixdate and the obsolete RFC 850 / asctime forms, as email.utils reads them."""
    try:
        return _as_utc(parsedate_to_datetime(raw.strip()))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _as_utc(moment: datetime) -> datetime:
    """HTTP dates are GMT; a naive datetime (``-0000`` or a caller's) is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def backoff_delay(attempt: int, spec: BackoffSpec, rng: random.Random) -> float:
    """Exponential back-off after failed attempt ``attempt`` (1-based), capped, with jitter."""
    exponent = min(max(attempt - 1, 0), _MAX_EXPONENT)
    ceiling = min(spec.cap, spec.base * 2.0**exponent)
    if spec.jitter == "full":
        return min(ceiling, rng.uniform(0.0, ceiling))
    if spec.jitter == "equal":
        return min(ceiling, ceiling / 2 + rng.uniform(0.0, ceiling / 2))
    return ceiling


def seconds_text(value: float) -> str:
    """Seconds for a reason string: ``120``, ``1.5``, ``0.125`` (at most millisecond digits)."""
    if not math.isfinite(value):
        return str(value)
    return f"{value:.3f}".rstrip("0").rstrip(".")


class RetryPolicy:
    """Decides, after each failed attempt, whether to retry and how long to wait first."""

    def __init__(self, spec: RetrySpec) -> None:
        self.spec = spec

    def decide(
        self,
        attempt: int,
        failure: Failure,
        rng: random.Random,
        remaining: float | None = None,
        *,
        now_date: datetime | None = None,
    ) -> RetryDecision:
        """``attempt`` is the 1-based number of the attempt that just failed; ``remaining`` the
        seconds left in the step's time budget (None: unlimited); ``now_date`` is only used
        for an HTTP-date Retry-After on a response that carries no ``Date`` header."""
        if classify(failure, self.spec) == "permanent":
            return GiveUp(f"permanent: {failure.reason}")
        if attempt >= self.spec.max_attempts:
            return GiveUp(f"retries_exhausted: {attempt} attempts")
        decision = self._wait(attempt, failure, rng, now_date)
        if isinstance(decision, Retry) and remaining is not None and decision.delay >= remaining:
            return GiveUp(
                f"step_deadline: retry in {seconds_text(decision.delay)}s"
                f" >= {seconds_text(max(remaining, 0.0))}s left"
            )
        return decision

    def _wait(
        self, attempt: int, failure: Failure, rng: random.Random, now_date: datetime | None
    ) -> RetryDecision:
        asked = retry_after(failure.headers, now_date)
        if asked is None:
            return Retry(backoff_delay(attempt, self.spec.backoff, rng), failure.reason)
        delay, source = asked
        if delay > self.spec.retry_after_cap:
            cap = seconds_text(self.spec.retry_after_cap)
            return GiveUp(f"retry_after_exceeds_cap: {seconds_text(delay)}s > {cap}s")
        return Retry(delay, failure.reason, source)
