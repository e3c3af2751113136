"""One recorded run's trace, over the screen that opened it (the Evals screen's failing cases).

The lines are the Live screen's (``models.runs.build_trace``), drawn by the same
``TraceView``; escape goes back.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen

from agentdesk.tui.models.runs import TraceLine
from agentdesk.tui.widgets.trace_view import TraceView


class RunTraceScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss", "Back")]
    DEFAULT_CSS = """
    RunTraceScreen { align: center middle; }
    RunTraceScreen TraceView { width: 92%; height: 86%; border: round $accent; }
    """

    def __init__(self, title: str, lines: tuple[TraceLine, ...]) -> None:
        super().__init__()
        self.title_text = title
        self.lines = lines

    def compose(self) -> ComposeResult:
        trace = TraceView(id="run-trace")
        trace.border_title = self.title_text
        trace.border_subtitle = "escape: back"
        yield trace

    def on_mount(self) -> None:
        trace = self.query_one(TraceView)
        end = self.lines[0].start + (self.lines[0].duration or 0.0) if self.lines else 0.0
        trace.update_trace(self.lines, end)
        trace.focus()

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
