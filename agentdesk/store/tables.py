"""The store's tables, as SQLModel models: one schema for SQLite and PostgreSQL.

What a recording holds, and why it is keyed the way it is:

- ``batches``: one row per recording (one ``agentdesk run`` invocation). Run ids are derived
  from (pipeline, seed, session) so that replays reproduce them; the same command run twice
  therefore produces the same run ids, and a batch id is what tells the two apart.
- ``runs``: one row per run, keyed by (batch, run id), with the run's outcome and totals.
- ``spans``: run → step → attempt, derived from events by the writer and inserted as they close.
- ``events``: every event as its JSON (redacted), with its type, run and time; ``seq`` is the
  event's position in the batch, so a batch's log reads back in publication order.
- ``artifacts``, ``artifact_versions``, ``releases``, ``labels``: the artifact registry
  (``store.artifacts``): content by sha256, each file's history of versions (rejected edits
  kept, marked), the releases runs name, and movable labels per file.
- ``store_meta``: the schema version, checked when the store is opened.

Payload columns hold JSON text rather than a JSON type: the writer already has the bytes
(msgspec), both dialects store text cheaply, and nothing queries inside payloads.
Hot tables (events, spans) are written with SQLAlchemy Core, never one ORM object per row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, LargeBinary, Table, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

SCHEMA_VERSION = 2
"""Bumped on any incompatible change to these tables (``database`` migrates older stores)."""


class StoreMeta(SQLModel, table=True):
    __tablename__ = "store_meta"

    key: str = Field(primary_key=True)
    value: str


class Batch(SQLModel, table=True):
    """One recording: the runs of one ``agentdesk run`` invocation."""

    __tablename__ = "batches"

    id: str = Field(primary_key=True)
    created: datetime = Field(index=True)
    """Wall-clock time (UTC) the recording started: what ``agentdesk runs`` calls "when"."""
    workspace: str
    pipeline: str
    scenario: str
    seed: int
    real_clock: bool = False
    agentdesk_version: str = ""


class Run(SQLModel, table=True):
    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_run_id", "run_id"),)

    batch_id: str = Field(primary_key=True, foreign_key="batches.id")
    run_id: str = Field(primary_key=True)
    pipeline: str
    scenario: str
    seed: int
    session: int
    status: str = "running"
    """``ok``, ``failed``, ``stopped``; ``running`` until its ``run_finished`` is committed (a
    run still ``running`` after the recording ended was cut short)."""
    stop_reason: str = ""
    started: float = 0.0
    """Simulated seconds since the batch started (real seconds on the real clock)."""
    finished: float | None = None
    duration: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    cost_usd: float = 0.0
    attempts: int = 0
    retries: int = 0
    errors: int = 0
    """Failed attempts."""
    events: int = 0
    approximate: bool = False
    """Token counts were estimated (tiktoken encodings unavailable)."""
    release_id: str | None = Field(default=None, foreign_key="releases.id")
    input: str | None = Field(default=None, sa_column=Column(Text))
    output: str | None = Field(default=None, sa_column=Column(Text))


class Span(SQLModel, table=True):
    __tablename__ = "spans"
    __table_args__ = (Index("ix_spans_run", "batch_id", "run_id"),)

    batch_id: str = Field(primary_key=True)
    span_id: str = Field(primary_key=True)
    run_id: str
    parent_id: str | None = None
    kind: str
    """``run``, ``step`` or ``attempt``."""
    name: str
    start: float
    end: float | None = None
    status: str
    attributes: str = Field(sa_column=Column(Text, nullable=False))


class EventRecord(SQLModel, table=True):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_run", "batch_id", "run_id"),)

    batch_id: str = Field(primary_key=True)
    seq: int = Field(primary_key=True)
    run_id: str
    type: str
    t: float
    data: str = Field(sa_column=Column(Text, nullable=False))
    """The event as JSON (``engine.events.encode``), redacted."""


class Artifact(SQLModel, table=True):
    """One prompt or config file's content, named by the sha256 of its normalized bytes (the
    normalized bytes are what is kept: ``spec.sources.normalize``)."""

    __tablename__ = "artifacts"

    id: str = Field(primary_key=True)
    kind: str
    size: int
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class ArtifactVersion(SQLModel, table=True):
    """A file path pointing at some content at some time; rejected edits are kept, marked."""

    __tablename__ = "artifact_versions"
    __table_args__ = (UniqueConstraint("path", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    path: str = Field(index=True)
    number: int = 1
    """The version's place in its file's history: 1, 2, 3… (``path@3``)."""
    artifact_id: str = Field(foreign_key="artifacts.id")
    kind: str
    """``workspace``, ``pipeline``, ``prompt``, ``schema``, ``scenario``, ``golden`` or ``file``."""
    size: int
    created: datetime
    parent_id: int | None = Field(default=None, foreign_key="artifact_versions.id")
    status: str = "valid"
    """``valid`` or ``rejected`` (an edit that failed validation never becomes active)."""
    error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    """Why a rejected version was rejected: its problems, one ``file:line:column: …`` a line."""


class Release(SQLModel, table=True):
    __tablename__ = "releases"

    id: str = Field(primary_key=True)
    pipeline: str
    created: datetime
    manifest: str = Field(sa_column=Column(Text, nullable=False))
    """JSON: artifact hashes, model config, agentdesk version."""


class Label(SQLModel, table=True):
    """A movable name (``production``) for one version of one file. ``latest`` is never
    stored: it is always each file's newest valid version."""

    __tablename__ = "labels"

    name: str = Field(primary_key=True)
    path: str = Field(primary_key=True)
    version_id: int = Field(foreign_key="artifact_versions.id")
    created: datetime


