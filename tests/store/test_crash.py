"""A recording killed mid-batch keeps every run it acknowledged, complete, in an intact file.

The child records the demo storm and prints each run the recorder acknowledges. Once enough
runs are committed, the writer holds inside its next transaction — rows inserted, commit not
yet sent — and says so; the parent then kills the child with SIGKILL. No sleeps: the writer
blocks on an event nobody sets, and the parent waits for its words. With the writer in a
process of its own, that process must die with the child, not linger holding the file.
"""

from __future__ import annotations

import os
import queue
import select
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import defaultdict
from pathlib import Path

import pytest

RUNS, SESSIONS, ACKNOWLEDGED_BEFORE_KILL = 600, 20, 40

CHILD = r"""
import os, sys, threading
from sqlalchemy import event
from agentdesk.simulation import Simulation, demo_workspace
from agentdesk.store import Recorder, locate, new_batch, open_engine, redactor_for

db, writer = sys.argv[1:3]
runs, sessions, hold_after = map(int, sys.argv[3:])
sim = Simulation.prepare(demo_workspace(), "support-triage", "payments-503-storm")
engine = open_engine(locate(sim.workspace.root, db))
committed = [0]  # finished runs in the transactions committed so far, as the writer counts

def acknowledge(batch_id, run_id):
    print("ack", batch_id, run_id, flush=True)

def before_commit(conn):  # runs wherever the writer runs: a thread here, or its own process
    if committed[0] >= hold_after:
        print("holding", os.getpid(), flush=True)
        threading.Event().wait()  # killed here, inside a transaction
    finished = "SELECT count(*) FROM runs WHERE status != 'running'"
    committed[0] = conn.connection.driver_connection.execute(finished).fetchone()[0]

event.listen(engine, "commit", before_commit)
batch = new_batch(sim.workspace.root, "support-triage", sim.scenario_name, sim.seed, False)
redactor = redactor_for(sim.workspace.spec, os.environ)
recorder = Recorder(engine, batch, redactor, acknowledge, max_batch=300, writer=writer)
assert recorder.in_child == (writer == "process")
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


def _kill_mid_batch(db: Path, writer: str) -> tuple[set[str], int]:
    """The runs acknowledged before the kill, and the pid of the process holding the commit."""
    args = [db, writer, RUNS, SESSIONS, ACKNOWLEDGED_BEFORE_KILL]
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
    holder = 0
    try:
        # The acknowledgements of the commits before the held one were sent before it began;
        # with the writer in its own process they may arrive after it says it is holding.
        while not holder or len(acknowledged) < ACKNOWLEDGED_BEFORE_KILL:
            line = lines.get(timeout=120)
            if line.startswith("holding "):
                holder = int(line.split()[1])
                continue
            assert line.startswith("ack "), line + (child.stderr.read() if child.stderr else "")
            acknowledged.add(line.split()[2])
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return acknowledged, holder


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited, waiting for it up to 30 s (it is not this test's child,
    so it cannot be waited for; a pidfd becomes readable when it exits)."""
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return True  # exited and reaped already
    try:
        readable, _, _ = select.select([handle], [], [], 30)
        return bool(readable)
    finally:
        os.close(handle)


@pytest.mark.parametrize("writer", ["thread", "process"])
def test_acknowledged_runs_survive_sigkill_mid_batch(tmp_path: Path, writer: str) -> None:
    db = tmp_path / "agentdesk.db"
    acknowledged, holder = _kill_mid_batch(db, writer)
    assert len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL
    assert _gone(holder)  # the writer never outlives the process it records for
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


STUCK = r"""
import os, signal, sys, threading
from agentdesk.engine.events import RunStarted
from agentdesk.store import Recorder, locate, new_batch, open_engine
from agentdesk.store.redaction import Redactor

parent = os.getpid()


class Stuck(Redactor):
    def event_json(self, event):  # in the writer process: the fold never comes back
        if os.getpid() != parent:
            threading.Event().wait()
        return super().event_json(event)


engine = open_engine(locate(os.getcwd(), sys.argv[1]))
batch = new_batch(os.getcwd(), "p", "s", 1, False)
recorder = Recorder(engine, batch, Stuck(), writer="process", chunk_size=1, max_chunks=1,
                    max_batch=1)
for n in range(10):  # the fold holds one, the queue one, the next put waits for ever
    recorder.offer(RunStarted(t=0.0, run_id=f"run-{n}", pipeline="p", session=n, seed=1,
                              scenario="s", input=None))
print(recorder._child._process.pid, flush=True)
os.kill(parent, signal.SIGKILL)
"""


def test_a_writer_process_stuck_on_its_queue_dies_with_its_parent(tmp_path: Path) -> None:
    """Its main thread blocks on a full queue and never reads the pipe's end: only the
    lifeline thread can see the parent go."""
    script = [sys.executable, "-c", STUCK, str(tmp_path / "agentdesk.db")]
    done = subprocess.run(script, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert _gone(int(done.stdout))
