"""Name a label for a version (``production``, ``candidate``…), to set or to remove: enter
answers, escape cancels."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class LabelInput(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, what: Text, value: str = "") -> None:
        super().__init__()
        self.what = what
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical(id="label-box"):
            yield Static(self.what)
            yield Input(self.value, placeholder="production", id="label-name", max_length=64)
            yield Static(Text("enter: set · escape: cancel", style="dim"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
