"""The Live screen's read models, folded from recorded runs without any UI."""

from __future__ import annotations

from agentdesk.engine.events import RunStarted, StepStarted
from agentdesk.tui.models.budgets import Meter, RunBudget
from agentdesk.tui.models.live import fold
from agentdesk.tui.models.runs import RUNNING_CAP, RunBook, build_trace
from tests.tui.conftest import recorded


def test_the_storm_opens_the_payments_breaker_with_a_probe_time() -> None:
    """Folding the payments storm shows payments' breaker open (or having opened), with a
    failure rate over its window and a countdown to the next probe while it is open."""
    view = fold(list(recorded("payments-503-storm")), cooldown=8).view()
    payments = next(b for b in view.breakers if b.name == "service:payments")
    assert payments.opened >= 1
    assert any(t.to_state == "open" for t in payments.recent)
    if payments.state == "open":
        assert payments.probe_in is not None and 0 <= payments.probe_in <= 8


def test_a_failed_run_trace_shows_the_rejection_and_the_failure_inline() -> None:
    """A run stopped by the open breaker has the rejection and the step failure in its trace."""
    model = fold(list(recorded("payments-503-storm")))
    failed = next(r for r in model.view().runs if r.status == "failed")
    trace = model.view(failed.run_id).trace
    assert trace[0].kind == "run" and trace[0].status == "failed"
    notes = [line.label for line in trace if line.kind == "note"]
    assert any("step failed" in n for n in notes)


def test_the_trace_nests_run_step_attempt() -> None:
    """Attempts sit one level under their step, parallel children one under the parallel."""
    model = fold(list(recorded("happy")))
    run = model.view().runs[-1]
    trace = model.view(run.run_id).trace
    depth = {line.label.split(" ")[0]: line.depth for line in trace if line.kind == "step"}
    assert depth["ticket"] == 1 and depth["enrich/customer"] == 2
    attempt = next(line for line in trace if line.kind == "attempt")
    assert attempt.depth == 2 and attempt.status == "ok"


def test_the_run_book_is_bounded_and_keeps_running_runs_up_to_a_cap() -> None:
    """Only the last max_runs finished runs are kept; runs still running are kept too, up to
    RUNNING_CAP times max_runs (past that, their run_finished was surely shed: oldest go)."""
    book = RunBook(max_runs=3)
    for n in range(20):
        book.apply(
            RunStarted(
                t=n, run_id=f"r{n}", pipeline="p", session=n, seed=0, scenario="", input=None
            )
        )
        if n == 9:
            assert len(book.rows()) == 10  # all still running
    kept = [row.run_id for row in book.rows()]
    assert kept == [f"r{n}" for n in range(19, 19 - RUNNING_CAP * 3, -1)]  # the newest
    model = fold(list(recorded("happy")), max_runs=5)
    assert len(model.view().runs) <= 5 + 8  # the kept finished runs + those in flight


def test_a_run_without_budget_events_gets_unlimited_meters() -> None:
    """Without budget events the meters show what the run spent, with no limit to fill."""
    meters = RunBudget().meters({"tokens": 200, "usd": 0.01, "seconds": 1.5, "steps": 8})
    assert [m.kind for m in meters] == ["tokens", "usd", "seconds", "steps"]
    assert {m.level for m in meters} == {"none"}


def test_meter_levels() -> None:
    """Below 80 % a meter is ok, from 80 % it warns, at the limit it is exhausted."""
    levels = [Meter("run", "usd", used, 1.0).level for used in (0.5, 0.85, 1.0)]
    assert levels == ["ok", "warning", "exhausted"]


def test_trace_of_unknown_events_is_empty() -> None:
    """A step event for a run we never saw starting builds nothing (no crash)."""
    assert build_trace([StepStarted(t=0, run_id="x", step="a", kind="tool")])[0].kind == "step"
