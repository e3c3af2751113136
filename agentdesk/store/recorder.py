"""The recorder: one writer thread that persists a run batch's events as they happen.

The engine never waits for the database. ``offer`` is attached to the ``EventBus`` as a plain
listener (``bus.listen(recorder.offer)``); it appends the event to a small chunk and hands full
chunks to a bounded queue. ONE writer thread drains that queue and folds each batch of events
into rows (``rows.RecordFold``), flushing by size or every ``flush_interval`` seconds; ONE
committer thread inserts the rows — events, spans that closed, runs that started or finished —
in order, each batch in one transaction with any other batches already folded (a group
commit). The two overlap: SQLite releases the GIL while it steps a statement, so on two cores
the next batch is folded while this one is written. While the committer writes, the fold
pauses (``time.sleep(0)``) every 128 events: without that the committer, which gives the GIL
up at every statement, waited a whole switch interval (5 ms) to get it back each time, and the
two ran one after the other.

Back-pressure, not loss: when the queue is full, ``offer`` blocks until the writer catches up,
so a slow disk slows the simulation and nothing is dropped. (Nothing in the engine awaits the
writer, so the thread does not disturb the virtual clock.)

**Acknowledged**: a run is acknowledged once the transaction holding its ``run_finished``
event has committed; that transaction also holds every earlier event of the run, so an
acknowledged run is complete in the store and survives the process being killed.
``acknowledged`` counts them and ``on_acknowledged(batch_id, run_id)`` is called (from the
writer thread) for each one.

If the database fails mid-recording (disk full), the writer keeps draining and discarding so
the run is never blocked, and ``close`` raises ``StoreError`` saying how many runs were
acknowledged before the failure.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable
from itertools import chain
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, and_, bindparam, insert, update
from sqlalchemy.exc import SQLAlchemyError

from agentdesk.engine.events import AnyEvent, RunFinished
from agentdesk.store.database import StoreError, reason
from agentdesk.store.redaction import Redactor
from agentdesk.store.rows import (
    EVENT_COLUMNS,
    RUN_COLUMNS,
    RUN_TOTALS,
    SPAN_COLUMNS,
    RecordFold,
    Rows,
)
from agentdesk.store.tables import Batch, EventRecord, Run, Span, table

if TYPE_CHECKING:
    from agentdesk.spec.loader import LoadedPipeline

log = logging.getLogger(__name__)

_CLOSE = object()
Acknowledge = Callable[[str, str], None]
FOLDED_AHEAD = 4
"""Folded batches that may wait for the committer before the writer waits for it."""


class Recorder:
    """Records one batch (``Batch`` row) of runs; ``offer`` from the loop, ``close`` at the end."""

    def __init__(
        self,
        engine: Engine,
        batch: Batch,
        redactor: Redactor,
        on_acknowledged: Acknowledge | None = None,
        *,
        chunk_size: int = 1024,
        max_chunks: int = 16,
        max_batch: int = 8192,
        flush_interval: float = 0.05,
        pipeline: LoadedPipeline | None = None,
    ) -> None:
        """``pipeline``: what the runs run; its release (manifest and files) is recorded
        first, so each run row can name it. Runs naming a release the recorder was not given
        are recorded without one."""
        self.engine = engine
        self.batch_id = batch.id
        self.acknowledged = 0
        self.error: BaseException | None = None
        self._on_acknowledged = on_acknowledged
        self._fold = RecordFold(batch.id, redactor)
        if pipeline is not None:
            self._record_release(pipeline)
        self._insert = Inserter(engine)
        self._chunk: list[AnyEvent] = []
        self._chunk_started = 0.0
        self._chunk_size = chunk_size
        self._max_batch = max_batch
        self._interval = flush_interval
        self._queue: queue.Queue[Any] = queue.Queue(max_chunks)
        self._committing = False
        self._folded: queue.Queue[Any] = queue.Queue(FOLDED_AHEAD)
        self._write_batch_row(batch)
        self._thread = threading.Thread(target=self._drain, name="agentdesk-store", daemon=True)
        self._committer = threading.Thread(
            target=self._commit_all, name="agentdesk-store-commit", daemon=True
        )
        self._thread.start()
        self._committer.start()

    def offer(self, event: AnyEvent) -> None:
        """Take one event; blocks only when the writer is a whole queue behind."""
        chunk = self._chunk
        if not chunk:
            self._chunk_started = time.monotonic()
        chunk.append(event)
        if (
            len(chunk) >= self._chunk_size
            or type(event) is RunFinished
            or time.monotonic() - self._chunk_started >= self._interval
        ):
            self._chunk = []
            self._queue.put(chunk)

    def close(self) -> None:
        """Flush everything offered, stop the writer, and raise if it failed."""
        if self._chunk:
            self._queue.put(self._chunk)
            self._chunk = []
        if self._thread.is_alive():
            self._queue.put(_CLOSE)
            self._thread.join()
        self._committer.join()
        if self.error is not None:
            raise StoreError(
                f"recording stopped: {reason(self.error)} "
                f"({self.acknowledged} run(s) acknowledged before it)"
            ) from self.error

    # --- the writer thread -------------------------------------------------------------------

    def _record_release(self, pipeline: LoadedPipeline) -> None:
        from agentdesk.store.artifacts import Registry

        registry = Registry(self.engine)
        name = pipeline.spec.name
        registry.record_release(pipeline.release, name, pipeline.manifest, pipeline.contents)
        self._fold.releases.add(pipeline.release)

    def _write_batch_row(self, batch: Batch) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(table(Batch)), [batch.model_dump()])
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot record: {reason(exc)}") from exc

    def _drain(self) -> None:
        """The writer thread: batches of events folded into rows, handed to the committer."""
        closing = False
        try:
            while not closing:
                events, closing = self._collect()
                if events and self.error is None:
                    self._fold_batch(events)
        finally:
            self._folded.put(_CLOSE)

    def _collect(self) -> tuple[list[AnyEvent], bool]:
        """Wait for a chunk, then gather more until the batch is full or the interval is up."""
        first = self._queue.get()
        if first is _CLOSE:
            return [], True
        events: list[AnyEvent] = list(first)
        deadline = time.monotonic() + self._interval
        while len(events) < self._max_batch:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if item is _CLOSE:
                return events, True
            events.extend(item)
        return events, False

    def _fold_batch(self, events: list[AnyEvent]) -> None:
        try:
            rows = self._fold.take(events, self._hand_over).snapshot()
        except Exception as exc:  # the run must go on; close() reports it
            self._fail(exc)
            return
        self._folded.put(rows)

    def _commit_all(self) -> None:
        """The committer thread: folded batches in order, each in one transaction with any
        others already waiting (a group commit: when the writer falls behind, fewer and
        larger transactions write each hot index page once rather than once per batch)."""
        closing = False
        while not closing:
            waiting = [self._folded.get()]
            while waiting[-1] is not _CLOSE and not self._folded.empty():
                waiting.append(self._folded.get_nowait())  # this thread is the only reader
            closing = waiting[-1] is _CLOSE
            batches = waiting[:-1] if closing else waiting
            if batches and self.error is None:
                self._commit(batches)

    def _hand_over(self) -> None:
        """Let the committer, if it is writing, take the GIL back: it releases it for every
        SQLite step and, with the fold running flat out, would wait a whole switch interval
        (5 ms) to re-take it. (When it is not writing, a pause would only slow the runs.)"""
        if self._committing:
            time.sleep(0)

    def _commit(self, batches: list[Rows]) -> None:
        """One transaction, then its finished runs acknowledged."""
        self._committing = True
        try:
            with self.engine.begin() as conn:
                for rows in batches:
                    self._insert.rows(conn, rows)
        except Exception as exc:  # the run must go on; close() reports it
            self._fail(exc)
            return
        finally:
            self._committing = False
        for rows in batches:
            self.acknowledged += len(rows.acknowledged)
            if self._on_acknowledged is not None:
                for run_id in rows.acknowledged:
                    self._on_acknowledged(self.batch_id, run_id)

    def _fail(self, exc: Exception) -> None:
        log.error("agentdesk store: recording stopped: %s", reason(exc))
        self.error = exc


class Inserter:
    """Bulk writes for one batch: multi-row statements on SQLite, Core elsewhere.

    On SQLite, rows go to ``exec_driver_sql`` as one ``INSERT … VALUES (…), (…), …`` per
    thousand-odd rows. ``executemany`` would step (and release and re-take the GIL) once per
    row: while the simulation holds the GIL, each re-take waits for a thread switch, and a
    recording run spent most of its time there. Runs that finish in a later batch than they
    started are rewritten whole (``INSERT OR REPLACE``) for the same reason. Other dialects get
    SQLAlchemy Core ``insert()`` / ``update()`` with lists of dicts.
    """

    VARIABLES_PER_STATEMENT = 10_000
    """Well under SQLite's limit (32,766 since 3.32); ~400-1,600 rows per statement."""

    def __init__(self, engine: Engine) -> None:
        self._raw = engine.dialect.name == "sqlite"
        runs = table(Run)
        where = and_(runs.c.batch_id == bindparam("b_batch"), runs.c.run_id == bindparam("b_run"))
        self._finish = update(runs).where(where).values({k: bindparam(k) for k in RUN_TOTALS})

    def rows(self, conn: Connection, rows: Rows) -> None:
        runs = [tuple(r[c] for c in RUN_COLUMNS) for r in rows.new_runs]
        self._many(conn, Run, RUN_COLUMNS, runs)
        self._many(conn, EventRecord, EVENT_COLUMNS, rows.events)
        self._many(conn, Span, SPAN_COLUMNS, rows.spans)
        if not rows.finished_runs:
            return
        if self._raw:
            done = [tuple(r[c] for c in RUN_COLUMNS) for r in rows.finished_runs]
            self._many(conn, Run, RUN_COLUMNS, done, verb="INSERT OR REPLACE")
        else:
            keys = [{"b_batch": r["batch_id"], "b_run": r["run_id"]} for r in rows.finished_runs]
            totals = [{k: r[k] for k in RUN_TOTALS} for r in rows.finished_runs]
            conn.execute(self._finish, [a | b for a, b in zip(keys, totals, strict=True)])

    def _many(
        self,
        conn: Connection,
        model: Any,
        columns: tuple[str, ...],
        rows: list[tuple[Any, ...]],
        verb: str = "INSERT",
    ) -> None:
        if not rows:
            return
        if not self._raw:
            conn.execute(insert(table(model)), [dict(zip(columns, r, strict=True)) for r in rows])
            return
        step = self.VARIABLES_PER_STATEMENT // len(columns)
        for start in range(0, len(rows), step):
            part = rows[start : start + step]
            sql = _values_sql(verb, table(model).name, columns, len(part))
            conn.exec_driver_sql(sql, tuple(chain.from_iterable(part)))


@functools.lru_cache(maxsize=64)
def _values_sql(verb: str, table_name: str, columns: tuple[str, ...], count: int) -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    row = "(" + ", ".join("?" for _ in columns) + ")"
    return f'{verb} INTO "{table_name}" ({names}) VALUES ' + ", ".join([row] * count)
