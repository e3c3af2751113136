"""Tapes and incidents in the store: recording every downstream call, saving runs as incidents.

- ``TapeWriter`` — the tape of one recording (``agentdesk run``): ``wrap`` is handed to
  ``Simulation.execute``, every call lands in a queue, one thread inserts them in batches
  (``tape`` table), and ``close`` marks the batch's tape complete (``tape_batches``). A batch
  whose tape is not complete cannot be saved as an incident.
- ``save_incident`` — recorded runs (of one batch) → a ``Bundle``: their events, their tape,
  the release's files from the artifact registry, the scenario, seed, concurrency and budget
  overrides. Runs of the same batch that started before the last incident run finished are
  kept as context (they shared breakers and sims with it, so a replay must re-run them).
- ``store_bundle`` / ``load_incident`` / ``list_incidents`` — incidents are kept whole, as
  their bundle's bytes (zlib), so an export is byte-for-byte what was saved or imported.
- ``bundle_redactor`` — the redaction rules of a bundle's workspace, for replay comparisons;
  ``version_reader`` — stored file versions for what-if ``prompt`` changes.
"""

from __future__ import annotations

import json
import queue
import threading
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from agentdesk.engine.events import AnyEvent, RunStarted, decode
from agentdesk.incidents.bundle import Bundle, bundle_lines, read_bundle
from agentdesk.incidents.record import TapeReel, incident_slice, make_bundle
from agentdesk.incidents.tape import TapeEntry
from agentdesk.store.database import StoreError, reason
from agentdesk.store.queries import RecordedRun, find_run
from agentdesk.store.tables import (
    Artifact,
    Batch,
    EventRecord,
    IncidentRecord,
    LoadBatch,
    Release,
    Run,
    TapeBatch,
    TapeRecord,
    table,
)

if TYPE_CHECKING:
    import httpx

    from agentdesk.simulation import Simulation
    from agentdesk.store.redaction import Redactor

_encode = msgspec.json.Encoder().encode
_tape_entry = msgspec.json.Decoder(TapeEntry)
_CLOSE = object()
CHUNK = 512
"""Calls written per insert."""


class UnknownIncident(StoreError):
    """No incident has that id (or the prefix matches several)."""


class TapeWriter:
    """Records the tape of one batch; ``wrap`` for ``Simulation.execute``, then ``close``."""

    def __init__(
        self,
        engine: Engine,
        batch_id: str,
        sim: Simulation,
        redactor: Redactor,
        load: Mapping[str, Any] | None = None,
    ) -> None:
        """``load``: the traffic of a load test driving the runs (``Bundle.load``)."""
        from agentdesk.incidents.record import budgets_json, scenario_file

        self.engine = engine
        self.batch_id = batch_id
        self.error: BaseException | None = None
        self.count = 0
        self._chunk: list[TapeEntry] = []
        self._queue: queue.Queue[Any] = queue.Queue(64)
        self._reel = TapeReel(redactor, self._offer)
        scenario_path, scenario = scenario_file(sim)
        budgets = budgets_json(sim)
        row = TapeBatch(
            batch_id=batch_id,
            pipeline_path=sim.workspace.relative(sim.pipeline.path),
            scenario_path=scenario_path,
            scenario=scenario,
            budgets=None if budgets is None else json.dumps(budgets),
        )
        self._write(lambda conn: conn.execute(insert(table(TapeBatch)), [row.model_dump()]))
        if load is not None:
            traffic = {"batch_id": batch_id, "traffic": json.dumps(redactor.value(dict(load)))}
            self._write(lambda conn: conn.execute(insert(table(LoadBatch)), [traffic]))
        self._thread = threading.Thread(target=self._drain, name="agentdesk-tape", daemon=True)
        self._thread.start()

    def wrap(
        self, service: str, base_url: str, inner: httpx.AsyncBaseTransport
    ) -> httpx.AsyncBaseTransport:
        return self._reel.wrap(service, base_url, inner)

    def _offer(self, entry: TapeEntry) -> None:
        self.count += 1
        self._chunk.append(entry)
        if len(self._chunk) >= CHUNK:
            self._queue.put(self._chunk)
            self._chunk = []

    def close(self, concurrency: int) -> None:
        """Write what is left and mark the tape complete; raises StoreError if writing failed."""
        if self._chunk:
            self._queue.put(self._chunk)
            self._chunk = []
        self._queue.put(_CLOSE)
        self._thread.join()
        if self.error is None:
            done = (
                update(table(TapeBatch))
                .where(table(TapeBatch).c.batch_id == self.batch_id)
                .values(entries=self.count, complete=True, concurrency=concurrency)
            )
            self._write(lambda conn: conn.execute(done))
        if self.error is not None:
            raise StoreError(f"the tape was not recorded: {reason(self.error)}") from self.error

    def _drain(self) -> None:
        while (chunk := self._queue.get()) is not _CLOSE:
            if self.error is None:
                rows = [
                    {
                        "batch_id": self.batch_id,
                        "seq": e.seq,
                        "run_id": e.run_id,
                        "data": _encode(e).decode(),
                    }
                    for e in chunk
                ]
                self._write(lambda conn, rows=rows: conn.execute(insert(table(TapeRecord)), rows))

    def _write(self, statement: Any) -> None:
        try:
            with self.engine.begin() as conn:
                statement(conn)
        except SQLAlchemyError as exc:
            self.error = exc


