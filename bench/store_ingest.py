"""Benchmark: spans persisted per second through the store's real writer, next to raw sqlite3.

The events come from a real simulation (support-triage under payments-503-storm), captured in
memory first so that only the store is timed. Then, in the same process, alternating rounds:

- **writer**: every event through ``Recorder.offer`` (the call the event bus makes), timed
  until ``close()`` returns, i.e. until the last row is committed. The writer encodes and
  redacts each event, derives spans and run totals, and inserts events, spans and runs.
- **raw**: the very rows the writer committed (events, spans and runs, computed beforehand),
  inserted with bare ``sqlite3.executemany`` in one transaction into the same schema, with the
  same pragmas (WAL, synchronous=NORMAL, the same checkpoint interval): the ceiling for
  writing that data.
- **raw, spans only**: bare ``executemany`` of the span rows alone, for scale.
- where the writer's time goes: its fold (events → redacted JSON, spans, run totals; no
  database) and its inserts (the same rows through its own statements), each timed alone.

Figures are medians over the rounds; the ratio is writer spans/s ÷ raw spans/s (target ≥ 0.5).

    python bench/store_ingest.py [--sessions 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (sets up the path and tiktoken)

from agentdesk.engine.events import AnyEvent
from agentdesk.simulation import Simulation, demo_workspace
from agentdesk.store import Recorder, locate, new_batch, open_engine, redactor_for
from agentdesk.store.database import WAL_AUTOCHECKPOINT
from agentdesk.store.recorder import Inserter
from agentdesk.store.rows import EVENT_COLUMNS, RUN_COLUMNS, SPAN_COLUMNS, RecordFold


def capture(sessions: int) -> tuple[Simulation, list[AnyEvent]]:
    sim = Simulation.prepare(demo_workspace(), "support-triage", "payments-503-storm")
    events: list[AnyEvent] = []
    tickets = [{"ticket_id": f"T-{1000 + i % 500}"} for i in range(sessions)]
    sim.execute(tickets, 50, [events.append])
    return sim, events


def fresh_db(folder: Path, name: str) -> Path:
    """An empty store with the real schema (tables, indexes, pragmas)."""
    path = folder / name
    open_engine(locate(folder, str(path))).dispose()
    return path


def bench_writer(folder: Path, sim: Simulation, events: list[AnyEvent], round_: int) -> float:
    path = fresh_db(folder, f"writer-{round_}.db")
    engine = open_engine(locate(folder, str(path)))
    batch = new_batch(folder, "support-triage", sim.scenario_name, sim.seed, False)
    redactor = redactor_for(sim.workspace.spec, os.environ)
    recorder = Recorder(engine, batch, redactor, pipeline=sim.pipeline)
    started = time.perf_counter()
    for event in events:
        recorder.offer(event)
    recorder.close()
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def raw_rows(sim: Simulation, events: list[AnyEvent]) -> dict[str, Any]:
    """The rows the writer commits, computed ahead of time (tuples, ready for executemany)."""
    rows = RecordFold("raw", redactor_for(sim.workspace.spec, os.environ)).take(events)
    run_columns = RUN_COLUMNS
    return {
        "events": rows.events,
        "spans": rows.spans,
        "runs": [tuple(r[c] for c in RUN_COLUMNS) for r in rows.new_runs],
        "run_columns": run_columns,
    }


def bench_raw(folder: Path, rows: dict[str, Any], round_: int, spans_only: bool) -> float:
    path = fresh_db(folder, f"raw-{'spans' if spans_only else 'all'}-{round_}.db")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
    tables: list[tuple[str, tuple[str, ...], list[tuple[Any, ...]]]] = [
        ("spans", SPAN_COLUMNS, rows["spans"])
    ]
    if not spans_only:
        tables = [
            ("runs", rows["run_columns"], rows["runs"]),
            ("events", EVENT_COLUMNS, rows["events"]),
            *tables,
        ]
    started = time.perf_counter()
    conn.execute("BEGIN")
    for name, columns, data in tables:
        marks = ", ".join("?" for _ in columns)
        quoted = ", ".join(f'"{c}"' for c in columns)
        conn.executemany(f'INSERT INTO "{name}" ({quoted}) VALUES ({marks})', data)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def bench_fold(sim: Simulation, events: list[AnyEvent]) -> float:
    fold = RecordFold("fold", redactor_for(sim.workspace.spec, os.environ))
    started = time.perf_counter()
    fold.take(events)
    return time.perf_counter() - started


def bench_inserts(folder: Path, sim: Simulation, events: list[AnyEvent], round_: int) -> float:
    rows = RecordFold("inserts", redactor_for(sim.workspace.spec, os.environ)).take(events)
    path = fresh_db(folder, f"inserts-{round_}.db")
    engine = open_engine(locate(folder, str(path)))
    inserter = Inserter(engine)
    started = time.perf_counter()
    with engine.begin() as conn:
        inserter.rows(conn, rows)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        found: int = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
        return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    sim, events = capture(args.sessions)
    rows = raw_rows(sim, events)
    spans = len(rows["spans"])
    timings: dict[str, list[float]] = {
        "writer": [],
        "raw": [],
        "spans_only": [],
        "fold": [],
        "inserts": [],
    }
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for round_ in range(args.rounds):
            timings["writer"].append(bench_writer(folder, sim, events, round_))
            timings["raw"].append(bench_raw(folder, rows, round_, spans_only=False))
            timings["spans_only"].append(bench_raw(folder, rows, round_, spans_only=True))
            timings["fold"].append(bench_fold(sim, events))
            timings["inserts"].append(bench_inserts(folder, sim, events, round_))
        stored = count(folder / "writer-0.db", "spans")
        assert stored == spans, f"the writer stored {stored} spans, expected {spans}"

    writer, raw, spans_only, fold, inserts = (statistics.median(timings[k]) for k in timings)
    total_rows = len(rows["events"]) + spans + len(rows["runs"])
    print(
        f"workload            {args.sessions:,} runs of support-triage under payments-503-storm:"
        f" {len(events):,} events → {spans:,} spans + {len(rows['events']):,} event rows"
        f" + {len(rows['runs']):,} run rows"
    )
    print(f"redaction           {_redaction_note(sim)}")
    print(
        f"writer              {spans / writer:,.0f} spans/s  ({total_rows / writer:,.0f} rows/s;"
        f" {writer:.2f} s from first offer to last commit)"
    )
    print(
        f"raw executemany     {spans / raw:,.0f} spans/s  ({total_rows / raw:,.0f} rows/s;"
        f" the same rows, precomputed, one transaction)"
    )
    print(f"raw, spans alone    {spans / spans_only:,.0f} spans/s  (span rows only)")
    print(
        f"writer's time       fold {fold:.2f} s ({fold / len(events) * 1e6:.1f} µs/event: encode,"
        f" redact, derive spans and totals) + inserts {inserts:.2f} s (raw: {raw:.2f} s)"
    )
    print(f"ratio               {raw / writer:.2f}  (writer spans/s ÷ raw spans/s; target ≥ 0.5)")
    print(f"rounds              {args.rounds} (medians; writer {_list(timings['writer'])} s)")


def _redaction_note(sim: Simulation) -> str:
    spec = sim.workspace.spec.store
    return f"on ({', '.join(spec.redact) or 'secrets only'}) — the default, as `agentdesk run`"


def _list(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    main()
