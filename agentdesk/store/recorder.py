"""The recorder: persists a run batch's events as they happen, off the simulation's thread —
and, where it can, off its process.

The engine never waits for the database. ``offer`` is attached to the ``EventBus`` as a plain
listener (``bus.listen(recorder.offer)``); it appends the event to a small chunk and hands full
chunks to the writer. The writer (``_Writer``) is two threads. ONE folds each batch of events
into rows (``rows.RecordFold``), flushing by size or every ``flush_interval`` seconds; ONE
commits the rows — events, spans that closed, runs that started or finished — in order, each
batch in one transaction with any other batches already folded (a group commit). The two
overlap: SQLite releases the GIL while it steps a statement, so on two cores the next batch is
folded while this one is written. While the committer writes, the fold pauses
(``time.sleep(0)``) every 128 events: without that the committer, which gives the GIL up at
every statement, waited a whole switch interval (5 ms) to get it back each time, and the two
ran one after the other.

**Where the writer runs.** ``writer="thread"`` (the default): in this process.
``writer="process"``: in a child process forked for it, so that the simulation and the writer
do not share a GIL. In one process the writer's ~6 µs of Python an event, and the thread
switches it forces, slowed a 10,000-session recording by half (bench/sim_throughput.py).
Chunks cross a pipe as msgpack (0.4 µs an event to encode; pickle for a chunk holding a value
msgpack cannot carry or an event type the engine does not declare); acknowledgements and
failures come back over another pipe, read here by a thread that calls ``on_acknowledged``.
The child ignores Ctrl-C (this process closes the recorder, and everything offered is
written) and dies with this process (one of its threads waits for nothing else).
``writer="auto"`` forks only on Linux and only while this process runs a single thread —
forking a process whose other threads may hold a lock (a TUI, a test runner) is how children
hang — and writes in threads otherwise; the command line asks for it.

Back-pressure, not loss: when the writer is a whole queue (or pipe) behind, ``offer`` blocks
until it catches up, so a slow disk slows the simulation and nothing is dropped. (Nothing in
the engine awaits the writer, so it does not disturb the virtual clock.)

**Acknowledged**: a run is acknowledged once the transaction holding its ``run_finished``
event has committed; that transaction also holds every earlier event of the run, so an
acknowledged run is complete in the store and survives the process being killed.
``acknowledged`` counts them and ``on_acknowledged(batch_id, run_id)`` is called (from a
writer thread, or the thread reading the child's replies) for each one.

If the database fails mid-recording (disk full), the writer keeps draining and discarding so
the run is never blocked, and ``close`` raises ``StoreError`` saying how many runs were
acknowledged before the failure. So does a writer process that dies.
"""

from __future__ import annotations

import functools
import gc
import logging
import multiprocessing
import os
import pickle
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from itertools import chain
from multiprocessing.connection import Connection as End
from multiprocessing.connection import wait
from typing import TYPE_CHECKING, Any, Literal, get_args

import msgspec
from sqlalchemy import Connection, Engine, and_, bindparam, insert, update

