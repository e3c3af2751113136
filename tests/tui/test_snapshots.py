"""SVG snapshots of each screen in its important states, from recorded runs (seed 42).

The app shows a recorded session (no thread, no clock moving; no blinking cursor on these
screens), so each picture is the same on every run. Update after an intended change with
``pytest tests/tui/test_snapshots.py --snapshot-update`` and look at the report.
"""

from __future__ import annotations

from typing import Any

import pytest

from agentdesk.tui.screenshots import SHOTS, Shot, shot_app

WHAT_IT_SHOWS = {
    "live": "steady load, every service healthy: runs, a full trace, budget meters filling",
    "live-breaker-open": "the payments storm: failed runs, the trace with the breaker's "
    "rejection inline, the payments breaker OPEN with its next probe",
    "live-100x30": "the same at the smallest supported terminal: every panel still there",
    "chaos-fault-injected": "a 503 storm injected live into payments, beside the scenario's own",
    "help": "the help screen over the Live screen",
    "demo": "the demo's narration line during the storm",
}


@pytest.mark.parametrize("shot", SHOTS, ids=[s.name for s in SHOTS])
def test_screen(shot: Shot, snap_compare: Any) -> None:
    """Each picture shows what WHAT_IT_SHOWS says for its name."""
    assert shot.name in WHAT_IT_SHOWS
    assert snap_compare(shot_app(shot), press=shot.keys, terminal_size=shot.size)
