"""Circuit breakers: stop calling a service or model that keeps failing, then probe it.

One ``CircuitBreaker`` per downstream (``service:payments``, ``model:gpt-4o``), kept in a
``BreakerBoard``. The breaker only decides: ``admit()`` says whether a call may go out,
``record()`` folds in how it went, and both return the ``Transition`` they caused (if any) so
the runner can publish a ``breaker_transition`` event. Time comes from an injected clock (the
loop's clock in a run, a fake one in tests); nothing here sleeps or reads wall time.

States and edges, as in resilience4j's count-based breaker::

    closed ──failure rate ≥ threshold over the window──▶ open
    open ──cooldown elapsed, on the next admit()──▶ half_open
    half_open ──all probes succeeded──▶ closed (window reset)
    half_open ──a probe failed or was slow──▶ open (new cooldown)

Half-open admits ``half_open_probes`` calls in all until they are settled, so at most that
many are ever outstanding. A result recorded while open (a call that left before the breaker
opened) is ignored, as is one recorded while half-open when no probe is outstanding. A
``min_calls`` larger than the window would never allow a verdict, so a full window is enough.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from agentdesk.engine.policies.retry import seconds_text
from agentdesk.spec.models import BreakerSpec

BreakerState = Literal["closed", "open", "half_open"]
"""The same three states as ``events.BreakerState``, which the runner's events carry."""
Clock = Callable[[], float]


@dataclass(frozen=True)
class Transition:
    """A change of state; ``failure_rate`` and ``calls`` are the evidence behind it."""

    breaker: str
    from_state: BreakerState
    to_state: BreakerState
    failure_rate: float
    calls: int
    reason: str


@dataclass(frozen=True)
class Admission:
    """Whether a call may go out; ``retry_in`` is the wait until half-open when refused."""

    allowed: bool
    retry_in: float = 0.0
    transition: Transition | None = None


@dataclass(frozen=True)
class BreakerSnapshot:
    """What a panel shows for one breaker."""

    name: str
    state: BreakerState
    failure_rate: float
    calls: int
    opened_at: float | None
    retry_in: float


class CircuitBreaker:
    """A count-based sliding-window breaker with a cooldown and a bounded half-open phase."""

    def __init__(self, name: str, spec: BreakerSpec, clock: Clock) -> None:
        self.name = name
        self.spec = spec
        self._clock = clock
        self._state: BreakerState = "closed"
        self._window: deque[bool] = deque(maxlen=spec.window)
        """True for each failed (or slow) call among the most recent ones."""
        self._opened_at: float | None = None
        self._probes_admitted = 0
        self._probes_succeeded = 0
        self._probes_outstanding = 0

    @property
    def state(self) -> BreakerState:
        return self._state

    @property
    def calls(self) -> int:
        """Calls in the window (frozen while open or half-open)."""
        return len(self._window)

    @property
    def failure_rate(self) -> float:
        """Failures / calls over the window; 0.0 when the window is empty."""
        return sum(self._window) / len(self._window) if self._window else 0.0

    @property
    def retry_in(self) -> float:
        """Seconds until an open breaker lets probes through; 0.0 otherwise."""
        if self._state != "open" or self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self.spec.cooldown - self._clock())

    def admit(self) -> Admission:
        """May a call go out now? Moves open → half_open once the cooldown has passed."""
        if not self.spec.enabled:
            return Admission(allowed=True)
        transition = None
        if self._state == "open":
            if self.retry_in > 0:
                return Admission(allowed=False, retry_in=self.retry_in)
            transition = self._half_open()
        if self._state == "half_open":
            return self._admit_probe(transition)
        return Admission(allowed=True)

    def record(self, ok: bool, duration: float) -> Transition | None:
        """Fold in one finished call; a call slower than ``slow_call`` counts as failed."""
        if not self.spec.enabled:
            return None
        slow = self.spec.slow_call is not None and duration > self.spec.slow_call
        if self._state == "closed":
            return self._record_closed(failed=not ok or slow)
        if self._state == "half_open" and self._probes_outstanding > 0:
            return self._record_probe(ok, slow, duration)
        return None

    def snapshot(self) -> BreakerSnapshot:
        return BreakerSnapshot(
            name=self.name,
            state=self._state,
            failure_rate=self.failure_rate,
            calls=self.calls,
            opened_at=self._opened_at,
            retry_in=self.retry_in,
        )

    # --- transitions ---------------------------------------------------------------------

    def _record_closed(self, failed: bool) -> Transition | None:
        self._window.append(failed)
        rate, calls = self.failure_rate, self.calls
        if calls < min(self.spec.min_calls, self.spec.window) or rate < self.spec.failure_rate:
            return None
        threshold = f"{rate:.2f} ≥ {self.spec.failure_rate:.2f}"
        return self._open(rate, calls, f"failure rate {threshold} over {calls} calls")

    def _record_probe(self, ok: bool, slow: bool, duration: float) -> Transition | None:
        self._probes_outstanding -= 1
        if not ok or slow:
            settled = self._probes_succeeded + 1
            reason = "probe failed" if not ok else f"probe slow: {seconds_text(duration)}s"
            return self._open(1 / settled, settled, reason)
        self._probes_succeeded += 1
        if self._probes_succeeded < self.spec.half_open_probes:
            return None
        return self._close()

    def _admit_probe(self, transition: Transition | None) -> Admission:
        if self._probes_admitted >= self.spec.half_open_probes:
            return Admission(allowed=False, transition=transition)
        self._probes_admitted += 1
        self._probes_outstanding += 1
        return Admission(allowed=True, transition=transition)

    def _open(self, rate: float, calls: int, reason: str) -> Transition:
        self._opened_at = self._clock()
        return self._move("open", rate, calls, reason)

    def _half_open(self) -> Transition:
        self._probes_admitted = self._probes_succeeded = self._probes_outstanding = 0
        reason = f"cooldown {seconds_text(self.spec.cooldown)}s elapsed"
        return self._move("half_open", self.failure_rate, self.calls, reason)

    def _close(self) -> Transition:
        probes = self._probes_succeeded
        self._window.clear()
        self._opened_at = None
        reason = f"{probes} probe{'s' if probes != 1 else ''} succeeded"
        return self._move("closed", 0.0, probes, reason)

    def _move(self, to_state: BreakerState, rate: float, calls: int, reason: str) -> Transition:
        transition = Transition(self.name, self._state, to_state, rate, calls, reason)
        self._state = to_state
        return transition


class BreakerBoard:
    """Every breaker of a run (or a session), created on first use by name."""

    def __init__(self, spec_for: Callable[[str], BreakerSpec], clock: Clock) -> None:
        self._spec_for = spec_for
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, name: str) -> CircuitBreaker:
        """The breaker for ``service:<name>`` or ``model:<name>``, made with its spec if new."""
        breaker = self._breakers.get(name)
        if breaker is None:
            breaker = CircuitBreaker(name, self._spec_for(name), self._clock)
            self._breakers[name] = breaker
        return breaker

    def __contains__(self, name: object) -> bool:
        return name in self._breakers

    def snapshots(self) -> list[BreakerSnapshot]:
        """One snapshot per breaker, sorted by name."""
        return [self._breakers[name].snapshot() for name in sorted(self._breakers)]