# --- saving runs as an incident ----------------------------------------------------------------


def save_incident(engine: Engine, refs: Sequence[str], title: str = "") -> Bundle:
    """The recorded runs ``refs`` name (``RUN``, ``BATCH/RUN`` or prefixes, one batch) as an
    incident bundle, stored; raises StoreError saying what is missing."""
    runs = [find_run(engine, ref) for ref in refs]
    batches = {r.batch_id for r in runs}
    if len(batches) > 1:
        raise StoreError(
            "the runs of one incident must come from one recording; these come from "
            + ", ".join(sorted(batches))
        )
    batch_id = runs[0].batch_id
    tape = _tape_batch(engine, batch_id, runs[0])
    load = _load_traffic(engine, batch_id)
    focus = {r.run_id for r in runs}
    raw, decoded = _incident_events(engine, batch_id, focus, one_run_per_session=load is None)
    kept = {e.run_id for e in decoded}
    files = _release_files(engine, decoded)
    files[tape.scenario_path] = bytes(tape.scenario)
    batch = _one(engine, select(table(Batch)).where(table(Batch).c.id == batch_id))
    failed = sorted(r.run_id for r in runs if r.status != "ok")
    bundle = make_bundle(
        title=title or _title(runs, failed),
        files=files,
        pipeline_path=tape.pipeline_path,
        scenario=batch.scenario,
        scenario_path=tape.scenario_path,
        seed=batch.seed,
        events=raw,
        decoded=decoded,
        tape=_tape(engine, batch_id, kept),
        focus=focus,
        concurrency=tape.concurrency,
        budgets=json.loads(tape.budgets) if tape.budgets else None,
        release=_release_of(decoded),
        recorded=_utc(batch.created).isoformat(),
        real_clock=batch.real_clock,
        load=load,
    )
    store_bundle(engine, bundle, batch_id=batch_id)
    return bundle


def _title(runs: list[RecordedRun], failed: list[str]) -> str:
    first = runs[0]
    what = f"{len(runs)} runs" if len(runs) > 1 else f"run {first.run_id}"
    trouble = f", {len(failed)} failed" if failed and len(runs) > 1 else ""
    reason_ = f": {first.stop_reason}" if len(runs) == 1 and first.status != "ok" else ""
    return f"{first.pipeline} under {first.scenario}: {what}{trouble}{reason_}"


def _tape_batch(engine: Engine, batch_id: str, run: RecordedRun) -> Any:
    rows = _rows(engine, select(table(TapeBatch)).where(table(TapeBatch).c.batch_id == batch_id))
    if not rows or not rows[0].complete:
        why = "was recorded without its tape" if not rows else "has an incomplete tape (cut short)"
        raise StoreError(
            f"run {run.ref} {why}: record it again with `agentdesk run` (which keeps the "
            "tape of every call) to save it as an incident"
        )
    return rows[0]


