"""A simulation: one workspace, pipeline, scenario and seed, wired and ready to run.

This is the factory the CLI, the benchmarks, the tests (and later the TUI) all use, so they
all run the same thing. ``Simulation.prepare`` reads and checks every file first — any problem
raises ``SpecError`` before anything runs — and ``execute`` picks the clock: the virtual one
when every service is an in-process sim, the real one as soon as a service is on the network.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentdesk.engine.bus import EventBus, Listener
from agentdesk.engine.clock import run_virtual
from agentdesk.engine.runner import Engine, RunResult
from agentdesk.errors import WorkspaceNotFound
from agentdesk.services import TransportWrapper, build_clients, uses_network
from agentdesk.spec.loader import (
    LoadedPipeline,
    Workspace,
    load_pipeline,
    load_scenario,
    load_workspace,
)
from agentdesk.spec.models import BudgetsSpec
from agentdesk.spec.sources import DISK, FileSource
from agentdesk.tokens.counting import shared_counter
from agentdesk.tokens.prices import PriceBook
from sims.profiles import Scenario, validate_scenario
from sims.world import SimWorld

WORKSPACE_FILE = "agentdesk.yaml"


def demo_workspace() -> Path:
    """The bundled demo workspace: packaged in the wheel, or ``fixtures/`` in a checkout."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "demo_workspace", package.parent / "fixtures"):
        if (candidate / WORKSPACE_FILE).is_file():
            return candidate
    raise WorkspaceNotFound(package / "demo_workspace")


def find_workspace(path: Path | None) -> Path:
    """The workspace to use: the one given, the current folder, or the bundled demo."""
    if path is not None:
        if not (path / WORKSPACE_FILE).is_file():
            raise WorkspaceNotFound(path)
        return path
    here = Path.cwd()
    return here if (here / WORKSPACE_FILE).is_file() else demo_workspace()


@dataclass
class Simulation:
    workspace: Workspace
    pipeline: LoadedPipeline
    scenario_name: str
    scenario: Scenario
    seed: int
    budgets: BudgetsSpec | None = None
    """Limits that override the workspace's and the pipeline's (``run --budget``)."""

    @classmethod
    def prepare(
        cls,
        root: Path,
        pipeline: str,
        scenario: str | None = None,
        seed: int | None = None,
        files: FileSource = DISK,
    ) -> Simulation:
        """``files``: what the workspace is read through (hot reload's active set, a stored
        version being compared); the disk by default."""
        # Not strict: agentdesk.yaml's problems are reported together with the pipeline's.
        workspace = load_workspace(root, strict=False, files=files)
        loaded = load_pipeline(workspace, pipeline)
        scenario_name, raw = load_scenario(workspace, scenario or workspace.spec.scenario)
        profile = validate_scenario(raw)
        if seed is None:
            seed = workspace.spec.seed if profile.seed is None else profile.seed
        return cls(workspace, loaded, scenario_name, profile, seed)

    @property
    def real_clock(self) -> bool:
        return uses_network(self.workspace.spec)

    def load_model_tables(self) -> None:
        """Read tiktoken's encodings and the price snapshot for the workspace's models now
        (~0.3 s, once per process). A batch command does this before its runs, which would
        otherwise stop for them at their first LLM call (start-up counted as throughput); the
        TUI leaves it to that call, in its simulation thread, so its first frame never waits."""
        models = self.workspace.spec.models
        shared_counter().load(spec.name or name for name, spec in models.items())
        book = PriceBook(models)
        for name in models:
            book.price_for(name)

    def default_input(self) -> Any:
        return self.pipeline.spec.input.example

    def execute(
        self,
        inputs: Iterable[Any],
        concurrency: int = 1,
        listeners: Iterable[Listener] = (),
        on_result: Callable[[RunResult], None] | None = None,
        environ: Mapping[str, str] | None = None,
        wrap: TransportWrapper | None = None,
    ) -> int:
        """Run one session per input and return how many ran. Blocks until all are done.

        ``wrap``: a transport put around every service's (the incidents layer's tape)."""
        main = self.run_async(inputs, concurrency, listeners, on_result, environ, wrap=wrap)
        return asyncio.run(main) if self.real_clock else run_virtual(main)

    async def run_async(
        self,
        inputs: Iterable[Any],
        concurrency: int = 1,
        listeners: Iterable[Listener] = (),
        on_result: Callable[[RunResult], None] | None = None,
        environ: Mapping[str, str] | None = None,
        bus: EventBus | None = None,
        wrap: TransportWrapper | None = None,
    ) -> int:
        bus = bus or EventBus()
        for listener in listeners:
            bus.listen(listener)
        world = SimWorld(
            self.seed, self.scenario, self.workspace.sims, epoch=asyncio.get_running_loop().time()
        )
        clients = build_clients(
            self.workspace.spec, world, os.environ if environ is None else environ, wrap
        )
        try:
            engine = Engine(
                self.workspace,
                self.pipeline,
                clients,
                bus,
                seed=self.seed,
                scenario=self.scenario_name,
                budgets=self.budgets,
            )
            return await engine.run_sessions(inputs, concurrency, on_result)
        finally:
            for client in clients.values():
                await client.aclose()
