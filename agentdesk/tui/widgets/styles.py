"""Rich styles and glyphs shared by the widgets that draw their own lines.

Line-level colours (a status, a breaker state) live here; layout, borders and state classes
live in the .tcss files.
"""

from __future__ import annotations

from rich.style import Style

from agentdesk.tokens.prices import short_usd

DIM = Style(dim=True)
BOLD = Style(bold=True)
OK = Style(color="green")
BAD = Style(color="red")
WARN = Style(color="yellow")
INFO = Style(color="cyan")
MAGENTA = Style(color="magenta")
CURSOR = Style(reverse=True)
PLAIN = Style()

STATUS = {
    "ok": ("✔", OK),
    "failed": ("✗", BAD),
    "error": ("✗", BAD),
    "stopped": ("■", WARN),
    "skipped": ("·", DIM),
    "running": ("…", INFO),
}
TONES = {
    "retry": WARN,
    "fallback": MAGENTA,
    "repair": INFO,
    "error": BAD,
    "route": DIM,
    "budget": BAD,
}
BREAKER = {"closed": ("●", OK), "open": ("●", BAD), "half_open": ("◐", WARN)}
SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: tuple[float, ...] | list[float], width: int | None = None) -> str:
    """Values as block characters scaled to their maximum."""
    if width is not None:
        values = list(values)[-width:]
    top = max(values, default=0.0)
    if top <= 0:
        return SPARKS[0] * len(values)
    last = len(SPARKS) - 1
    return "".join(SPARKS[min(last, int(v / top * last + 0.5))] for v in values)


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 1:
        return f"{value * 1000:.0f}ms"
    if value < 100:
        return f"{value:.2f}s"
    return f"{value:.0f}s"


def count(value: float) -> str:
    """A count in at most five characters: 987, 12.3k, 4.56M."""
    if value < 10_000:
        return f"{value:,.0f}"
    if value < 1_000_000:
        return f"{value / 1000:.1f}k"
    return f"{value / 1_000_000:.2f}M"


money = short_usd
"""Dollars in at most eight characters (``tokens.prices.short_usd``)."""
