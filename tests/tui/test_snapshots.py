"""SVG snapshots of each screen in its important states, from recorded runs (seed 42).

The app shows a recorded session (no thread, no clock moving; no blinking cursor on these
screens), so each picture is the same on every run. Update after an intended change with
``pytest tests/tui/test_snapshots.py --snapshot-update`` and look at the report.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from agentdesk.tui.screenshots import SHOTS, Shot, settle_shot, shot_app

WHAT_IT_SHOWS = {
    "live": "steady load, every service healthy: runs, a full trace, budget meters filling",
    "live-breaker-open": "the payments storm: failed runs, the trace with the breaker's "
    "rejection inline, the payments breaker OPEN with its next probe",
    "live-100x30": "the same at the smallest supported terminal: every panel still there",
    "chaos-fault-injected": "a 503 storm injected live into payments, beside the scenario's own",
    "help": "the help screen over the Live screen",
    "demo": "the demo's narration line during the storm",
    "artifacts": "the Artifacts screen after two saves of triage.user.md: v2 active and "
    "compared with v1 (more prompt tokens, outputs unchanged), v3 a broken save — its "
    "file:line error on the status line and above its diff — and v1 labelled production",
    "incidents": "the Incidents screen on the payments-storm bundle at its first breaker "
    "transition: errors and retries on the timeline, the run's refund failing twice in its "
    "trace, the transition's fields, the payments breaker OPEN as of that event",
}


@pytest.mark.parametrize("shot", SHOTS, ids=[s.name for s in SHOTS])
def test_screen(shot: Shot, snap_compare: Any) -> None:
    """Each picture shows what WHAT_IT_SHOWS says for its name."""
    assert shot.name in WHAT_IT_SHOWS
    run_before = partial(settle_shot, shot)
    assert snap_compare(shot_app(shot), run_before=run_before, terminal_size=shot.size)
