"""Small workspaces written into a temporary folder, run in-process on the virtual clock.

Each engine test writes exactly the pipeline and scenario it needs on top of a quiet base
workspace (fixed latencies, no faults), runs it through the real ``Engine`` with a fixed seed,
and gets back the list of events, the results, the sim world (to look at what the sims hold)
and every request that actually reached a sim.
"""

from __future__ import annotations

import asyncio
import copy
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from agentdesk.engine.bus import EventBus
from agentdesk.engine.clock import run_virtual
from agentdesk.engine.events import AnyEvent
from agentdesk.engine.runner import Engine, RunResult
from agentdesk.services import build_clients
from agentdesk.simulation import Simulation
from sims.asgi import ASGIApp, Receive, Scope, Send
from sims.world import SimWorld

E = TypeVar("E")

SEED = 7
PIPELINE = "p"
SCENARIO = "s"

BASE_WORKSPACE: dict[str, Any] = {
    "name": "engine-tests",
    "seed": SEED,
    "scenario": SCENARIO,
    "services": {
        "llm": {"sim": "llm"},
        "crm": {"sim": "crm"},
        "payments": {"sim": "payments"},
        "knowledge": {"sim": "knowledge"},
    },
    "models": {
        "gpt-4o-mini": {"service": "llm"},
        "gpt-4o": {"service": "llm"},
    },
    "policies": {
        "timeout": {"attempt": 5, "step": 60},
        "retry": {
            "max_attempts": 3,
            "backoff": {"base": 0.5, "cap": 4, "jitter": "full"},
            "retry_after_cap": 10,
        },
        "breaker": {
            "window": 10,
            "min_calls": 4,
            "failure_rate": 0.5,
            "cooldown": 10,
            "half_open_probes": 2,
        },
        "repair": 1,
    },
    "sims": {
        "crm": {"latency": {"dist": "fixed", "value": 0.1}},
        "payments": {"latency": {"dist": "fixed", "value": 0.2}},
        "knowledge": {"latency": {"dist": "fixed", "value": 0.05}},
        "llm": {"ttft": {"dist": "fixed", "value": 0.5}, "per_token": 0.0},
    },
}
"""Quiet services with fixed latencies, so simulated times in assertions are exact."""


def merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``override`` merged in key by key (nested mappings merge too)."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def write_workspace(
    root: Path,
    pipeline: str,
    scenario: str = "services: {}",
    *,
    workspace: Mapping[str, Any] | None = None,
    files: Mapping[str, str] | None = None,
) -> Path:
    """Write agentdesk.yaml (the base with ``workspace`` merged in), ``pipelines/p.yaml``,
    ``scenarios/s.yaml`` and any other files; YAML texts are dedented."""
    config = merged(BASE_WORKSPACE, workspace or {})
    texts = {
        "agentdesk.yaml": yaml.safe_dump(config, sort_keys=False),
        f"pipelines/{PIPELINE}.yaml": textwrap.dedent(pipeline),
        f"scenarios/{SCENARIO}.yaml": textwrap.dedent(scenario),
        **{name: textwrap.dedent(text) for name, text in (files or {}).items()},
    }
    for name, text in texts.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@dataclass(frozen=True)
class Sent:
    """One request that left the engine for a service."""

    service: str
    method: str
    path: str


@dataclass
class Outcome:
    """What one batch of runs did."""

    events: list[AnyEvent]
    results: list[RunResult]
    world: SimWorld
    sent: list[Sent] = field(default_factory=list)
    """Every request that reached a sim, in arrival order."""

    def of(self, kind: type[E]) -> list[E]:
        """The events of one type, in order."""
        return [e for e in self.events if isinstance(e, kind)]

    def types(self) -> list[str]:
        """The ``type`` tag of every event, in order."""
        return [type(e).__name__ for e in self.events]

    @property
    def result(self) -> RunResult:
        (only,) = self.results
        return only


def run_workspace(
    root: Path,
    inputs: Sequence[Any] = ({},),
    *,
    pipeline: str = PIPELINE,
    scenario: str = SCENARIO,
    seed: int = SEED,
    concurrency: int = 1,
    arrivals: Sequence[float] | None = None,
) -> Outcome:
    """Run one session per input through the real engine on the virtual clock.

    With ``arrivals``, sessions run one after another, session ``i`` starting no earlier than
    ``arrivals[i]`` simulated seconds (traffic spread over time); otherwise
    ``Engine.run_sessions`` runs them ``concurrency`` at a time.
    """
    sim = Simulation.prepare(root, pipeline, scenario, seed)
    return run_virtual(_run(sim, list(inputs), concurrency, arrivals))


def run_simulation(sim: Simulation, inputs: Iterable[Any], concurrency: int = 1) -> Outcome:
    """Like ``run_workspace``, for a simulation already prepared (the demo workspace)."""
    return run_virtual(_run(sim, list(inputs), concurrency, None))


async def _run(
    sim: Simulation, inputs: list[Any], concurrency: int, arrivals: Sequence[float] | None
) -> Outcome:
    events: list[AnyEvent] = []
    results: list[RunResult] = []
    bus = EventBus()
    bus.listen(events.append)
    loop = asyncio.get_running_loop()
    world = RecordingWorld(sim.seed, sim.scenario, sim.workspace.sims, epoch=loop.time())
    clients = build_clients(sim.workspace.spec, world, {})
    outcome = Outcome(events, results, world, world.received)
    engine = Engine(
        sim.workspace, sim.pipeline, clients, bus, seed=sim.seed, scenario=sim.scenario_name
    )
    try:
        if arrivals is None:
            await engine.run_sessions(inputs, concurrency, results.append)
        else:
            for session, (item, at) in enumerate(zip(inputs, arrivals, strict=True)):
                await asyncio.sleep(max(0.0, at - loop.time()))
                results.append(await engine.run(item, session))
    finally:
        for client in clients.values():
            await client.aclose()
    return outcome


class RecordingWorld(SimWorld):
    """A sim world that notes every request reaching one of its services, before any fault."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[Sent] = []
        self._recorders: dict[str, ASGIApp] = {}

    def app(self, service: str, kind: str | None = None) -> ASGIApp:
        if service not in self._recorders:
            inner = super().app(service, kind)
            self._recorders[service] = _recording(service, inner, self.received)
        return self._recorders[service]


def _recording(service: str, inner: ASGIApp, received: list[Sent]) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            received.append(Sent(service, scope["method"], scope["path"]))
        await inner(scope, receive, send)

    return app
