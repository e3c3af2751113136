"""Circuit breakers against a fake clock: unit tests and a hypothesis state machine."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from agentdesk.engine.policies.breaker import (
    Admission,
    BreakerBoard,
    BreakerSnapshot,
    CircuitBreaker,
    Transition,
)
from agentdesk.spec.models import BreakerSpec

SPEC = BreakerSpec(window=10, min_calls=5, failure_rate=0.5, cooldown=30, half_open_probes=2)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def breaker(spec: BreakerSpec = SPEC) -> tuple[CircuitBreaker, FakeClock]:
    clock = FakeClock()
    return CircuitBreaker("service:payments", spec, clock), clock


def trip(b: CircuitBreaker) -> Transition | None:
    transition = None
    for _ in range(SPEC.min_calls):
        assert b.admit().allowed
        transition = b.record(False, 0.1) or transition
    return transition


def test_closed_breaker_admits() -> None:
    b, _ = breaker()
    assert b.admit() == Admission(allowed=True)
    assert b.state == "closed"


def test_no_verdict_before_min_calls() -> None:
    b, _ = breaker()
    for _ in range(4):
        assert b.record(False, 0.1) is None
    assert b.state == "closed"
    assert b.failure_rate == 1.0


def test_opens_when_the_failure_rate_reaches_the_threshold() -> None:
    b, _ = breaker(SPEC.model_copy(update={"min_calls": 10}))
    for ok in (True, True, False, False, False, True, False, False, True):
        assert b.record(ok, 0.1) is None
    transition = b.record(False, 0.1)
    assert transition == Transition(
        "service:payments", "closed", "open", 0.6, 10, "failure rate 0.60 ≥ 0.50 over 10 calls"
    )
    assert b.state == "open"


def test_window_slides_over_the_last_calls() -> None:
    b, _ = breaker(SPEC.model_copy(update={"failure_rate": 1.0}))
    for _ in range(4):
        b.record(False, 0.1)
    for _ in range(10):
        b.record(True, 0.1)
    assert b.calls == 10
    assert b.failure_rate == 0.0


def test_min_calls_above_the_window_waits_for_a_full_window() -> None:
    b, _ = breaker(SPEC.model_copy(update={"window": 3, "min_calls": 50}))
    b.record(False, 0.1), b.record(False, 0.1)
    transition = b.record(False, 0.1)
    assert transition is not None and transition.reason == "failure rate 1.00 ≥ 0.50 over 3 calls"


def test_slow_calls_count_as_failures() -> None:
    b, _ = breaker(SPEC.model_copy(update={"slow_call": 2.0}))
    for _ in range(4):
        b.record(True, 2.5)
    transition = b.record(True, 2.0)
    assert transition is not None and transition.to_state == "open"


def test_open_rejects_until_the_cooldown_has_passed() -> None:
    b, clock = breaker()
    trip(b)
    clock.now = 10.0
    assert b.admit() == Admission(allowed=False, retry_in=20.0)
    assert b.snapshot() == BreakerSnapshot("service:payments", "open", 1.0, 5, 0.0, 20.0)


def test_cooldown_moves_to_half_open_on_the_next_admission() -> None:
    b, clock = breaker()
    trip(b)
    clock.now = 30.0
    assert b.state == "open"
    admission = b.admit()
    assert admission.allowed
    assert admission.transition == Transition(
        "service:payments", "open", "half_open", 1.0, 5, "cooldown 30s elapsed"
    )


def test_half_open_admits_only_the_probes() -> None:
    b, clock = breaker()
    trip(b)
    clock.now = 31.0
    assert [b.admit().allowed for _ in range(3)] == [True, True, False]


def test_all_probes_succeeding_closes_and_resets_the_window() -> None:
    b, clock = breaker()
    trip(b)
    clock.now = 31.0
    b.admit(), b.admit()
    assert b.record(True, 0.1) is None
    transition = b.record(True, 0.1)
    assert transition == Transition(
        "service:payments", "half_open", "closed", 0.0, 2, "2 probes succeeded"
    )
    assert (b.state, b.calls, b.failure_rate) == ("closed", 0, 0.0)


def test_a_failed_probe_reopens_with_a_new_cooldown() -> None:
    b, clock = breaker()
    trip(b)
    clock.now = 31.0
    b.admit(), b.admit()
    b.record(True, 0.1)
    transition = b.record(False, 0.1)
    assert transition == Transition("service:payments", "half_open", "open", 0.5, 2, "probe failed")
    clock.now = 40.0
    assert b.admit() == Admission(allowed=False, retry_in=21.0)


def test_a_slow_probe_reopens() -> None:
    b, clock = breaker(SPEC.model_copy(update={"slow_call": 1.0}))
    trip(b)
    clock.now = 31.0
    b.admit()
    transition = b.record(True, 1.5)
    assert transition is not None and transition.reason == "probe slow: 1.5s"


def test_late_results_while_open_are_ignored() -> None:
    b, _ = breaker()
    trip(b)
    assert b.record(True, 0.1) is None
    assert b.record(False, 0.1) is None
    assert b.calls == 5


def test_disabled_breaker_always_admits_and_never_moves() -> None:
    b, _ = breaker(SPEC.model_copy(update={"enabled": False}))
    for _ in range(50):
        assert b.admit().allowed
        assert b.record(False, 100.0) is None
    assert b.state == "closed"


def test_board_creates_breakers_by_name_with_their_spec() -> None:
    clock = FakeClock()
    specs = {"model:gpt-4o": SPEC.model_copy(update={"cooldown": 5.0})}
    board = BreakerBoard(lambda name: specs.get(name, SPEC), clock)
    payments = board.get("service:payments")
    assert board.get("service:payments") is payments
    assert board.get("model:gpt-4o").spec.cooldown == 5.0
    assert "model:gpt-4o" in board and "service:crm" not in board
    assert [s.name for s in board.snapshots()] == ["model:gpt-4o", "service:payments"]


# --- state machine --------------------------------------------------------------------------

EDGES = {("closed", "open"), ("open", "half_open"), ("half_open", "open"), ("half_open", "closed")}


class BreakerMachine(RuleBasedStateMachine):
    """Random admits, results and clock jumps; a simple model checks the breaker's choices."""

    @initialize(
        window=st.integers(1, 8),
        min_calls=st.integers(1, 8),
        rate=st.sampled_from([0.25, 0.5, 1.0]),
        probes=st.integers(1, 3),
        slow=st.sampled_from([None, 1.0]),
    )
    def setup(
        self, window: int, min_calls: int, rate: float, probes: int, slow: float | None
    ) -> None:
        spec = BreakerSpec(
            window=window,
            min_calls=min_calls,
            failure_rate=rate,
            cooldown=10.0,
            half_open_probes=probes,
            slow_call=slow,
        )
        self.clock = FakeClock()
        self.breaker = CircuitBreaker("service:x", spec, self.clock)
        self.outstanding = 0
        self.probe_successes = 0

    def check(self, transition: Transition | None) -> None:
        if transition is None:
            return
        assert (transition.from_state, transition.to_state) in EDGES
        assert transition.to_state == self.breaker.state
        if transition.to_state == "half_open":
            self.outstanding = self.probe_successes = 0

    @rule()
    def admit(self) -> None:
        before, opened_at = self.breaker.state, self.breaker.snapshot().opened_at
        admission = self.breaker.admit()
        self.check(admission.transition)
        if before == "open" and opened_at is not None:
            cooled = opened_at + self.breaker.spec.cooldown - self.clock.now <= 0
            assert admission.allowed == cooled
            if not admission.allowed:
                assert admission.retry_in > 0
        if admission.allowed and self.breaker.state == "half_open":
            self.outstanding += 1

    @rule(ok=st.booleans(), duration=st.sampled_from([0.1, 2.0]))
    def record(self, ok: bool, duration: float) -> None:
        before = self.breaker.state
        was_probe = before == "half_open" and self.outstanding > 0
        transition = self.breaker.record(ok, duration)
        self.check(transition)
        if was_probe:
            self.outstanding -= 1
            slow = self.breaker.spec.slow_call is not None and duration > 1.0
            self.probe_successes += ok and not slow
            if not ok or slow:
                assert self.breaker.state == "open"
            elif self.probe_successes == self.breaker.spec.half_open_probes:
                assert self.breaker.state == "closed"
                assert self.breaker.calls == 0
            else:
                assert self.breaker.state == "half_open"
        if before == "open":
            assert transition is None

    @rule(seconds=st.sampled_from([0.5, 5.0, 9.99, 10.0, 25.0]))
    def advance(self, seconds: float) -> None:
        self.clock.now += seconds

    @precondition(lambda self: hasattr(self, "breaker"))
    @invariant()
    def probes_are_bounded(self) -> None:
        if self.breaker.state == "half_open":
            assert 0 <= self.outstanding <= self.breaker.spec.half_open_probes

    @precondition(lambda self: hasattr(self, "breaker"))
    @invariant()
    def closed_means_below_threshold(self) -> None:
        b = self.breaker
        if b.state == "closed" and b.calls >= b.spec.min_calls:
            assert b.failure_rate < b.spec.failure_rate

    @precondition(lambda self: hasattr(self, "breaker"))
    @invariant()
    def snapshot_agrees(self) -> None:
        snapshot = self.breaker.snapshot()
        assert snapshot.state == self.breaker.state
        assert (snapshot.opened_at is None) == (snapshot.state == "closed")
        assert snapshot.retry_in >= 0


BreakerMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=60)
TestBreakerMachine = BreakerMachine.TestCase
