"""The virtual clock: an asyncio event loop whose time jumps to the next timer when idle.

A simulated run awaits latencies, back-offs and timeouts like a real one, but on this loop a
``sleep(30)`` with nothing else ready costs no wall time: the selector is polled without
blocking and the loop's clock is moved forward by exactly the time the loop meant to wait.
Everything that reads time through the loop (``loop.time()``, ``asyncio.sleep``,
``asyncio.timeout``, ``call_later``) therefore lives in simulated seconds, which start at 0.

Served and real runs use an ordinary loop; the engine never asks which one it is on.

Work handed to threads does not advance this clock (see LIMITS.md), so simulated runs keep
everything on the loop.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
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
        if not ready and timeout > 0:
            self._loop.advance(timeout)
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


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """An event loop on simulated time, starting at 0.0 seconds."""

    def __init__(self) -> None:
        self._virtual_now = 0.0
        super().__init__(selector=_JumpingSelector(selectors.DefaultSelector(), self))

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        """Move the clock forward; the loop calls this itself when it would otherwise wait."""
        self._virtual_now += seconds


def run_virtual(main: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a fresh virtual-clock loop (like ``asyncio.run``)."""
    with asyncio.Runner(loop_factory=VirtualClockLoop) as runner:
        return runner.run(main)
