"""A recording killed mid-batch keeps every run it acknowledged, complete, in an intact file.

The child records the demo storm and prints each run the recorder acknowledges. Once enough
are acknowledged, it holds the writer inside its next transaction — rows inserted, commit not
yet sent — and says so; the parent then kills it with SIGKILL. No sleeps: the child blocks on
an event nobody sets, and the parent waits for its words.
"""

from __future__ import annotations

import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import defaultdict
from pathlib import Path

RUNS, SESSIONS, ACKNOWLEDGED_BEFORE_KILL = 600, 20, 40

CHILD = r"""
import os, sys, threading
from sqlalchemy import event
from agentdesk.simulation import Simulation, demo_workspace
from agentdesk.store import Recorder, locate, new_batch, open_engine, redactor_for

db, runs, sessions, hold_after = sys.argv[1], *map(int, sys.argv[2:])
sim = Simulation.prepare(demo_workspace(), "support-triage", "payments-503-storm")
engine = open_engine(locate(sim.workspace.root, db))
acknowledged = []

def acknowledge(batch_id, run_id):
    acknowledged.append(run_id)
    print("ack", batch_id, run_id, flush=True)

def before_commit(conn):
    if len(acknowledged) >= hold_after:
        print("holding", flush=True)
        threading.Event().wait()  # killed here, inside a transaction

event.listen(engine, "commit", before_commit)
batch = new_batch(sim.workspace.root, "support-triage", sim.scenario_name, sim.seed, False)
redactor = redactor_for(sim.workspace.spec, os.environ)
recorder = Recorder(engine, batch, redactor, acknowledge, max_batch=300)
tickets = [{"ticket_id": f"T-{1000 + i % 500}"} for i in range(runs)]
sim.execute(tickets, sessions, [recorder.offer])
print("finished without being killed", flush=True)
"""


EXPECTED = r"""
import sys
from agentdesk.simulation import Simulation, demo_workspace

runs, sessions = map(int, sys.argv[1:])
sim = Simulation.prepare(demo_workspace(), "support-triage", "payments-503-storm")
tickets = [{"ticket_id": f"T-{1000 + i % 500}"} for i in range(runs)]
tag = lambda e: type(e).__struct_config__.tag
sim.execute(tickets, sessions, [lambda e: print(e.run_id, tag(e))])
"""


def _expected_events() -> dict[str, list[str]]:
    """The same runs' event types, in a fresh process like the child's: the engine is
    deterministic, so these are the events (and nothing this test process did before can
    change them)."""
    args = [sys.executable, "-c", EXPECTED, str(RUNS), str(SESSIONS)]
    done = subprocess.run(args, capture_output=True, text=True, check=True, timeout=300)
    by_run: dict[str, list[str]] = defaultdict(list)
    for line in done.stdout.splitlines():
        run_id, tag = line.split()
        by_run[run_id].append(tag)
    return by_run


def _kill_mid_batch(db: Path) -> set[str]:
    args = [db, RUNS, SESSIONS, ACKNOWLEDGED_BEFORE_KILL]
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    lines: queue.Queue[str] = queue.Queue()
    assert child.stdout is not None
    threading.Thread(target=lambda: [lines.put(x) for x in child.stdout], daemon=True).start()
    acknowledged: set[str] = set()
    try:
        while (line := lines.get(timeout=120)) != "holding\n":
            assert line.startswith("ack "), line + (child.stderr.read() if child.stderr else "")
            acknowledged.add(line.split()[2])
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return acknowledged


def test_acknowledged_runs_survive_sigkill_mid_batch(tmp_path: Path) -> None:
    db = tmp_path / "agentdesk.db"
    acknowledged = _kill_mid_batch(db)
    assert len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL
    assert (db.parent / "agentdesk.db-wal").exists()  # the kill left recovery to do

    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    expected = _expected_events()
    finished = dict(conn.execute("SELECT run_id, events FROM runs WHERE status != 'running'"))
    assert acknowledged <= set(finished)
    for run_id, count in finished.items():  # acknowledged or not: a finished run is whole
        stored = conn.execute(
            "SELECT type FROM events WHERE run_id = ? ORDER BY seq", (run_id,)
        ).fetchall()
        types = expected[run_id]
        assert [t for (t,) in stored] == types
        assert count == len(types)
    conn.close()
