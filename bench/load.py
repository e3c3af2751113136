"""Benchmark: ``agentdesk load`` — N concurrent sessions × a simulated duration, wall time,
runs/s and peak RSS, at several sizes, next to the raw simulation's throughput.

Each size runs in a process of its own, so each peak RSS is that size's alone; RSS is also
sampled at a fifth of the simulated duration and at the end, in the same process, so growth
with duration shows. The load test is exactly what the command runs: support-triage under
the given scenario (default payments-503-storm: the breaker opens and closes, retries,
alerts), think time 60 s, constant arrival, alerts on, no store.

    python bench/load.py                       # 500, 2000, 5000 sessions × 1 h; 1 and 2 workers
    python bench/load.py --sizes 5000 --duration 1h --workers 2
    python bench/load.py --raw 3000            # also the raw sim: 3000 back-to-back sessions
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Any

from _common import rss_mb


def one(sessions: int, duration: float, scenario: str, workers: int = 1) -> dict[str, Any]:
    """One load test in this process; its figures as a dict."""
    import json as _json

    from agentdesk.alerts import load_rules
    from agentdesk.load import LoadPlan, LoadTest
    from agentdesk.simulation import Simulation, demo_workspace

    root = demo_workspace()
    sim = Simulation.prepare(root, "support-triage", scenario)
    lines = (root / "inputs" / "tickets.jsonl").read_text().splitlines()
    inputs = [_json.loads(line) for line in lines if line.strip()]
    samples: dict[str, float] = {}

    def progress(now: float, runs: int) -> None:
        if "fifth" not in samples and now >= duration / 5:
            samples["fifth"] = rss_mb()

    plan = LoadPlan(sessions, duration)
    test = LoadTest(sim, plan, inputs, rules=load_rules(root), progress=progress, workers=workers)
    started, cpu = time.perf_counter(), _cpu()
    report = test.run()
    wall, cpu = time.perf_counter() - started, _cpu() - cpu
    arm = report.to_json()["arms"][0]
    return {
        "sessions": sessions,
        "workers": workers,
        "duration": duration,
        "runs": report.runs,
        "wall": wall,
        "cpu": cpu,
        "runs_per_s": report.runs / wall,
        "runs_per_cpu_s": report.runs / cpu,
        "peak_rss": max(
            resource.getrusage(who).ru_maxrss / 1024
            for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        ),
        "rss_fifth": samples.get("fifth", 0.0),
        "rss_end": rss_mb(),
        "alerts": len(report.fired()),
        "tool_error_rate": arm["tool_error_rate"],
        "p95": arm["latency"]["p95"],
    }


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the workers)."""
    me, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def raw(sessions: int, scenario: str) -> dict[str, Any]:
    """The bare simulation: ``sessions`` back-to-back runs, 200 at a time, no load layer."""
    from agentdesk.simulation import Simulation, demo_workspace

    sim = Simulation.prepare(demo_workspace(), "support-triage", scenario)
    tickets = [{"ticket_id": f"T-{1000 + i % 20}"} for i in range(sessions)]
    started, cpu = time.perf_counter(), time.process_time()
    runs = sim.execute(tickets, 200)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"runs": runs, "wall": wall, "runs_per_s": runs / wall, "runs_per_cpu_s": runs / cpu}


def child(argv: list[str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, *argv], capture_output=True, text=True, check=True
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,2000,5000", help="Session counts, comma-separated.")
    parser.add_argument("--duration", default="1h")
    parser.add_argument("--scenario", default="payments-503-storm")
    parser.add_argument(
        "--workers", default="1,2", help="Worker processes to try each size with, comma-separated."
    )
    parser.add_argument("--raw", type=int, default=3000, help="Raw sim sessions (0: skip).")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--raw-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    from agentdesk.alerts import parse_duration

    duration = parse_duration(args.duration)
    if args.one is not None:
        print(json.dumps(one(args.one, duration, args.scenario, int(args.workers))))
        return
    if args.raw_only:
        print(json.dumps(raw(args.raw, args.scenario)))
        return
    print(f"agentdesk load support-triage -s {args.scenario} --duration {args.duration}")
    if args.raw:
        r = child(["--raw-only", "--raw", str(args.raw), "--scenario", args.scenario])
        print(
            f"raw sim (no load layer): {r['runs']:,} runs in {r['wall']:.1f} s — "
            f"{r['runs_per_s']:,.0f} runs/s ({r['runs_per_cpu_s']:,.0f} per CPU-second)"
        )
    print(
        f"{'sessions':>8} {'workers':>7} {'runs':>8} {'wall s':>8} {'runs/s':>7} {'per CPU-s':>9} "
        f"{'RSS@1/5':>8} {'RSS end':>8} {'peak RSS':>8} {'alerts':>6}"
    )
    for size in [int(s) for s in args.sizes.split(",")]:
        for workers in [int(w) for w in args.workers.split(",")]:
            row(size, workers, args.duration, args.scenario)
    print(
        "with workers, RSS@1/5 and RSS end are the parent's; peak RSS is the largest of the "
        "parent and any one worker. Workers are replicas with their own breakers."
    )


def row(size: int, workers: int, duration: str, scenario: str) -> None:
    options = {"--one": size, "--duration": duration, "--scenario": scenario, "--workers": workers}
    r = child([str(part) for pair in options.items() for part in pair])
    print(
        f"{size:>8,} {workers:>7} {r['runs']:>8,} {r['wall']:>8.1f} {r['runs_per_s']:>7,.0f} "
        f"{r['runs_per_cpu_s']:>9,.0f} {r['rss_fifth']:>6.0f}MB {r['rss_end']:>6.0f}MB "
        f"{r['peak_rss']:>6.0f}MB {r['alerts']:>6}",
        flush=True,
    )


if __name__ == "__main__":
    main()