def table(model: type[SQLModel]) -> Table:
    """The Core ``Table`` behind a model, for bulk inserts and plain selects."""
    found: Any = model.__table__  # type: ignore[attr-defined]
    assert isinstance(found, Table)
    return found


# --- evals (``store.evals``): results per release, for baselines and trends ------------------


class EvalRun(SQLModel, table=True):
    """One ``agentdesk eval`` invocation: a golden set through one release of a pipeline."""

    __tablename__ = "eval_runs"
    __table_args__ = (Index("ix_eval_runs_pipeline", "pipeline", "created"),)

    id: str = Field(primary_key=True)
    created: datetime
    """Wall-clock time (UTC) the eval was recorded."""
    workspace: str
    pipeline: str
    release_id: str = Field(index=True)
    """The release that ran (every scenario runs the same files)."""
    golden: str
    """The golden file, as the eval named it."""
    gates_file: str | None = None
    baseline_release: str | None = None
    """The release it was compared with (``--baseline``), if any."""
    cases: int = 0
    passed: int = 0
    gates_passed: bool | None = None
    """None when no gate was evaluated."""
    agentdesk_version: str = ""


class EvalScenario(SQLModel, table=True):
    """One scenario of a stored eval: its figures and gates, and the batch holding its runs."""

    __tablename__ = "eval_scenarios"

    eval_id: str = Field(primary_key=True, foreign_key="eval_runs.id")
    scenario: str = Field(primary_key=True)
    position: int = 0
    """Its place in the eval (scenarios are shown in the order they were asked for)."""
    release_id: str
    batch_id: str | None = None
    """The recording of its runs (``runs show BATCH/RUN``); None when runs were not recorded."""
    seed: int
    cases: int
    passed: int
    latency_p50: float
    latency_p90: float
    latency_p95: float
    cost_per_case: float
    breaker_trips: int = 0
    fallback_rate: float = 0.0
    scores: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    """JSON: judge metric → mean score."""
    gates: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    """JSON: the gate results, as ``--json`` gives them."""


class EvalCase(SQLModel, table=True):
    """One case's result in one scenario of a stored eval."""

    __tablename__ = "eval_cases"

    eval_id: str = Field(primary_key=True, foreign_key="eval_runs.id")
    scenario: str = Field(primary_key=True)
    case_id: str = Field(primary_key=True)
    line: int
    release_id: str
    batch_id: str | None = None
    run_id: str
    passed: bool
    status: str
    stop_reason: str
    duration: float
    usd: float
    retries: int
    fallbacks: int
    tags: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    """JSON list."""
    scores: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))
    """JSON: judge metric → score."""
    assertions: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    """JSON: every assertion's kind, verdict and message (redacted), judges' metric and score."""


# --- incidents (``store.incidents``): tapes of recorded batches, and saved incidents ---------


class TapeBatch(SQLModel, table=True):
    """A recording that kept its tape: what a replay of its runs needs beside their events."""

    __tablename__ = "tape_batches"

    batch_id: str = Field(primary_key=True, foreign_key="batches.id")
    pipeline_path: str
    """The pipeline file's workspace path (the release's files hold it)."""
    scenario_path: str
    scenario: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    """The scenario file's content (a scenario is not part of a release)."""
    concurrency: int = 1
    budgets: str | None = None
    """JSON: the budget overrides of the recording (``run --budget``), as set."""
    entries: int = 0
    complete: bool = False
    """True once every call of the batch is written (the recording closed cleanly)."""


class LoadBatch(SQLModel, table=True):
    """A recording a load test drove (``agentdesk load --record``): the traffic a replay of its
    runs must send again (``incidents.bundle.Bundle.load``)."""

    __tablename__ = "load_batches"

    batch_id: str = Field(primary_key=True, foreign_key="batches.id")
    traffic: str = Field(sa_column=Column(Text, nullable=False))
    """JSON: ``LoadPlan.traffic_json`` and the ``inputs`` the sessions cycle through."""


class TapeRecord(SQLModel, table=True):
    """One downstream call of a recorded run (``incidents.tape.TapeEntry`` as JSON, redacted)."""

    __tablename__ = "tape"
    __table_args__ = (Index("ix_tape_run", "batch_id", "run_id"),)

    batch_id: str = Field(primary_key=True)
    seq: int = Field(primary_key=True)
    run_id: str
    data: str = Field(sa_column=Column(Text, nullable=False))


class IncidentRecord(SQLModel, table=True):
    """A saved or imported incident: its bundle (zlib-compressed) and what lists show."""

    __tablename__ = "incidents"

    id: str = Field(primary_key=True)
    """``inc-`` + a hash of the bundle's content: saving the same runs twice is one incident."""
    created: datetime = Field(index=True)
    title: str
    source: str
    """``recorded`` (saved from runs) or ``otlp`` (imported from a trace)."""
    pipeline: str
    scenario: str
    seed: int
    runs: int
    failed: int
    events: int
    tape: int
    batch_id: str | None = None
    stop_reasons: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    """JSON: the incident runs' stop reasons."""
    bundle: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
