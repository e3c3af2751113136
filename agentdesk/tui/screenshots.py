"""Regenerate ``screenshots/``: every screen in its important states, as SVG and PNG.

    python -m agentdesk.tui.screenshots [FOLDER]

Each picture is the app (built by ``make_app``) showing a recorded session of the demo
workspace — the same seed, the same events, the same picture — at 120×36. The Artifacts
picture adds a recorded edit history in a temporary copy of the workspace (fixed times shown
in UTC; a valid edit compared before/after, then a broken save). The Incidents picture opens
the workspace's payments-storm bundle at its first breaker transition. PNGs need the optional
``cairosvg`` package; without it only the SVGs are written.
"""

from __future__ import annotations

import asyncio
import atexit
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from textual.pilot import Pilot

from agentdesk.artifacts.files import artifact_files
from agentdesk.engine.events import AnyEvent
from agentdesk.errors import SpecError
from agentdesk.simulation import Simulation, demo_workspace
from agentdesk.spec.loader import load_pipeline, load_workspace
from agentdesk.spec.sources import OverlayFiles
from agentdesk.store.artifacts import Registry
from agentdesk.store.database import locate, open_engine
from agentdesk.tui.app import AgentdeskApp, make_app
from agentdesk.tui.demo import SHOW
from agentdesk.tui.hot_reload import HotReload

SIZE = (120, 36)
Setup = Callable[[AgentdeskApp], Awaitable[None]]


@dataclass(frozen=True)
class Shot:
    name: str
    scenario: str
    keys: tuple[str, ...] = ()
    note: str = ""
    size: tuple[int, int] = SIZE
    history: bool = False
    """Give the app a recorded edit history (the Artifacts screen)."""
    then: tuple[str, ...] = ()
    """Keys pressed once the first keys' workers are done (an incident opened)."""


SHOTS = (
    Shot("live", "happy"),
    Shot("live-breaker-open", "payments-503-storm"),
    Shot("live-100x30", "payments-503-storm", size=(100, 30)),
    Shot("chaos-fault-injected", "payments-503-storm", keys=("c", "j", "j", "j", "j", "1")),
    Shot("help", "happy", keys=("question_mark",)),
    Shot("demo", "payments-503-storm", note=SHOW[2].say),
    Shot("artifacts", "happy", keys=("a",), history=True),
    Shot("incidents", "payments-503-storm", keys=("i", "j", "j", "enter"), then=("b",)),
)
EDITED = "prompts/triage.user.md"
WHEN = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def recorded_events(scenario: str, runs: int = 60, sessions: int = 8) -> list[AnyEvent]:
    sim = Simulation.prepare(demo_workspace(), "support-triage", scenario)
    events: list[AnyEvent] = []
    with ThreadPoolExecutor(1) as pool:  # callers may have an event loop running
        pool.submit(sim.execute, [sim.default_input()] * runs, sessions, [events.append]).result()
    return events


def shot_app(shot: Shot) -> AgentdeskApp:
    root = edit_history_workspace() if shot.history else demo_workspace()
    hot = HotReload(root, db=_db(root), watch=False, timezone=UTC) if shot.history else False
    app = make_app(
        root, "support-triage", shot.scenario, events=recorded_events(shot.scenario), hot_reload=hot
    )
    if isinstance(hot, HotReload):
        play_edit_history(hot)
    if shot.note:
        app.control.bridge.note(shot.note)
        app.bridge.pump()
    return app


def edit_history_workspace() -> Path:
    """A copy of the demo workspace (removed at exit) with every file recorded at ``WHEN``."""
    root = Path(tempfile.mkdtemp(prefix="agentdesk-shot-")) / "workspace"
    atexit.register(shutil.rmtree, root.parent, True)
    shutil.copytree(demo_workspace(), root, ignore=shutil.ignore_patterns(".agentdesk"))
    engine = open_engine(locate(root, _db(root)))
    registry = Registry(engine)
    for path in artifact_files(root):
        registry.record(path, (root / path).read_bytes(), when=WHEN)
    engine.dispose()
    return root


def play_edit_history(hot: HotReload) -> None:
    """v1 labelled production; v2 (12 minutes later) asks for shorter answers and is
    compared before/after; v3 (2 minutes after that) is a broken save, rejected."""
    hot.open()
    assert hot.registry is not None and hot.session is not None
    path = hot.root / EDITED
    original = path.read_bytes()
    hot.registry.set_label("production", hot.registry.resolve(f"{EDITED}@1"))
    edited = original.replace(b"\n\n", b"\n\nAnswer in two sentences at most.\n\n", 1)
    broken = edited.replace(b"{{ steps.ticket.body }}", b"{{ steps.ticket.body }", 1)
    for minutes, content, status in ((12, edited, "valid"), (14, broken, "rejected")):
        when = WHEN.replace(minute=30 + minutes)
        error = _problems(hot.root, content) if status == "rejected" else ""
        hot.registry.record(EDITED, content, status=status, error=error, when=when)
        path.write_bytes(content)
        hot.session.apply([EDITED])
    hot.run_pending()


def _problems(root: Path, content: bytes) -> str:
    """What the session will record as the error of ``content`` in place of ``EDITED``."""
    files = OverlayFiles(root, {EDITED: content})
    try:
        load_pipeline(load_workspace(root, strict=False, files=files), "support-triage")
    except SpecError as exc:
        return "\n".join(str(p) for p in exc.problems)
    return ""


def _db(root: Path) -> str:
    return str(root / ".agentdesk" / "shot.db")


async def settle(pilot: Pilot[None], keys: tuple[str, ...]) -> None:
    """Press the keys, then wait for the screen's workers (a diff being read)."""
    await pilot.pause()
    await pilot.press(*keys)
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def settle_shot(shot: Shot, pilot: Pilot[None]) -> None:
    """The shot's keys, then (once their workers are done) its ``then`` keys."""
    await settle(pilot, shot.keys)
    if shot.then:
        await settle(pilot, shot.then)


async def take(shot: Shot) -> str:
    app = shot_app(shot)
    async with app.run_test(size=shot.size) as pilot:
        await settle_shot(shot, pilot)
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