from agentdesk.engine.events import AnyEvent, RunFinished
from agentdesk.store.database import StoreError, reason, writing
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
WriterPlace = Literal["thread", "process", "auto"]
FOLDED_AHEAD = 4
"""Folded batches that may wait for the committer before the writer waits for it."""
PIPE_BYTES = 1 << 20
"""The events pipe's buffer (Linux's default, 64 KiB, is a quarter of a chunk): the
simulation hands a chunk over without waiting for the child to be scheduled."""


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
        writer: WriterPlace = "thread",
    ) -> None:
        """``pipeline``: what the runs run; its release (manifest and files) is recorded
        first, so each run row can name it. Runs naming a release the recorder was not given
        are recorded without one. ``writer``: where the writer runs (see the module)."""
        self.engine = engine
        self.batch_id = batch.id
        self.acknowledged = 0
        self.error: BaseException | None = None
        self._on_acknowledged = on_acknowledged
        fold = RecordFold(batch.id, redactor)
        if pipeline is not None:
            _record_release(engine, pipeline, fold)
        _write_batch_row(engine, batch)
        self._chunk: list[AnyEvent] = []
        self._chunk_started = 0.0
        self._chunk_size = chunk_size
        self._interval = flush_interval
        self._writer = _Writer(engine, fold, max_chunks, max_batch, flush_interval)
        self._child: _Child | None = None
        if _forks(writer):
            self._child = _Child(self._writer, self._acknowledge, self._fail)
        else:
            self._writer.start(self._acknowledge, self._fail)

    @property
    def in_child(self) -> bool:
        """True when the writer runs in a child process."""
        return self._child is not None

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
            self._hand(chunk)

    def close(self) -> None:
        """Flush everything offered, stop the writer, and raise if it failed."""
        if self._chunk:
            self._hand(self._chunk)
            self._chunk = []
        if self._child is not None:
            self._child.finish()
        else:
            self._writer.finish()
        if self.error is not None:
            raise StoreError(
                f"recording stopped: {reason(self.error)} "
                f"({self.acknowledged} run(s) acknowledged before it)"
            ) from self.error

    def _hand(self, chunk: list[AnyEvent]) -> None:
        if self._child is not None:
            self._child.send(chunk)
        else:
            self._writer.put(chunk)

    def _acknowledge(self, run_ids: list[str]) -> None:
        self.acknowledged += len(run_ids)
        if self._on_acknowledged is not None:
            for run_id in run_ids:
                self._on_acknowledged(self.batch_id, run_id)

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:  # the first failure is the one that stopped the recording
            log.error("agentdesk store: recording stopped: %s", reason(exc))
            self.error = exc


def _record_release(engine: Engine, pipeline: LoadedPipeline, fold: RecordFold) -> None:
    from agentdesk.store.artifacts import Registry

    registry = Registry(engine)
    name = pipeline.spec.name
    registry.record_release(pipeline.release, name, pipeline.manifest, pipeline.contents)
    fold.releases.add(pipeline.release)


def _write_batch_row(engine: Engine, batch: Batch) -> None:
    with writing(engine, "cannot record") as conn:
        conn.execute(insert(table(Batch)), [batch.model_dump()])


def _forks(place: WriterPlace) -> bool:
    if place == "thread" or "fork" not in multiprocessing.get_all_start_methods():
        return False
    return place == "process" or (sys.platform == "linux" and threading.active_count() == 1)


