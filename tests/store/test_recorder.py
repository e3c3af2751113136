"""The recorder: what a recording holds after runs, read back through the store's queries."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from agentdesk.engine.events import (
    AttemptFinished,
    Event,
    RetryScheduled,
    RunFinished,
    RunStarted,
    TokensCounted,
)
from agentdesk.projections.spans import SpanTree
from agentdesk.projections.summary import RunSummary
from agentdesk.store import Recorder, StoreError, new_batch
from agentdesk.store.queries import find_run, list_runs, run_events
from agentdesk.store.recorder import WriterPlace
from agentdesk.store.redaction import Redactor
from agentdesk.store.rows import PAUSE_EVERY, RecordFold
from tests.store.conftest import Record


def _rows(store: Engine, sql: str, **params: object) -> list[tuple[object, ...]]:
    with store.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql), params)]


def test_every_run_is_acknowledged_with_all_its_events(store: Engine, record: Record) -> None:
    acknowledged: list[tuple[str, str]] = []
    recorded = record(runs=20, on_acknowledged=lambda b, r: acknowledged.append((b, r)))
    run_ids = {e.run_id for e in recorded.events}
    assert recorded.recorder.acknowledged == 20 == len(acknowledged) == len(run_ids)
    assert {r for _, r in acknowledged} == run_ids
    stored = _rows(store, "SELECT type, run_id FROM events ORDER BY seq")
    assert stored == [(_type(e), e.run_id) for e in recorded.events]
    statuses = _rows(store, "SELECT status, count(*) FROM runs GROUP BY status")
    assert sum(n for _, n in statuses) == 20  # type: ignore[misc]
    assert "running" not in {s for s, _ in statuses}


def test_a_stored_run_folds_to_the_summary_the_live_run_printed(
    store: Engine, record: Record
) -> None:
    recorded = record(runs=12)
    for run in list_runs(store, limit=100):
        live = RunSummary()
        for event in recorded.events:
            if event.run_id == run.run_id:
                live.apply(event)
        stored = RunSummary()
        events, unknown = run_events(store, run)
        for event in events:
            stored.apply(event)
        assert unknown == 0
        assert stored.to_json() == live.to_json()


def test_spans_are_the_span_tree_of_the_events(store: Engine, record: Record) -> None:
    recorded = record(runs=10)
    tree = SpanTree()
    for event in recorded.events:
        tree.apply(event)
    expected = sorted(
        (s.span_id, s.parent_id, s.kind, s.name, s.start, s.end, s.status, s.attributes)
        for s in tree.spans.values()
    )
    columns = 'span_id, parent_id, kind, name, start, "end", status, attributes'
    stored = [
        (*r[:-1], json.loads(str(r[-1]))) for r in _rows(store, f"SELECT {columns} FROM spans")
    ]
    assert any(attributes.get("status_code") for *_, attributes in stored)
    assert sorted(stored) == expected  # type: ignore[type-var]


def test_a_fold_that_pauses_makes_the_same_rows(store: Engine, record: Record) -> None:
    events = record(runs=12).events
    redactor = Redactor()
    whole = RecordFold("b", redactor).take(events)
    pauses: list[None] = []
    sliced = RecordFold("b", redactor).take(events, lambda: pauses.append(None))
    assert len(pauses) == (len(events) - 1) // PAUSE_EVERY
    assert sliced == whole


def test_runs_name_their_release_and_step_spans_the_files_they_read(
    store: Engine, record: Record
) -> None:
    recorded = record(runs=3)
    pipeline = recorded.sim.pipeline
    runs = _rows(store, "SELECT DISTINCT release_id FROM runs")
    manifests = _rows(store, "SELECT id, manifest FROM releases")
    assert runs == [(pipeline.release,)]
    assert [row[0] for row in manifests] == [pipeline.release]
    assert dict(json.loads(str(manifests[0][1]))["files"]) == pipeline.sources
    triage = _rows(store, "SELECT attributes FROM spans WHERE kind = 'step' AND name = 'triage'")
    expected = [pipeline.sources[path] for path in pipeline.step_files["triage"]]
    assert {tuple(json.loads(str(row[0]))["artifacts"]) for row in triage} == {tuple(expected)}
    assert len(expected) == 3  # two prompt files and the output schema


@pytest.mark.parametrize("max_batch", [8_192, 40], ids=["large-batches", "runs-across-batches"])
def test_run_rows_carry_the_totals(store: Engine, record: Record, max_batch: int) -> None:
    recorded = record(runs=15, chunk_size=8, max_batch=max_batch)
    for run in list_runs(store, limit=100):
        own = [e for e in recorded.events if e.run_id == run.run_id]
        tokens = [e for e in own if isinstance(e, TokensCounted)]
        attempts = [e for e in own if isinstance(e, AttemptFinished)]
        assert run.attempts == len(attempts)
        assert run.errors == sum(a.outcome == "error" for a in attempts)
        assert run.retries == sum(isinstance(e, RetryScheduled) for e in own)
        assert run.prompt_tokens == sum(t.prompt_tokens for t in tokens)
        assert run.completion_tokens == sum(t.completion_tokens for t in tokens)
        assert run.cost_usd == pytest.approx(sum(getattr(t, "usd", 0.0) for t in tokens))
        assert run.events == len(own)
    assert any(r.retries for r in list_runs(store, limit=100))  # the storm made some


def test_a_full_queue_makes_offer_wait_and_nothing_is_lost(store: Engine, record: Record) -> None:
    """One event per chunk, one chunk in the queue, one event per batch: offer blocks often."""
    recorded = record(runs=5, chunk_size=1, max_chunks=1, max_batch=1)
    (count,) = _rows(store, "SELECT count(*) FROM events")[0]
    assert count == len(recorded.events)
    assert recorded.recorder.acknowledged == 5


def test_the_same_run_ids_recorded_twice_are_two_recordings(store: Engine, record: Record) -> None:
    first = record(runs=3).recorder.batch_id
    second = record(runs=3).recorder.batch_id
    runs = list_runs(store, limit=100)
    assert len(runs) == 6 and len({r.run_id for r in runs}) == 3
    newest = runs[0]
    assert find_run(store, newest.run_id).batch_id == second
    assert find_run(store, f"{first}/{newest.run_id}").batch_id == first
    assert find_run(store, f"{first[:3]}/{newest.run_id[:9]}").ref == f"{first}/{newest.run_id}"


def test_unknown_and_ambiguous_ids_are_clear_errors(store: Engine, record: Record) -> None:
    record(runs=3)
    with pytest.raises(StoreError, match="no recorded run 'run-nope'"):
        find_run(store, "run-nope")
    with pytest.raises(StoreError, match=r"'run-' is ambiguous: it matches 3 runs \(run-"):
        find_run(store, "run-")


class Futuristic(Event, frozen=True, tag="futuristic"):
    """An event type from a newer engine than this store knows."""

    note: str


def test_event_types_the_store_does_not_know_are_stored_generically(
    store: Engine, record: Record, writer: WriterPlace
) -> None:
    recorded = record(runs=1)
    run_id = recorded.events[0].run_id
    batch = new_batch(Path("."), "support-triage", "happy", 42, False)
    recorder = Recorder(store, batch, Redactor(), writer=writer)
    for event in recorded.events:
        recorder.offer(event)
        if event is recorded.events[1]:
            recorder.offer(Futuristic(t=event.t, run_id=run_id, note="mail ada@example.com"))  # type: ignore[arg-type]
    recorder.close()
    stored = _rows(store, "SELECT data FROM events WHERE type = 'futuristic'")
    assert stored == [
        (
            '{"type":"futuristic","note":"mail [redacted:email]","v":1,"t":0.0,'
            f'"run_id":"{run_id}"}}',
        )
    ]
    events, unknown = run_events(store, find_run(store, f"{batch.id}/{run_id}"))
    assert unknown == 1 and len(events) == len(recorded.events)


def test_readers_never_block_the_writer(store: Engine, db_path: Path, record: Record) -> None:
    """A reader holding a snapshot open for the whole recording neither blocks nor sees it."""
    reader = sqlite3.connect(db_path, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM runs").fetchone() == (0,)
    recorded = record(runs=10)
    assert recorded.recorder.acknowledged == 10
    assert reader.execute("SELECT count(*) FROM runs").fetchone() == (0,)  # its snapshot
    reader.execute("COMMIT")
    assert reader.execute("SELECT count(*) FROM runs").fetchone() == (10,)
    reader.close()


def test_a_failing_store_never_stops_the_runs_and_says_so_on_close(
    store: Engine, record: Record
) -> None:
    with store.begin() as conn:
        conn.execute(text("DROP TABLE spans"))
    with pytest.raises(StoreError, match=r"recording stopped: .*no such table: spans.*\(0 run"):
        record(runs=10, chunk_size=1, max_chunks=1)  # a stopped writer must not block offer


def _type(event: Event) -> str:
    return str(type(event).__struct_config__.tag)


def test_values_beyond_msgpack_arrive_whole(store: Engine, writer: WriterPlace) -> None:
    """A run's input may hold any JSON value, an integer past 64 bits included."""
    batch = new_batch(Path("."), "support-triage", "happy", 42, False)
    recorder = Recorder(store, batch, Redactor(), writer=writer)
    huge = 2**70 + 1
    started = RunStarted(
        t=0.0, run_id="run-1", pipeline="p", session=0, seed=1, scenario="s", input={"n": huge}
    )
    recorder.offer(started)
    recorder.offer(RunFinished(t=1.0, run_id="run-1", status="ok", stop_reason="completed"))
    recorder.close()
    assert recorder.acknowledged == 1
    (data,) = _rows(store, "SELECT data FROM events WHERE type = 'run_started'")[0]
    assert json.loads(str(data))["input"] == {"n": huge}


def test_a_writer_process_that_dies_is_reported_and_never_blocks_the_runs(
    store: Engine, record: Record
) -> None:
    batch = new_batch(Path("."), "support-triage", "happy", 42, False)
    recorder = Recorder(store, batch, Redactor(), writer="process", chunk_size=1, max_chunks=1)
    events = record(runs=3).events
    for event in events[:5]:
        recorder.offer(event)
    child = recorder._child
    assert child is not None
    os.kill(child._process.pid, signal.SIGKILL)
    for event in events[5:]:  # thousands of chunks, far beyond any pipe's buffer
        recorder.offer(event)
    with pytest.raises(StoreError, match=r"writer process ended unexpectedly \(exit -9\)"):
        recorder.close()
