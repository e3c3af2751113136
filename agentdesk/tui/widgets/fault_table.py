"""The Chaos screen's table: every service, its sim, the scenario's faults and live ones."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType

from agentdesk.tui.safe import safe_text
from agentdesk.tui.widgets.lines_view import Line, LinesView
from agentdesk.tui.widgets.styles import BAD, BOLD, DIM, PLAIN, WARN


class FaultTable(LinesView, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", show=False),
        Binding("down,j", "move(1)", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.services: list[tuple[str, str]] = []
        """(service, sim kind) pairs."""
        self.scenario_faults: dict[str, list[str]] = {}
        self.injected: dict[str, list[str]] = {}
        self.row = 0
        """The selected service (the highlight is a marker, so no line cursor)."""

    def update_table(
        self,
        services: list[tuple[str, str]],
        scenario_faults: dict[str, list[str]],
        injected: dict[str, list[str]],
    ) -> None:
        self.services = services
        self.scenario_faults = scenario_faults
        self.injected = injected
        self.lines_changed()

    @property
    def service(self) -> str | None:
        return self.services[self.row][0] if self.services else None

    def line_count(self) -> int:
        return len(self.services) + 1

    def draw(self, index: int, width: int) -> Line:
        if index == 0:
            return [(f"  {'service':<14}{'sim':<11}{'scenario faults':<30}injected live", BOLD)]
        name, kind = self.services[index - 1]
        scenario = ", ".join(self.scenario_faults.get(name, [])) or "—"
        injected = ", ".join(self.injected.get(name, []))
        return [
            ("▸ " if index - 1 == self.row else "  ", WARN),
            (f"{safe_text(name, 13):<14}", PLAIN),
            (f"{kind:<11}", DIM),
            (f"{safe_text(scenario, 29):<30}", WARN if scenario != "—" else DIM),
            (safe_text(injected, 80), BAD),
        ]

    def action_move(self, delta: int) -> None:
        if self.services:
            self.row = max(0, min(len(self.services) - 1, self.row + delta))
            self.refresh()

    def on_click(self, event: object) -> None:
        y = getattr(event, "y", None)
        if y is not None and 1 <= int(y) + self.scroll_offset.y <= len(self.services):
            self.row = int(y) + self.scroll_offset.y - 1
            self.refresh()
