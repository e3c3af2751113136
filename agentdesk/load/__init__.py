"""Load tests on the virtual clock: N users for a simulated duration, folded as they run.

``LoadTest(simulation, LoadPlan(sessions=5000, duration=3600), inputs).run()`` → ``LoadReport``.
Headless: the CLI (``agentdesk load``) draws the report. See ``docs/load.md``.

- ``plan`` — sessions, arrival patterns, think times, canary routing (all seeded);
- ``fold`` — events → fixed-size per-slice aggregates (no per-run lists);
- ``runner`` — sessions, arms (canary, shadow), alert monitors, rollback;
- ``shadow`` — run-by-run comparison of the two arms;
- ``report`` — what the CLI draws and ``--json`` prints.
"""

from agentdesk.load.plan import ARRIVALS, Arrival, LoadPlan
from agentdesk.load.report import ArmReport, LoadReport, Rollback
from agentdesk.load.runner import LoadTest

__all__ = ["ARRIVALS", "ArmReport", "Arrival", "LoadPlan", "LoadReport", "LoadTest", "Rollback"]
