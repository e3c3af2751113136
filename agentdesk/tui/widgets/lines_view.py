"""A scrollable view that renders only the lines on screen.

Subclasses say how many lines there are and how to draw line ``i`` as styled segments; the
view draws the visible slice on demand (``render_line``), so a long list costs what the
terminal shows, not what it holds — the toolong approach, without a DataTable's per-row
render caches (see LIMITS.md).

A subclass whose lines come from objects that never change once handed over (the runs list:
a finished run's row) names that object in ``line_source``; the view then keeps the drawn line
while the same object is on screen, so a list that scrolls by one new run redraws one line,
not forty.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

Line = list[tuple[str, Style]]

_CURSOR_FOCUSED = Style(reverse=True)
_CURSOR_UNFOCUSED = Style(bold=True, underline=False, bgcolor="grey23")


class LinesView(ScrollView):
    """Base of the runs list and the trace: virtual height, visible lines rendered lazily."""

    DEFAULT_CSS = """
    LinesView { overflow-x: hidden; }
    """

    cursor: int | None = None
    """The highlighted line, when the view has a cursor."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._base = Style()
        self._drawn: dict[int, tuple[object, tuple[object, ...], Strip]] = {}
        """id(source) → (source, how it was drawn, the line): kept while it stays on screen."""

    def line_count(self) -> int:
        raise NotImplementedError

    def draw(self, index: int, width: int) -> Line:
        raise NotImplementedError

    def line_source(self, index: int) -> object | None:
        """The object line ``index`` is drawn from, if it never changes once handed to the
        view (its drawn line is then reused); ``None`` draws the line every time."""
        return None

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

    def render_lines(self, crop: Region) -> list[Strip]:
        self._base = self.rich_style  # once a paint: it walks the ancestors' styles
        strips = super().render_lines(crop)
        if len(self._drawn) > 4 * max(crop.height, 64):
            self._drawn.clear()  # bounded: only what was recently on screen is worth keeping
        return strips

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        base = self._base
        if index >= self.line_count():
            return Strip.blank(width, base)
        source = self.line_source(index)
        cursor = index == self.cursor
        how = (width, base, cursor, cursor and self.has_focus)
        if source is not None:
            kept = self._drawn.get(id(source))
            if kept is not None and kept[0] is source and kept[1] == how:
                return kept[2]
        style = base
        if cursor:
            style = base + (_CURSOR_FOCUSED if self.has_focus else _CURSOR_UNFOCUSED)
        segments = [Segment(text, style + part) for text, part in self.draw(index, width)]
        strip = Strip(segments).crop_extend(0, width, style)
        if source is not None:
            self._drawn[id(source)] = (source, how, strip)
        return strip

    def scroll_to_cursor(self) -> None:
        if self.cursor is None:
            return
        height = self.scrollable_content_region.height
        top = self.scroll_offset.y
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False)
