"""Pick a scenario file to switch to, live."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option


class ScenarioPicker(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, scenarios: list[str], current: str) -> None:
        super().__init__()
        self.scenarios = scenarios
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Label("Switch scenario (enter picks, escape cancels)")
            options = [
                Option(f"{'● ' if name == self.current else '  '}{name}", id=name)
                for name in self.scenarios
            ]
            yield OptionList(*options, id="scenario-options")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
