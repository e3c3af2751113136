"""The virtual clock: an asyncio event loop whose time jumps to the next timer when idle.

A simulated run awaits latencies, back-offs and timeouts like a real one, but on this loop a
``sleep(30)`` with nothing else ready costs no wall time: the selector is polled without
blocking and the loop's clock is moved forward by exactly the time the loop meant to wait.
Everything that reads time through the loop (``loop.time()``, ``asyncio.sleep``,
``asyncio.timeout``, ``call_later``) therefore lives in simulated seconds, which start at 0.

A loop can also be **paced** for a live view: ``pace`` simulated seconds per real second
(``None``, the default, is "as fast as possible"; ``0`` is paused). A paced loop still jumps
when idle, but never past the simulated time the pace allows so far; until then it waits in
its real selector, so ``call_soon_threadsafe`` from another thread (the TUI) wakes it at once.
When the simulation cannot keep up with its pace, the lag it may later catch up on is capped,
so a slow stretch does not end in a burst. Pacing changes when things happen in real time,
never their order or their simulated times: the loop only ever makes the same whole jumps to
the next timer as an unpaced one, so a paced run writes the same event log.

Served and real runs use an ordinary loop; the engine never asks which one it is on.

Work handed to threads does not advance this clock (see LIMITS.md), so simulated runs keep
everything on the loop.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import selectors
import time
from collections.abc import Callable, Coroutine
from contextvars import Context
from typing import Any, TypeVar

T = TypeVar("T")


class _JumpingSelector(selectors.BaseSelector):
    """Wraps a real selector; a timed wait becomes a non-blocking poll plus a clock jump."""

    def __init__(self, inner: selectors.BaseSelector, loop: VirtualClockLoop) -> None:
        self._inner = inner
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:
            # Nothing is scheduled: only another thread can wake us; wait for it for real.
            return self._inner.select(None)
        ready = self._inner.select(0)
        if ready or timeout <= 0:
            return ready
        wait = self._loop.real_wait(timeout)
        if wait is None or wait > 0:
            ready = self._inner.select(wait)
        self._loop.catch_up(timeout)
        return ready

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def close(self) -> None:
        self._inner.close()

    def get_map(self) -> Any:
        return self._inner.get_map()


MAX_LAG = 0.25
"""Real seconds of simulated time a paced loop that fell behind may catch up on at full speed;
beyond that the lag is dropped and the pace counts again from where the loop is."""
_EPSILON = 1e-9
"""Rounding slack when comparing the allowed time with the next timer's."""


class _Timer(asyncio.TimerHandle):
    """A timer that fires after every earlier-scheduled timer due at the same moment.

    asyncio's heap orders timers by time alone, so two due at the same simulated instant (two
    runs' timeouts at exactly 8.0 s) fire in an order that depends on every other timer in the
    heap. Breaking ties by scheduling order makes that order depend only on the timers
    involved — so a replay, whose services set fewer timers than the sims did, fires them in
    the recorded order."""

    __slots__ = ("_key",)

    def __init__(
        self, when: float, callback: Any, args: Any, loop: Any, context: Any, seq: int
    ) -> None:
        super().__init__(when, callback, args, loop, context)
        self._key = (when, seq)
        """What the heap orders by (a heap of 5,000 sleeping sessions compares ~12 per push)."""

    def __lt__(self, other: Any) -> bool:
        try:
            return bool(self._key < other._key)
        except AttributeError:  # a plain TimerHandle
            return bool(super().__lt__(other))


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """An event loop on simulated time, starting at 0.0 seconds.

    ``pace``: simulated seconds per real second (None: unpaced, 0: paused). ``wall`` and
    ``selector`` are the real clock and selector, injectable so pacing is testable without
    waiting.
    """

    def __init__(
        self,
        pace: float | None = None,
        wall: Callable[[], float] = time.monotonic,
        selector: selectors.BaseSelector | None = None,
    ) -> None:
        self._virtual_now = 0.0
        self._timers = itertools.count()
        self._wall = wall
        self._pace: float | None = None
        self._anchor = (0.0, 0.0)
        """(real, simulated) time when the pace was last set: the pace counts from here."""
        super().__init__(selector=_JumpingSelector(selector or selectors.DefaultSelector(), self))
        self.set_pace(pace)

    def time(self) -> float:
        return self._virtual_now

    def call_at(  # type: ignore[override]
        self,
        when: float,
        callback: Callable[..., object],
        *args: Any,
        context: Context | None = None,
    ) -> asyncio.TimerHandle:
        """As asyncio's, with ties broken by scheduling order (see ``_Timer``)."""
        self._check_closed()  # type: ignore[attr-defined]
        timer = _Timer(when, callback, args, self, context, next(self._timers))
        heapq.heappush(self._scheduled, timer)  # type: ignore[attr-defined]
        timer._scheduled = True  # type: ignore[attr-defined]
        return timer

    def advance(self, seconds: float) -> None:
        """Move the clock forward; the loop calls this itself when it would otherwise wait."""
        self._virtual_now += seconds

    @property
    def pace(self) -> float | None:
        return self._pace

    def set_pace(self, pace: float | None) -> None:
        """Change the pace from now on. From another thread: ``call_soon_threadsafe``."""
        if pace is not None and pace < 0:
            raise ValueError(f"pace must be >= 0 or None, not {pace}")
        self._pace = pace
        if pace:
            self._anchor = (self._wall(), self._virtual_now)

    def real_wait(self, timeout: float) -> float | None:
        """Real seconds to wait before jumping ``timeout`` ahead (None: until woken)."""
        if self._pace is None:
            return 0.0
        if self._pace == 0:
            return None
        return max(0.0, (self._virtual_now + timeout - self._allowed()) / self._pace)

    def catch_up(self, timeout: float) -> None:
        """Jump to the next timer if the pace allows it by now; otherwise stay (woken early).

        The jump is the same ``advance(timeout)`` an unpaced loop makes, never a partial one,
        so a paced run passes through exactly the simulated times an unpaced run does.
        """
        if self._pace is None:
            self.advance(timeout)
            return
        if self._pace == 0:
            return
        allowed = self._allowed()
        if allowed + _EPSILON < self._virtual_now + timeout:
            return
        self.advance(timeout)
        if allowed - self._virtual_now > MAX_LAG * self._pace:
            self._anchor = (self._wall(), self._virtual_now)

    def _allowed(self) -> float:
        real, simulated = self._anchor
        assert self._pace is not None
        return simulated + (self._wall() - real) * self._pace


def run_virtual(main: Coroutine[Any, Any, T], pace: float | None = None) -> T:
    """Run a coroutine to completion on a fresh virtual-clock loop (like ``asyncio.run``)."""
    with asyncio.Runner(loop_factory=lambda: VirtualClockLoop(pace)) as runner:
        return runner.run(main)
