"""The app through the factory the CLI uses, driven with Pilot: keys, screens, live updates.

Recorded sessions (``events=…``) start no thread; the one live test waits for the bridge to
deliver frames by draining it in the test (``bridge.pump``), never by sleeping.
"""

from __future__ import annotations

from agentdesk.simulation import demo_workspace
from agentdesk.tui.app import AgentdeskApp, make_app
from agentdesk.tui.screens.chaos import ChaosScreen
from agentdesk.tui.screens.help import HelpScreen
from agentdesk.tui.screens.live import LiveScreen
from agentdesk.tui.screens.scenario_picker import ScenarioPicker
from agentdesk.tui.widgets.breaker_board import BreakerBoard
from agentdesk.tui.widgets.fault_table import FaultTable
from agentdesk.tui.widgets.runs_list import RunsList
from agentdesk.tui.widgets.trace_view import TraceView
from tests.tui.conftest import SIZE, recorded_app


async def test_live_screen_shows_the_newest_finished_run() -> None:
    """On a recorded storm the Live screen lists every run, traces the newest finished one,
    and the breaker board has gone red (state class -open) if a breaker is still open."""
    app = recorded_app("payments-503-storm")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, LiveScreen)
        runs = app.screen.query_one(RunsList)
        assert len(runs.rows) == 60 and runs.selected == app.selected_run
        assert app.screen.query_one(TraceView).lines[0].kind == "run"
        board = app.screen.query_one(BreakerBoard)
        assert board.has_class("-open") == any(b.state == "open" for b in board.breakers)


async def test_moving_the_cursor_traces_another_run() -> None:
    """j moves down the runs list; the trace follows the highlighted run."""
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()  # the first frame
        first = app.selected_run
        await pilot.press("j", "j")
        runs = app.screen.query_one(RunsList)
        assert runs.cursor == 2 and not runs.follow
        assert app.selected_run == runs.rows[2].run_id != first
        trace = app.screen.query_one(TraceView)
        assert f"session {runs.rows[2].session}" in trace.lines[0].label
        await pilot.press("g")
        assert runs.follow and runs.cursor == 0


async def test_chaos_keys_inject_and_clear_faults() -> None:
    """On the Chaos screen, c opens it, ↓ picks a service, 1 injects a 503 storm, 0 clears it,
    x clears everything; the table shows what is injected."""
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        assert isinstance(app.screen, ChaosScreen)
        table = app.screen.query_one(FaultTable)
        service = table.services[table.row + 1][0]
        await pilot.press("j", "1", "2")
        assert app.control.state.injected == {service: ["429 burst", "503 storm"]}
        assert table.injected == {service: ["429 burst", "503 storm"]}
        await pilot.press("0")
        assert app.control.state.injected == {}
        await pilot.press("k", "6", "x")
        assert app.control.state.injected == {}
        await pilot.press("l")
        assert isinstance(app.screen, LiveScreen)


async def test_switching_scenario_from_the_chaos_screen() -> None:
    """s opens the scenario picker; choosing one switches the control's scenario and the
    Chaos screen shows its faults."""
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c", "s")
        assert isinstance(app.screen, ScenarioPicker)
        names = app.control.scenarios()
        await pilot.press(*["down"] * names.index("payments-503-storm"), "enter")
        assert app.control.state.scenario == "payments-503-storm"
        assert isinstance(app.screen, ChaosScreen)
        assert app.screen.query_one(FaultTable).scenario_faults["payments"] == ["503 ×92% 0-20s"]


async def test_help_opens_and_closes() -> None:
    """? shows every key; escape closes it."""
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, LiveScreen)


async def test_pause_and_pace_keys_change_the_control() -> None:
    """space pauses (and the status line says so), ] and [ step the pace."""
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        assert app.control.state.paused
        await pilot.press("right_square_bracket")
        assert app.control.state.pace == 20.0
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert app.control.state.pace == 1.0
        await pilot.press("space")
        assert not app.control.state.paused


async def test_the_palette_offers_agentdesk_commands() -> None:
    """ctrl+p lists agentdesk's commands; picking "Inject fault: 503 storm on payments" does it."""
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.press(*"503 storm on payments")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.control.state.injected == {"payments": ["503 storm"]}


async def test_a_live_app_shows_runs_as_they_finish() -> None:
    """Live: the simulation thread runs, the bridge folds its events, and the runs list fills.
    The test drains the bridge itself (pump) until runs have finished, then refreshes."""
    app = make_app(demo_workspace(), "support-triage", pace=None, hot_reload=False)
    async with app.run_test(size=SIZE) as pilot:
        app.bridge.stop()  # the test pumps instead of the bridge's thread
        while app.model.view().counters.ok < 5:
            app.control.bridge.wait(1.0)
            app.bridge.pump()
        app.refresh_view()
        await pilot.pause()
        assert any(r.status == "ok" for r in app.screen.query_one(RunsList).rows)
    assert not app.control.running


async def test_small_terminal_keeps_every_panel_visible() -> None:
    """At 100×30 every Live panel still has room on screen."""
    app: AgentdeskApp = recorded_app("payments-503-storm")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        for selector in ("#runs", "#breakers", "#trace", "#budget", "#counters", "#latency"):
            region = app.screen.query_one(selector).region
            assert region.width >= 20 and region.height >= 3, selector


async def test_the_trace_scrolls_when_a_run_outgrows_it() -> None:
    """A run whose trace is taller than its panel brings up the scrollbar and its last line can
    be scrolled to; a short trace takes the scrollbar away again. (A new trace sets the view's
    size without a screen layout, which would cost a frame while events stream.)"""
    app = recorded_app("payments-503-storm")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        trace = app.screen.query_one(TraceView)
        height = trace.scrollable_content_region.height
        lengths = {r.run_id: len(app.model.view(r.run_id).trace) for r in app.model.runs.rows()}
        long = next(run for run, n in lengths.items() if n > height + 2)
        short = next(run for run, n in lengths.items() if n < height)
        for run_id, scrolls in ((long, True), (short, False), (long, True)):
            app.open_run(run_id)
            await pilot.pause()
            assert trace.lines == app.model.view(run_id).trace
            assert trace.show_vertical_scrollbar is scrolls
            assert trace.max_scroll_y == max(0, lengths[run_id] - height)


async def test_the_breaker_board_grows_with_its_rows() -> None:
    """The breaker board is as tall as its rows: one line before any call, one row per breaker
    (a new value asks for a layout only when its height changes, so this must still happen)."""
    app = recorded_app("payments-503-storm")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        board = app.screen.query_one(BreakerBoard)
        breakers = board.breakers
        assert len(breakers) > 2
        for shown in ((), breakers[:1], breakers, breakers[:2]):
            board.breakers = shown
            await pilot.pause()
            assert board.content_region.height == max(1, len(shown))


async def test_a_kept_runs_list_line_follows_the_cursor_and_the_width() -> None:
    """Finished runs' lines are kept between frames; the cursor's highlight and a new width
    still redraw them."""
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        runs = app.screen.query_one(RunsList)

        def reversed_line(y: int) -> bool:
            return any(s.style is not None and s.style.reverse for s in runs.render_line(y))

        assert runs.cursor == 0 and reversed_line(0) and not reversed_line(1)
        await pilot.press("j")
        assert reversed_line(1) and not reversed_line(0)
        narrow = runs.render_line(2).cell_length
        await pilot.resize_terminal(SIZE[0] - 20, SIZE[1])
        await pilot.pause()
        assert runs.render_line(2).cell_length < narrow
