"""The diff between two versions: unified diff lines, coloured by kind, drawn as plain text.

Lines arrive already made inert (``models.diff``); this view only colours them and renders
the visible slice, so a diff of thousands of lines costs what the terminal shows.
"""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from textual.binding import Binding, BindingType

from agentdesk.tui.models.diff import DiffLine, Kind
from agentdesk.tui.widgets.lines_view import Line, LinesView
from agentdesk.tui.widgets.styles import BAD, BOLD, DIM, INFO, OK, PLAIN

STYLES: dict[Kind, Style] = {
    "header": BOLD,
    "hunk": INFO,
    "add": OK,
    "remove": BAD,
    "same": PLAIN,
    "note": DIM,
    "error": BAD,
}


class DiffView(LinesView, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "scroll_by(-1)", show=False),
        Binding("down,j", "scroll_by(1)", show=False),
        Binding("pageup", "scroll_by(-10)", show=False),
        Binding("pagedown", "scroll_by(10)", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: list[DiffLine] = []

    def show(self, lines: list[DiffLine]) -> None:
        self.lines = lines
        self.scroll_to(y=0, animate=False)
        self.lines_changed()

    def line_count(self) -> int:
        return len(self.lines)

    def draw(self, index: int, width: int) -> Line:
        line = self.lines[index]
        return [(line.text, STYLES[line.kind])]

    def action_scroll_by(self, delta: int) -> None:
        self.scroll_to(y=max(0, self.scroll_offset.y + delta), animate=False)
