"""A unified diff of two versions of a file, as lines the diff view draws.

Versions are untrusted bytes: any encoding, binary, lines of any length. They are decoded
as UTF-8 with replacement characters, cut into lines, and diffed with ``difflib``; each line
is then made inert by ``safe.safe_text`` (no escape sequences, no control characters, bounded
length) — markup is never parsed, because the view draws plain segments. Very large files are
not diffed at all (the view says so): a diff view must not hang the screen.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from agentdesk.tui.safe import safe_text

Kind = Literal["header", "hunk", "add", "remove", "same", "note", "error"]
MAX_BYTES = 1_000_000
"""Larger versions are not diffed (difflib is quadratic in the worst case)."""
MAX_LINE = 1_000
"""Longest diff line kept (the view crops to its width anyway)."""


@dataclass(frozen=True)
class DiffLine:
    kind: Kind
    text: str


def text_lines(content: bytes) -> list[str]:
    return content.decode("utf-8", errors="replace").splitlines()


def unified(old: bytes, new: bytes, old_name: str, new_name: str) -> list[DiffLine]:
    """The diff from ``old`` to ``new`` (a first version diffs against nothing)."""
    if len(old) > MAX_BYTES or len(new) > MAX_BYTES:
        size = max(len(old), len(new))
        return [DiffLine("note", f"too large to diff here ({size:,} bytes)")]
    notes = [DiffLine("note", "binary content, shown as text")] if _binary(old + new) else []
    if old == new:
        return [*notes, DiffLine("note", "identical content")]
    diff = difflib.unified_diff(
        text_lines(old), text_lines(new), old_name, new_name, n=3, lineterm=""
    )
    return notes + [_line(raw, n < 2) for n, raw in enumerate(diff)]


def _line(raw: str, header: bool) -> DiffLine:
    text = safe_text(raw, MAX_LINE)
    if header:  # difflib's ---/+++ pair; a removed "--" line also starts with "---"
        return DiffLine("header", text)
    if raw.startswith("@@"):
        return DiffLine("hunk", text)
    if raw.startswith("+"):
        return DiffLine("add", text)
    if raw.startswith("-"):
        return DiffLine("remove", text)
    return DiffLine("same", text)


def _binary(content: bytes) -> bool:
    return b"\x00" in content[:8192]
