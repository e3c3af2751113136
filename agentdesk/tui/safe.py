"""Untrusted text made safe for a terminal: no escape sequences, no control characters.

Model output, payloads and error messages come from outside. They are rendered as plain
text (never parsed as markup: widgets receive ``rich.text.Text``/``Content``, not ``str``), and
before that this module removes what a terminal would act on: ANSI CSI and OSC sequences
(colour, cursor moves, window titles, hyperlinks, clipboard writes), other C0/C1 control
characters, and bidirectional overrides that reorder what is shown. Lines are also bounded:
a 1 MB one-line payload is cut, not wrapped across the screen.
"""

from __future__ import annotations

import re

MAX_CHARS = 500
"""Longest untrusted string shown in one place; the rest becomes an ellipsis."""

_ESCAPES = re.compile(
    r"""
    \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?   # OSC ... BEL or ST (or unterminated)
    | \x1b\[[0-?]*[ -/]*[@-~]?           # CSI
    | \x1b[PX^_][^\x1b]*(?:\x1b\\)?      # DCS, SOS, PM, APC
    | \x1b.?                             # any other escape
    | \x9b[0-?]*[ -/]*[@-~]?             # 8-bit CSI
    | \x9d[^\x07\x9c]*[\x07\x9c]?        # 8-bit OSC
    """,
    re.VERBOSE,
)
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_BREAKS = re.compile(r"[\t\n]+")


def safe_text(value: object, limit: int = MAX_CHARS) -> str:
    """One line of plain, inert text for ``value`` (any object; str() of non-strings)."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit * 4:
        text = text[: limit * 4]  # bound the regex work on huge inputs
    text = _ESCAPES.sub("", text)
    text = _CONTROLS.sub("\ufffd", text)
    text = _BREAKS.sub(" ", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
