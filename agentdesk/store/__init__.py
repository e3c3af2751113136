"""The record: every run's events, spans and totals, in SQLite (WAL) or PostgreSQL.

    database   where the store lives (``--db``, ``AGENTDESK_DB``, the workspace, a state folder)
               and opening it: pragmas, tables, schema version
    tables     the SQLModel tables (batches, runs, spans, events; artifacts and releases)
    redaction  secrets and personal data removed before anything is stored or exported
    rows       events → rows: spans derived as they close, run totals (a pure fold)
    recorder   the writer fed by ``EventBus.listen(recorder.offer)``: threads, or a child process
    queries    recorded runs, newest first; one run's events read back

The engine never imports this package (an import contract says so): the store is one more
subscriber to the event bus, wired in by the command line.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from agentdesk import __version__
from agentdesk.spec.models import WorkspaceSpec
from agentdesk.store.database import StoreError, StoreLocation, locate, open_engine
from agentdesk.store.recorder import Recorder
from agentdesk.store.redaction import Redactor, workspace_secrets
from agentdesk.store.tables import Batch

__all__ = [
    "Batch",
    "Recorder",
    "Redactor",
    "StoreError",
    "StoreLocation",
    "locate",
    "new_batch",
    "open_engine",
    "redactor_for",
]


def new_batch(workspace: Path, pipeline: str, scenario: str, seed: int, real_clock: bool) -> Batch:
    """A fresh recording: a random id (run ids repeat across recordings) and the time now."""
    return Batch(
        id=secrets.token_hex(3),
        created=datetime.now(UTC),
        workspace=str(workspace),
        pipeline=pipeline,
        scenario=scenario,
        seed=seed,
        real_clock=real_clock,
        agentdesk_version=__version__,
    )


def redactor_for(spec: WorkspaceSpec, environ: Mapping[str, str]) -> Redactor:
    """The workspace's redaction settings, plus the values of its services' API keys."""
    return Redactor(
        secrets=workspace_secrets(spec.services, environ),
        detectors=spec.store.redact,
        extra_patterns=spec.store.extra_patterns,
    )
