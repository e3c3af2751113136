"""The garbage collector, set once for a long simulation in this process.

A simulation allocates millions of short-lived objects (events, requests, responses, rows).
CPython's defaults run a young collection every 700 allocations and a full one whenever the
survivors have grown by a quarter, and a full collection walks every object alive: on a
200 MB heap (Textual or SQLAlchemy, the workspace, tiktoken's tables) ~70-100 ms each. A
10,000-session ``agentdesk run`` spent about a fifth of its time collecting, and the TUI
stalled a frame on every full collection.

``settle`` collects once, freezes what is alive (``gc.freeze``: left out of every later
collection, and it lives as long as the process anyway), and runs young collections every
10,000 allocations, so most short-lived objects are freed by reference counting before a
collection ever looks at them. Only the first call in a process does anything: freezing again
later would also freeze whatever garbage the runs since had left.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000
"""Allocations between young collections (CPython's default: 700)."""

_settled = False


def settle() -> None:
    """Collect, freeze what is alive, and collect young objects less often (once a process)."""
    global _settled
    if _settled:
        return
    _settled = True
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, max(middle, 20), max(old, 20))
