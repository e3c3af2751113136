"""Store tests: a fresh SQLite store per test, and demo runs recorded into it.

``record`` runs the demo workspace's support-triage pipeline through a real ``Recorder``
attached as a bus listener, exactly as ``agentdesk run`` does, and returns the recorder and
the events the bus published (to compare the store against); once with the writer in threads,
once in a child process.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from agentdesk.engine.events import AnyEvent
from agentdesk.simulation import Simulation, demo_workspace
from agentdesk.store import Recorder, locate, new_batch, open_engine, redactor_for


@pytest.fixture(autouse=True)
def _no_workspace_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing a store test does may write into fixtures/.agentdesk."""
    monkeypatch.setenv("AGENTDESK_DB", str(tmp_path / "default.db"))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "agentdesk.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Engine]:
    engine = open_engine(locate(db_path.parent, str(db_path)))
    yield engine
    engine.dispose()


@dataclass
class Recorded:
    recorder: Recorder
    events: list[AnyEvent]
    sim: Simulation


Record = Callable[..., Recorded]


@pytest.fixture(params=["thread", "process"], ids=["writer-thread", "writer-process"])
def writer(request: pytest.FixtureRequest) -> str:
    """Where the recorder's writer runs: every recording test holds in both places."""
    return str(request.param)


@pytest.fixture
def record(store: Engine, writer: str) -> Record:
    def run(
        runs: int = 20,
        scenario: str = "payments-503-storm",
        concurrency: int = 5,
        **recorder_options: Any,
    ) -> Recorded:
        sim = Simulation.prepare(demo_workspace(), "support-triage", scenario)
        batch = new_batch(sim.workspace.root, "support-triage", sim.scenario_name, sim.seed, False)
        redactor = redactor_for(sim.workspace.spec, os.environ)
        options = {"writer": writer, **recorder_options}
        recorder = Recorder(store, batch, redactor, pipeline=sim.pipeline, **options)
        assert recorder.in_child == (options["writer"] == "process")
        events: list[AnyEvent] = []
        tickets = [{"ticket_id": f"T-{1000 + i}"} for i in range(runs)]
        sim.execute(tickets, concurrency, [events.append, recorder.offer])
        recorder.close()
        return Recorded(recorder, events, sim)

    return run
