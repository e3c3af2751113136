"""Alerts on the Live screen: the status line names the rules firing now, and forgets them
once they resolve; the read model judges the workspace's rules over the runs it sees."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agentdesk.alerts import Rules
from agentdesk.alerts.rules import AlertsFile, RulesSpec, ToolErrorRateRule
from agentdesk.engine.events import AlertFired, AlertResolved
from agentdesk.errors import SpecError
from agentdesk.tui.app import make_app
from agentdesk.tui.models.alerts import AlertBoard
from agentdesk.tui.widgets.status_line import StatusLine
from tests.tui.conftest import SIZE, recorded, recorded_app

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"

FIRED = AlertFired(
    t=300.0,
    rule="tool_error_rate",
    value=0.12,
    threshold=0.05,
    window=300.0,
    message="tool-call error rate 12.0% (60/500) > 5% over 5m",
)


async def test_the_status_line_shows_a_firing_alert_until_it_resolves() -> None:
    events = [*recorded("happy"), FIRED]
    app = recorded_app("happy", events)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        line = app.screen.query_one(StatusLine)
        assert line.alerts == ("tool_error_rate: " + FIRED.message,)
        assert "▲ alert tool_error_rate" in str(line.render())
    resolved = AlertResolved(
        t=600.0, rule="tool_error_rate", value=0.01, threshold=0.05, fired_at=300.0
    )
    app = recorded_app("happy", [*events, resolved])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        line = app.screen.query_one(StatusLine)
        assert line.alerts == () and "alert" not in str(line.render())


def test_the_board_judges_runs_as_they_finish() -> None:
    quick = Rules(
        AlertsFile(
            every=1,
            rules=RulesSpec(
                tool_error_rate=ToolErrorRateRule(window=2, min_calls=5),
                latency_p95=None,
                daily_cost=None,
                tokens_per_task=None,
            ),
        )
    )
    board = AlertBoard(quick)
    for event in recorded("payments-503-storm"):
        board.apply(event)
    assert [a.rule for a in board.fired][:1] == ["tool_error_rate"]
    assert board.fired[0].value > 0.05
    quiet = AlertBoard(quick)
    for event in recorded("happy"):
        quiet.apply(event)
    assert quiet.fired == [] and quiet.active() == ()


def test_the_live_screen_judges_the_workspaces_own_rules(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    shutil.copytree(FIXTURES, root)
    (root / "alerts.yaml").write_text("rules:\n  tool_error_rate: {above: 0.2}\n")
    app = make_app(root, events=[], hot_reload=False)
    rule = app.model.alerts.rules.rule("tool_error_rate")
    assert app.model.alerts.rules.file == "alerts.yaml"
    assert rule is not None and rule.above == 0.2

    (root / "alerts.yaml").write_text("rules:\n  tool_error_rate: {abve: 0.2}\n")
    with pytest.raises(SpecError) as caught:
        make_app(root, events=[], hot_reload=False)
    assert str(caught.value.problems[0]).startswith("alerts.yaml:2:")
