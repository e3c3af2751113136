"""The selected run's trace: run → step → attempt, a waterfall bar, notes and errors inline."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType

from agentdesk.tui.models.runs import TraceLine
from agentdesk.tui.safe import safe_text
from agentdesk.tui.widgets.lines_view import Line, LinesView
from agentdesk.tui.widgets.styles import BOLD, DIM, INFO, PLAIN, STATUS, TONES, seconds

BAR = 12
"""Cells of the waterfall bar (where in the run an attempt happened and for how long)."""


class TraceView(LinesView, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "scroll_up", show=False),
        Binding("down,j", "scroll_down", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: tuple[TraceLine, ...] = ()
        self._span = (0.0, 1.0)

    def update_trace(self, lines: tuple[TraceLine, ...], now: float) -> None:
        if lines == self.lines:
            return
        self.lines = lines
        if lines:
            start = lines[0].start
            end = start + lines[0].duration if lines[0].duration is not None else now
            self._span = (start, max(end - start, 1e-6))
        self.lines_changed()

    def line_count(self) -> int:
        return len(self.lines)

    def draw(self, index: int, width: int) -> Line:
        line = self.lines[index]
        indent = "  " * line.depth
        if line.kind == "note":
            tone = TONES.get(line.tone, DIM)
            out: Line = [(indent + safe_text(line.label, 200), tone)]
            if line.detail:
                out.append(("  " + safe_text(line.detail, 300), DIM))
            return out
        glyph, style = STATUS.get(line.status, ("·", DIM))
        label_width = max(16, min(40, width - BAR - 24))
        label = (indent + safe_text(line.label, 200))[:label_width].ljust(label_width)
        out = [
            (f"{glyph} ", style),
            (label, BOLD if line.kind == "run" else PLAIN),
            (" " + self._bar(line) + " ", INFO),
            (f"{seconds(line.duration):>7}", style),
        ]
        if line.detail:
            out.append(("  " + safe_text(line.detail, 300), DIM if line.status == "ok" else style))
        return out

    def _bar(self, line: TraceLine) -> str:
        start, span = self._span
        offset = int((line.start - start) / span * BAR)
        length = max(1, round((line.duration or 0.0) / span * BAR))
        offset = min(max(0, offset), BAR - 1)
        length = min(length, BAR - offset)
        return ("·" * offset + "█" * length).ljust(BAR, "·")
