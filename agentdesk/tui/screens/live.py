"""The Live screen: runs, the selected run's trace, budgets, counters, breakers, latency."""

from __future__ import annotations

from typing import TypeVar

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer

from agentdesk.control import ControlState
from agentdesk.tui.models.live import LiveView
from agentdesk.tui.widgets.breaker_board import BreakerBoard
from agentdesk.tui.widgets.budget_meters import BudgetMeters
from agentdesk.tui.widgets.counters import CounterPanel
from agentdesk.tui.widgets.latency_panel import LatencyPanel
from agentdesk.tui.widgets.runs_list import RunsList
from agentdesk.tui.widgets.status_line import StatusLine
from agentdesk.tui.widgets.trace_view import TraceView

W = TypeVar("W", bound=Widget)


class LiveScreen(Screen[None]):
    CSS_PATH = "live.tcss"

    def compose(self) -> ComposeResult:
        yield StatusLine()
        with Horizontal(id="live-body"):
            with Vertical(id="live-left"):
                yield _titled(RunsList(id="runs"), "runs · ✔ session · time · tokens · cost")
                yield _titled(BreakerBoard(id="breakers"), "breakers · state · fail · next probe")
            with Vertical(id="live-right"):
                yield _titled(TraceView(id="trace"), "trace")
                with Horizontal(id="live-meters"):
                    yield _titled(BudgetMeters(id="budget"), "budget (selected run)")
                    yield _titled(CounterPanel(id="counters"), "totals")
                yield _titled(LatencyPanel(id="latency"), "latency (simulated)")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(RunsList).focus()

    def show(self, view: LiveView, state: ControlState, live: bool) -> None:
        """Push a snapshot into the widgets (attributes down)."""
        show_status(self.query_one(StatusLine), view, state, live)
        self.query_one(RunsList).update_rows(view.runs)
        trace = self.query_one(TraceView)
        trace.update_trace(view.trace, view.now)
        trace.border_title = f"trace · {view.selected or '—'}"
        self.query_one(BudgetMeters).meters = view.meters
        counters = self.query_one(CounterPanel)
        counters.counters, counters.cost = view.counters, view.cost
        self.query_one(BreakerBoard).breakers = view.breakers
        self.query_one(LatencyPanel).series = view.latency


def _titled(widget: W, title: str) -> W:
    widget.border_title = title
    return widget


def show_status(line: StatusLine, view: LiveView, state: ControlState, live: bool) -> None:
    line.pipeline, line.scenario, line.now = state.pipeline, state.scenario, view.now
    line.pace, line.paused, line.live = state.pace, state.paused, live
    line.faults = sum(len(f) for f in state.injected.values())
    line.narration = view.narration or state.error
    line.alerts = view.alerts
