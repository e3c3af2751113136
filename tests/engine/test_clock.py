"""The virtual clock, unpaced and paced.

Pacing is tested against a fake wall clock: the fake selector "waits" by moving that clock
forward by the timeout it was given, so nothing here sleeps and every figure is exact.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable

import pytest

from agentdesk.engine.clock import VirtualClockLoop, run_virtual


class FakeWall:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class WaitingSelector(selectors.DefaultSelector):
    """A real selector whose timed waits only move the fake wall clock forward."""

    def __init__(self, wall: FakeWall) -> None:
        super().__init__()
        self.wall = wall
        self.waits: list[float | None] = []
        self.on_block: Callable[[], None] | None = None
        """Called instead of blocking forever (stands in for another thread's wake-up)."""

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout != 0:
            self.waits.append(timeout)
        if timeout is None:
            assert self.on_block is not None, "the loop would block forever"
            self.on_block()
        elif timeout > 0:
            self.wall.now += timeout
        return super().select(0)


def paced(pace: float | None) -> tuple[VirtualClockLoop, FakeWall, WaitingSelector]:
    wall = FakeWall()
    selector = WaitingSelector(wall)
    return VirtualClockLoop(pace, wall=wall, selector=selector), wall, selector


async def _sleeps(*delays: float) -> list[float]:
    loop = asyncio.get_running_loop()
    seen = []
    for delay in delays:
        await asyncio.sleep(delay)
        seen.append(loop.time())
    return seen


def test_unpaced_time_jumps_without_waiting() -> None:
    """Unpaced (the default), an hour of sleeps costs no real wait at all."""
    loop, wall, selector = paced(None)
    try:
        assert loop.run_until_complete(_sleeps(1800, 1800)) == [1800, 3600]
    finally:
        loop.close()
    assert wall.now == 100.0
    assert selector.waits == []


def test_run_virtual_is_unpaced_by_default() -> None:
    """``run_virtual`` keeps its old behaviour: simulated time starts at 0 and jumps."""
    assert run_virtual(_sleeps(5, 0.5)) == [5, 5.5]


@pytest.mark.parametrize("pace", [1.0, 5.0, 20.0])
def test_paced_time_advances_at_the_pace(pace: float) -> None:
    """At pace P, ten simulated seconds take 10/P real seconds, and simulated times are exact."""
    loop, wall, _ = paced(pace)
    try:
        assert loop.run_until_complete(_sleeps(4, 6)) == [4, 10]
    finally:
        loop.close()
    assert wall.now - 100.0 == pytest.approx(10 / pace)


def test_a_paced_loop_that_fell_behind_catches_up_only_a_little() -> None:
    """After a slow stretch the loop may jump through what it owes, but the lag beyond MAX_LAG
    real seconds is dropped: the next sleep waits at the pace again instead of bursting."""
    loop, wall, selector = paced(10.0)

    async def slow_then_sleep() -> float:
        wall.now += 30  # busy for 30 real seconds: 300 simulated seconds of allowance
        await asyncio.sleep(2)  # within the capped lag: no wait
        await asyncio.sleep(10)  # beyond it: waits at the pace
        return asyncio.get_running_loop().time()

    try:
        assert loop.run_until_complete(slow_then_sleep()) == 12
    finally:
        loop.close()
    assert selector.waits == [pytest.approx(1.0)]  # only the second sleep waited, at the pace


def test_paused_loop_blocks_until_resumed() -> None:
    """Paused (pace 0), a pending timer does not move time; the loop waits to be woken, and
    once resumed the sleep ends at its exact simulated time."""
    loop, _, selector = paced(0)

    def resume() -> None:
        assert loop.time() == 0.0
        loop.set_pace(None)

    selector.on_block = resume
    try:
        assert loop.run_until_complete(_sleeps(3)) == [3]
    finally:
        loop.close()
    assert selector.waits == [None]


def test_changing_pace_mid_run_counts_from_the_change() -> None:
    """Going from 1× to 100× mid-sleep: the rest of the simulated time runs 100 times faster."""
    loop, wall, _ = paced(1.0)

    async def speed_up() -> None:
        loop.call_later(1, loop.set_pace, 100.0)
        await asyncio.sleep(101)

    try:
        loop.run_until_complete(speed_up())
        assert loop.time() == 101
    finally:
        loop.close()
    assert wall.now - 100.0 == pytest.approx(1 + 100 / 100.0)


def test_a_negative_pace_is_refused() -> None:
    """Pace is simulated seconds per real second; below zero means nothing."""
    with pytest.raises(ValueError, match="pace must be >= 0"):
        VirtualClockLoop(-1.0)


def test_a_paced_simulation_writes_the_same_event_log() -> None:
    """Pacing changes only when things happen in real time: a paced run of the demo through
    the payments storm writes the same bytes as an unpaced one."""
    from agentdesk.engine.events import AnyEvent, encode_lines
    from agentdesk.simulation import Simulation, demo_workspace

    sim = Simulation.prepare(demo_workspace(), "support-triage", "payments-503-storm")

    def log(loop: VirtualClockLoop) -> bytes:
        events: list[AnyEvent] = []
        inputs = [sim.default_input()] * 30
        try:
            loop.run_until_complete(sim.run_async(inputs, 6, [events.append]))
        finally:
            loop.close()
        return encode_lines(events)

    unpaced = log(VirtualClockLoop())
    assert unpaced and log(paced(3.0)[0]) == unpaced
