"""Replay speed: events replayed per second for a ~10,000-event incident, beside the original.

    python bench/replay.py [--runs 320] [--sessions 20] [--repeat 3]

Builds one incident from the demo workspace (support-triage under payments-503-storm, a
group of runs on the virtual clock), then times, best of ``--repeat``:

- the original simulated run, with no tape (what ``agentdesk run`` cost before incidents);
- the same run recording its tape in memory (what the tape adds to ``agentdesk run``);
- the exact replay from the bundle (``replay_exact``: load from the bundle's files, re-run
  with the tape answering, compare the logs byte for byte);
- a what-if replay (one retry more for the refund step; the sims answer what the tape cannot).

Target (issue 6): replay at least as fast as the original simulated run. Figures are wall
time on this machine and vary ±10–30 % with other load; the ratios hold better.

Then the other half of the issue's benchmark: the time to jump to an arbitrary point of the
Incidents screen's timeline of this incident (its headless model, ``tui.models.timeline``;
``bench/timeline_jump.py`` also times jumps in the running app, panels drawn).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import _common  # noqa: F401  (sets up the path and tiktoken)

from agentdesk.incidents.bundle import Bundle, bundle_lines, read_bundle
from agentdesk.incidents.record import TapeReel, record
from agentdesk.incidents.whatif import WhatIf, replay_exact, run_what_if
from agentdesk.simulation import Simulation, demo_workspace
from agentdesk.store import redactor_for

SCENARIO = "payments-503-storm"


def _sim() -> Simulation:
    return Simulation.prepare(demo_workspace(), "support-triage", SCENARIO)


def _inputs(runs: int) -> list[dict[str, str]]:
    return [{"ticket_id": f"T-{1001 + i}"} for i in range(runs)]


def original(runs: int, sessions: int) -> tuple[float, int]:
    sim = _sim()
    events: list[object] = []
    started = time.perf_counter()
    sim.execute(_inputs(runs), sessions, [events.append])
    return time.perf_counter() - started, len(events)


def recorded(runs: int, sessions: int) -> tuple[float, Bundle]:
    sim = _sim()
    redactor = redactor_for(sim.workspace.spec, {})
    started = time.perf_counter()
    bundle = record(sim, _inputs(runs), concurrency=sessions, redactor=redactor)
    return time.perf_counter() - started, bundle


def taped(runs: int, sessions: int) -> float:
    """The original run with every call recorded on a tape (redacted), as ``agentdesk run``
    now does; without building a bundle."""
    sim = _sim()
    reel = TapeReel(redactor_for(sim.workspace.spec, {}))
    events: list[object] = []
    started = time.perf_counter()
    sim.execute(_inputs(runs), sessions, [events.append], wrap=reel.wrap)
    return time.perf_counter() - started


def jump_figures(bundle: Bundle, jumps: int = 500) -> None:
    """The Incidents screen's timeline on this incident: random jumps (its model, the same
    code the screen calls; ``bench/timeline_jump.py`` also times the running app)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from timeline_jump import TARGET_MS, model_figures

    print(f"timeline: {jumps} random jumps on this incident (target: under {TARGET_MS:.0f} ms)")
    model_figures(bundle.decoded_events(), jumps, random.Random(7))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=320)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    _, bundle = recorded(args.runs, args.sessions)  # warm-up: imports, tiktoken encodings
    plain = min(original(args.runs, args.sessions)[0] for _ in range(args.repeat))
    with_tape = min(taped(args.runs, args.sessions) for _ in range(args.repeat))
    data = b"".join(bundle_lines(bundle))
    bundle = read_bundle(data)
    redactor = redactor_for(_sim().workspace.spec, {})
    events = len(bundle.events)

    replays = [replay_exact(bundle, redactor=redactor) for _ in range(args.repeat)]
    assert all(r.equal for r in replays), replays[0].divergence
    replay_wall = min(r.seconds for r in replays)
    started = time.perf_counter()
    replay_exact(bundle, redactor=redactor)
    replay_total = time.perf_counter() - started

    what_if = WhatIf.parse(["steps.refund.retry.max_attempts=5"])
    started = time.perf_counter()
    result = run_what_if(bundle, what_if, redactor=redactor)
    what_if_total = time.perf_counter() - started

    print(
        f"incident: {len(bundle.runs)} runs, {events:,} events, {len(bundle.tape):,} calls "
        f"on the tape, bundle {len(data) / 1e6:.1f} MB"
    )
    print(f"original simulated run  {plain:6.3f} s   {events / plain:9,.0f} events/s")
    print(
        f"  with its tape         {with_tape:6.3f} s   {events / with_tape:9,.0f} events/s"
        f"   (tape +{(with_tape / plain - 1) * 100:.0f} %)"
    )
    print(
        f"exact replay (run)      {replay_wall:6.3f} s   {events / replay_wall:9,.0f} events/s"
        f"   ({plain / replay_wall:.2f}× the original)"
    )
    print(
        f"exact replay (all)      {replay_total:6.3f} s   {events / replay_total:9,.0f} "
        "events/s   (load from the bundle, replay, compare)"
    )
    print(
        f"what-if replay (all)    {what_if_total:6.3f} s   "
        f"{len(result.events) / what_if_total:9,.0f} events/s   "
        f"({result.tape_answered} calls from the tape, {result.sims_answered} from the sims)"
    )
    print("target: replay at least as fast as the original simulated run")
    jump_figures(bundle)


if __name__ == "__main__":
    main()
