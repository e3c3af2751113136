"""The garbage collector, set once for a long simulation in this process.

A simulation allocates millions of short-lived objects (events, requests, responses, rows).
CPython's defaults run a young collection every 700 allocations and a full one whenever the
survivors have grown by a quarter, and a full collection walks every object alive: on a
200 MB heap (Textual or SQLAlchemy, the workspace, tiktoken's tables) ~70-100 ms each. The
10,000 sessions of ``bench/sim_throughput.py`` spent 4.7 s of 35 s collecting (1.2 s of 27 s
settled), and the TUI stalled a frame on every full collection.

``settle`` freezes what is alive (``gc.freeze``: left out of every later collection, and it
lives as long as the process anyway; no collection first, which took ~45 ms, so start-up's
little garbage stays). A batch job also runs young collections every 10,000 allocations, so
most short-lived objects are freed by reference counting before a collection ever looks at
them; the TUI keeps CPython's 700, whose pauses are shorter (at 10,000 a young collection took
2-10 ms, a middle one ~18 ms: a late frame). Only the first call in a process does anything:
freezing again later would also freeze whatever garbage the runs since had left.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000
"""Allocations between young collections (CPython's default: 700)."""

_settled = False


def settle(young_every: int | None = YOUNG_THRESHOLD) -> None:
    """Freeze what is alive; young collections every ``young_every`` allocations (``None``:
    CPython's own, for an interactive app). Only the first call in a process acts."""
    global _settled
    if _settled:
        return
    _settled = True
    gc.freeze()
    if young_every is not None:
        _, middle, old = gc.get_threshold()
        gc.set_threshold(young_every, max(middle, 20), max(old, 20))
