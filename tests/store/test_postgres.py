"""The same tables, recorder and queries on PostgreSQL (an embedded server from ``pgserver``)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from agentdesk.projections.summary import RunSummary
from agentdesk.simulation import Simulation, demo_workspace
from agentdesk.store import Recorder, locate, new_batch, open_engine, redactor_for
from agentdesk.store.queries import find_run, list_runs, run_events

pgserver = pytest.importorskip("pgserver", reason="pgserver (a dev dependency) is not installed")
pytest.importorskip("psycopg", reason="psycopg (a dev dependency) is not installed")


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    # Not under pytest's own temp root: as root, pgserver runs the server as another user, who
    # must reach the data folder, and every pytest session resets that root to mode 700.
    folder = Path(tempfile.mkdtemp(prefix="agentdesk-pg-"))
    server = pgserver.get_server(folder, cleanup_mode="stop")
    try:
        yield server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_store(postgres: str, tmp_path: Path) -> Iterator[Engine]:
    engine = open_engine(locate(tmp_path, postgres))
    yield engine
    with engine.begin() as conn:
        for table in ("events", "spans", "runs", "batches"):
            conn.execute(text(f"DELETE FROM {table}"))
    engine.dispose()


def test_runs_are_recorded_and_read_back_on_postgres(pg_store: Engine) -> None:
    sim = Simulation.prepare(demo_workspace(), "support-triage", "payments-503-storm")
    events = []
    for _ in range(2):  # twice: the same run ids in two recordings
        batch = new_batch(sim.workspace.root, "support-triage", sim.scenario_name, sim.seed, False)
        redactor = redactor_for(sim.workspace.spec, os.environ)
        # Small batches: most runs start in one transaction and finish in another (an update).
        recorder = Recorder(
            pg_store, batch, redactor, chunk_size=8, max_batch=40, pipeline=sim.pipeline
        )
        events = []
        tickets = [{"ticket_id": f"T-{1000 + i}"} for i in range(8)]
        sim.execute(tickets, 4, [events.append, recorder.offer])
        recorder.close()
        assert recorder.acknowledged == 8

    runs = list_runs(pg_store, limit=100)
    assert len(runs) == 16 and runs[0].batch_id == batch.id
    assert all(r.status != "running" and r.attempts for r in runs)
    assert {r.release_id for r in runs} == {sim.pipeline.release}
    assert len(list_runs(pg_store, limit=100, failed=True)) == sum(r.status != "ok" for r in runs)
    for run in runs[:8]:
        live = RunSummary()
        for event in (e for e in events if e.run_id == run.run_id):
            live.apply(event)
        stored = RunSummary()
        for event in run_events(pg_store, find_run(pg_store, run.run_id))[0]:
            stored.apply(event)
        assert stored.to_json() == live.to_json()
    with pg_store.connect() as conn:
        spans = conn.execute(text("SELECT count(*) FROM spans")).scalar()
        emails = conn.execute(text("SELECT count(*) FROM events WHERE data LIKE '%@%'")).scalar()
    assert spans and emails == 0