def failed_runs(engine: Engine, batch_ref: str, first: int | None = None) -> list[str]:
    """The runs of recording ``batch_ref`` (an id or a unique prefix) that did not complete, as
    ``BATCH/RUN`` refs in the order they finished (``first``: only that many)."""
    batches = table(Batch)
    query = select(batches.c.id).where(batches.c.id.startswith(batch_ref, autoescape=True))
    found = [row.id for row in _rows(engine, query)]
    if len(found) != 1:
        problem = "no recording" if not found else f"{len(found)} recordings match"
        raise StoreError(f"{problem} {batch_ref!r} (agentdesk runs lists them with their batch)")
    runs = table(Run)
    query = (
        select(runs.c.run_id)
        .where(runs.c.batch_id == found[0], runs.c.status != "ok")
        .order_by(runs.c.finished, runs.c.run_id)
        .limit(first)
    )
    failed = [f"{found[0]}/{row.run_id}" for row in _rows(engine, query)]
    if not failed:
        raise StoreError(f"every run of recording {found[0]} completed: no failures to save")
    return failed


def _load_traffic(engine: Engine, batch_id: str) -> dict[str, Any] | None:
    rows = _rows(engine, select(table(LoadBatch)).where(table(LoadBatch).c.batch_id == batch_id))
    return json.loads(rows[0].traffic) if rows else None


def _incident_events(
    engine: Engine, batch_id: str, focus: set[str], *, one_run_per_session: bool = True
) -> tuple[list[bytes], list[AnyEvent]]:
    """The batch's events up to the last incident run's end, of the runs started by then
    (``incidents.record.incident_slice``)."""
    events = table(EventRecord)
    query = select(events.c.data).where(events.c.batch_id == batch_id).order_by(events.c.seq)
    raw = [row.data.encode() for row in _rows(engine, query)]
    decoded = [decode(data) for data in raw]
    try:
        keep = incident_slice(decoded, focus, one_run_per_session=one_run_per_session)
    except ValueError as exc:
        raise StoreError(str(exc)) from None
    return [raw[i] for i in keep], [decoded[i] for i in keep]


def _release_of(events: list[AnyEvent]) -> str:
    releases = {e.release for e in events if isinstance(e, RunStarted)}
    if len(releases) != 1:
        raise StoreError(f"these runs ran {len(releases)} different releases; save them apart")
    return releases.pop()


def _release_files(engine: Engine, events: list[AnyEvent]) -> dict[str, bytes]:
    release_id = _release_of(events)
    releases, artifacts = table(Release), table(Artifact)
    found = _rows(engine, select(releases.c.manifest).where(releases.c.id == release_id))
    if not found:
        raise StoreError(f"release {release_id[:12]} is not in the store's artifact registry")
    files = dict(json.loads(found[0].manifest).get("files", []))
    ids = sorted(set(files.values()))
    contents = {
        row.id: bytes(row.content)
        for row in _rows(
            engine, select(artifacts.c.id, artifacts.c.content).where(artifacts.c.id.in_(ids))
        )
    }
    missing = sorted(path for path, artifact in files.items() if artifact not in contents)
    if missing:
        raise StoreError(
            f"release {release_id[:12]}: the content of {', '.join(missing)} is missing"
        )
    return {path: contents[artifact] for path, artifact in files.items()}


def _tape(engine: Engine, batch_id: str, runs: set[str]) -> list[TapeEntry]:
    tape = table(TapeRecord)
    query = (
        select(tape.c.run_id, tape.c.data).where(tape.c.batch_id == batch_id).order_by(tape.c.seq)
    )
    return [_tape_entry.decode(row.data) for row in _rows(engine, query) if row.run_id in runs]


# --- keeping incidents ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentInfo:
    """An incident as lists show it."""

    id: str
    created: datetime
    title: str
    source: str
    pipeline: str
    scenario: str
    seed: int
    runs: int
    failed: int
    events: int
    tape: int
    stop_reasons: list[str]

    def to_json(self) -> dict[str, Any]:
        return {**vars(self), "created": self.created.isoformat()}


