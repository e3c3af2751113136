"""Running a load test on the virtual clock: sessions, arms, alerts, rollback.

Each session is one coroutine (join, request, think, request… leave); each request is one
``Engine.run(input, session, turn)``. An **arm** is one release with its engine, its bus and
its ``LoadFold``: one arm without a candidate; with one, two —

- **canary**: both arms share the sim world (the same downstream services, rate limits and
  all), each has its own breakers (two deployments); a share of the sessions is routed to the
  candidate and stays there, until an alert fires on the candidate's traffic: from then on
  every request goes to the baseline (the rollback, reported with its time and rule);
- **shadow**: every request also runs on the candidate, with the same session and turn (so
  the same run id and fault draws), in a world of its own; the user waits only for the
  baseline. Pairs are compared run by run (``shadow.ShadowComparison``).

Alerts are judged by an ``AlertMonitor`` per arm (the candidate's compared with the
baseline's over the same windows), advanced by a ticker on the loop so that quiet stretches
are judged too. Nothing per run outlives the run.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agentdesk.alerts.monitor import AlertEvent, AlertMonitor, RunObservation
from agentdesk.alerts.rules import Rules
from agentdesk.engine.bus import EventBus, Listener
from agentdesk.engine.clock import run_virtual
from agentdesk.engine.events import AlertFired
from agentdesk.engine.runner import Engine
from agentdesk.engine.transport import ServiceClient
from agentdesk.errors import RunError
from agentdesk.load.fold import FinishedRun, LoadFold
from agentdesk.load.plan import LoadPlan
from agentdesk.load.report import ArmReport, LoadReport, Rollback
from agentdesk.load.shadow import ShadowComparison
from agentdesk.services import TransportWrapper, build_clients
from agentdesk.simulation import Simulation
from sims.world import SimWorld

Progress = Callable[[float, int], None]
"""Called as simulated time passes: (simulated seconds so far, runs finished so far)."""
PROGRESS_STEPS = 200


@dataclass
class _Arm:
    name: str
    sim: Simulation
    fold: LoadFold
    monitor: AlertMonitor | None
    engine: Engine | None = None


class LoadTest:
    """One load test; ``run`` executes it on a fresh virtual clock and returns the report."""

    def __init__(
        self,
        baseline: Simulation,
        plan: LoadPlan,
        inputs: Sequence[Any],
        *,
        candidate: Simulation | None = None,
        rules: Rules | None = None,
        progress: Progress | None = None,
        listeners: Sequence[Listener] = (),
        wrap: TransportWrapper | None = None,
        environ: Mapping[str, str] | None = None,
        workers: int = 1,
    ) -> None:
        for sim in (baseline, candidate):
            if sim is not None and sim.real_clock:
                raise RunError(
                    "load runs on the virtual clock: every service must be a sim "
                    "(a service with a url would make an hour take an hour)"
                )
        if not inputs:
            raise RunError("load needs at least one input")
        if candidate is None and (plan.canary is not None or plan.shadow):
            raise RunError("--canary and --shadow need a --candidate")
        if workers > 1 and (candidate is not None or listeners or wrap is not None):
            raise RunError(
                "--workers splits a plain load test: a candidate's routing and a recording "
                "need one process to see every run"
            )
        self.workers = workers
        self.sessions: Sequence[int] = range(plan.sessions)
        """The sessions this process runs (a worker runs a share: ``load.workers``)."""
        self.plan = plan
        self.inputs = list(inputs)
        self.seed = baseline.seed
        self.rules = rules
        self.progress = progress
        self.listeners = list(listeners)
        """Also listen to the baseline arm's bus (the store's recorder, a replay)."""
        self.wrap = wrap
        """Put around every service's transport, in every arm (the tape)."""
        self.environ = os.environ if environ is None else environ
        self.finished = 0
        self.alerts: list[AlertEvent] = []
        self.rollback: Rollback | None = None
        self.shadow = ShadowComparison() if plan.shadow else None
        self.arms = self._arms(baseline, candidate)

    # --- the arms -------------------------------------------------------------------------------

    def _arms(self, baseline: Simulation, candidate: Simulation | None) -> list[_Arm]:
        if candidate is None:
            return [self._arm("all", baseline, None)]
        base = self._arm("baseline", baseline, None)
        return [base, self._arm("candidate", candidate, base.monitor)]

    def _arm(self, name: str, sim: Simulation, reference: AlertMonitor | None) -> _Arm:
        monitor = None
        if self.rules is not None:
            arm = "" if name == "all" else name
            monitor = AlertMonitor(self.rules, arm=arm, reference=reference)
        arm_ = _Arm(name, sim, LoadFold(self.plan), monitor)
        arm_.fold.on_run = lambda run, a=arm_: self._on_run(a, run)
        return arm_

    def _on_run(self, arm: _Arm, run: FinishedRun) -> None:
        if arm.name != "candidate" or self.shadow is None:
            self.finished += 1
        if arm.monitor is not None:
            self._raised(arm.monitor.observe(run.observation))
        if self.shadow is not None:
            self.shadow.add(arm.name, run)

    def _raised(self, events: list[AlertEvent]) -> None:
        self.alerts += events
        if self.plan.canary is None or self.rollback is not None:
            return
        for event in events:
            if isinstance(event, AlertFired) and event.arm == "candidate":
                self.rollback = Rollback(event.t, event.rule, event.message)
                return

    # --- running --------------------------------------------------------------------------------

    def run(self) -> LoadReport:
        if self.workers > 1:
            return self._run_split()
        return self.report(run_virtual(self.run_async()))

    def _run_split(self) -> LoadReport:
        from agentdesk.load.workers import run_split

        arm = self.arms[0]
        monitor = arm.monitor

        def observe(observation: RunObservation) -> None:
            self.finished += 1
            if monitor is not None:
                self._raised(monitor.observe(observation))

        arm.fold, simulated = run_split(self, self.workers, observe)
        self._advance(simulated)
        return self.report(simulated)

    def report(self, simulated: float) -> LoadReport:
        """What the load test measured, once ``run_async`` returned ``simulated`` seconds."""
        for arm in self.arms:
            arm.fold.finish()
        base = self.arms[0].sim
        return LoadReport(
            pipeline=base.pipeline.spec.name,
            scenario=base.scenario_name,
            seed=self.seed,
            plan=self.plan,
            arms=[ArmReport(a.name, a.sim.pipeline.release, a.fold) for a in self.arms],
            active=self.plan.active(self.seed),
            simulated=simulated,
            alerts=self.alerts,
            rollback=self.rollback,
            shadow=self.shadow,
            alert_rules=[]
            if self.rules is None
            else [self.rules.describe(n) for n, _ in self.rules.enabled()],
            workers=self.workers,
        )

    async def run_async(self) -> float:
        """Run every session on the running (virtual-clock) loop; the simulated seconds."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        clients: list[dict[str, ServiceClient]] = []
        shared: SimWorld | None = None
        for arm in self.arms:
            bus = EventBus()
            bus.listen(arm.fold)
            if arm is self.arms[0]:
                for listener in self.listeners:
                    bus.listen(listener)
            world = shared if shared is not None and not self.plan.shadow else None
            if world is None:
                world = SimWorld(
                    arm.sim.seed, arm.sim.scenario, arm.sim.workspace.sims, epoch=start
                )
                shared = shared or world
            arm_clients = build_clients(arm.sim.workspace.spec, world, self.environ, self.wrap)
            clients.append(arm_clients)
            arm.engine = Engine(
                arm.sim.workspace,
                arm.sim.pipeline,
                arm_clients,
                bus,
                seed=self.seed,
                scenario=arm.sim.scenario_name,
                budgets=arm.sim.budgets,
            )
            arm.engine.epoch = start
        self._shadows: set[asyncio.Task[Any]] = set()
        done = asyncio.Event()
        ticker = asyncio.create_task(self._tick(start, done))
        try:
            await asyncio.gather(*(self._session(i, start) for i in self.sessions))
            if self._shadows:
                await asyncio.gather(*self._shadows)
            end = loop.time() - start
            done.set()
            await ticker
            self._advance(end)
            return end
        finally:
            for arm_clients in clients:
                for client in arm_clients.values():
                    await client.aclose()

    async def _session(self, session: int, start: float) -> None:
        loop = asyncio.get_running_loop()
        plan, seed = self.plan, self.seed
        join, leave = plan.presence(session, seed)
        await asyncio.sleep(join)
        if join >= leave:
            return
        base, candidate = self.arms[0], self.arms[-1]
        canary = plan.on_candidate(seed, session)
        turn = 0
        while True:
            item = self.inputs[(session + turn) % len(self.inputs)]
            arm = candidate if canary and self.rollback is None else base
            if self.shadow is not None:
                task = asyncio.create_task(self._engine(candidate).run(item, session, turn))
                self._shadows.add(task)
                task.add_done_callback(self._shadows.discard)
            await self._engine(arm).run(item, session, turn)
            turn += 1
            think = plan.think_time(seed, session, turn)
            if loop.time() - start + think >= leave:
                return
            await asyncio.sleep(think)

    @staticmethod
    def _engine(arm: _Arm) -> Engine:
        assert arm.engine is not None
        return arm.engine

    async def _tick(self, start: float, done: asyncio.Event) -> None:
        """Advances the alert monitors and reports progress as simulated time passes."""
        loop = asyncio.get_running_loop()
        step = self.plan.duration / PROGRESS_STEPS
        if self.rules is not None:
            step = min(step, self.rules.spec.every)
        while not done.is_set():
            now = loop.time() - start
            self._advance(now)
            if self.progress is not None:
                self.progress(now, self.finished)
            await asyncio.sleep(step)

    def _advance(self, now: float) -> None:
        for arm in self.arms:
            if arm.monitor is not None:
                self._raised(arm.monitor.advance(now))
