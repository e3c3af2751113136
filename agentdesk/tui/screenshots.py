"""Regenerate ``screenshots/``: every screen in its important states, as SVG and PNG.

    python -m agentdesk.tui.screenshots [FOLDER]

Each picture is the app (built by ``make_app``) showing a recorded session of the demo
workspace — the same seed, the same events, the same picture — at 120×36. PNGs need the
optional ``cairosvg`` package; without it only the SVGs are written.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from agentdesk.engine.events import AnyEvent
from agentdesk.simulation import Simulation, demo_workspace
from agentdesk.tui.app import AgentdeskApp, make_app
from agentdesk.tui.demo import SHOW

SIZE = (120, 36)
Setup = Callable[[AgentdeskApp], Awaitable[None]]


@dataclass(frozen=True)
class Shot:
    name: str
    scenario: str
    keys: tuple[str, ...] = ()
    note: str = ""
    size: tuple[int, int] = SIZE


SHOTS = (
    Shot("live", "happy"),
    Shot("live-breaker-open", "payments-503-storm"),
    Shot("live-100x30", "payments-503-storm", size=(100, 30)),
    Shot("chaos-fault-injected", "payments-503-storm", keys=("c", "j", "j", "j", "j", "1")),
    Shot("help", "happy", keys=("question_mark",)),
    Shot("demo", "payments-503-storm", note=SHOW[2].say),
)


def recorded_events(scenario: str, runs: int = 60, sessions: int = 8) -> list[AnyEvent]:
    sim = Simulation.prepare(demo_workspace(), "support-triage", scenario)
    events: list[AnyEvent] = []
    with ThreadPoolExecutor(1) as pool:  # callers may have an event loop running
        pool.submit(sim.execute, [sim.default_input()] * runs, sessions, [events.append]).result()
    return events


def shot_app(shot: Shot) -> AgentdeskApp:
    app = make_app(
        demo_workspace(), "support-triage", shot.scenario, events=recorded_events(shot.scenario)
    )
    if shot.note:
        app.control.bridge.note(shot.note)
        app.bridge.pump()
    return app


async def take(shot: Shot) -> str:
    app = shot_app(shot)
    async with app.run_test(size=shot.size) as pilot:
        await pilot.pause()
        await pilot.press(*shot.keys)
        await pilot.pause()
        return app.export_screenshot(title=f"agentdesk · {shot.name}")


def main(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import cairosvg  # type: ignore[import-untyped]
    except ImportError:
        cairosvg = None
    for shot in SHOTS:
        svg = asyncio.run(take(shot))
        path = folder / f"{shot.name}.svg"
        path.write_text(svg, encoding="utf-8", newline="\n")
        if cairosvg is not None:
            cairosvg.svg2png(bytestring=svg.encode(), write_to=str(path.with_suffix(".png")))
        print(path)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("screenshots"))
