"""Budgets end to end: a run never spends more than its limits, and says which one stopped it.

Each test runs a small workspace on the virtual clock (see ``harness``) with one budget set,
then checks the events: what was refused or lowered before it was sent, the stop reason, the
partial output, and that the spend the events record stays within the limit.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from pathlib import Path
from typing import Any

import pytest

from agentdesk.engine.bus import EventBus
from agentdesk.engine.clock import run_virtual
from agentdesk.engine.events import (
    AnyEvent,
    AttemptStarted,
    BudgetExhausted,
    BudgetUpdated,
    OutputLimited,
    RetryScheduled,
    RunFinished,
    StepStarted,
    TokensCounted,
)
from agentdesk.engine.runner import Engine
from agentdesk.services import build_clients
from agentdesk.simulation import Simulation
from agentdesk.spec.models import BudgetsSpec
from agentdesk.tokens.counting import count_chat
from agentdesk.tokens.prices import PriceBook, pico
from sims.world import SimWorld
from tests.engine.harness import Outcome, run_workspace, write_workspace

TICKET = {"ticket_id": "T-1001"}
PROMPTS = {"prompts/ask.md": "Summarise ticket {{ input.ticket_id }} in one line.\n"}
PROMPT = [{"role": "user", "content": "Summarise ticket T-1001 in one line.\n"}]

FETCH_THEN_ASK = """\
name: p
budgets: BUDGETS
steps:
  - id: ticket
    kind: tool
    service: crm
    path: /tickets/{{ input.ticket_id }}
  - id: answer
    kind: llm
    model: gpt-4o-mini
    prompt: prompts/ask.md
    max_tokens: 400
"""

LOOP = """\
name: p
budgets: BUDGETS
steps:
  - id: repeat
    kind: loop
    max_iterations: 5
    on_error: continue
    steps:
      - id: fetch
        kind: tool
        service: crm
        path: /tickets/T-1001
"""

TWO_AT_ONCE = """\
name: p
budgets: BUDGETS
steps:
  - id: both
    kind: parallel
    steps:
      - id: one
        kind: llm
        model: gpt-4o-mini
        prompt: prompts/ask.md
        max_tokens: 300
      - id: two
        kind: llm
        model: gpt-4o-mini
        prompt: prompts/ask.md
        max_tokens: 300