def store_bundle(engine: Engine, bundle: Bundle, batch_id: str | None = None) -> bool:
    """Keep a bundle; False when an incident with its id (the same content) is already kept."""
    focus = bundle.focus
    data = zlib.compress(b"".join(bundle_lines(bundle)), 6)
    row = IncidentRecord(
        id=bundle.id,
        created=datetime.now(UTC),
        title=bundle.title,
        source=bundle.source,
        pipeline=bundle.pipeline,
        scenario=bundle.scenario,
        seed=bundle.seed,
        runs=len(focus),
        failed=sum(1 for r in focus if r.status != "ok"),
        events=len(bundle.events),
        tape=len(bundle.tape),
        batch_id=batch_id,
        stop_reasons=json.dumps([r.stop_reason for r in focus]),
        bundle=data,
    )
    try:
        with engine.begin() as conn:
            conn.execute(insert(table(IncidentRecord)), [row.model_dump()])
    except IntegrityError:
        return False
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot store the incident: {reason(exc)}") from exc
    return True


_INFO = tuple(f for f in IncidentInfo.__dataclass_fields__)


def list_incidents(engine: Engine, limit: int = 50) -> list[IncidentInfo]:
    incidents = table(IncidentRecord)
    columns = [incidents.c[name] for name in _INFO]
    query = select(*columns).order_by(incidents.c.created.desc(), incidents.c.id).limit(limit)
    return [_info(row) for row in _rows(engine, query)]


def _info(row: Any) -> IncidentInfo:
    values = dict(row._mapping)
    values["stop_reasons"] = json.loads(values["stop_reasons"])
    values["created"] = _utc(values["created"])
    return IncidentInfo(**values)


def find_incident(engine: Engine, ref: str) -> IncidentInfo:
    incidents = table(IncidentRecord)
    columns = [incidents.c[name] for name in _INFO]
    query = select(*columns).where(incidents.c.id.startswith(ref, autoescape=True)).limit(6)
    found = [_info(row) for row in _rows(engine, query)]
    exact = [i for i in found if i.id == ref]
    if exact or len(found) == 1:
        return (exact or found)[0]
    if not found:
        raise UnknownIncident(f"no incident {ref!r} (agentdesk incidents list shows them)")
    raise UnknownIncident(f"{ref!r} is ambiguous: it matches {', '.join(i.id for i in found[:5])}")


def incident_bytes(engine: Engine, ref: str) -> tuple[IncidentInfo, bytes]:
    """The incident ``ref`` names (id or prefix) and its bundle's bytes, as saved."""
    info = find_incident(engine, ref)
    incidents = table(IncidentRecord)
    row = _one(engine, select(incidents.c.bundle).where(incidents.c.id == info.id))
    return info, zlib.decompress(row.bundle)


def load_incident(engine: Engine, ref: str) -> Bundle:
    info, data = incident_bytes(engine, ref)
    return read_bundle(data, name=info.id)


def bundle_redactor(bundle: Bundle, environ: Mapping[str, str]) -> Redactor:
    """The redaction rules of the bundle's workspace (its agentdesk.yaml's ``store:``)."""
    from agentdesk.incidents.replay import BUNDLE_ROOT, BundleFiles
    from agentdesk.spec.loader import load_workspace
    from agentdesk.store import redactor_for

    workspace = load_workspace(BUNDLE_ROOT, strict=False, files=BundleFiles(bundle.files))
    return redactor_for(workspace.spec, environ)


def version_reader(engine: Engine) -> Any:
    """``(path, ref) → content`` of a stored version (``prompts/x.md``, ``2``), for what-if."""
    from agentdesk.store.artifacts import Registry

    registry = Registry(engine)

    def read(path: str, ref: str) -> bytes:
        return registry.content(registry.resolve(f"{path}@{ref}"))

    return read


# --- reading ---------------------------------------------------------------------------------


def _rows(engine: Engine, query: Any) -> list[Any]:
    try:
        with engine.connect() as conn:
            return list(conn.execute(query))
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot read the store: {reason(exc)}") from exc


def _one(engine: Engine, query: Any) -> Any:
    rows = _rows(engine, query)
    if not rows:
        raise StoreError("the store changed while it was read")
    return rows[0]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
