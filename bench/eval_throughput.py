"""Benchmark: 500 golden cases through support-triage under payments-503-storm.

Measures ``agentdesk eval``'s path — reading and checking the golden and gates files, running
every case on the virtual clock, folding each case's events, checking its assertions, the
scripted judge's requests, the gates — in cases per second, and next to it, in the same
process, the raw simulation: the same 500 inputs through ``Simulation.execute`` with only the
run summary folded (what ``agentdesk run --no-record`` does). Their ratio is what evaluating
costs on top of simulating. CPU seconds are printed too: a busy machine distorts wall time.

The cases are the demo golden set's 24 (their assertions, tags and judges) repeated with fresh
ticket ids, so the mix of assertions is the demo's.

    python bench/eval_throughput.py [--cases 500] [--scenario payments-503-storm] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (sets up the path and tiktoken)

from agentdesk.evals import runner
from agentdesk.projections.summary import RunSummary
from agentdesk.simulation import Simulation, demo_workspace


def golden_file(folder: Path, cases: int) -> Path:
    demo = demo_workspace() / "golden" / "support-triage.jsonl"
    templates = [json.loads(line) for line in demo.read_text().splitlines() if line.strip()]
    templates = [t for t in templates if "scenarios" not in t]
    lines = []
    for i in range(cases):
        case = dict(templates[i % len(templates)])
        case["id"] = f"case-{i}"
        case["input"] = {"ticket_id": f"T-{2000 + i}"}
        lines.append(json.dumps(case))
    path = folder / "bench.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def timed(work: Callable[[], Any]) -> tuple[float, float, Any]:
    started, cpu = time.perf_counter(), time.process_time()
    value = work()
    return time.perf_counter() - started, time.process_time() - cpu, value


def bench_eval(golden: Path, scenario: str, concurrency: int) -> dict[str, Any]:
    def whole() -> Any:
        plan = runner.prepare(demo_workspace(), "support-triage", [scenario], golden=str(golden))
        return plan, runner.run(plan)

    wall, cpu, (_, report) = timed(whole)
    prepare_wall, _, _ = timed(
        lambda: runner.prepare(demo_workspace(), "support-triage", [scenario], golden=str(golden))
    )
    return {"wall": wall, "cpu": cpu, "prepare": prepare_wall, "report": report}


def bench_raw(cases: int, scenario: str, concurrency: int) -> dict[str, Any]:
    sim = Simulation.prepare(demo_workspace(), "support-triage", scenario)
    inputs = [{"ticket_id": f"T-{2000 + i}"} for i in range(cases)]
    summary = RunSummary()
    wall, cpu, _ = timed(lambda: sim.execute(inputs, concurrency, [summary.apply]))
    return {"wall": wall, "cpu": cpu, "summary": summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--scenario", default="payments-503-storm")
    parser.add_argument("--concurrency", type=int, default=runner.DEFAULT_CONCURRENCY)
    parser.add_argument("--repeat", type=int, default=3, help="best-of runs of each")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        golden = golden_file(Path(folder), args.cases)
        bench_raw(24, args.scenario, args.concurrency)  # warm-up: encodings, imports, caches
        evals = [bench_eval(golden, args.scenario, args.concurrency) for _ in range(args.repeat)]
        raws = [bench_raw(args.cases, args.scenario, args.concurrency) for _ in range(args.repeat)]
    best_eval = min(evals, key=lambda r: r["wall"])
    best_raw = min(raws, key=lambda r: r["wall"])
    report = best_eval["report"]
    [scenario] = report.scenarios
    n = len(scenario.cases)
    print(
        f"eval: {n} golden cases · support-triage · {args.scenario} · concurrency "
        f"{args.concurrency} · best of {args.repeat}"
    )
    print(
        f"  pass rate {scenario.pass_rate:.1%} · p50/p90/p95 {scenario.latency(0.5):.2f}/"
        f"{scenario.latency(0.9):.2f}/{scenario.latency(0.95):.2f} s simulated · breaker trips "
        f"{scenario.breaker_trips} · assertions checked "
        f"{sum(len(c.outcomes) for c in scenario.cases)}"
    )
    eval_rate = n / best_eval["wall"]
    raw_rate = args.cases / best_raw["wall"]
    print(
        f"  eval   {best_eval['wall']:.3f} s wall ({best_eval['cpu']:.3f} s CPU) → "
        f"{eval_rate:,.0f} cases/s   (reading + checking the files: "
        f"{best_eval['prepare'] * 1000:.0f} ms)"
    )
    print(
        f"  raw    {best_raw['wall']:.3f} s wall ({best_raw['cpu']:.3f} s CPU) → "
        f"{raw_rate:,.0f} runs/s    (Simulation.execute, summary only)"
    )
    print(
        f"  eval / raw: {eval_rate / raw_rate:.2f}× by wall time, "
        f"{(args.cases / best_eval['cpu']) / (args.cases / best_raw['cpu']):.2f}× per CPU-second"
    )
    walls = ", ".join(f"{r['wall']:.3f}" for r in evals)
    raw_walls = ", ".join(f"{r['wall']:.3f}" for r in raws)
    median = statistics.median(r["wall"] for r in evals)
    print(f"  eval walls: {walls} s · raw walls: {raw_walls} s · median eval {median:.3f} s")


if __name__ == "__main__":
    main()
