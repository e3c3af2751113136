"""The Incidents screen through the factory the CLI uses: the list, the timeline and its jumps,
the panels as of the cursor, the what-if form and its side-by-side result.

The app shows a recorded session of the demo workspace (no simulation thread, no store), so
the list holds the workspace's five incident bundles and the session's runs. Opening,
listing and replaying happen on thread workers: tests wait for them
(``workers.wait_for_complete``), never for a fixed time.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from agentdesk.engine.events import (
    AnyEvent,
    BreakerTransition,
    BudgetExhausted,
    StepStarted,
)
from agentdesk.simulation import demo_workspace
from agentdesk.tui.app import AgentdeskApp, make_app
from agentdesk.tui.commands import open_incident
from agentdesk.tui.incident_catalog import IncidentEntry
from agentdesk.tui.models.timeline import mark_of
from agentdesk.tui.screens.incidents import IncidentsScreen
from agentdesk.tui.screens.what_if_form import WhatIfForm
from agentdesk.tui.screens.what_if_result import WhatIfComparison
from agentdesk.tui.widgets.breaker_board import BreakerBoard
from agentdesk.tui.widgets.budget_meters import BudgetMeters
from agentdesk.tui.widgets.counters import CounterPanel
from agentdesk.tui.widgets.event_detail import EventDetail
from agentdesk.tui.widgets.incident_list import IncidentList
from agentdesk.tui.widgets.timeline_strip import TimelineStrip
from agentdesk.tui.widgets.trace_view import TraceView
from tests.tui.conftest import SIZE, recorded, recorded_app
from tests.tui.test_hostile import BAD_BYTES, HOSTILE, _hostile_run

STORM = "incidents/payments-503-storm.incident.jsonl"
BURNED = "incidents/malformed-json.incident.jsonl"


async def _settle(app: AgentdeskApp, pilot: Pilot[None]) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def _screen(app: AgentdeskApp, pilot: Pilot[None]) -> IncidentsScreen:
    await pilot.press("i")
    await _settle(app, pilot)
    screen = app.screen
    assert isinstance(screen, IncidentsScreen)
    return screen


async def _open(app: AgentdeskApp, pilot: Pilot[None], ref: str) -> IncidentsScreen:
    screen = await _screen(app, pilot)
    listing = screen.query_one(IncidentList)
    listing.cursor = next(i for i, e in enumerate(listing.entries) if e.ref == ref)
    await pilot.press("enter")
    await _settle(app, pilot)
    assert screen.timeline is not None and screen.is_open
    return screen


def _cursor_event(screen: IncidentsScreen) -> AnyEvent:
    assert screen.timeline is not None
    return screen.timeline.events[screen.timeline.cursor]


async def test_i_lists_the_workspace_bundles_then_the_session_runs() -> None:
    """The demo workspace's five incidents come first, replayable; the recorded session's
    failed runs follow as timelines."""
    app = recorded_app("payments-503-storm")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _screen(app, pilot)
        entries = screen.query_one(IncidentList).entries
        files = [e for e in entries if e.source == "file"]
        assert len(files) == 5 and all(e.replayable for e in files)
        assert any("Payments 503 storm" in e.title for e in files)
        session = [e for e in entries if e.source == "session"]
        assert session and not any(e.replayable for e in session)
        assert session[0].failed == 1  # failed runs first


async def test_jumps_land_on_the_first_error_each_breaker_transition_and_back() -> None:
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot, STORM)
        timeline = screen.timeline
        assert timeline is not None and timeline.cursor == 0
        await pilot.press("e")
        assert timeline.cursor == timeline.first("error")
        assert screen.query_one(EventDetail).note == "first error"
        await pilot.press("e")
        assert timeline.cursor == timeline.indices("error")[1]
        await pilot.press("b")
        event = _cursor_event(screen)
        assert isinstance(event, BreakerTransition) and event.to_state == "open"
        board = screen.query_one(BreakerBoard).breakers
        assert next(b for b in board if b.name == event.breaker).state == "open"
        assert screen.query_one(BreakerBoard).has_class("-open")
        await pilot.press("home")
        assert timeline.cursor == 0
        await pilot.press("end")
        assert timeline.cursor == len(timeline) - 1
        await pilot.press("left", "left", "right")
        assert timeline.cursor == len(timeline) - 2
        await pilot.press("home", "right_square_bracket")
        assert isinstance(_cursor_event(screen), StepStarted)
        step = timeline.cursor
        await pilot.press("shift+right", "left_square_bracket")
        assert timeline.cursor == step


async def test_x_goes_to_budget_exhaustion_and_the_meters_show_it() -> None:
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot, BURNED)
        await pilot.press("x")
        assert isinstance(_cursor_event(screen), BudgetExhausted)
        meters = screen.query_one(BudgetMeters)
        assert meters.level == "exhausted"
        assert any(line.tone == "budget" for line in screen.query_one(TraceView).lines)


async def test_every_panel_shows_the_state_as_of_the_cursor() -> None:
    """What the widgets hold is the timeline's moment at the cursor, wherever it goes."""
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot, STORM)
        timeline = screen.timeline
        assert timeline is not None
        for keys in (("e",), ("b",), ("right",) * 7, ("end",), ("home",)):
            await pilot.press(*keys)
            moment = timeline.moment()
            assert screen.query_one(TimelineStrip).cursor == moment.index
            assert screen.query_one(EventDetail).event is moment.event
            trace = screen.query_one(TraceView)
            assert trace.lines == moment.trace and trace.cursor == moment.trace_line
            assert screen.query_one(BreakerBoard).breakers == moment.breakers
            assert screen.query_one(BudgetMeters).meters == moment.meters
            assert screen.query_one(CounterPanel).counters == moment.counters
        await pilot.press("end")
        assert screen.query_one(CounterPanel).counters.runs == 12  # the bundle's twelve runs