class _Writer:
    """Folds batches of events into rows on one thread and commits them on another."""

    def __init__(
        self, engine: Engine, fold: RecordFold, max_chunks: int, max_batch: int, interval: float
    ) -> None:
        self.engine = engine
        self._fold = fold
        self._insert = Inserter(engine)
        self._max_batch = max_batch
        self._interval = interval
        self._queue: queue.Queue[Any] = queue.Queue(max_chunks)
        self._folded: queue.Queue[Any] = queue.Queue(FOLDED_AHEAD)
        self._committing = False
        self._failed = False
        self._threads: list[threading.Thread] = []
        self._acknowledge: Callable[[list[str]], None] = lambda _: None
        self._report: Callable[[BaseException], None] = lambda _: None

    def start(
        self, acknowledge: Callable[[list[str]], None], fail: Callable[[BaseException], None]
    ) -> None:
        """Start both threads; ``acknowledge`` gets the runs of each commit, ``fail`` each
        error (after the first, everything put is drained and dropped)."""
        self._acknowledge, self._report = acknowledge, fail
        self._threads = [
            threading.Thread(target=self._drain, name="agentdesk-store", daemon=True),
            threading.Thread(target=self._commit_all, name="agentdesk-store-commit", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def put(self, events: list[AnyEvent]) -> None:
        self._queue.put(events)

    def finish(self) -> None:
        """Write everything put so far, then stop both threads."""
        if self._threads[0].is_alive():
            self._queue.put(_CLOSE)
        for thread in self._threads:
            thread.join()

    def fail(self, exc: BaseException) -> None:
        """Stop writing (what is put from now on is dropped) and report ``exc``."""
        self._failed = True
        self._report(exc)

    def _drain(self) -> None:
        """The fold thread: batches of events folded into rows, handed to the committer."""
        closing = False
        try:
            while not closing:
                events, closing = self._collect()
                if events and not self._failed:
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
            self.fail(exc)
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
            if batches and not self._failed:
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
            self.fail(exc)
            return
        finally:
            self._committing = False
        self._acknowledge([run_id for rows in batches for run_id in rows.acknowledged])


class WriterFailed(Exception):
    """What the writer process reported (or that it died)."""


_DECLARED = frozenset(get_args(AnyEvent))
_MSGPACK, _PICKLE = b"m", b"p"


class _Child:
    """The writer in a forked child process. This side sends it chunks of events and reads
    its replies (runs acknowledged, failures, done) on a thread."""

    def __init__(
        self,
        writer: _Writer,
        acknowledge: Callable[[list[str]], None],
        fail: Callable[[BaseException], None],
    ) -> None:
        self._acknowledge, self._fail = acknowledge, fail
        events_in, events_out = multiprocessing.Pipe(duplex=False)
        replies_in, replies_out = multiprocessing.Pipe(duplex=False)
        _widen(events_out)
        context = multiprocessing.get_context("fork")
        self._process = context.Process(
            target=_serve,
            args=(writer, events_in, replies_out, (events_out, replies_in)),
            name="agentdesk-store",
            daemon=True,
        )
        self._process.start()
        events_in.close()
        replies_out.close()
        self._events, self._replies = events_out, replies_in
        self._encoder = msgspec.msgpack.Encoder()
        self._lost = False
        self._reader = threading.Thread(
            target=self._read_replies, name="agentdesk-store-replies", daemon=True
        )
        self._reader.start()

    def send(self, chunk: list[AnyEvent]) -> None:
        if self._lost:
            return  # the reader has reported why
        try:
            self._events.send_bytes(self._encode(chunk))
        except OSError:  # the child is gone
            self._lost = True

    def finish(self) -> None:
        """Ask the child to write everything sent and stop; wait for it."""
        if not self._lost:
            try:
                self._events.send_bytes(b"")
            except OSError:
                self._lost = True
        self._events.close()
        self._reader.join()
        self._process.join()
        self._replies.close()

    def _encode(self, chunk: list[AnyEvent]) -> bytearray:
        if all(type(event) in _DECLARED for event in chunk):
            buffer = bytearray(_MSGPACK)
            try:
                self._encoder.encode_into(chunk, buffer, 1)
                return buffer
            except (OverflowError, TypeError, msgspec.EncodeError):
                pass  # an integer beyond 64 bits, say: pickle keeps any value
        return bytearray(_PICKLE + pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL))

    def _read_replies(self) -> None:
        decode = msgspec.msgpack.Decoder(tuple[str, Any]).decode
        while True:
            try:
                kind, payload = decode(self._replies.recv_bytes())
            except (EOFError, OSError):
                self._lost = True
                self._process.join()
                code = self._process.exitcode
                self._fail(WriterFailed(f"the writer process ended unexpectedly (exit {code})"))
                return
            if kind == "ack":
                self._acknowledge(payload)
            elif kind == "error":
                self._fail(WriterFailed(payload))
            else:  # done
                return


def _widen(end: End) -> None:
    try:
        import fcntl

        fcntl.fcntl(end.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):
        pass  # not Linux, or above /proc/sys/fs/pipe-max-size: the default buffer works


def _serve(writer: _Writer, events: End, replies: End, parents: tuple[End, ...]) -> None:
    """The child process: chunks in, rows written, replies out; never outlives its parent."""
    for end in parents:
        end.close()  # the parent's ends: once it is gone, reading the pipe must end
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    gc.freeze()  # what the fork inherited stays out of every collection (and shared)
    writer.engine.dispose(close=False)  # the parent's pooled connections are the parent's
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_die_with, args=(parent.sentinel,), daemon=True).start()
    lock = threading.Lock()
    encoder = msgspec.msgpack.Encoder()

    def reply(kind: str, payload: Any) -> None:
        with lock:
            replies.send_bytes(encoder.encode((kind, payload)))

    writer.start(lambda run_ids: reply("ack", run_ids), lambda exc: reply("error", reason(exc)))
    decode = msgspec.msgpack.Decoder(list[AnyEvent]).decode
    while True:
        try:
            data = events.recv_bytes()
        except EOFError:
            os._exit(1)  # the parent died without closing the recorder
        if not data:
            break
        try:
            body = memoryview(data)[1:]
            writer.put(decode(body) if data[:1] == _MSGPACK else pickle.loads(body))
        except Exception as exc:  # a chunk this process cannot read: stop writing, say why
            writer.fail(exc)
    writer.finish()
    reply("done", None)
    replies.close()


def _die_with(parent_sentinel: int) -> None:
    wait([parent_sentinel])
    os._exit(1)


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
