"""The event bus: the engine publishes, subscribers read at their own pace.

Two kinds of subscriber, because they want different things when they fall behind:

- a **listener** is a plain callable run synchronously inside ``publish`` — for cheap, in-order
  folds (the CLI summary, an in-memory log in tests, the JSON Lines writer). It must not block.
- a **subscription** is a bounded queue drained by its own task. ``lossless`` subscriptions
  (the store) make ``publish`` wait for room, so a slow writer slows the simulation rather than
  losing an event; ``lossy`` ones (the TUI) drop their oldest event and count the drop, because
  a frame that is a moment stale beats a frozen engine.

``publish`` is a coroutine so that back-pressure can reach the engine; with no lossless
subscription full it never actually suspends.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from agentdesk.engine.events import AnyEvent

Listener = Callable[[AnyEvent], None]


class Subscription:
    """A bounded queue of events for one consumer task."""

    def __init__(self, maxsize: int, lossless: bool) -> None:
        self.maxsize = maxsize
        self.lossless = lossless
        self.dropped = 0
        self._items: deque[AnyEvent] = deque()
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self.closed = False

    async def put(self, event: AnyEvent) -> None:
        while self.lossless and len(self._items) >= self.maxsize and not self.closed:
            self._writable.clear()
            await self._writable.wait()
        if len(self._items) >= self.maxsize:
            self._items.popleft()
            self.dropped += 1
        self._items.append(event)
        self._readable.set()

    async def get_batch(self, max_items: int = 1000) -> list[AnyEvent]:
        """Wait for at least one event (or close), then take up to ``max_items``."""
        while not self._items and not self.closed:
            self._readable.clear()
            await self._readable.wait()
        count = min(max_items, len(self._items))
        batch = [self._items.popleft() for _ in range(count)]
        self._writable.set()
        return batch

    def close(self) -> None:
        self.closed = True
        self._readable.set()
        self._writable.set()


class EventBus:
    """Fan-out of engine events to listeners and bounded subscriptions."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._subscriptions: list[Subscription] = []

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def subscribe(self, maxsize: int = 10_000, lossless: bool = False) -> Subscription:
        sub = Subscription(maxsize, lossless)
        self._subscriptions.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        sub.close()
        self._subscriptions.remove(sub)

    async def publish(self, event: AnyEvent) -> None:
        for listener in self._listeners:
            listener(event)
        for sub in self._subscriptions:
            await sub.put(event)

    def close(self) -> None:
        for sub in self._subscriptions:
            sub.close()
