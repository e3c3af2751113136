"""A load test split across worker processes: one per core, each a replica of the agent.

One Python process runs one core's worth of simulation (~600 runs a second); 5,000 users for
an hour are ~300,000 runs. ``run_split`` forks ``workers`` processes and gives each every
``workers``-th session. Each is a **replica** of the deployment: its own engine, breakers and
sim world, as N pods behind a load balancer would be. What a request meets downstream does
not depend on the split (every fault draw is keyed by the request, not by a shared stream);
what does is breaker state, which each replica judges on its own share of the traffic.

Each worker folds its events into a ``LoadFold`` as a single-process test does, streams its
finished runs' ``RunObservation``s (six numbers a run) to the parent in chunks, and sends its
fold at the end. The parent merges the streams in time order and judges the alert rules as
they come — what a monitor fed live would have judged, since ``AlertMonitor.observe`` advances
to each run's time itself — and keeps nothing per run. Simulated time crosses in shared
values, for progress. Not with a candidate (canary routing and
rollback, shadow pairs) or a recording: those need one process to see every run.
"""

from __future__ import annotations

import heapq
import math
import multiprocessing
import multiprocessing.connection
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentdesk.alerts.monitor import RunObservation
from agentdesk.engine.clock import run_virtual
from agentdesk.errors import RunError
from agentdesk.load.fold import LoadFold

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.sharedctypes import Synchronized

    from agentdesk.load.runner import LoadTest

POLL = 0.2
"""Real seconds between progress reports while the workers run."""
CHUNK = 512
"""Finished runs a worker sends at a time."""

Observe = Callable[[RunObservation], None]


@dataclass
class Part:
    """What one worker sends back last."""

    fold: LoadFold
    simulated: float


def run_split(test: LoadTest, workers: int, observe: Observe) -> tuple[LoadFold, float]:
    """Run ``test``'s sessions on ``workers`` forked processes; ``observe`` is called with
    every finished run's observation, in time order across all workers, as they come. Returns
    the merged fold and the simulated seconds until the last run finished."""
    context = multiprocessing.get_context("fork")  # the workers inherit the loaded pipeline
    clocks = [context.Value("d", 0.0, lock=False) for _ in range(workers)]
    pipes, processes = [], []
    for index in range(workers):
        receive, send = context.Pipe(duplex=False)
        process = context.Process(
            target=_work,
            args=(test, index, workers, send, clocks[index]),
            name=f"agentdesk-load-{index}",
            daemon=True,
        )
        process.start()
        send.close()
        pipes.append(receive)
        processes.append(process)
    try:
        parts = _Gather(pipes, processes, observe).run(clocks, test.progress)
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
            process.join()
    fold = parts[0].fold
    for part in parts[1:]:
        fold.merge(part.fold)
    return fold, max(p.simulated for p in parts)


class _Gather:
    """Receives the workers' runs and merges them in time order: a worker's runs come in the
    order they finished on its clock, so every run up to the earliest of the workers' latest
    is final (the others' buffers hold at most the clock skew between them)."""

    def __init__(self, pipes: list[Connection], processes: list[Any], observe: Observe) -> None:
        self.pipes, self.processes, self.observe = pipes, processes, observe
        self.buffers: list[deque[RunObservation]] = [deque() for _ in pipes]
        self.latest = [0.0] * len(pipes)
        self.parts: dict[int, Part] = {}
        self.runs = 0

    def run(
        self, clocks: list[Synchronized[float]], progress: Callable[[float, int], None] | None
    ) -> list[Part]:
        while len(self.parts) < len(self.pipes):
            waiting = [p for i, p in enumerate(self.pipes) if i not in self.parts]
            for pipe in multiprocessing.connection.wait(waiting, timeout=POLL):
                self._receive(self.pipes.index(pipe))  # type: ignore[arg-type]
            self._release()
            if progress is not None:
                progress(min(c.value for c in clocks), self.runs)
        return [self.parts[i] for i in range(len(self.pipes))]

    def _receive(self, index: int) -> None:
        try:
            kind, value = self.pipes[index].recv()
        except EOFError:
            code = self.processes[index].exitcode
            raise RunError(f"load worker {index} died (exit code {code})") from None
        if kind == "failed":
            raise RunError(f"load worker {index} failed:\n{value}")
        if kind == "runs":
            self.buffers[index].extend(value)
            self.latest[index] = value[-1].t
        else:
            self.parts[index] = value

    def _release(self) -> None:
        """Observe, in time order, every buffered run no worker can still precede."""
        going = [self.latest[i] for i in range(len(self.pipes)) if i not in self.parts]
        until = min(going, default=math.inf)
        ready = [_upto(buffer, until) for buffer in self.buffers]
        for observation in heapq.merge(*ready, key=lambda o: o.t):
            self.observe(observation)
            self.runs += 1


def _upto(buffer: deque[RunObservation], until: float) -> list[RunObservation]:
    taken = []
    while buffer and buffer[0].t <= until:
        taken.append(buffer.popleft())
    return taken


def _work(
    test: LoadTest, index: int, workers: int, send: Connection, clock: Synchronized[float]
) -> None:
    """In the worker: every ``workers``-th session from ``index``; alerts are the parent's."""
    try:
        chunk: list[RunObservation] = []
        arm = test.arms[0]
        arm.monitor = None

        def finished(run: Any) -> None:
            chunk.append(run.observation)
            if len(chunk) >= CHUNK:
                send.send(("runs", chunk))  # pickled now: the list can be emptied
                chunk.clear()

        def tick(now: float, _runs: int) -> None:
            clock.value = now

        arm.fold.on_run = finished
        test.progress = tick
        test.sessions = range(index, test.plan.sessions, workers)
        simulated = run_virtual(test.run_async())
        if chunk:
            send.send(("runs", chunk))
        arm.fold.finish()
        send.send(("done", Part(arm.fold, simulated)))
    except BaseException:  # whatever it was, the parent reports it
        send.send(("failed", traceback.format_exc()))
    finally:
        send.close()