"""

LONG_ANSWERS = {"sims": {"llm": {"rules": [{"match": ".", "text": "word " * 600}]}}}
"""The LLM sim answers with ~600 tokens unless ``max_tokens`` cuts it short."""


def run(
    tmp_path: Path,
    pipeline: str,
    budgets: str,
    scenario: str = "services: {}",
    workspace: dict[str, Any] | None = None,
) -> Outcome:
    text = pipeline.replace("BUDGETS", budgets)
    root = write_workspace(tmp_path, text, scenario, workspace=workspace, files=PROMPTS)
    return run_workspace(root, [TICKET])


def only(outcome: Outcome, kind: type[Any]) -> Any:
    (event,) = outcome.of(kind)
    return event


def prompt_tokens() -> int:
    return count_chat("gpt-4o-mini", PROMPT).tokens


def test_a_token_budget_lowers_the_output_bound_to_what_is_left(tmp_path: Path) -> None:
    limit = prompt_tokens() + 50
    outcome = run(tmp_path, FETCH_THEN_ASK, f"{{run: {{tokens: {limit}}}}}", workspace=LONG_ANSWERS)
    limited = only(outcome, OutputLimited)
    assert (limited.requested, limited.allowed, limited.budget) == (400, 50, "run:tokens")
    tokens = only(outcome, TokensCounted)
    assert tokens.completion_tokens == 50  # the sim was asked for 50 and cut its answer there
    assert tokens.prompt_tokens + tokens.completion_tokens == limit
    assert only(outcome, RunFinished).stop_reason == "completed"
    assert outcome.of(BudgetUpdated)[-1].used["tokens"] == limit


def test_a_call_the_dollar_budget_cannot_pay_for_is_never_sent(tmp_path: Path) -> None:
    price = PriceBook({}).price_for("gpt-4o-mini")
    assert price is not None
    too_little = price.cost_pico(prompt_tokens(), 0) / 1e12  # the prompt, but not one token more
    outcome = run(tmp_path, FETCH_THEN_ASK, f"{{run: {{usd: {too_little!r}}}}}")
    exhausted = only(outcome, BudgetExhausted)
    assert (exhausted.step, exhausted.scope, exhausted.kind) == ("answer", "run", "usd")
    assert exhausted.needed > exhausted.limit
    assert [s.service for s in outcome.sent] == ["crm"]  # the model was never called
    finished = only(outcome, RunFinished)
    assert (finished.status, finished.stop_reason) == ("failed", "budget_exhausted: usd")
    assert finished.output["ticket"]["id"] == "T-1001"  # the partial result is kept


def test_a_dollar_budget_lowers_the_output_bound_and_spends_at_most_the_limit(
    tmp_path: Path,
) -> None:
    price = PriceBook({}).price_for("gpt-4o-mini")
    assert price is not None
    limit = price.cost_pico(prompt_tokens(), 120) / 1e12
    outcome = run(tmp_path, FETCH_THEN_ASK, f"{{run: {{usd: {limit!r}}}}}", workspace=LONG_ANSWERS)
    assert only(outcome, OutputLimited).allowed == 120
    spent = sum(round(e.usd * 1e12) for e in outcome.of(TokensCounted))
    assert spent <= pico(limit)
    assert only(outcome, RunFinished).stop_reason == "completed"


def test_a_step_budget_stops_a_loop_and_on_error_cannot_swallow_it(tmp_path: Path) -> None:
    outcome = run(tmp_path, LOOP, "{run: {steps: 3}}")
    # The loop is a step too: it and two iterations' fetches fit; the third fetch does not.
    assert [e.step for e in outcome.of(StepStarted)] == [
        "repeat",
        "repeat[1]/fetch",
        "repeat[2]/fetch",
    ]
    exhausted = only(outcome, BudgetExhausted)
    assert (exhausted.step, exhausted.kind, exhausted.used, exhausted.limit) == (
        "repeat[3]/fetch",
        "steps",
        3,
        3,
    )
    assert only(outcome, RunFinished).stop_reason == "budget_exhausted: steps"


def test_the_time_budget_clips_an_attempt_and_stops_the_run_exactly_at_the_limit(
    tmp_path: Path,
) -> None:
    policies = {"timeout": {"attempt": 5, "step": None}}
    outcome = run(
        tmp_path,
        FETCH_THEN_ASK,
        "{run: {seconds: 2}}",
        "services:\n  crm:\n    faults:\n      - {kind: hang}\n",
        workspace={"policies": policies},
    )
    assert [a.timeout for a in outcome.of(AttemptStarted)] == [2.0]
    finished = only(outcome, RunFinished)
    assert finished.stop_reason == "budget_exhausted: seconds"
    assert finished.duration == 2.0


def test_a_retry_whose_wait_would_outlast_the_time_budget_is_not_waited_for(
    tmp_path: Path,
) -> None:
    fault = "{kind: error, status: 429, retry_after: 5}"
    outcome = run(
        tmp_path,
        FETCH_THEN_ASK,
        "{run: {seconds: 3}}",
        f"services:\n  crm:\n    faults:\n      - {fault}\n",
    )
    assert not outcome.of(RetryScheduled)
    finished = only(outcome, RunFinished)
    assert finished.stop_reason == "budget_exhausted: seconds"
    assert finished.duration < 3
    assert only(outcome, BudgetExhausted).needed == 5


def test_concurrent_calls_of_one_run_cannot_both_spend_the_same_remainder(tmp_path: Path) -> None:
    limit = 2 * prompt_tokens() + 300 + 40  # room for one full answer, and 40 tokens more
    outcome = run(tmp_path, TWO_AT_ONCE, f"{{run: {{tokens: {limit}}}}}", workspace=LONG_ANSWERS)
    limited = only(outcome, OutputLimited)
    assert limited.allowed == 40
    spent = sum(e.prompt_tokens + e.completion_tokens for e in outcome.of(TokensCounted))
    assert spent <= limit
    assert only(outcome, RunFinished).stop_reason == "completed"


def test_a_session_budget_spans_the_runs_of_one_session(tmp_path: Path) -> None:
    text = FETCH_THEN_ASK.replace("BUDGETS", "{session: {steps: 5}}")
    root = write_workspace(tmp_path, text, "services: {}", files=PROMPTS)
    sim = Simulation.prepare(root, "p", "s")
    events: list[AnyEvent] = []

    async def turns(sessions: list[int]) -> list[str]:
        bus = EventBus()
        bus.listen(events.append)
        world = SimWorld(sim.seed, sim.scenario, sim.workspace.sims)
        clients = build_clients(sim.workspace.spec, world, {})
        engine = Engine(
            sim.workspace, sim.pipeline, clients, bus, seed=sim.seed, scenario=sim.scenario_name
        )
        reasons = [(await engine.run(TICKET, session)).stop_reason for session in sessions]
        await asyncio.gather(*(c.aclose() for c in clients.values()))
        return reasons

    # Session 0 spends 2 steps per run: its third run gets one step in and is stopped;
    # session 1 starts with the whole budget.
    assert run_virtual(turns([0, 0, 0, 1])) == [
        "completed",
        "completed",
        "budget_exhausted: steps",
        "completed",
    ]
    session_zero = [e for e in events if isinstance(e, BudgetUpdated) and e.session == 0]
    assert session_zero[-1].used["steps"] == 5
    assert session_zero[-1].limits == {"steps": 5}


# --- no overshoot, whatever the budget and the weather ---------------------------------------

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SCENARIOS = [
    "happy",
    "payments-503-storm",
    "llm-429-burst",
    "malformed-json",
    "crm-latency-spike",
    "schema-drift",
]


def random_budgets(rng: random.Random) -> dict[str, Any]:
    """A run budget with each limit set or not, from generous to far too small."""
    limits = {
        "tokens": rng.randint(20, 4000),
        "usd": round(rng.uniform(0.000001, 0.0004), 9),
        "seconds": round(rng.uniform(0.05, 30), 3),
        "steps": rng.randint(1, 14),
    }
    chosen = {k: v for k, v in limits.items() if rng.random() < 0.6}
    return {"run": chosen or {"tokens": limits["tokens"]}}


def spend_by_run(events: list[AnyEvent]) -> dict[str, dict[str, float]]:
    """What each run spent, recomputed from the events alone (not from the budget's own view)."""
    spent: dict[str, dict[str, float]] = {}
    for e in events:
        run = spent.setdefault(e.run_id, {"tokens": 0, "pico": 0, "seconds": 0.0, "steps": 0})
        if isinstance(e, TokensCounted):
            run["tokens"] += e.prompt_tokens + e.completion_tokens
            run["pico"] += round(e.usd * 1e12)
        elif isinstance(e, StepStarted):
            run["steps"] += 1
        elif isinstance(e, RunFinished):
            run["seconds"] = e.duration
    return spent


@pytest.mark.parametrize("pipeline", ["support-triage", "doc-reconciliation"])
def test_randomised_budgets_are_never_overspent_under_any_scenario(pipeline: str) -> None:
    events: list[AnyEvent] = []
    for number, scenario in enumerate(SCENARIOS):
        # Distinct seeds, so that run ids (derived from pipeline, seed, session) never repeat.
        sim = Simulation.prepare(FIXTURES, pipeline, scenario, seed=100 * number)
        rng = random.Random(f"{pipeline}/{scenario}")
        configs = [BudgetsSpec.model_validate(random_budgets(rng)) for _ in range(10)]
        run_virtual(_run_with_budgets(sim, configs, events, sessions=3))
    finished = [e for e in events if isinstance(e, RunFinished)]
    kinds = {e.stop_reason for e in finished if e.stop_reason.startswith("budget_exhausted")}
    assert len(finished) == 6 * 10 * 3
    assert len(kinds) >= 3, f"too few budgets ever bound for the test to prove much: {kinds}"
    limits = {e.run_id: e.limits for e in events if isinstance(e, BudgetUpdated)}
    for run_id, spent in spend_by_run(events).items():
        limit = limits.get(run_id, {})
        assert spent["tokens"] <= limit.get("tokens", math.inf)
        assert spent["pico"] <= (pico(limit["usd"]) if "usd" in limit else math.inf)
        assert spent["seconds"] <= limit.get("seconds", math.inf)
        assert spent["steps"] <= limit.get("steps", math.inf)


async def _run_with_budgets(
    sim: Simulation, configs: list[BudgetsSpec], events: list[AnyEvent], sessions: int
) -> None:
    bus = EventBus()
    bus.listen(events.append)
    world = SimWorld(sim.seed, sim.scenario, sim.workspace.sims)
    clients = build_clients(sim.workspace.spec, world, {})
    inputs = [
        json.loads(line) for line in (FIXTURES / "inputs/tickets.jsonl").read_text().splitlines()
    ]
    try:
        for index, budgets in enumerate(configs):
            engine = Engine(
                sim.workspace,
                sim.pipeline,
                clients,
                bus,
                seed=sim.seed + index,
                scenario=sim.scenario_name,
                budgets=budgets,
            )
            items = inputs if sim.pipeline.spec.name == "support-triage" else [sim.default_input()]
            await engine.run_sessions((items[i % len(items)] for i in range(sessions)), sessions)
    finally:
        await asyncio.gather(*(c.aclose() for c in clients.values()))
