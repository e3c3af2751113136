"""Benchmark: jumping to arbitrary points of a 10,000-event incident's timeline.

The incident is the demo workspace's support-triage pipeline under payments-503-storm, run
for enough sessions (8 at a time, seed 42, in-process sims on the virtual clock) to log at
least 10,000 events. Prints, over many random jumps:

- the timeline model's jump (``Timeline.go`` + ``moment``: trace, breaker board, budget
  meters and counters as of the cursor), with checkpoints as built for the screen, and
  without them (every jump folds from the first event) for comparison;
- stepping one event on (→), which folds on from the last position;
- the same jump in the running app, headless: the panels pushed into the Incidents screen's
  widgets (``show_moment``) and the widgets' visible lines rendered (strip, trace, event,
  breakers, budgets, totals) — everything but the compositor writing the terminal;
- building the timeline (the worker's part when an incident opens) and its checkpoints.

Target: a jump under 50 ms. Wall-clock figures on a shared machine vary ±10–30 %. A jump
during which Python happened to run a full garbage collection of the whole process is named
(that pause is the process's, not the timeline's: it falls on whatever runs then).

    python bench/timeline_jump.py [--events 10000] [--jumps 1000] [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import _common  # noqa: F401  (sets up the path and tiktoken)

from agentdesk.engine.events import AnyEvent
from agentdesk.simulation import Simulation, demo_workspace
from agentdesk.tui.models.timeline import MarkKind, Timeline

SCENARIO = "payments-503-storm"
TARGET_MS = 50.0


def incident(events_wanted: int) -> tuple[list[AnyEvent], int, float]:
    """At least ``events_wanted`` events of whole runs; (events, sessions, seconds to run)."""
    sim = Simulation.prepare(demo_workspace(), "support-triage", SCENARIO)
    sessions = max(8, events_wanted // 30)
    while True:
        events: list[AnyEvent] = []
        start = time.perf_counter()
        sim.execute([sim.default_input()] * sessions, 8, [events.append])
        if len(events) >= events_wanted:
            return events, sessions, time.perf_counter() - start
        sessions = int(sessions * events_wanted / max(1, len(events))) + 8


@dataclass
class Timings:
    ms: list[float] = field(default_factory=list)
    collected: list[float] = field(default_factory=list)
    """Calls during which Python ran a full (generation 2) garbage collection."""


def timed(action: Callable[[], object], times: int) -> Timings:
    found = Timings()
    for _ in range(times):
        full = gc.get_stats()[2]["collections"]
        start = time.perf_counter()
        action()
        took = (time.perf_counter() - start) * 1000
        found.ms.append(took)
        if gc.get_stats()[2]["collections"] != full:
            found.collected.append(took)
    return found


def line(name: str, timings: Timings) -> str:
    ms = sorted(timings.ms)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    verdict = "ok" if p95 < TARGET_MS else "OVER"
    text = (
        f"  {name:<50} p50 {statistics.median(ms):7.2f} ms  p95 {p95:7.2f} ms  "
        f"max {max(ms):7.2f} ms  [{verdict}]"
    )
    if timings.collected:
        rest = [m for m in ms if m not in timings.collected] or [0.0]
        text += (
            f"\n  {'':<50} {len(timings.collected)} jump(s) ran a full garbage collection "
            f"({', '.join(f'{m:.0f}' for m in timings.collected)} ms); max of the rest "
            f"{max(rest):.2f} ms"
        )
    return text


def model_figures(events: list[AnyEvent], jumps: int, rng: random.Random) -> Timeline:
    start = time.perf_counter()
    timeline = Timeline(events, cooldown=8.0)
    built = (time.perf_counter() - start) * 1000
    print(
        f"  build (marks, run index, {timeline.checkpoints} checkpoints every "
        f"{timeline.every} events): {built:.1f} ms"
    )
    points = [rng.randrange(len(events)) for _ in range(jumps)]
    marks = iter(points)
    print(line("jump to a random event (model)", timed(lambda: jump(timeline, next(marks)), jumps)))
    order: list[MarkKind] = ["error", "breaker", "step"]
    kinds = iter(order * jumps)
    print(
        line(
            "jump to the next error / breaker transition / step",
            timed(lambda: (timeline.jump(next(kinds)), timeline.moment()), jumps),
        )
    )
    timeline.go(0)
    print(
        line("step one event on (→)", timed(lambda: (timeline.step(1), timeline.moment()), jumps))
    )
    bare = Timeline(events, cooldown=8.0, every=len(events) + 1)
    few = iter(points[: max(20, jumps // 10)])
    print(
        line(
            "jump without checkpoints (fold from the start)",
            timed(lambda: jump(bare, next(few)), max(20, jumps // 10)),
        )
    )
    return timeline


def jump(timeline: Timeline, index: int) -> None:
    timeline.go(index)
    timeline.moment()


async def app_figures(events: list[AnyEvent], jumps: int, rng: random.Random) -> None:
    from agentdesk.tui.app import make_app
    from agentdesk.tui.incident_catalog import IncidentEntry, OpenIncident
    from agentdesk.tui.screens.incidents import IncidentsScreen

    app = make_app(demo_workspace(), "support-triage", SCENARIO, events=events[:2000])
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("i")
        await pilot.pause()
        await app.workers.wait_for_complete()
        screen = app.screen
        assert isinstance(screen, IncidentsScreen)
        entry = IncidentEntry("session", "bench", f"{len(events):,} events under {SCENARIO}")
        timeline = Timeline(events, cooldown=8.0)
        screen.show_incident(OpenIncident(entry, tuple(events), cooldown=8.0), timeline)
        await pilot.pause()
        screen.show_moment()  # warm: the first draw lays the widgets out
        await pilot.pause()
        widgets = screen.query(
            "TimelineStrip, TraceView, EventDetail, BreakerBoard, BudgetMeters, CounterPanel"
        ).nodes

        def jump_and_draw(index: int) -> None:
            timeline.go(index)
            screen.show_moment()
            for widget in widgets:
                if hasattr(widget, "render_line") and hasattr(widget, "line_count"):
                    for y in range(widget.size.height):
                        widget.render_line(y)
                else:
                    widget.render()

        points = iter([rng.randrange(len(events)) for _ in range(jumps)])
        print(
            line(
                "jump + panels pushed + visible lines drawn (app)",
                timed(lambda: jump_and_draw(next(points)), jumps),
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--jumps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7, help="where the random jumps land")
    args = parser.parse_args()
    with ThreadPoolExecutor(1) as pool:
        events, sessions, seconds = pool.submit(incident, args.events).result()
    print(
        f"incident: support-triage under {SCENARIO}, {sessions} sessions, {len(events):,} events "
        f"(simulated in {seconds:.1f} s)"
    )
    print(f"{args.jumps} random jumps each (target: under {TARGET_MS:.0f} ms):")
    model_figures(events, args.jumps, random.Random(args.seed))
    asyncio.run(app_figures(events, min(args.jumps, 300), random.Random(args.seed + 1)))


if __name__ == "__main__":
    main()
