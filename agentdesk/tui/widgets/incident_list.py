"""The incidents to open: workspace bundles, saved incidents, recorded and session runs.

One line each: where it comes from, ✔ when it can be replayed with changes (a bundle, with
its tape), runs (failed), events, scenario (when there is room), title. Titles and notes come
from files and the store: untrusted, drawn inert.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message

from agentdesk.tui.incident_catalog import IncidentEntry
from agentdesk.tui.safe import safe_text
from agentdesk.tui.widgets.lines_view import Line, LinesView
from agentdesk.tui.widgets.styles import BAD, DIM, INFO, OK, PLAIN, count

SOURCES = {"file": "workspace", "saved": "saved", "recorded": "recorded", "session": "session"}


class IncidentList(LinesView, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "move(-10)", show=False),
        Binding("pagedown", "move(10)", show=False),
        Binding("home,g", "move(-1000000)", show=False),
        Binding("end,G", "move(1000000)", show=False),
    ]

    class Chosen(Message):
        """Enter (or a click) on an incident: open it."""

        def __init__(self, entry: IncidentEntry) -> None:
            super().__init__()
            self.entry = entry

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entries: tuple[IncidentEntry, ...] = ()
        self.cursor = 0

    @property
    def entry(self) -> IncidentEntry | None:
        if self.cursor is None or not 0 <= self.cursor < len(self.entries):
            return None
        return self.entries[self.cursor]

    def update_entries(self, entries: tuple[IncidentEntry, ...]) -> None:
        """New entries; the cursor stays on the same one when it is still listed."""
        was = self.entry
        self.entries = entries
        self.cursor = entries.index(was) if was in entries else 0
        self.lines_changed()
        self.scroll_to_cursor()

    def line_count(self) -> int:
        return len(self.entries)

    def draw(self, index: int, width: int) -> Line:
        entry = self.entries[index]
        failed = f" ✗{entry.failed}" if entry.failed else ""
        events = count(entry.events) if entry.events else "—"
        line: Line = [
            (f"{SOURCES[entry.source]:<10}", DIM),
            ("✔ " if entry.replayable else "  ", OK),
            (f"{entry.runs:>3} run{'s' if entry.runs != 1 else ' '}", PLAIN),
            (f"{failed:<5}", BAD),
            (f"{events:>6} ev  ", DIM),
        ]
        if width >= 90:
            line.append((f"{safe_text(entry.scenario, 19):<20}", INFO))
        line.append((safe_text(entry.title, 200), PLAIN))
        if entry.note:
            line.append(("  " + safe_text(entry.note, 200), BAD))
        return line

    def action_move(self, delta: int) -> None:
        if not self.entries:
            return
        self.cursor = max(0, min(len(self.entries) - 1, (self.cursor or 0) + delta))
        self.scroll_to_cursor()
        self.refresh()

    def action_choose(self) -> None:
        if self.entry is not None:
            self.post_message(self.Chosen(self.entry))

    def on_click(self, event: object) -> None:
        y = getattr(event, "y", None)
        if y is None:
            return
        index = self.scroll_offset.y + int(y)
        if 0 <= index < len(self.entries):
            self.cursor = index
            self.refresh()
            if getattr(event, "chain", 1) >= 2:
                self.action_choose()
