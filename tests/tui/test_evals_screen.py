"""The Evals screen, through the factory the CLI uses, on a store filled by ``agentdesk eval``.

The store is made once for the module: a copy of the demo workspace evaluated under happy and
payments-503-storm, then again after a change to what the model answers (a second release, so
the trend has two points and the storm's refund cases keep failing). The app shows a recorded
session (no simulation thread); the screen reads the store on its workers, which the tests
wait for — never for a fixed time.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from textual.pilot import Pilot
from textual.widgets import OptionList, Static

from agentdesk.cli.eval import eval_command
from agentdesk.simulation import demo_workspace
from agentdesk.tui.app import AgentdeskApp, make_app
from agentdesk.tui.models.evals import bars, build_view
from agentdesk.tui.screens.evals import EvalsScreen
from agentdesk.tui.screens.run_trace import RunTraceScreen
from agentdesk.tui.widgets.trace_view import TraceView
from tests.tui.conftest import SIZE, recorded
from tests.tui.test_hostile import BAD_BYTES, HOSTILE

REFUND_REPLY = "Sorry about the double charge. We have refunded the duplicate payment."


def _eval(root: Path, *args: str) -> dict[str, object]:
    argv = ["support-triage", "-w", str(root), "--json", *args]
    result = CliRunner().invoke(eval_command, argv, catch_exceptions=False)
    data: dict[str, object] = json.loads(result.stdout)
    return data


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A workspace and its store with two evaluated releases."""
    root = tmp_path_factory.mktemp("evals") / "ws"
    shutil.copytree(demo_workspace(), root, ignore=shutil.ignore_patterns(".agentdesk"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AGENTDESK_DB", str(root / ".agentdesk" / "evals.db"))
        _eval(root, "-s", "happy", "-s", "payments-503-storm")
        config = root / "agentdesk.yaml"
        config.write_text(config.read_text().replace(REFUND_REPLY, "We are looking into it."))
        _eval(root, "-s", "happy", "-s", "payments-503-storm")
        yield root


@pytest.fixture
def store_env(evaluated: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AGENTDESK_DB", str(evaluated / ".agentdesk" / "evals.db"))
    return evaluated


def _app(root: Path) -> AgentdeskApp:
    return make_app(root, "support-triage", "happy", events=list(recorded("happy")))


async def _open(app: AgentdeskApp, pilot: Pilot[None]) -> EvalsScreen:
    await pilot.press("e")
    await _settle(app, pilot)
    assert isinstance(app.screen, EvalsScreen)
    return app.screen


async def _settle(app: AgentdeskApp, pilot: Pilot[None]) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def _text(screen: EvalsScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def _options(screen: EvalsScreen, selector: str) -> list[str]:
    listing = screen.query_one(selector, OptionList)
    return [str(listing.get_option_at_index(i).prompt) for i in range(listing.option_count)]


async def test_e_shows_the_newest_eval_its_scenarios_gates_and_failing_cases(
    store_env: Path,
) -> None:
    """e opens the Evals screen on the newest eval: both scenarios with their pass counts and
    gates, the first scenario with failures chosen, its failing cases listed first."""
    app = _app(store_env)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot)
        view = screen.view
        assert len(view.evals) == 2 and view.selected == view.evals[0].id
        assert [s.scenario for s in view.scenarios] == ["happy", "payments-503-storm"]
        assert "eval " + view.evals[0].id in _text(screen, "#evals-header")
        scenarios = _options(screen, "#eval-scenarios")
        assert scenarios[0].startswith("happy") and "payments-503-storm" in scenarios[1]
        failing = [s.scenario for s in view.scenarios if s.passed < s.cases]
        assert screen.scenario == failing[0]
        cases = screen.shown_cases
        assert cases and not any(c.passed for c in cases)
        assert all(c.scenario == screen.scenario for c in cases)
        assert cases[0].failures[0] in _text(screen, "#eval-case")
        assert "gates" in str(screen.query_one("#eval-gates", Static).border_title)
        gates = _text(screen, "#eval-gates")
        assert "faithfulness" in gates and "max_drop[faithfulness]" in gates


async def test_the_trend_has_a_point_per_release(store_env: Path) -> None:
    app = _app(store_env)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot)
        points = screen.view.trend(screen.scenario)
        releases = [e.release for e in reversed(screen.view.evals)]
        assert [p.release for p in points] == releases
        assert points[0].release != points[1].release
        trend = _text(screen, "#eval-trend")
        assert "pass rate" in trend and "2 release(s)" in trend


async def test_enter_on_a_failing_case_opens_its_recorded_trace(store_env: Path) -> None:
    """The trace is the case's own recorded run (BATCH/RUN): its run line names the scenario
    it ran under, and escape goes back to the same case."""
    app = _app(store_env)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot)
        case = screen.selected_case()
        assert case is not None and not case.passed and case.recorded
        await pilot.press("enter")
        await _settle(app, pilot)
        assert isinstance(app.screen, RunTraceScreen)
        trace = app.screen.query_one(TraceView)
        assert case.run_ref in str(trace.border_title)
        run = trace.lines[0]
        assert run.kind == "run" and case.scenario in run.label
        assert any(line.kind == "step" for line in trace.lines)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and screen.selected_case() == case


async def test_n_and_p_step_through_stored_evals(store_env: Path) -> None:
    app = _app(store_env)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot)
        newest, older = (e.id for e in screen.view.evals)
        await pilot.press("n")
        await _settle(app, pilot)
        assert screen.view.selected == older
        assert "(2 of 2)" in _text(screen, "#evals-header")
        await pilot.press("n")  # already the oldest: stays
        await _settle(app, pilot)
        assert screen.view.selected == older
        await pilot.press("p")
        await _settle(app, pilot)
        assert screen.view.selected == newest


