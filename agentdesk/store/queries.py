"""Reading the store: recorded runs, newest first, and one run's events back as typed events.

Readers use their own connections (WAL: they never block the writer, and the writer never
blocks them). A run is named by its id (the latest recording of it), by ``BATCH/RUN``, or by
a unique prefix of either; an ambiguous prefix is an error that lists what it matched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Engine, Executable, Select, case, func, select
from sqlalchemy.exc import SQLAlchemyError

from agentdesk.engine.events import AnyEvent, decode
from agentdesk.store.database import StoreError, reason
from agentdesk.store.tables import Batch, EventRecord, Run, table

_MATCHES_SHOWN = 5


class UnknownRun(StoreError):
    """No recorded run has that id (or the prefix matches several)."""


@dataclass(frozen=True)
class RecordedRun:
    batch_id: str
    run_id: str
    recorded: datetime
    real_clock: bool
    pipeline: str
    scenario: str
    seed: int
    session: int
    status: str
    stop_reason: str
    duration: float | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    attempts: int
    retries: int
    errors: int
    events: int
    approximate: bool
    release_id: str | None = None
    """The release that ran (``agentdesk artifacts release ID`` shows its files)."""

    @property
    def ref(self) -> str:
        """``BATCH/RUN``: names this recording of the run, whatever else shares its id."""
        return f"{self.batch_id}/{self.run_id}"

    def to_json(self) -> dict[str, Any]:
        fields = {k: v for k, v in vars(self).items() if k not in ("recorded", "real_clock")}
        return {"ref": self.ref, "recorded": self.recorded.isoformat(), **fields}


def _runs_query() -> Select[Any]:
    runs, batches = table(Run), table(Batch)
    columns = [runs.c[name] for name in RecordedRun.__dataclass_fields__ if name in runs.c]
    recorded = batches.c.created.label("recorded")
    return (
        select(*columns, recorded, batches.c.real_clock)
        .join(batches, batches.c.id == runs.c.batch_id)
        .order_by(batches.c.created.desc(), runs.c.started.desc(), runs.c.session.desc())
    )


def list_runs(
    engine: Engine, limit: int = 50, pipeline: str | None = None, failed: bool = False
) -> list[RecordedRun]:
    """Recorded runs, newest first; ``failed`` keeps those that did not complete."""
    runs = table(Run)
    query = _runs_query().limit(limit)
    if pipeline is not None:
        query = query.where(runs.c.pipeline == pipeline)
    if failed:
        query = query.where(runs.c.status != "ok")
    return _fetch(engine, query)


GROUPINGS = ("pipeline", "scenario", "release")


@dataclass(frozen=True)
class Totals:
    """Recorded runs added up by pipeline, scenario or release."""

    key: str
    runs: int
    failed: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    retries: int
    errors: int
    approximate: bool

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


def totals_by(engine: Engine, by: str, pipeline: str | None = None) -> list[Totals]:
    """Cost, tokens, failures and retries summed per ``by`` (one of ``GROUPINGS``), most
    expensive first. Runs cut short count as failed; runs with no release group under ''."""
    runs = table(Run)
    column = {"pipeline": runs.c.pipeline, "scenario": runs.c.scenario}.get(by, runs.c.release_id)
    key = func.coalesce(column, "").label("key")
    query = (
        select(
            key,
            func.count().label("runs"),
            func.sum(case((runs.c.status != "ok", 1), else_=0)).label("failed"),
            func.sum(runs.c.prompt_tokens).label("prompt_tokens"),
            func.sum(runs.c.completion_tokens).label("completion_tokens"),
            func.sum(runs.c.cost_usd).label("cost_usd"),
            func.sum(runs.c.retries).label("retries"),
            func.sum(runs.c.errors).label("errors"),
            func.max(case((runs.c.approximate, 1), else_=0)).label("approximate"),
        )
        .group_by(key)
        .order_by(func.sum(runs.c.cost_usd).desc(), key)
    )
    if pipeline is not None:
        query = query.where(runs.c.pipeline == pipeline)
    return [
        Totals(
            row.key,
            row.runs,
            int(row.failed or 0),
            int(row.prompt_tokens or 0),
            int(row.completion_tokens or 0),
            float(row.cost_usd or 0.0),
            int(row.retries or 0),
            int(row.errors or 0),
            bool(row.approximate),
        )
        for row in _execute(engine, query)
    ]


def find_run(engine: Engine, ref: str) -> RecordedRun:
    """The run ``ref`` names: ``RUN`` (its latest recording), ``BATCH/RUN``, or unique prefixes."""
    runs = table(Run)
    batch_part, _, run_part = ref.rpartition("/")
    query = _runs_query().where(runs.c.run_id.startswith(run_part, autoescape=True))
    if batch_part:
        query = query.where(runs.c.batch_id.startswith(batch_part, autoescape=True))
    found = _fetch(engine, query)
    exact = [r for r in found if r.run_id == run_part]
    if exact and not batch_part:
        return exact[0]
    names = sorted({r.ref if batch_part else r.run_id for r in found})
    if len(names) == 1:
        return found[0]
    if not names:
        raise UnknownRun(f"no recorded run {ref!r} (agentdesk runs lists them)")
    shown = ", ".join(names[:_MATCHES_SHOWN]) + (", …" if len(names) > _MATCHES_SHOWN else "")
    raise UnknownRun(f"{ref!r} is ambiguous: it matches {len(names)} runs ({shown})")


def run_events(engine: Engine, run: RecordedRun) -> tuple[list[AnyEvent], int]:
    """The run's events in publication order, and how many were of types not known here."""
    events_table = table(EventRecord)
    query = (
        select(events_table.c.data)
        .where(events_table.c.batch_id == run.batch_id, events_table.c.run_id == run.run_id)
        .order_by(events_table.c.seq)
    )
    events, unknown = [], 0
    for (data,) in _execute(engine, query):
        try:
            events.append(decode(data))
        except msgspec.ValidationError:  # written by a newer agentdesk
            unknown += 1
    return events, unknown


def _fetch(engine: Engine, query: Select[Any]) -> list[RecordedRun]:
    return [RecordedRun(**row._mapping) for row in _execute(engine, query)]


def _execute(engine: Engine, query: Executable) -> list[Any]:
    try:
        with engine.connect() as conn:
            return list(conn.execute(query))
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot read the store: {reason(exc)}") from exc
