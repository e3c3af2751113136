"""Live control of a simulation: the headless core the TUI drives.

``LiveControl`` runs one ``Simulation`` under steady load (N concurrent sessions cycling
through the workspace's inputs, for as long as it runs) on its own thread, on a virtual clock
that is **paced** (simulated seconds per real second) and can be paused. Everything the UI
asks for — pause, pace, inject or clear a fault, switch scenario, swap the pipeline to a new
release — crosses into the sim's loop with ``call_soon_threadsafe``, so the sim's state is only
ever touched by its own thread.

Events come back through an ``EventBridge``: the bus calls ``put`` synchronously on the sim
thread, and the consumer (the TUI's bridge worker, a test, the benchmark) drains batches from
another thread. The bridge is bounded and lossy — if the UI falls behind it drops the oldest
events and counts them — because a frame that is a moment stale beats a simulation held back
by a terminal.

No Textual, no Rich: this module is driven from tests in a few lines, like the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agentdesk.engine.bus import EventBus
from agentdesk.engine.clock import VirtualClockLoop
from agentdesk.engine.events import AnyEvent
from agentdesk.engine.runner import Engine
from agentdesk.engine.transport import ServiceClient
from agentdesk.services import build_clients
from agentdesk.simulation import Simulation
from agentdesk.spec.loader import LoadedPipeline, Workspace, load_scenario
from sims.profiles import Scenario, Window, validate_scenario
from sims.world import SimWorld

PACES: tuple[float | None, ...] = (1.0, 5.0, 20.0, None)
"""The paces the UI cycles through: 1×, 5×, 20×, max (None)."""


@dataclass(frozen=True)
class FaultPreset:
    """A fault the UI can inject with one key."""

    key: str
    label: str
    fault: Mapping[str, Any]


FAULTS: tuple[FaultPreset, ...] = (
    FaultPreset("503", "503 storm", {"kind": "error", "status": 503, "rate": 0.92}),
    FaultPreset(
        "429", "429 burst", {"kind": "error", "status": 429, "rate": 0.6, "retry_after": 2}
    ),
    FaultPreset("spike", "latency spike", {"kind": "spike", "extra": 10.0, "rate": 0.4}),
    FaultPreset(
        "malformed", "malformed JSON", {"kind": "malformed", "mode": "truncated", "rate": 0.5}
    ),
    FaultPreset(
        "drift",
        "schema drift",
        {"kind": "drift", "rename": {"customer_id": "customerId"}, "drop": ["amount_cents"]},
    ),
    FaultPreset("hang", "hang", {"kind": "hang", "rate": 0.3}),
)
FAULTS_BY_KEY = {preset.key: preset for preset in FAULTS}


@dataclass(frozen=True)
class Batch:
    """What the bridge hands over at once: events, narration lines, and how many were lost."""

    events: list[AnyEvent]
    notes: list[str]
    dropped: int


class EventBridge:
    """A bounded, thread-safe, lossy hand-over of events from one thread to another."""

    def __init__(self, maxsize: int = 50_000) -> None:
        self.maxsize = maxsize
        self._events: deque[AnyEvent] = deque()
        self._notes: list[str] = []
        self._dropped = 0
        self.received = 0
        self._lock = threading.Lock()
        self._ready = threading.Event()

    def put(self, event: AnyEvent) -> None:
        with self._lock:
            if len(self._events) >= self.maxsize:
                self._events.popleft()
                self._dropped += 1
            self._events.append(event)
            self.received += 1
        self._ready.set()

    def note(self, text: str) -> None:
        """A line of narration (the demo's status line), delivered with the next batch."""
        with self._lock:
            self._notes.append(text)
        self._ready.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until something can be drained (or ``timeout``); True when something can."""
        return self._ready.wait(timeout)

    def drain(self, max_items: int | None = None) -> Batch:
        with self._lock:
            count = len(self._events) if max_items is None else min(max_items, len(self._events))
            events = [self._events.popleft() for _ in range(count)]
            notes, self._notes = self._notes, []
            dropped, self._dropped = self._dropped, 0
            if not self._events:
                self._ready.clear()
        return Batch(events, notes, dropped)


@dataclass
class ControlState:
    """What the UI shows about the control itself (read from the UI thread)."""

    pipeline: str
    scenario: str
    sessions: int
    pace: float | None
    paused: bool = False
    injected: dict[str, list[str]] = field(default_factory=dict)
    """Service → labels of the faults injected live, newest first."""
    description: str = ""
    """The scenario's own description."""
    scenario_faults: dict[str, list[str]] = field(default_factory=dict)
    """Service → the scenario's faults, described in a few words each."""
    error: str = ""
    """Why the simulation thread stopped, when it stopped by itself."""
    release: str = ""
    """The release new runs start on (hot reload swaps it)."""


class LiveControl:
    """One simulation under steady load on a paced virtual clock, on its own thread."""

    def __init__(
        self,
        sim: Simulation,
        inputs: Sequence[Any],
        sessions: int = 8,
        pace: float | None = 5.0,
        bridge: EventBridge | None = None,
    ) -> None:
        if not inputs:
            raise ValueError("steady load needs at least one input")
        self.sim = sim
        self.inputs = list(inputs)
        self.bridge = bridge or EventBridge()
        self.state = ControlState(sim.pipeline.spec.name, sim.scenario_name, sessions, pace)
        self.state.release = sim.pipeline.release
        self._describe(sim.scenario)
        self.finished_runs = 0
        self.services = sorted(sim.workspace.spec.services)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._world: SimWorld | None = None
        self._engine: Engine | None = None
        self._clients: Mapping[str, ServiceClient] = {}
        self._bus = EventBus()
        self._task: asyncio.Task[int] | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._stopping = False

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the simulation thread; returns once its loop accepts calls."""
        self._thread = threading.Thread(target=self._run, name="agentdesk-sim", daemon=True)
        self._thread.start()
        self._started.wait()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop feeding sessions, cancel the ones in flight and join the thread."""
        self._stopping = True
        task = self._task
        if task is not None:
            self._on_loop(lambda: _cancel(task))
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def loop_time(self) -> float:
        """The simulation's clock in seconds (read from another thread: a moment stale)."""
        return self._loop.time() if self._loop is not None else 0.0

    # --- what the UI asks for -----------------------------------------------------------------

    def pause(self) -> None:
        self.state.paused = True
        self._on_loop(self._apply_pace)

    def resume(self) -> None:
        self.state.paused = False
        self._on_loop(self._apply_pace)

    def toggle_pause(self) -> None:
        self.resume() if self.state.paused else self.pause()

    def set_pace(self, pace: float | None) -> None:
        self.state.pace = pace
        self._on_loop(self._apply_pace)

    def next_pace(self) -> float | None:
        """Cycle 1× → 5× → 20× → max → 1×; returns the new pace."""
        index = PACES.index(self.state.pace) if self.state.pace in PACES else -1
        pace = PACES[(index + 1) % len(PACES)]
        self.set_pace(pace)
        return pace

    def inject(self, service: str, preset_key: str) -> FaultPreset:
        """Inject one of ``FAULTS`` into a service, live."""
        preset = FAULTS_BY_KEY[preset_key]
        self._check_service(service)
        self.state.injected.setdefault(service, []).insert(0, preset.label)
        self._on_world(lambda world: world.inject(service, dict(preset.fault)))
        return preset

    def clear(self, service: str | None = None) -> None:
        """Clear the faults injected into a service (every service when None)."""
        if service is None:
            self.state.injected.clear()
        else:
            self.state.injected.pop(service, None)
        self._on_world(lambda world: world.clear(service))

    def scenarios(self) -> list[str]:
        """The workspace's scenario names."""
        folder: Path = self.sim.workspace.root / "scenarios"
        return sorted(p.stem for p in folder.glob("*.y*ml"))

    def switch_scenario(self, name: str) -> None:
        """Switch to another scenario file, live; raises SpecError when it has problems.

        A scenario's fault windows count from when it is switched on, not from when the
        simulation started, so a 20-second storm switched on at minute five still lasts
        20 seconds.
        """
        scenario_name, raw = load_scenario(self.sim.workspace, name)
        scenario = validate_scenario(raw)
        self.state.scenario = scenario_name
        self._describe(scenario)
        self._on_world(lambda world: world.set_scenario(shifted(scenario, world.clock())))

    def swap_pipeline(self, workspace: Workspace, pipeline: LoadedPipeline) -> None:
        """Run new sessions on another release of the pipeline (hot reload), live.

        Runs in flight finish on the release they started with; every run started after the
        swap reaches the sim thread uses ``pipeline``. Breakers, session budgets and the
        clock's epoch carry over: they describe the services and the session, not the files.
        """
        if pipeline.spec.name != self.state.pipeline:
            raise ValueError(f"{pipeline.spec.name} is not the running {self.state.pipeline}")
        self.sim = replace(self.sim, workspace=workspace, pipeline=pipeline)
        self.state.release = pipeline.release
        self._on_loop(lambda: self._swap_engine(workspace, pipeline))

    def call_at(self, sim_time: float, action: Callable[[], None]) -> None:
        """Run ``action`` on the sim thread when the simulation's clock reaches ``sim_time``."""
        loop = self._loop
        assert loop is not None, "start() first"
        loop.call_soon_threadsafe(lambda: loop.call_at(sim_time, action))

    # --- inside -------------------------------------------------------------------------------

    def _describe(self, scenario: Scenario) -> None:
        self.state.description = " ".join(scenario.description.split())
        self.state.scenario_faults = {
            name: [describe_fault(f) for f in profile.faults]
            + ([f"limit {profile.rate_limit.rate:g}/s"] if profile.rate_limit else [])
            for name, profile in scenario.services.items()
        }

    def _check_service(self, service: str) -> None:
        if service not in self.services:
            raise KeyError(f"no service {service!r}; known: {', '.join(self.services)}")

    def _on_loop(self, action: Callable[[], None]) -> None:
        """Run ``action`` on the sim thread (dropped when the simulation is not running)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed in between
            loop.call_soon_threadsafe(action)

    def _on_world(self, action: Callable[[SimWorld], None]) -> None:
        def run() -> None:
            if self._world is not None:
                action(self._world)

        self._on_loop(run)

    def _apply_pace(self) -> None:
        loop = self._loop
        if isinstance(loop, VirtualClockLoop):
            loop.set_pace(0 if self.state.paused else self.state.pace)

    def _run(self) -> None:
        loop: asyncio.AbstractEventLoop = (
            asyncio.new_event_loop() if self.sim.real_clock else VirtualClockLoop(self.state.pace)
        )
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self._task = loop.create_task(self._main())
            loop.call_soon(self._started.set)
            loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # shown in the UI rather than lost with the thread
            self.state.error = f"{type(exc).__name__}: {exc}"
        finally:
            self._started.set()
            loop.close()

    async def _main(self) -> int:
        loop = asyncio.get_running_loop()
        bus = EventBus()
        bus.listen(self.bridge.put)
        sim = self.sim
        world = SimWorld(sim.seed, sim.scenario, sim.workspace.sims, epoch=loop.time())
        clients = build_clients(sim.workspace.spec, world, os.environ)
        self._world = world
        self._apply_pace()
        self._clients, self._bus = clients, bus
        try:
            self._engine = Engine(
                sim.workspace, sim.pipeline, clients, bus, seed=sim.seed, scenario=sim.scenario_name
            )
            return await self._run_sessions()
        finally:
            for client in clients.values():
                await client.aclose()

    async def _run_sessions(self) -> int:
        """``Engine.run_sessions``, except that each session starts on the engine current at
        that moment (``_swap_engine`` replaces it)."""
        numbered = enumerate(self._feed())

        async def worker() -> None:
            for session, item in numbered:
                assert self._engine is not None
                await self._engine.run(item, session)
                self._count(None)

        await asyncio.gather(*(worker() for _ in range(max(1, self.state.sessions))))
        return self.finished_runs

    def _swap_engine(self, workspace: Workspace, pipeline: LoadedPipeline) -> None:
        old = self._engine
        if old is None:  # not started yet: _main builds it from self.sim
            return
        self._engine = successor(old, workspace, pipeline, self._clients, self._bus)

    def _feed(self) -> Iterator[Any]:
        for item in itertools.cycle(self.inputs):
            if self._stopping:
                return
            yield item

    def _count(self, _: object) -> None:
        self.finished_runs += 1


def successor(
    old: Engine,
    workspace: Workspace,
    pipeline: LoadedPipeline,
    clients: Mapping[str, ServiceClient],
    bus: EventBus,
) -> Engine:
    """An engine for another release that carries on from ``old``: the same breakers (and the
    executor that consults them), session budgets and epoch, so the board, the meters and
    every event's ``t`` continue across the swap. The old engine keeps its pipeline for the
    runs still in flight on it.

    The engine has no public way to hand this state over yet; this reaches into it here, in
    one place, rather than resetting every breaker on each save.
    """
    engine = Engine(workspace, pipeline, clients, bus, seed=old.seed, scenario=old.scenario)
    engine.board = old.board
    engine._executor = old._executor
    engine._sessions = old._sessions
    engine.epoch = old.epoch
    return engine


def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()


def describe_fault(fault: Any) -> str:
    """A fault in a few words: ``503 ×92% 0-20s``, ``spike +10s ×40%``."""
    kind = fault.kind
    if kind == "error":
        what = str(fault.status)
    elif kind == "spike":
        what = f"spike +{fault.extra:g}s"
    elif kind == "malformed":
        what = f"malformed {fault.mode}"
    else:
        what = str(kind)
    rate = f" ×{fault.rate:.0%}" if fault.rate < 1 else ""
    window = fault.window
    when = ""
    if window is not None:
        end = "" if window.end is None else f"{window.end:g}"
        when = f" {window.start:g}-{end}s"
    return f"{what}{rate}{when}"


def shifted(scenario: Scenario, offset: float) -> Scenario:
    """The scenario with every fault window moved ``offset`` seconds later."""
    if not offset:
        return scenario
    services = {
        name: profile.model_copy(
            update={"faults": [_shift_fault(f, offset) for f in profile.faults]}
        )
        for name, profile in scenario.services.items()
    }
    return scenario.model_copy(update={"services": services})


def _shift_fault(fault: Any, offset: float) -> Any:
    window: Window | None = fault.window
    if window is None:
        return fault
    end = None if window.end is None else window.end + offset
    return fault.model_copy(update={"window": Window(start=window.start + offset, end=end)})
