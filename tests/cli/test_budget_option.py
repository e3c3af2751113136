"""``run --budget``: limits from the command line, and what the summary says about them."""

from __future__ import annotations

import json

import pytest

from tests.cli.support import DEMO, Invoke, flat


def test_a_budget_from_the_command_line_stops_the_run_and_the_summary_says_so(
    agentdesk: Invoke,
) -> None:
    result = agentdesk("run", "support-triage", "-w", DEMO, "--budget", "usd=0.00003")
    assert result.exit_code == 1, result.output
    out = flat(result.stdout)
    assert "budget_exhausted: usd" in out
    assert "run usd $0.0000" in out  # the budgets table: used beside the limit
    assert "had their output bound lowered" in out


def test_budgets_in_json_show_limits_peaks_and_stops(agentdesk: Invoke) -> None:
    result = agentdesk(
        "run", "support-triage", "-w", DEMO, "--json", "--budget", "session.tokens=100"
    )
    report = json.loads(result.stdout)
    session = report["budgets"]["session"]
    assert session["limits"] == {"tokens": 100.0}
    assert session["peak"]["tokens"] <= 100
    assert session["exhausted"] == {"tokens": 1}
    assert report["stop_reasons"] == {"budget_exhausted: tokens": 1}
    assert report["budgets"]["run"]["limits"]["seconds"] == 90.0  # the workspace's, kept


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("usd", "expected [run.|session.]KIND=LIMIT"),
        ("dollars=1", "KIND one of tokens, usd, seconds, steps"),
        ("team.usd=1", "expected [run.|session.]KIND=LIMIT"),
        ("usd=lots", "'lots' is not a number"),
        ("usd=-1", "run.usd: Input should be greater than 0"),
        ("steps=2.5", "run.steps: Input should be a valid integer"),
    ],
)
def test_a_bad_budget_option_is_a_usage_error_that_names_it(
    agentdesk: Invoke, value: str, message: str
) -> None:
    result = agentdesk("run", "support-triage", "-w", DEMO, "--budget", value)
    assert result.exit_code == 2
    assert message in flat(result.output)
    assert "Traceback" not in result.output