async def test_f_shows_every_case(store_env: Path) -> None:
    app = _app(store_env)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot)
        failing = len(screen.shown_cases)
        await pilot.press("f")
        await pilot.pause()
        assert len(screen.shown_cases) == 24 > failing
        assert [c.passed for c in screen.shown_cases][:failing] == [False] * failing


async def test_an_empty_store_says_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTDESK_DB", str(tmp_path / "empty.db"))
    app = _app(demo_workspace())
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot)
        assert screen.view.evals == ()
        header = _text(screen, "#evals-header")
        assert "nothing recorded yet: agentdesk eval support-triage" in header
        await pilot.press("enter")  # nothing to open: no error
        await pilot.pause()
        assert app.screen is screen


async def test_hostile_case_ids_and_messages_are_shown_inert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A golden file's case ids and the messages quoting model output reach the screen as
    plain text: no escape sequences, no markup."""
    root = tmp_path / "ws"
    shutil.copytree(demo_workspace(), root, ignore=shutil.ignore_patterns(".agentdesk"))
    monkeypatch.setenv("AGENTDESK_DB", str(tmp_path / "hostile.db"))
    golden = tmp_path / "hostile.jsonl"
    hostile = HOSTILE[0] + HOSTILE[1] + HOSTILE[2]
    case = {
        "id": hostile,
        "input": {"ticket_id": "T-1001"},
        "tags": ["[red]tag[/red]"],
        "assert": [{"kind": "equals", "path": "$.input.ticket_id", "value": hostile}],
    }
    golden.write_text(json.dumps(case) + "\n")
    await asyncio.to_thread(_eval, root, "-s", "happy", "-g", str(golden), "--no-gates")
    app = _app(root)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open(app, pilot)
        [shown] = screen.shown_cases
        assert not shown.passed
        shown_text = [*_options(screen, "#eval-cases"), _text(screen, "#eval-case")]
        for text in shown_text:
            assert not any(bad in text for bad in BAD_BYTES)
        assert "[bold red]MARKUP[/bold red]" in shown_text[1]  # literally, not as markup
        assert "[red]tag[/red]" in _text(screen, "#eval-case")


def test_the_view_puts_failing_cases_first_and_bars_scale() -> None:
    """The headless model, from plain values."""
    from dataclasses import dataclass
    from datetime import UTC, datetime

    from agentdesk.evals.assertions import Outcome
    from agentdesk.evals.report import CaseResult

    @dataclass
    class Stored:
        result: CaseResult
        batch_id: str | None = "b1"

        @property
        def run_ref(self) -> str:
            return f"{self.batch_id}/{self.result.run_id}"

    def case(case_id: str, line: int, passed: bool) -> Stored:
        outcome = Outcome("equals", passed, "ok" if passed else "$.output: expected 1, got 2")
        result = CaseResult(
            case_id,
            line,
            "happy",
            "rel",
            f"run-{line}",
            (),
            "ok",
            "completed",
            1.0,
            0.0,
            0,
            0,
            (outcome,),
        )
        return Stored(result)

    view = build_view("p", [], None, [], [case("a", 1, True), case("b", 2, False)], [])
    assert [c.case_id for c in view.cases] == ["b", "a"]
    assert view.cases[0].failures == ("equals: $.output: expected 1, got 2",)
    assert view.cases[0].run_ref == "b1/run-2" and view.cases[0].recorded
    assert view.selected is None and view.eval_row() is None
    assert bars([0.0, 0.5, 1.0], 0.0, 1.0) == "▁▅█"
    assert bars([2.0, 2.0]) == "▅▅"
    assert datetime.now(UTC)  # the model holds aware datetimes from the store