async def test_the_documented_what_if_fixes_the_storm_side_by_side() -> None:
    """w opens the form with the bundle's documented fix; enter replays it on a worker and
    the comparison shows both failed refunds completing; g puts the cursor on the first
    event where the replay differs."""
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot, STORM)
        await pilot.press("w")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, WhatIfForm)
        more = form.query_one("#what-if-more", Input).value
        assert "steps.refund.retry.max_attempts=8" in more
        await pilot.press("enter")
        await _settle(app, pilot)
        comparison = app.screen
        assert isinstance(comparison, WhatIfComparison)
        rows = {row.label: row for row in comparison.result.rows()}
        assert (rows["outcome"].original, rows["outcome"].changed) == ("2 failed", "2 ok")
        divergence = comparison.result.divergence
        assert divergence is not None
        await pilot.press("g")
        await pilot.pause()
        assert app.screen is screen
        assert screen.timeline is not None and screen.timeline.cursor == divergence.index
        assert screen.query_one(EventDetail).note == "first divergence (what-if)"


async def test_t_scrubs_the_replay_itself() -> None:
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot, STORM)
        await pilot.press("w")
        await pilot.pause()
        await pilot.press("enter")
        await _settle(app, pilot)
        await pilot.press("t")
        await _settle(app, pilot)
        assert screen.incident is not None and screen.incident.entry.title.startswith("what-if")
        assert screen.timeline is not None
        await pilot.press("end")
        assert screen.query_one(CounterPanel).counters.failed == 0  # the refunds went through


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"#what-if-attempts": "lots"}, "valid integer"),
        ({"#what-if-timeout": "soon"}, "is not a duration"),
        ({"#what-if-fallback": "gpt-4o"}, "a fallback chain belongs to one step"),
        ({"#what-if-more": "retry.sideways=1"}, "unknown key"),
        ({"#what-if-step": "refnud", "#what-if-attempts": "5"}, "no step 'refnud'"),
        ({"#what-if-step": "refund"}, "nothing to change"),
    ],
)
async def test_a_bad_what_if_is_explained_in_the_form_and_nothing_changes(
    fields: dict[str, str], message: str
) -> None:
    """Checked as the form closes, or by the replay (which reopens the form with why):
    either way the form shows the reason with what was typed, and no result appears."""
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot, STORM)
        await pilot.press("w")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, WhatIfForm)
        form.query_one("#what-if-more", Input).value = ""
        for field, value in fields.items():
            form.query_one(field, Input).value = value
        await pilot.press("enter")
        await _settle(app, pilot)
        form = app.screen  # the same form, or reopened with the replay's reason
        assert isinstance(form, WhatIfForm)
        assert message in str(form.query_one("#what-if-error").render())
        for field, value in fields.items():
            assert form.query_one(field, Input).value == value
        assert screen.result is None
        await pilot.press("escape")
        assert app.screen is screen


