"""The event bus: listeners in order, bounded subscriptions that drop or push back."""

from __future__ import annotations

import asyncio

from agentdesk.engine.bus import EventBus
from agentdesk.engine.clock import run_virtual
from agentdesk.engine.events import AnyEvent, LoopIteration


def _event(n: int) -> LoopIteration:
    return LoopIteration(t=float(n), run_id="r", step="loop", iteration=n, done=False)


def test_listeners_see_every_event_in_order() -> None:
    seen: list[AnyEvent] = []

    async def main() -> None:
        bus = EventBus()
        bus.listen(seen.append)
        for n in range(5):
            await bus.publish(_event(n))

    run_virtual(main())
    assert [e.iteration for e in seen if isinstance(e, LoopIteration)] == [0, 1, 2, 3, 4]


def test_a_lossy_subscription_keeps_the_newest_and_counts_what_it_dropped() -> None:
    async def main() -> tuple[list[int], int]:
        bus = EventBus()
        sub = bus.subscribe(maxsize=3, lossless=False)
        for n in range(10):
            await bus.publish(_event(n))
        batch = await sub.get_batch()
        return [e.iteration for e in batch if isinstance(e, LoopIteration)], sub.dropped

    kept, dropped = run_virtual(main())
    assert kept == [7, 8, 9]
    assert dropped == 7


def test_a_lossless_subscription_makes_the_publisher_wait_and_loses_nothing() -> None:
    async def main() -> tuple[list[int], list[int]]:
        bus = EventBus()
        sub = bus.subscribe(maxsize=2, lossless=True)
        published: list[int] = []

        async def produce() -> None:
            for n in range(6):
                await bus.publish(_event(n))
                published.append(n)
            bus.close()

        producer = asyncio.create_task(produce())
        await asyncio.sleep(0)
        # The queue holds two; the third publish is waiting for room.
        assert published == [0, 1]
        received: list[int] = []
        while batch := await sub.get_batch(max_items=1):  # empty once closed and drained
            received += [e.iteration for e in batch if isinstance(e, LoopIteration)]
        await producer
        return published, received

    published, received = run_virtual(main())
    assert published == list(range(6))
    assert received == list(range(6))
