"""The runs list: newest first, one line per run, a cursor that picks the run to trace."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message

from agentdesk.tui.models.runs import RunRow
from agentdesk.tui.safe import safe_text
from agentdesk.tui.widgets.lines_view import Line, LinesView
from agentdesk.tui.widgets.styles import BAD, DIM, PLAIN, STATUS, WARN, money, seconds


class RunsList(LinesView, can_focus=True):
    """Runs (live, then recorded). Follows the newest finished run until the cursor moves."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "move(-10)", show=False),
        Binding("pagedown", "move(10)", show=False),
        Binding("home,g", "follow", "Follow newest", show=False),
        Binding("end,G", "move(1000000)", show=False),
    ]

    class Selected(Message):
        """The highlighted run changed."""

        def __init__(self, run_id: str) -> None:
            super().__init__()
            self.run_id = run_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: tuple[RunRow, ...] = ()
        self.selected: str | None = None
        self.follow = True
        self.cursor = 0

    def update_rows(self, rows: tuple[RunRow, ...]) -> None:
        self.rows = rows
        if self.follow:
            newest = next((r for r in rows if r.status != "running"), rows[0] if rows else None)
            self._select(newest.run_id if newest else None)
        self.cursor = self._index_of(self.selected)
        self.lines_changed()
        self.scroll_to_cursor()

    def line_count(self) -> int:
        return len(self.rows)

    def line_source(self, index: int) -> object | None:
        """A finished run's row: ``LiveModel.view`` hands out running rows as copies, and a
        finished (or recorded) row never changes again."""
        row = self.rows[index]
        return row if row.status != "running" else None

    def draw(self, index: int, width: int) -> Line:
        row = self.rows[index]
        glyph, style = STATUS.get(row.status, ("?", DIM))
        tokens = f"{'~' if row.approximate else ''}{row.tokens:,}"
        cost = money(row.usd) + ("?" if row.unpriced else "")
        trouble = f"↻{row.retries}" if row.retries else ""
        line: Line = [
            (f"{glyph} ", style),
            (f"{row.session:>6} ", DIM if row.recorded else PLAIN),
            (f"{seconds(row.duration):>7} ", PLAIN),
            (f"{tokens:>7} ", PLAIN),
            (f"{cost:>8} ", PLAIN),
            (f"{trouble:<4}", WARN),
        ]
        if row.status not in ("ok", "running") and width > 48:
            line.append((" " + safe_text(row.stop_reason, 80), BAD))
        return line

    def action_move(self, delta: int) -> None:
        if not self.rows:
            return
        self.follow = False
        self.cursor = max(0, min(len(self.rows) - 1, (self.cursor or 0) + delta))
        self._select(self.rows[self.cursor].run_id)
        self.scroll_to_cursor()
        self.refresh()

    def action_follow(self) -> None:
        self.follow = True
        self.update_rows(self.rows)
        self.scroll_to(y=0, animate=False)

    def on_click(self, event: object) -> None:
        y = getattr(event, "y", None)
        if y is None or not self.rows:
            return
        index = self.scroll_offset.y + int(y)
        if 0 <= index < len(self.rows):
            self.follow = False
            self.cursor = index
            self._select(self.rows[index].run_id)
            self.refresh()

    def select_run(self, run_id: str) -> None:
        """Select a run by id (the command palette's "open run")."""
        self.follow = False
        self._select(run_id)
        self.cursor = self._index_of(run_id)
        self.scroll_to_cursor()
        self.refresh()

    def _select(self, run_id: str | None) -> None:
        if run_id != self.selected:
            self.selected = run_id
            if run_id is not None:
                self.post_message(self.Selected(run_id))

    def _index_of(self, run_id: str | None) -> int:
        for index, row in enumerate(self.rows):
            if row.run_id == run_id:
                return index
        return 0
