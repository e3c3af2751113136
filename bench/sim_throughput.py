"""Benchmark: 10,000 sessions of the support-triage pipeline under payments-503-storm.

Runs as ``agentdesk run`` does: token counting and pricing on, every event recorded in a
SQLite store (a temporary file) by the real writer, the CLI summary folded live. Prints wall
seconds, simulated seconds, steps/s, downstream calls/s, events/s and peak RSS,
and — measured in the same process, on the same virtual clock — the bare ceiling of the
transport (httpx requests/s to a trivial in-process ASGI app), with the engine's ratio to it.
Memory is sampled after the first fifth of the sessions and at the end: a per-session leak
shows as growth between the two.

    python bench/sim_throughput.py [--sessions 10000] [--concurrency 200] [--no-store]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import tempfile
import time
from typing import Any

import httpx
from _common import rss_mb

from agentdesk import heap
from agentdesk.engine.clock import run_virtual
from agentdesk.engine.events import AnyEvent, AttemptFinished, StepFinished
from agentdesk.projections.summary import RunSummary
from agentdesk.simulation import Simulation, demo_workspace


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Counts:
    def __init__(self) -> None:
        self.events = 0
        self.steps = 0
        self.calls = 0

    def __call__(self, event: AnyEvent) -> None:
        self.events += 1
        if isinstance(event, StepFinished):
            self.steps += 1
        elif isinstance(event, AttemptFinished):
            self.calls += 1


def bench_engine(sessions: int, concurrency: int, store: bool = True) -> dict[str, Any]:
    sim = Simulation.prepare(demo_workspace(), "support-triage", "payments-503-storm")
    counts, summary = Counts(), RunSummary()
    listeners: list[Any] = [counts, summary.apply]
    folder = tempfile.TemporaryDirectory()
    recorder = None
    if store:
        from agentdesk.store import Recorder, locate, new_batch, open_engine, redactor_for

        location = locate(sim.workspace.root, f"sqlite:///{folder.name}/bench.db")
        db = open_engine(location)
        batch = new_batch(sim.workspace.root, "support-triage", sim.scenario_name, sim.seed, False)
        redactor = redactor_for(sim.workspace.spec, os.environ)
        recorder = Recorder(db, batch, redactor, pipeline=sim.pipeline, writer="auto")
        listeners.append(recorder.offer)
    tickets = [{"ticket_id": f"T-{1000 + i % 500}"} for i in range(sessions)]
    sim.load_model_tables()  # as `agentdesk run` does before its runs
    heap.settle()  # as `agentdesk run` does once everything is loaded
    marks: dict[str, float] = {}
    done = 0

    def on_result(_: Any) -> None:
        nonlocal done
        done += 1
        if done == sessions // 5:
            gc.collect()
            marks["rss_early"] = rss_mb()

    async def main() -> float:
        await sim.run_async(tickets, concurrency, listeners, on_result)
        return asyncio.get_running_loop().time()

    started, cpu_started = time.perf_counter(), time.process_time()
    simulated = run_virtual(main())
    acknowledged = 0
    if recorder is not None:
        recorder.close()  # flushed: every run is in the database before the clock stops
        acknowledged = recorder.acknowledged
        db.dispose()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    folder.cleanup()
    gc.collect()
    return {
        "wall": wall,
        "cpu": cpu,
        "simulated": simulated,
        "counts": counts,
        "summary": summary,
        "rss_early": marks.get("rss_early", 0.0),
        "rss_end": rss_mb(),
        "acknowledged": acknowledged if store else None,
        "writer": "off" if recorder is None else "process" if recorder.in_child else "threads",
    }


async def _trivial_app(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"ok": true}'})


def bench_transport(requests: int, concurrency: int) -> tuple[float, float]:
    """Requests per wall second and per CPU second."""

    async def main() -> tuple[float, float]:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=_trivial_app), base_url="http://bare.sim"
        )
        queue = iter(range(requests))

        async def worker() -> None:
            for _ in queue:
                (await client.get("/ping")).json()

        started, cpu_started = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        await client.aclose()
        return requests / elapsed, requests / cpu

    return run_virtual(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--bare-requests", type=int, default=20_000)
    parser.add_argument("--no-store", action="store_true", help="Do not record the runs.")
    args = parser.parse_args()

    (bare, bare_cpu) = bench_transport(args.bare_requests, 50)
    result = bench_engine(args.sessions, args.concurrency, store=not args.no_store)
    (bare_after, bare_cpu_after) = bench_transport(args.bare_requests, 50)
    ceiling, ceiling_cpu = (bare + bare_after) / 2, (bare_cpu + bare_cpu_after) / 2
    counts: Counts = result["counts"]
    wall, simulated = result["wall"], result["simulated"]
    calls_per_s, calls_per_cpu_s = counts.calls / wall, counts.calls / result["cpu"]
    summary: RunSummary = result["summary"]
    print(
        f"sessions            {args.sessions:,} ({args.concurrency} concurrent), "
        f"scenario payments-503-storm"
    )
    print(f"outcomes            {dict(summary.stop_reasons.most_common(4))}")
    recorded = result["acknowledged"]
    print(
        "store               "
        + (
            "off"
            if recorded is None
            else f"SQLite, {recorded:,} runs recorded and acknowledged"
            f" (writer in {result['writer']})"
        )
    )
    tokens = summary.tokens
    print(f"tokens counted      {tokens.prompt + tokens.completion:,} (${tokens.usd:.4f})")
    print(f"wall seconds        {wall:.2f}")
    print(f"simulated seconds   {simulated:.1f}  ({simulated / wall:.0f}x faster than real time)")
    print(f"steps/s             {counts.steps / wall:,.0f}  ({counts.steps:,} steps)")
    print(f"downstream calls/s  {calls_per_s:,.0f}  ({counts.calls:,} calls)")
    print(f"events/s            {counts.events / wall:,.0f}  ({counts.events:,} events)")
    print(f"peak RSS            {peak_rss_mb():.0f} MB")
    if result["writer"] == "process":
        child = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(
            f"writer process      {child.ru_maxrss / 1024:.0f} MB peak RSS (pages shared with"
            f" this one count), {child.ru_utime + child.ru_stime:.1f} CPU-seconds"
        )
    print(
        f"RSS after {args.sessions // 5:,} / {args.sessions:,} sessions  "
        f"{result['rss_early']:.0f} MB / {result['rss_end']:.0f} MB"
    )
    print(
        f"bare transport      {ceiling:,.0f} requests/s (httpx → trivial ASGI app, "
        f"virtual clock; {bare:,.0f} before, {bare_after:,.0f} after)"
    )
    print(
        f"ratio               {calls_per_s / ceiling:.2f}  (engine calls/s ÷ bare requests/s;"
        f" target ≥ 0.5)"
    )
    # On a busy machine wall time measures the neighbours; CPU time measures the code (this
    # process's: a writer process's CPU is printed above, on the second core).
    print(
        f"ratio per CPU-second {calls_per_cpu_s / ceiling_cpu:.2f}  ({calls_per_cpu_s:,.0f} calls"
        f" vs {ceiling_cpu:,.0f} bare requests per CPU-second)"
    )


if __name__ == "__main__":
    main()
