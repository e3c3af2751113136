"""The Chaos screen: every sim with its faults; keys inject and clear them live."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from agentdesk.control import FAULTS, ControlState
from agentdesk.tui.models.live import LiveView
from agentdesk.tui.safe import safe_text
from agentdesk.tui.widgets.breaker_board import BreakerBoard
from agentdesk.tui.widgets.counters import CounterPanel
from agentdesk.tui.widgets.fault_table import FaultTable
from agentdesk.tui.widgets.status_line import StatusLine

if TYPE_CHECKING:
    from agentdesk.tui.app import AgentdeskApp


class ChaosScreen(Screen[None]):
    CSS_PATH = "chaos.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(str(n), f"inject('{preset.key}')", preset.label, show=n <= 6)
            for n, preset in enumerate(FAULTS, start=1)
        ),
        Binding("0", "clear_service", "Clear"),
        Binding("x", "clear_all", "Clear all"),
        Binding("s", "app.pick_scenario", "Scenario"),
    ]

    @property
    def desk(self) -> AgentdeskApp:
        return cast("AgentdeskApp", self.app)

    def compose(self) -> ComposeResult:
        yield StatusLine()
        with Vertical(id="chaos-body"):
            yield Static(id="scenario-about")
            table = FaultTable(id="faults")
            table.border_title = "sims · ↑↓ choose · 1-6 inject · 0 clear · x clear all"
            yield table
            with Horizontal(id="chaos-react"):
                board = BreakerBoard(id="chaos-breakers")
                board.border_title = "breakers"
                yield board
                counters = CounterPanel(id="chaos-counters")
                counters.border_title = "totals"
                yield counters
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(FaultTable).focus()

    def show(self, view: LiveView, state: ControlState, live: bool) -> None:
        status = self.query_one(StatusLine)
        status.pipeline, status.scenario, status.now = state.pipeline, state.scenario, view.now
        status.pace, status.paused, status.live = state.pace, state.paused, live
        status.faults = sum(len(f) for f in state.injected.values())
        status.narration = view.narration or state.error
        about = Text.assemble(
            ("scenario ", "dim"),
            (safe_text(state.scenario, 60), "bold cyan"),
            ("  ", ""),
            (safe_text(state.description, 300), ""),
        )
        self.query_one("#scenario-about", Static).update(about)
        self.query_one(FaultTable).update_table(
            self.desk.services, state.scenario_faults, state.injected
        )
        self.query_one(BreakerBoard).breakers = view.breakers
        counters = self.query_one(CounterPanel)
        counters.counters, counters.cost = view.counters, view.cost

    def action_inject(self, key: str) -> None:
        service = self.query_one(FaultTable).service
        if service is not None:
            self.desk.inject(service, key)

    def action_clear_service(self) -> None:
        service = self.query_one(FaultTable).service
        if service is not None:
            self.desk.clear_faults(service)

    def action_clear_all(self) -> None:
        self.desk.clear_faults(None)
