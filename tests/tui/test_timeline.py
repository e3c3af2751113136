"""The incident timeline, headless: jumps land on the right events, and the panels at any cursor
are what the Live screen's model shows after folding the same prefix from scratch."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentdesk.engine.events import (
    AnyEvent,
    AttemptFinished,
    AttemptStarted,
    BreakerTransition,
    BudgetExhausted,
    CallRejected,
    FallbackTaken,
    RetryScheduled,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
)
from agentdesk.simulation import Simulation, demo_workspace
from agentdesk.tui.models.live import fold
from agentdesk.tui.models.timeline import Moment, Timeline, mark_of
from agentdesk.tui.widgets.timeline_strip import LABEL, StripData, TimelineStrip
from tests.tui.conftest import recorded
from tests.tui.test_hostile import HOSTILE

COOLDOWN = 8.0
"""The demo workspace's breaker cooldown."""


def storm() -> tuple[AnyEvent, ...]:
    """Support-triage under an LLM 429 burst (2,306 events): errors, rejections, fallbacks,
    the model breakers opening, probing half-open and closing."""
    return recorded("llm-429-burst")


@cache
def budget_burn() -> tuple[AnyEvent, ...]:
    """doc-reconciliation under malformed JSON: re-asks burn the token budget of one run."""
    sim = Simulation.prepare(demo_workspace(), "doc-reconciliation", "malformed-json")
    events: list[AnyEvent] = []
    with ThreadPoolExecutor(1) as pool:
        pool.submit(sim.execute, [sim.default_input()] * 40, 4, [events.append]).result()
    return tuple(events)


def _expected(events: tuple[AnyEvent, ...], index: int, run_id: str) -> Moment:
    """The Live screen's model folded over the prefix, from nothing."""
    view = fold(list(events[: index + 1]), cooldown=COOLDOWN).view(run_id)
    return Moment(
        index,
        len(events),
        events[index],
        events[index].t,
        run_id,
        view.trace,
        None,
        view.breakers,
        view.meters,
        view.counters,
    )


def _same_panels(got: Moment, want: Moment) -> None:
    assert got.event is want.event
    assert got.trace == want.trace
    assert got.breakers == want.breakers
    assert got.meters == want.meters
    assert got.counters == want.counters


# --- jumps --------------------------------------------------------------------------------------


def test_first_error_is_the_first_failed_attempt_or_rejection() -> None:
    events = storm()
    timeline = Timeline(events, COOLDOWN)
    index = timeline.jump_first("error")
    assert index is not None and timeline.cursor == index
    first = events[index]
    assert isinstance(first, AttemptFinished | CallRejected | StepFinished | RunFinished)
    assert all(mark_of(e) != "error" for e in events[:index])
    if isinstance(first, AttemptFinished):
        assert first.outcome == "error"


def test_b_visits_every_breaker_transition_in_order_then_wraps() -> None:
    events = storm()
    timeline = Timeline(events, COOLDOWN)
    transitions = [i for i, e in enumerate(events) if isinstance(e, BreakerTransition)]
    assert len(transitions) >= 2, "the burst trips the model breakers"
    visited = [timeline.jump("breaker") for _ in transitions]
    assert visited == transitions
    assert timeline.jump("breaker") == transitions[0]  # wraps
    assert timeline.jump("breaker", -1) == transitions[-1]  # and back


def test_budget_exhaustion_jump_lands_on_the_refusal() -> None:
    events = budget_burn()
    timeline = Timeline(events, COOLDOWN)
    index = timeline.jump("budget")
    assert index is not None
    assert isinstance(events[index], BudgetExhausted)
    assert not any(isinstance(e, BudgetExhausted) for e in events[:index])
    moment = timeline.moment()
    assert any(m.level == "exhausted" for m in moment.meters)
    assert any(line.tone == "budget" for line in moment.trace)


def test_a_jump_to_a_kind_the_incident_lacks_leaves_the_cursor() -> None:
    timeline = Timeline(recorded("happy")[:500], COOLDOWN)
    timeline.go(123)
    assert timeline.jump("budget") is None and timeline.jump_first("error") is None
    assert timeline.cursor == 123


def test_step_by_step_visits_each_step_start() -> None:
    events = storm()[:400]
    timeline = Timeline(events, COOLDOWN)
    starts = [i for i, e in enumerate(events) if isinstance(e, StepStarted)]
    assert [timeline.jump("step", wrap=False) for _ in starts] == starts
    assert timeline.jump("step", wrap=False) is None
    assert timeline.jump("step", -1) == starts[-2]


def test_the_cursor_stays_inside_the_incident() -> None:
    timeline = Timeline(storm()[:50], COOLDOWN)
    assert timeline.step(-5) == 0
    assert timeline.go(10_000) == 49
    assert timeline.step(1) == 49


def test_an_empty_incident_has_a_moment_with_nothing_in_it() -> None:
    timeline = Timeline([])
    assert timeline.step(1) == 0 and timeline.jump("error") is None
    moment = timeline.moment()
    assert moment.event is None and moment.trace == () and moment.total == 0


