"""A scrollable view that renders only the lines on screen.

Subclasses say how many lines there are and how to draw line ``i`` as styled segments; the
view draws the visible slice on demand (``render_line``), so a long list costs what the
terminal shows, not what it holds — the toolong approach, without a DataTable's per-row
render caches (see LIMITS.md).
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

Line = list[tuple[str, Style]]


class LinesView(ScrollView):
    """Base of the runs list and the trace: virtual height, visible lines rendered lazily."""

    DEFAULT_CSS = """
    LinesView { overflow-x: hidden; }
    """

    cursor: int | None = None
    """The highlighted line, when the view has a cursor."""

    def line_count(self) -> int:
        raise NotImplementedError

    def draw(self, index: int, width: int) -> Line:
        raise NotImplementedError

    def lines_changed(self) -> None:
        """Call after the data changed: resizes the virtual area and repaints.

        Setting ``virtual_size`` asks for a layout of the whole screen, which at 160×50 costs
        more than a frame; while lines stream in, the trace's length changes every frame. So
        the size is set without its watcher and the scrollbar updated in place; a layout is
        asked for only when the scrollbar appears or goes (Textual's own ``_scroll_update``,
        which sets the reactive that does so).
        """
        size = Size(self.size.width, self.line_count())
        if size != self.virtual_size:
            self.set_reactive(ScrollView.virtual_size, size)
            self._scroll_update(size)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        base = self.rich_style
        if index >= self.line_count():
            return Strip.blank(width, base)
        style = base + Style(reverse=True) if index == self.cursor and self.has_focus else base
        if index == self.cursor and not self.has_focus:
            style = base + Style(bold=True, underline=False, bgcolor="grey23")
        segments = [Segment(text, style + part) for text, part in self.draw(index, width)]
        return Strip(segments).crop_extend(0, width, style)

    def scroll_to_cursor(self) -> None:
        if self.cursor is None:
            return
        height = self.scrollable_content_region.height
        top = self.scroll_offset.y
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False)