async def test_a_run_without_a_tape_scrubs_but_says_why_there_is_no_what_if() -> None:
    app = recorded_app("payments-503-storm")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _screen(app, pilot)
        listing = screen.query_one(IncidentList)
        listing.cursor = next(i for i, e in enumerate(listing.entries) if e.source == "session")
        await pilot.press("enter")
        await _settle(app, pilot)
        assert screen.is_open and screen.incident is not None
        assert screen.incident.bundle is None
        await pilot.press("e")
        assert mark_of(_cursor_event(screen)) == "error"
        await pilot.press("w")
        await pilot.pause()
        assert app.screen is screen  # no form
        assert any("incidents save" in str(n.message) for n in app._notifications)
        await pilot.press("escape")
        assert not screen.is_open and screen.query_one(IncidentList).has_focus


@pytest.mark.parametrize("payload", HOSTILE)
async def test_hostile_runs_and_bundle_titles_are_shown_inert(payload: str, tmp_path: Path) -> None:
    """A bundle whose header holds hostile text is listed inert; a run full of hostile text
    opens, and every panel paints no control bytes and stays inside the terminal."""
    root = tmp_path / "ws"
    shutil.copytree(demo_workspace(), root, ignore=shutil.ignore_patterns(".agentdesk"))
    header = {"agentdesk_incident": 1, "title": payload, "scenario": payload, "counts": {}}
    (root / "incidents" / "hostile.incident.jsonl").write_text(json.dumps(header) + "\n")
    events = [e for n in range(2) for e in _hostile_run(payload, n)]
    app = make_app(root, "support-triage", "happy", events=events)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _screen(app, pilot)
        assert not any(c in app.export_screenshot() for c in BAD_BYTES)
        listing = screen.query_one(IncidentList)
        listing.cursor = next(i for i, e in enumerate(listing.entries) if e.source == "session")
        await pilot.press("enter")
        await _settle(app, pilot)
        for keys in (("e",), ("b",), ("end",)):
            await pilot.press(*keys)
            painted = app.export_screenshot()
            assert not any(c in painted for c in BAD_BYTES), keys
            for widget in screen.query("TimelineStrip, TraceView, EventDetail, BreakerBoard"):
                assert widget.region.right <= SIZE[0], widget
        if payload.startswith("[bold red]"):
            assert "[bold red]MARKUP[/bold red]" in painted.replace("&#160;", " ")


async def test_an_unreadable_bundle_is_listed_with_its_problem_and_does_not_open(
    tmp_path: Path,
) -> None:
    root = tmp_path / "ws"
    shutil.copytree(demo_workspace(), root, ignore=shutil.ignore_patterns(".agentdesk"))
    (root / "incidents" / "broken.incident.jsonl").write_bytes(b"\x00not json\n")
    app = make_app(root, "support-triage", "happy", events=list(recorded("happy")))
    async with app.run_test(size=SIZE) as pilot:
        screen = await _screen(app, pilot)
        listing = screen.query_one(IncidentList)
        index, entry = next(
            (i, e) for i, e in enumerate(listing.entries) if e.ref.endswith("broken.incident.jsonl")
        )
        assert entry.note.startswith("unreadable")
        listing.cursor = index
        await pilot.press("enter")
        await _settle(app, pilot)
        assert not screen.is_open
        assert any("incident not opened" in str(n.title) for n in app._notifications)


async def test_the_screen_fits_the_smallest_terminal() -> None:
    """At 100×30 the strip shows every lane and the panels all have room."""
    app = recorded_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await _open(app, pilot, STORM)
        await pilot.press("e")
        screen = app.screen
        strip = screen.query_one(TimelineStrip)
        assert strip.content_size.height >= 5
        for selector in ("#incident-trace", "#incident-event", "#incident-breakers"):
            region = screen.query_one(selector).region
            assert region.width >= 30 and region.height >= 4, selector
            assert region.right <= 100 and region.bottom <= 30, selector
        for selector in ("#incident-budget", "#incident-counters"):
            region = screen.query_one(selector).region
            assert region.height >= 5 and region.bottom <= 30, selector


async def test_the_palette_opens_an_incident_on_its_timeline() -> None:
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        entry = IncidentEntry("file", STORM, "storm")
        open_incident(app, entry)
        await _settle(app, pilot)
        await _settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, IncidentsScreen) and screen.is_open
        assert screen.incident is not None and screen.incident.entry == entry