def test_marks_name_the_kind_of_each_moment() -> None:
    rejected = CallRejected(t=1.0, run_id="r", step="s", breaker="service:x", retry_in=3.0)
    retry = RetryScheduled(t=1.0, run_id="r", step="s", attempt=1, delay=0.5, reason="HTTP 503")
    fallback = FallbackTaken(t=1.0, run_id="r", step="s", from_model="a", to_model="b", reason="x")
    ok = AttemptFinished(
        t=1.0, run_id="r", step="s", attempt=1, service="x", outcome="ok", latency=1
    )
    assert [mark_of(e) for e in (rejected, retry, fallback, ok)] == [
        "error",
        "retry",
        "fallback",
        None,
    ]


# --- the panels at the cursor ---------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(index=st.integers(0, 2305), every=st.sampled_from([3, 64, 256]))
def test_panels_at_any_cursor_equal_folding_the_prefix_from_scratch(index: int, every: int) -> None:
    """Trace, breakers, budgets and counters from the checkpoints equal the Live screen's
    model folded over events[: index + 1]."""
    events = storm()
    timeline = Timeline(events, COOLDOWN, every=every)
    timeline.go(index)
    got = timeline.moment()
    _same_panels(got, _expected(events, index, got.run_id))


@settings(max_examples=15, deadline=None)
@given(moves=st.lists(st.integers(-300, 300), min_size=1, max_size=12))
def test_panels_after_any_walk_equal_folding_the_prefix(moves: list[int]) -> None:
    """Stepping forward folds on from the last position; backwards restarts from a
    checkpoint: either way the panels are the prefix's."""
    events = budget_burn()
    timeline = Timeline(events, COOLDOWN, every=50)
    timeline.go(len(events) // 2)
    for delta in moves:
        timeline.step(delta)
        timeline.moment()
    got = timeline.moment()
    _same_panels(got, _expected(events, timeline.cursor, got.run_id))


def test_the_trace_grows_with_the_cursor_and_points_at_the_event() -> None:
    events = storm()
    timeline = Timeline(events, COOLDOWN)
    start = next(i for i, e in enumerate(events) if isinstance(e, AttemptStarted))
    started = timeline.moment(start)
    line = started.trace[started.trace_line or 0]
    assert started.trace_line is not None and line.kind == "attempt" and line.status == "running"
    finished = next(
        i
        for i, e in enumerate(events)
        if isinstance(e, AttemptFinished)
        and e.run_id == events[start].run_id
        and e.attempt == events[start].attempt  # type: ignore[union-attr]
    )
    after = timeline.moment(finished)
    assert after.trace_line == started.trace_line
    assert after.trace[started.trace_line].status != "running"
    assert len(timeline.moment(0).trace) == 1  # only the run, before any step


def test_breaker_state_at_a_transition_is_the_state_it_went_to() -> None:
    events = storm()
    timeline = Timeline(events, COOLDOWN)
    for index in timeline.indices("breaker"):
        event = events[index]
        assert isinstance(event, BreakerTransition)
        row = next(b for b in timeline.moment(index).breakers if b.name == event.breaker)
        assert row.state == event.to_state
        before = [b for b in timeline.moment(index - 1).breakers if b.name == event.breaker]
        assert not before or before[0].state == event.from_state


# --- hostile payloads -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_names_and_errors_fold_without_harm(text: str) -> None:
    """Untrusted strings travel through the timeline untouched (widgets make them inert), and
    marks and jumps still work."""
    events: list[AnyEvent] = [
        RunStarted(t=0.0, run_id=text, pipeline=text, session=1, seed=1, scenario=text, input=text),
        StepStarted(t=0.1, run_id=text, step=text, kind="tool"),
        AttemptStarted(t=0.1, run_id=text, step=text, attempt=1, service=text, target=text),
        AttemptFinished(
            t=0.2,
            run_id=text,
            step=text,
            attempt=1,
            service=text,
            outcome="error",
            latency=0.1,
            error=text,
            error_kind="http_status",
            status_code=503,
        ),
        BreakerTransition(
            t=0.2,
            run_id=text,
            breaker=text,
            from_state="closed",
            to_state="open",
            failure_rate=1.0,
            calls=1,
            reason=text,
        ),
        StepFinished(t=0.2, run_id=text, step=text, kind="tool", status="failed", duration=0.1),
        RunFinished(t=0.2, run_id=text, status="failed", stop_reason=text, duration=0.2),
    ]
    timeline = Timeline(events)
    assert timeline.jump_first("error") == 3
    assert timeline.jump("breaker") == 4
    moment = timeline.moment()
    assert moment.run_id == text
    assert moment.breakers[0].name == text and moment.breakers[0].state == "open"
    assert any(text in line.detail for line in timeline.moment(6).trace if line.detail)


@pytest.mark.parametrize("width", [20, 40, 97])
def test_the_axis_shows_the_first_and_last_times_whole_or_not_at_all(width: int) -> None:
    """Wherever the cursor is, the axis never shows part of a time: the cursor's own time is
    always there, and the first and last times only where they fit beside it."""
    strip = TimelineStrip()
    times = tuple(i * 0.37 for i in range(200))
    strip.data = StripData(times=times)
    for cursor in range(len(times)):
        strip.cursor = cursor
        axis = strip._axis(width, strip.column(times[cursor], width)).plain[LABEL:]
        assert len(axis) == width
        words = axis.replace("▲", " ").split()
        assert f"{times[cursor]:,.1f}s" in words
        assert set(words) <= {f"{times[cursor]:,.1f}s", "0.0s", f"{times[-1]:,.1f}s"}
