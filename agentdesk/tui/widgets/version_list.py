"""Every artifact file with its versions: a heading per file, one line per version under it.

The cursor moves over versions only; headings say which file, how many versions, and whether
its last edit was rejected. A version line: active marker, mark, number, short hash, time,
size, status, labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message

from agentdesk.store.artifacts import LATEST, Version
from agentdesk.tui.hot_reload import FileRow
from agentdesk.tui.safe import safe_text
from agentdesk.tui.widgets.lines_view import Line, LinesView
from agentdesk.tui.widgets.styles import BAD, BOLD, DIM, INFO, MAGENTA, OK, PLAIN, WARN


@dataclass(frozen=True)
class Entry:
    file: FileRow
    version: Version | None = None
    """None: the file's heading."""


def size_label(size: int) -> str:
    if size < 1000:
        return f"{size}B"
    if size < 1_000_000:
        return f"{size / 1000:.1f}k"
    return f"{size / 1_000_000:.1f}M"


class VersionList(LinesView, can_focus=True):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "move(-10)", show=False),
        Binding("pagedown", "move(10)", show=False),
        Binding("home,g", "move(-1000000)", show=False),
        Binding("end,G", "move(1000000)", show=False),
    ]

    class Highlighted(Message):
        """The version under the cursor changed."""

        def __init__(self, version: Version | None) -> None:
            super().__init__()
            self.version = version

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entries: list[Entry] = []
        self.cursor: int | None = None
        self.marked: Version | None = None
        self.timezone: tzinfo | None = None

    @property
    def version(self) -> Version | None:
        if self.cursor is None or self.cursor >= len(self.entries):
            return None
        return self.entries[self.cursor].version

    @property
    def file(self) -> FileRow | None:
        if self.cursor is None or self.cursor >= len(self.entries):
            return None
        return self.entries[self.cursor].file

    def update_files(self, files: tuple[FileRow, ...]) -> None:
        """New rows; the cursor stays on the same version (by id) when it still exists."""
        was = self.version
        self.entries = [
            entry for row in files for entry in (Entry(row), *(Entry(row, v) for v in row.versions))
        ]
        ids = [e.version.id if e.version else None for e in self.entries]
        if was is not None and was.id in ids:
            self.cursor = ids.index(was.id)
        else:
            self.cursor = self._next_version(-1, 1)
        if self.marked is not None and self.marked.id not in ids:
            self.marked = None
        self.lines_changed()
        self.scroll_to_cursor()
        if self.version != was:
            self.post_message(self.Highlighted(self.version))

    def select(self, path: str, number: int | None = None) -> None:
        """Put the cursor on a file's version (its newest when ``number`` is None)."""
        for index, entry in enumerate(self.entries):
            version = entry.version
            if version and version.path == path and number in (None, version.number):
                self._go(index)
                return

    def line_count(self) -> int:
        return len(self.entries)

    def draw(self, index: int, width: int) -> Line:
        entry = self.entries[index]
        if entry.version is None:
            return self._heading(entry.file, width)
        return self._version_line(entry.file, entry.version)

    def _heading(self, row: FileRow, width: int) -> Line:
        count = len(row.versions)
        if row.problems:
            tail: Line = [(" ✗ rejected", BAD)]
        elif count:
            tail = [(f" {count} version{'s' if count != 1 else ''}", DIM)]
        else:
            tail = [(f" active {(row.active or '—')[:8]}", DIM)]
        return [(safe_text(row.path, max(10, width - 14)), BOLD), *tail]

    def _version_line(self, row: FileRow, version: Version) -> Line:
        active = row.is_active(version)
        marked = self.marked is not None and self.marked.id == version.id
        when = version.created.astimezone(self.timezone).strftime("%m-%d %H:%M")
        status = ("✔", OK) if version.status == "valid" else ("✗", BAD)
        # "latest" (newest valid) moves by itself; worth saying only when it is not the active.
        shown = [n for n in version.labels if n != LATEST or not active]
        labels = " ".join(safe_text(label, 24) for label in shown)
        return [
            ("▶" if active else " ", OK),
            ("*" if marked else " ", MAGENTA),
            (f"v{version.number:<3}", BOLD if active else PLAIN),
            (f"{version.short} ", WARN),
            (f"{when} ", DIM),
            (f"{size_label(version.size):>5} ", PLAIN),
            status,
            (f" {labels}" if labels else "", INFO),
        ]

    def action_move(self, delta: int) -> None:
        if self.cursor is None:
            return
        step = 1 if delta > 0 else -1
        target = self.cursor
        for _ in range(abs(delta)):
            found = self._next_version(target, step)
            if found is None:
                break
            target = found
        self._go(target)

    def toggle_mark(self) -> None:
        version = self.version
        if version is None:
            return
        same = self.marked is not None and self.marked.id == version.id
        self.marked = None if same else version
        self.refresh()

    def on_click(self, event: object) -> None:
        y = getattr(event, "y", None)
        if y is None:
            return
        index = self.scroll_offset.y + int(y)
        if 0 <= index < len(self.entries) and self.entries[index].version is not None:
            self._go(index)

    def _go(self, index: int) -> None:
        changed = index != self.cursor
        self.cursor = index
        self.scroll_to_cursor()
        if index > 0 and self.entries[index - 1].version is None:  # keep the file's heading
            self.scroll_to(y=min(self.scroll_offset.y, index - 1), animate=False)
        self.refresh()
        if changed:
            self.post_message(self.Highlighted(self.version))

    def _next_version(self, start: int, step: int) -> int | None:
        index = start + step
        while 0 <= index < len(self.entries):
            if self.entries[index].version is not None:
                return index
            index += step
        return None
