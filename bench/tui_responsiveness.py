"""How the TUI holds up under a stream of events: absorbed rate, key latency, memory.

    python bench/tui_responsiveness.py [--rate 10000] [--seconds 10] [--total 1000000]

Runs the real app (``make_app``) headless at 160×50 with its real bridge thread, while a
producer thread replays recorded support-triage events (payments storm; run ids renumbered so
every replayed run is a new run) into the control's event bridge:

1. at ``--rate`` events/s for ``--seconds``, a third thread presses j/k (posted into the app
   from outside its loop, as a terminal would) and times each press until the frame that
   shows the moved cursor is written: key → screen-update latency p50/p95/p99;
Keys are space (pause/resume: the status line changes).
2. then ``--total`` events as fast as the producer can put them: events/s absorbed by the
   fold, and resident memory before and after (flat memory = bounded models).
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from collections.abc import Iterator

import msgspec
from _common import rss_mb

from agentdesk.engine.events import AnyEvent
from agentdesk.tui.app import AgentdeskApp
from agentdesk.tui.screenshots import recorded_events
from agentdesk.tui.widgets.status_line import StatusLine

SIZE = (160, 50)


def stream(recorded: list[AnyEvent]) -> Iterator[AnyEvent]:
    """The recorded events forever, each cycle's runs renamed and shifted later in time."""
    span = recorded[-1].t + 1.0
    cycle = 0
    while True:
        for event in recorded:
            if cycle == 0:
                yield event
            else:
                yield msgspec.structs.replace(
                    event, run_id=f"{event.run_id}~{cycle}", t=round(event.t + cycle * span, 6)
                )
        cycle += 1


class Producer(threading.Thread):
    def __init__(
        self, app: AgentdeskApp, source: Iterator[AnyEvent], rate: float | None, total: int
    ):
        super().__init__(daemon=True)
        self.app, self.source, self.rate, self.total = app, source, rate, total
        self.sent = 0
        self.stop = threading.Event()

    def run(self) -> None:
        put = self.app.control.bridge.put
        started = time.perf_counter()
        while self.sent < self.total and not self.stop.is_set():
            if self.rate is not None:
                due = started + self.sent / self.rate
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            for _ in range(100):
                put(next(self.source))
            self.sent += 100


def measure_keys(app: AgentdeskApp, seconds: float) -> list[float]:
    """Press space (pause/resume) from this thread; time each press to the first frame written
    after the status line took the new state."""
    from textual import events as tevents  # after agentdesk.tui, which sets the frame rate

    status = app.screen.query_one(StatusLine)
    painted = threading.Event()
    want = {"paused": False}
    display = app._display

    def spy(screen, renderable):  # type: ignore[no-untyped-def]
        display(screen, renderable)
        if status.paused == want["paused"]:
            painted.set()

    app._display = spy  # type: ignore[method-assign]
    latencies = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        want["paused"] = not app.control.state.paused
        painted.clear()
        t0 = time.perf_counter()
        app.post_message(tevents.Key("space", " "))
        if painted.wait(2.0):
            latencies.append(time.perf_counter() - t0)
        time.sleep(0.03)
    app._display = display  # type: ignore[method-assign]
    return latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def bench(rate: float, seconds: float, total: int) -> None:
    recorded = recorded_events("payments-503-storm", runs=400, sessions=20)
    from agentdesk.simulation import demo_workspace
    from agentdesk.tui.app import make_app

    app = make_app(demo_workspace(), "support-triage", "payments-503-storm", events=[])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        source = stream(recorded)
        for _ in range(20_000):  # a screen with something on it
            app.control.bridge.put(next(source))
        app.bridge.pump()
        app.bridge.start()  # a recorded app starts no bridge; this one is fed from outside
        idle = await asyncio.to_thread(measure_keys, app, 2.0)
        producer = Producer(app, source, rate, 10**12)
        producer.start()
        t0 = time.perf_counter()
        loaded = await asyncio.to_thread(measure_keys, app, seconds)
        producer.stop.set()
        producer.join()
        achieved = producer.sent / (time.perf_counter() - t0)
        frames_before = app.bridge.frames

        before_mb = rss_mb()
        folded_before = app.model.summary.events
        flood = Producer(app, source, None, total)
        t1 = time.perf_counter()
        flood.start()
        await asyncio.to_thread(flood.join)
        while app.model.summary.events + app.model.dropped < folded_before + total:
            await asyncio.sleep(0.05)
        flood_s = time.perf_counter() - t1
        after_mb = rss_mb()
        folded = app.model.summary.events - folded_before
        print(
            f"idle: key→frame p50 {pct(idle, 0.5) * 1000:.1f} ms  "
            f"p95 {pct(idle, 0.95) * 1000:.1f} ms  ({len(idle)} keys)"
        )
        print(
            f"streaming {achieved:,.0f} events/s: key→frame p50 {pct(loaded, 0.5) * 1000:.1f} ms  "
            f"p95 {pct(loaded, 0.95) * 1000:.1f} ms  p99 {pct(loaded, 0.99) * 1000:.1f} ms  "
            f"({len(loaded)} keys, {frames_before} bridge frames)"
        )
        print(
            f"flood: {total:,} events put in {flood_s:.1f} s: {folded / flood_s:,.0f} events/s "
            f"absorbed (folded {folded:,}, dropped {app.model.dropped:,})"
        )
        print(
            f"memory: {before_mb:.0f} MB before the flood, {after_mb:.0f} MB after "
            f"{app.model.summary.events:,} events in all; runs kept {len(app.model.runs.rows())}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--total", type=int, default=1_000_000)
    args = parser.parse_args()
    asyncio.run(bench(args.rate, args.seconds, args.total))


if __name__ == "__main__":
    main()
