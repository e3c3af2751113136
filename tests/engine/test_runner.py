"""The runner end to end: what a user relies on, asserted on the events each run publishes.

Every test writes a small workspace (quiet services with fixed latencies, see ``harness``)
plus the one fault it is about, runs it on the virtual clock with a fixed seed, and checks
the event list — and, where it matters, what actually reached the simulated services.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, TypeVar

import pytest

from agentdesk.engine.events import (
    AttemptFinished,
    AttemptStarted,
    BreakerTransition,
    CallRefused,
    CallRejected,
    FallbackTaken,
    LoopIteration,
    RetryGaveUp,
    RetryScheduled,
    RouteTaken,
    RunFinished,
    StepFinished,
    StepStarted,
    TokensCounted,
    ValidationFailed,
    ValidationRepaired,
)
from agentdesk.simulation import Simulation
from agentdesk.tokens.counting import count_chat
from tests.engine.harness import (
    Outcome,
    Sent,
    run_simulation,
    run_workspace,
    write_workspace,
)

E = TypeVar("E")

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TICKET = {"ticket_id": "T-1001"}

ONE_TICKET = """\
name: p
steps:
  - id: ticket
    kind: tool
    service: crm
    path: /tickets/{{ input.ticket_id }}
"""

ASK = """\
name: p
steps:
  - id: answer
    kind: llm
    model: gpt-4o-mini
    fallback: [gpt-4o]
    prompt: prompts/ask.md
"""

PROMPTS = {"prompts/ask.md": "Summarise ticket {{ input.ticket_id }} in one line.\n"}


def crm_faults(*faults: str) -> str:
    return "services:\n  crm:\n    faults:\n" + "".join(f"      - {f}\n" for f in faults)


def llm_faults(*faults: str) -> str:
    return "services:\n  llm:\n    faults:\n" + "".join(f"      - {f}\n" for f in faults)


def only(outcome: Outcome, kind: type[E]) -> E:
    (event,) = outcome.of(kind)
    return event


def finished(outcome: Outcome) -> RunFinished:
    return only(outcome, RunFinished)


def started_steps(outcome: Outcome) -> list[str]:
    return [e.step for e in outcome.of(StepStarted)]


def run(
    tmp_path: Path,
    pipeline: str,
    scenario: str = "services: {}",
    inputs: list[Any] | None = None,
    *,
    workspace: dict[str, Any] | None = None,
    arrivals: list[float] | None = None,
) -> Outcome:
    root = write_workspace(tmp_path, pipeline, scenario, workspace=workspace, files=PROMPTS)
    return run_workspace(root, inputs or [TICKET], arrivals=arrivals)


# --- retries ----------------------------------------------------------------------------------


def test_503_is_retried_after_a_backoff_within_bounds_then_succeeds(tmp_path: Path) -> None:
    outcome = run(
        tmp_path, ONE_TICKET, crm_faults("{kind: error, status: 503, window: {end: 0.05}}")
    )
    first, second = outcome.of(AttemptFinished)
    assert (first.outcome, first.status_code, first.error_kind) == ("error", 503, "http_status")
    retry = only(outcome, RetryScheduled)
    assert (retry.attempt, retry.reason, retry.source) == (1, "HTTP 503", "backoff")
    assert 0.0 <= retry.delay <= 0.5  # full jitter under base 0.5 for the first retry
    later = outcome.of(AttemptStarted)[1]
    assert later.attempt == 2
    assert later.t == pytest.approx(first.t + retry.delay)
    assert (second.outcome, second.status_code) == ("ok", 200)
    assert finished(outcome).stop_reason == "completed"


@pytest.mark.parametrize(
    ("header", "delay", "source"),
    [
        ("retry_after: 2", 2.0, "retry_after"),
        ("retry_after_ms: 1500", 1.5, "retry_after_ms"),
        ("retry_after_date: 3", 3.0, "retry_after"),
    ],
)
def test_retry_after_is_waited_exactly_and_its_source_recorded(
    tmp_path: Path, header: str, delay: float, source: str
) -> None:
    fault = f"{{kind: error, status: 429, {header}, window: {{end: 0.05}}}}"
    outcome = run(tmp_path, ONE_TICKET, crm_faults(fault))
    retry = only(outcome, RetryScheduled)
    assert (retry.delay, retry.source, retry.reason) == (delay, source, "HTTP 429")
    failed_at = outcome.of(AttemptFinished)[0].t
    assert outcome.of(AttemptStarted)[1].t == pytest.approx(failed_at + delay)
    assert finished(outcome).stop_reason == "completed"


def test_retry_after_beyond_the_cap_gives_up_instead_of_waiting(tmp_path: Path) -> None:
    outcome = run(tmp_path, ONE_TICKET, crm_faults("{kind: error, status: 429, retry_after: 60}"))
    assert not outcome.of(RetryScheduled)
    assert len(outcome.of(AttemptStarted)) == 1
    gave_up = only(outcome, RetryGaveUp)
    assert gave_up.reason == "retry_after_exceeds_cap: 60s > 10s"
    assert finished(outcome).stop_reason == "retry_after_exceeds_cap: ticket"


@pytest.mark.parametrize(
    ("ticket", "scenario", "status"),
    [
        ("NOT-A-TICKET", "services: {}", 404),
        ("T-1001", crm_faults("{kind: error, status: 400}"), 400),
        ("T-1001", crm_faults("{kind: error, status: 403}"), 403),
    ],
)
def test_permanent_4xx_is_not_retried(
    tmp_path: Path, ticket: str, scenario: str, status: int
) -> None:
    outcome = run(tmp_path, ONE_TICKET, scenario, [{"ticket_id": ticket}])
    attempt = only(outcome, AttemptFinished)
    assert (attempt.outcome, attempt.status_code) == ("error", status)
    assert not outcome.of(RetryScheduled)
    assert only(outcome, RetryGaveUp).reason == f"permanent: HTTP {status}"
    assert len(outcome.sent) == 1
    assert (finished(outcome).status, finished(outcome).stop_reason) == (
        "failed",
        "permanent: ticket",
    )


def test_a_hang_times_out_at_the_attempt_timeout_on_the_virtual_clock(tmp_path: Path) -> None:
    policies = {"timeout": {"attempt": 2, "step": None}, "retry": {"max_attempts": 2}}
    outcome = run(
        tmp_path, ONE_TICKET, crm_faults("{kind: hang}"), workspace={"policies": policies}
    )
    attempts = outcome.of(AttemptFinished)
    assert [(a.error_kind, a.latency) for a in attempts] == [("timeout", 2.0), ("timeout", 2.0)]
    assert [a.timeout for a in outcome.of(AttemptStarted)] == [2.0, 2.0]
    assert only(outcome, RetryGaveUp).reason == "retries_exhausted: 2 attempts"
    assert finished(outcome).stop_reason == "retries_exhausted: ticket"


def test_the_step_deadline_clips_the_last_attempt_and_stops_the_step(tmp_path: Path) -> None:
    policies = {
        "timeout": {"attempt": 2, "step": 3},
        "retry": {"max_attempts": 5, "backoff": {"base": 0.5, "jitter": "none"}},
    }
    outcome = run(
        tmp_path, ONE_TICKET, crm_faults("{kind: hang}"), workspace={"policies": policies}
    )
    # 0 → 2: first attempt times out; 0.5 s back-off; the second may only use what is left.
    assert [a.timeout for a in outcome.of(AttemptStarted)] == [2.0, 0.5]
    assert [a.latency for a in outcome.of(AttemptFinished)] == [2.0, 0.5]
    assert only(outcome, RetryGaveUp).reason.startswith("step_deadline: ")
    run_finished = finished(outcome)
    assert (run_finished.stop_reason, run_finished.duration) == ("step_deadline: ticket", 3.0)


def test_a_connection_reset_is_reported_as_reset_and_retried(tmp_path: Path) -> None:
    outcome = run(tmp_path, ONE_TICKET, crm_faults("{kind: reset, window: {end: 0.05}}"))
    first, second = outcome.of(AttemptFinished)
    assert (first.outcome, first.error_kind, first.status_code) == ("error", "reset", None)
    assert only(outcome, RetryScheduled).reason == "connection reset"
    assert second.outcome == "ok"
    assert finished(outcome).stop_reason == "completed"


def test_a_failed_steps_error_names_its_reason_once(tmp_path: Path) -> None:
    policies = {"timeout": {"attempt": 2, "step": None}, "retry": {"max_attempts": 2}}
    outcome = run(
        tmp_path, ONE_TICKET, crm_faults("{kind: hang}"), workspace={"policies": policies}
    )
    assert outcome.of(StepFinished)[0].error == "retries_exhausted: 2 attempts"


# --- the circuit breaker ----------------------------------------------------------------------


def test_breaker_opens_rejects_without_sending_then_half_opens_and_closes(
    tmp_path: Path,
) -> None:
    pipeline = ONE_TICKET + "policies: {retry: {max_attempts: 1}}\n"
    arrivals = [0.0, 1.0, 2.0, 3.0, 4.0, 8.0, 14.0, 15.0, 16.0]
    outcome = run(
        tmp_path,
        pipeline,
        crm_faults("{kind: error, status: 503, window: {end: 5}}"),
        [TICKET] * len(arrivals),
        arrivals=arrivals,
    )
    moves = [(b.from_state, b.to_state, b.t) for b in outcome.of(BreakerTransition)]
    # Four failures (min_calls 4, rate 1.0 ≥ 0.5) open it at 3.1; the cooldown of 10 s ends at
    # 13.1, so the call at 14 is the first probe; two successful probes close it.
    assert moves == [
        ("closed", "open", 3.1),
        ("open", "half_open", 14.0),
        ("half_open", "closed", 15.1),
    ]
    opened = outcome.of(BreakerTransition)[0]
    assert (opened.breaker, opened.calls, opened.failure_rate) == ("service:crm", 4, 1.0)
    rejected = outcome.of(CallRejected)
    assert [(r.breaker, r.t, round(r.retry_in, 6)) for r in rejected] == [
        ("service:crm", 4.0, 9.1),
        ("service:crm", 8.0, 5.1),
    ]
    rejected_runs = {r.run_id for r in rejected}
    assert not [a for a in outcome.of(AttemptStarted) if a.run_id in rejected_runs]
    assert len(outcome.sent) == len(arrivals) - len(rejected)
    reasons = [r.stop_reason for r in outcome.results]
    assert reasons == [
        "retries_exhausted: ticket",
        "retries_exhausted: ticket",
        "retries_exhausted: ticket",
        "retries_exhausted: ticket",
        "breaker_open: ticket",
        "breaker_open: ticket",
        "completed",
        "completed",
        "completed",
    ]


PROBE_LEAK = """\
name: p
policies: {retry: {max_attempts: 1}}
steps:
  - id: first
    kind: llm
    model: gpt-4o
    prompt: prompts/ask.md
    on_error: continue
  - id: second
    kind: llm
    model: gpt-4o-mini
    fallback: [gpt-4o]
    prompt: prompts/ask.md
    on_error: continue
    policies: {timeout: {attempt: 2, step: 2}}
"""


def test_a_probe_admitted_when_the_step_deadline_is_used_up_is_not_leaked(
    tmp_path: Path,
) -> None:
    breaker = {"min_calls": 1, "cooldown": 1, "half_open_probes": 1}
    outcome = run(
        tmp_path,
        PROBE_LEAK,
        llm_faults(
            "{kind: error, status: 503, window: {end: 0.4}}",  # first: gpt-4o opens at 0.5
            "{kind: hang, window: {start: 0.4, end: 1}}",  # second: gpt-4o-mini hangs to 2.5
        ),
        [TICKET, TICKET],
        workspace={"policies": {"breaker": breaker}},
        arrivals=[0.0, 100.0],
    )
    # At 2.5 the fallback to gpt-4o is admitted as the half-open probe, then the step's
    # deadline (0.5 + 2) turns out to be used up and nothing is sent.
    moves = [(b.breaker, b.to_state) for b in outcome.of(BreakerTransition)]
    assert ("model:gpt-4o", "half_open") in moves
    assert outcome.of(StepFinished)[1].error.startswith("step_timeout")
    # 97.5 s later, with the service healthy, gpt-4o must get a probe through.
    later = [e for e in outcome.of(CallRejected) if e.t == 100.0]
    assert not later
    assert outcome.results[1].output is not None


# --- models: fallback chain, context window ---------------------------------------------------


def test_exhausted_retries_fall_back_to_the_next_model_which_completes(tmp_path: Path) -> None:
    policies = {"retry": {"max_attempts": 2, "backoff": {"base": 0.1, "jitter": "none"}}}
    outcome = run(
        tmp_path,
        ASK,
        llm_faults("{kind: error, status: 503, window: {end: 1.0}}"),
        workspace={"policies": policies},
    )
    assert [(a.attempt, a.model, a.outcome) for a in outcome.of(AttemptFinished)] == [
        (1, "gpt-4o-mini", "error"),
        (2, "gpt-4o-mini", "error"),
        (3, "gpt-4o", "ok"),
    ]
    fallback = only(outcome, FallbackTaken)
    assert (fallback.from_model, fallback.to_model, fallback.reason) == (
        "gpt-4o-mini",
        "gpt-4o",
        "retries_exhausted",
    )
    assert only(outcome, TokensCounted).model == "gpt-4o"
    assert finished(outcome).stop_reason == "completed"


def test_an_open_model_breaker_falls_back_without_calling_the_model(tmp_path: Path) -> None:
    pipeline = """\
    name: p
    steps:
      - id: warm
        kind: llm
        model: gpt-4o-mini
        prompt: prompts/ask.md
        on_error: continue
        policies:
          retry: {max_attempts: 4, backoff: {base: 0.1, cap: 0.1, jitter: none}}
      - id: answer
        kind: llm
        model: gpt-4o-mini
        fallback: [gpt-4o]
        prompt: prompts/ask.md
    """
    # warm's four attempts arrive at 0, 0.6, 1.2 and 1.8 and fail: the model's breaker opens.
    outcome = run(tmp_path, pipeline, llm_faults("{kind: error, status: 503, window: {end: 2}}"))
    opened = only(outcome, BreakerTransition)
    assert (opened.breaker, opened.to_state) == ("model:gpt-4o-mini", "open")
    rejected = only(outcome, CallRejected)
    assert (rejected.step, rejected.breaker) == ("answer", "model:gpt-4o-mini")
    fallback = only(outcome, FallbackTaken)
    assert (fallback.step, fallback.to_model, fallback.reason) == (
        "answer",
        "gpt-4o",
        "breaker_open",
    )
    answer_attempts = [a for a in outcome.of(AttemptStarted) if a.step == "answer"]
    assert [a.model for a in answer_attempts] == ["gpt-4o"]
    assert finished(outcome).stop_reason == "completed"
    assert finished(outcome).output == outcome.of(StepFinished)[-1].output


def test_a_prompt_too_long_for_the_models_window_skips_to_the_fallback(tmp_path: Path) -> None:
    models = {"gpt-4o-mini": {"service": "llm", "context_window": 64}}
    outcome = run(tmp_path, ASK, workspace={"models": models})
    fallback = only(outcome, FallbackTaken)
    assert (fallback.from_model, fallback.to_model, fallback.reason) == (
        "gpt-4o-mini",
        "gpt-4o",
        "context_too_long",
    )
    assert [a.model for a in outcome.of(AttemptStarted)] == ["gpt-4o"]  # checked, never sent
    assert finished(outcome).stop_reason == "completed"


def test_a_provider_context_length_error_also_falls_back(tmp_path: Path) -> None:
    llm = {"context_windows": {"gpt-4o-mini": 10}}
    outcome = run(tmp_path, ASK, workspace={"sims": {"llm": llm}})
    first = outcome.of(AttemptFinished)[0]
    assert (first.model, first.status_code) == ("gpt-4o-mini", 400)
    assert "context_length_exceeded" in first.error
    assert only(outcome, FallbackTaken).reason == "context_too_long"
    assert finished(outcome).stop_reason == "completed"


def test_a_fallback_to_a_second_provider_escapes_the_first_providers_faults(
    tmp_path: Path,
) -> None:
    workspace = {
        "services": {"backup": {"sim": "llm"}},
        "models": {"backup-4o": {"service": "backup", "name": "gpt-4o"}},
        "policies": {"retry": {"max_attempts": 1}},
    }
    pipeline = ASK.replace("fallback: [gpt-4o]", "fallback: [backup-4o]")
    outcome = run(tmp_path, pipeline, llm_faults("{kind: error, status: 503}"), workspace=workspace)
    assert only(outcome, FallbackTaken).to_model == "backup-4o"
    last = outcome.of(AttemptFinished)[-1]
    assert (last.service, last.outcome) == ("backup", "ok")
    assert finished(outcome).stop_reason == "completed"


# --- structured output ------------------------------------------------------------------------

EXTRACT = """\
name: p
steps:
  - id: extract
    kind: llm
    model: gpt-4o-mini
    prompt: prompts/ask.md
    output:
      schema:
        type: object
        required: [category, confidence]
        properties:
          category: {enum: [refund, shipping]}
          confidence: {type: number}
  - id: after
    kind: tool
    service: crm
    path: /tickets/{{ input.ticket_id }}
"""
ANSWER = {"category": "refund", "confidence": 0.9}
RULES = {"sims": {"llm": {"rules": [{"step": "extract", "json": ANSWER}]}}}


def test_fenced_json_is_accepted_without_a_repair(tmp_path: Path) -> None:
    outcome = run(tmp_path, EXTRACT, llm_faults("{kind: malformed, mode: fenced}"), workspace=RULES)
    assert not outcome.of(ValidationFailed)
    assert not outcome.of(ValidationRepaired)
    assert outcome.of(StepFinished)[0].output == ANSWER
    assert finished(outcome).stop_reason == "completed"


def test_invalid_json_is_re_asked_and_repaired(tmp_path: Path) -> None:
    scenario = llm_faults("{kind: malformed, mode: truncated, window: {end: 0.1}}")
    outcome = run(tmp_path, EXTRACT, scenario, workspace=RULES)
    failed = only(outcome, ValidationFailed)
    assert (failed.step, failed.attempt, failed.repair) == ("extract", 1, 0)
    assert failed.errors[0].startswith("not JSON: ")
    repaired = only(outcome, ValidationRepaired)
    assert (repaired.attempt, repaired.repairs) == (2, 1)
    assert outcome.types().index("ValidationFailed") < outcome.types().index("ValidationRepaired")
    assert outcome.of(StepFinished)[0].output == ANSWER
    assert finished(outcome).stop_reason == "completed"


def test_exhausted_repairs_stop_the_run_and_no_later_step_runs(tmp_path: Path) -> None:
    outcome = run(
        tmp_path, EXTRACT, llm_faults("{kind: malformed, mode: wrong_types}"), workspace=RULES
    )
    failures = outcome.of(ValidationFailed)
    assert [f.repair for f in failures] == [0, 1]  # repair: 1 in the base workspace
    assert "at $.confidence: '0.9' is not of type 'number'" in failures[0].errors
    assert not outcome.of(ValidationRepaired)
    assert (finished(outcome).status, finished(outcome).stop_reason) == (
        "failed",
        "invalid_output: extract",
    )
    assert started_steps(outcome) == ["extract"]
    assert not [s for s in outcome.sent if s.service == "crm"]


# --- least privilege --------------------------------------------------------------------------

PLAN_THEN_FETCH = """\
name: p
steps:
  - id: plan
    kind: llm
    model: gpt-4o-mini
    prompt: prompts/ask.md
    output: {schema: {type: object}}
  - id: fetch
    kind: tool
    service: crm
    path: /tickets/{{ steps.plan.ticket }}
"""


def plan_says(**answer: str) -> dict[str, Any]:
    return {"sims": {"llm": {"rules": [{"step": "plan", "json": answer}]}}}


@pytest.mark.parametrize(
    ("ticket", "reason"),
    [
        ("../admin", "path traversal refused"),
        ("%2e%2e", "path traversal refused"),
        ("http://evil.example", "absolute URL refused"),
        ("T-1001?admin=true", "query or fragment inside path '/tickets/T-1001?admin=true' refused"),
    ],
)
def test_a_path_from_a_models_answer_outside_the_step_shape_is_refused_and_never_sent(
    tmp_path: Path, ticket: str, reason: str
) -> None:
    outcome = run(tmp_path, PLAN_THEN_FETCH, workspace=plan_says(ticket=ticket))
    refused = only(outcome, CallRefused)
    assert (refused.step, refused.service, refused.reason) == ("fetch", "crm", reason)
    assert not [a for a in outcome.of(AttemptStarted) if a.step == "fetch"]
    assert [s.service for s in outcome.sent] == ["llm"]
    assert finished(outcome).stop_reason == "policy_violation: fetch"


ROUTED_SERVICE = """\
name: p
steps:
  - id: plan
    kind: llm
    model: gpt-4o-mini
    prompt: prompts/ask.md
    output: {schema: {type: object}}
  - id: fetch
    kind: tool
    service: "{{ steps.plan.service }}"
    path: /tickets/{{ input.ticket_id }}
    allow:
      - {service: crm, methods: [GET], paths: ["/tickets/*"]}
"""


def test_a_templated_service_outside_allow_is_refused_and_never_sent(tmp_path: Path) -> None:
    outcome = run(tmp_path, ROUTED_SERVICE, workspace=plan_says(service="payments"))
    refused = only(outcome, CallRefused)
    assert (refused.service, refused.reason) == (
        "payments",
        "service 'payments' not allowed for this step",
    )
    assert [s.service for s in outcome.sent] == ["llm"]
    assert finished(outcome).stop_reason == "policy_violation: fetch"


def test_a_templated_service_inside_allow_is_called(tmp_path: Path) -> None:
    outcome = run(tmp_path, ROUTED_SERVICE, workspace=plan_says(service="crm"))
    assert not outcome.of(CallRefused)
    assert outcome.sent[-1] == Sent("crm", "GET", "/tickets/T-1001")
    assert finished(outcome).stop_reason == "completed"


# --- sequencing: routes, next, on_error, parallel, loop ---------------------------------------

ROUTED = """\
name: p
steps:
  - id: gate
    kind: route
    routes:
      - {when: "input.priority == 'high'", goto: urgent}
    default: normal
  - id: urgent
    kind: tool
    service: crm
    method: POST
    path: /tickets/{{ input.ticket_id }}/escalations
    json: {reason: urgent}
    next: end
  - id: normal
    kind: tool
    service: crm
    method: POST
    path: /tickets/{{ input.ticket_id }}/replies
    json: {body: thanks}
"""


@pytest.mark.parametrize(
    ("priority", "target", "condition"),
    [("high", "urgent", "input.priority == 'high'"), ("low", "normal", "default")],
)
def test_a_route_goes_where_its_condition_or_default_says(
    tmp_path: Path, priority: str, target: str, condition: str
) -> None:
    outcome = run(tmp_path, ROUTED, inputs=[{**TICKET, "priority": priority}])
    route = only(outcome, RouteTaken)
    assert (route.step, route.target, route.condition) == ("gate", target, condition)
    assert started_steps(outcome) == ["gate", target]
    assert finished(outcome).stop_reason == "completed"


def test_next_end_stops_the_run_successfully_with_that_steps_output(tmp_path: Path) -> None:
    outcome = run(tmp_path, ROUTED, inputs=[{**TICKET, "priority": "high"}])
    assert "normal" not in started_steps(outcome)
    assert finished(outcome).status == "ok"
    assert finished(outcome).output == outcome.world.sim("crm").escalations["T-1001"][0]


ON_ERROR = """\
name: p
steps:
  - id: customer
    kind: tool
    service: crm
    path: /customers/{{ input.customer_id }}
    on_error: ON_ERROR
  - id: middle
    kind: tool
    service: knowledge
    path: /search
    query: {q: refund}
  - id: recover
    kind: tool
    service: crm
    path: /tickets/{{ input.ticket_id }}
"""


@pytest.mark.parametrize(
    ("on_error", "steps"),
    [("continue", ["customer", "middle", "recover"]), ("recover", ["customer", "recover"])],
)
def test_on_error_continues_or_jumps_instead_of_failing_the_run(
    tmp_path: Path, on_error: str, steps: list[str]
) -> None:
    pipeline = ON_ERROR.replace("ON_ERROR", on_error)
    outcome = run(tmp_path, pipeline, inputs=[{**TICKET, "customer_id": "nobody"}])
    failed = outcome.of(StepFinished)[0]
    assert (failed.step, failed.status) == ("customer", "failed")
    assert started_steps(outcome) == steps
    assert (finished(outcome).status, finished(outcome).stop_reason) == ("ok", "completed")


def test_on_error_fail_is_the_default_and_stops_the_run(tmp_path: Path) -> None:
    pipeline = ON_ERROR.replace("    on_error: ON_ERROR\n", "")
    outcome = run(tmp_path, pipeline, inputs=[{**TICKET, "customer_id": "nobody"}])
    assert started_steps(outcome) == ["customer"]
    assert finished(outcome).stop_reason == "permanent: customer"


PARALLEL = """\
name: p
steps:
  - id: enrich
    kind: parallel
    steps:
      - id: ticket
        kind: tool
        service: crm
        path: /tickets/{{ input.ticket_id }}
      - id: kb
        kind: tool
        service: knowledge
        path: /search
        query: {q: refund}
"""


def test_parallel_children_run_concurrently_and_the_output_maps_child_ids(tmp_path: Path) -> None:
    outcome = run(tmp_path, PARALLEL)
    starts = {a.step: a.t for a in outcome.of(AttemptStarted)}
    assert starts == {"enrich/ticket": 0.0, "enrich/kb": 0.0}
    children = {s.step: s.output for s in outcome.of(StepFinished) if s.step != "enrich"}
    enrich = outcome.of(StepFinished)[-1]
    assert enrich.step == "enrich"
    assert enrich.output == {"ticket": children["enrich/ticket"], "kb": children["enrich/kb"]}
    assert enrich.output["ticket"]["id"] == "T-1001"
    assert enrich.duration == 0.1  # the slower child (crm), not the sum


LOOP = """\
name: p
steps:
  - id: repeat
    kind: loop
    max_iterations: 3
    until: UNTIL
    steps:
      - id: fetch
        kind: tool
        service: crm
        path: /tickets/T-100{{ loop.iteration }}
"""


def test_a_loop_stops_when_until_holds(tmp_path: Path) -> None:
    outcome = run(tmp_path, LOOP.replace("UNTIL", "\"steps.fetch.id == 'T-1002'\""))
    iterations = [(e.iteration, e.done) for e in outcome.of(LoopIteration)]
    assert iterations == [(1, False), (2, True)]
    assert started_steps(outcome) == ["repeat", "repeat[1]/fetch", "repeat[2]/fetch"]
    assert outcome.of(StepFinished)[-1].output["fetch"]["id"] == "T-1002"


def test_a_loop_stops_at_max_iterations(tmp_path: Path) -> None:
    outcome = run(tmp_path, LOOP.replace("UNTIL", "\"steps.fetch.id == 'never'\""))
    assert [(e.iteration, e.done) for e in outcome.of(LoopIteration)] == [
        (1, False),
        (2, False),
        (3, False),
    ]
    assert [s.path for s in outcome.sent] == [
        "/tickets/T-1001",
        "/tickets/T-1002",
        "/tickets/T-1003",
    ]
    assert finished(outcome).stop_reason == "completed"


# --- drift and templates ----------------------------------------------------------------------

DRIFT = crm_faults("{kind: drift, rename: {customer_id: customerId}}")
SHAPE = """\
  - id: shape
    kind: validate
    value: "{{ steps.ticket }}"
    schema: {type: object, required: [id, customer_id]}
"""
CUSTOMER = """\
  - id: customer
    kind: tool
    service: crm
    path: /customers/{{ steps.ticket.customer_id }}
"""


def test_schema_drift_is_caught_by_a_validate_step(tmp_path: Path) -> None:
    outcome = run(tmp_path, ONE_TICKET + SHAPE + CUSTOMER, DRIFT)
    failed = only(outcome, ValidationFailed)
    assert failed.step == "shape"
    assert failed.errors == ["at $: 'customer_id' is a required property"]
    assert finished(outcome).stop_reason == "validation_failed: shape"
    assert "customer" not in started_steps(outcome)


def test_a_template_reading_a_missing_field_fails_the_step_cleanly(tmp_path: Path) -> None:
    outcome = run(tmp_path, ONE_TICKET + CUSTOMER, DRIFT)
    failed = outcome.of(StepFinished)[-1]
    assert (failed.step, failed.status) == ("customer", "failed")
    assert failed.error.startswith("template_error: ")
    assert "customer_id" in failed.error
    assert finished(outcome).stop_reason == "template_error: customer"
    assert [s.path for s in outcome.sent] == ["/tickets/T-1001"]


NOTE_HEADER = """\
name: p
steps:
  - id: reply
    kind: tool
    service: crm
    method: POST
    path: /tickets/{{ input.ticket_id }}/replies
    headers: {X-Note: "{{ input.note }}"}
    json: {body: thanks}
"""


def test_a_header_value_that_cannot_be_sent_fails_the_step_not_the_batch(
    tmp_path: Path,
) -> None:
    outcome = run(tmp_path, NOTE_HEADER, inputs=[{**TICKET, "note": "café ☕"}])
    failed = outcome.of(StepFinished)[0]
    assert (failed.step, failed.status) == ("reply", "failed")
    assert "X-Note" in failed.error
    assert finished(outcome).status == "failed"
    assert not outcome.sent


# --- tokens and attempts ----------------------------------------------------------------------


def test_tokens_counted_carries_the_local_and_the_reported_counts(tmp_path: Path) -> None:
    outcome = run(tmp_path, ASK, workspace={"sims": {"llm": {"usage_skew": 0.5}}})
    tokens = only(outcome, TokensCounted)
    prompt = [{"role": "user", "content": "Summarise ticket T-1001 in one line.\n"}]
    assert tokens.prompt_tokens == count_chat("gpt-4o-mini", prompt).tokens
    assert tokens.reported_prompt_tokens == round(tokens.prompt_tokens * 1.5)
    assert tokens.completion_tokens == tokens.reported_completion_tokens
    assert tokens.completion_tokens > 0
    assert not tokens.approximate


def test_tokens_are_counted_with_the_model_name_the_provider_sees(tmp_path: Path) -> None:
    models = {"legacy": {"service": "llm", "name": "gpt-4-0613"}}
    pipeline = ASK.replace("model: gpt-4o-mini\n    fallback: [gpt-4o]", "model: legacy")
    text = "Ünïcödé résumé naïve façade – “quotes” 日本語のテキスト " * 5
    outcome = run(tmp_path, pipeline, inputs=[{"ticket_id": text}], workspace={"models": models})
    tokens = only(outcome, TokensCounted)
    assert tokens.model == "legacy"
    assert tokens.prompt_tokens == tokens.reported_prompt_tokens


@pytest.mark.parametrize("scenario", ["crm-latency-spike", "payments-503-storm", "llm-429-burst"])
def test_every_attempt_started_has_one_matching_attempt_finished(scenario: str) -> None:
    sim = Simulation.prepare(FIXTURES, "support-triage", scenario, seed=11)
    tickets = [{"ticket_id": f"T-{1001 + i}"} for i in range(12)]
    outcome = run_simulation(sim, tickets, concurrency=4)
    started = {(a.run_id, a.step, a.attempt): a for a in outcome.of(AttemptStarted)}
    ended = {(a.run_id, a.step, a.attempt): a for a in outcome.of(AttemptFinished)}
    assert len(started) == len(outcome.of(AttemptStarted))
    assert len(ended) == len(outcome.of(AttemptFinished))
    assert started.keys() == ended.keys()
    for key, end in ended.items():
        # t and latency are each rounded to the microsecond.
        assert end.t - started[key].t == pytest.approx(end.latency, abs=2e-6)
    assert any(e.outcome == "error" for e in ended.values())


# --- the demo workspace ----------------------------------------------------------------------


def test_the_demo_catches_crm_schema_drift_before_the_model() -> None:
    sim = Simulation.prepare(FIXTURES, "support-triage", "schema-drift")
    outcome = run_simulation(sim, [TICKET])
    failed = only(outcome, ValidationFailed)
    assert failed.step == "ticket_shape"
    assert "at $: 'customer_id' is a required property" in failed.errors
    assert finished(outcome).stop_reason == "validation_failed: ticket_shape"
    assert not [a for a in outcome.of(AttemptStarted) if a.service == "llm"]


def test_the_demo_reconciliation_example_completes_on_a_happy_day() -> None:
    sim = Simulation.prepare(FIXTURES, "doc-reconciliation", "happy")
    outcome = run_simulation(sim, [sim.default_input()])
    assert finished(outcome).stop_reason == "completed"
    assert outcome.of(LoopIteration)


# --- idempotency ------------------------------------------------------------------------------


def _refund_routed_ticket(root: Path) -> tuple[dict[str, str], float]:
    """A ticket the demo triages as a confident refund, and when its refund call goes out."""
    for number in range(1001, 1031):
        ticket = {"ticket_id": f"T-{number}"}
        outcome = run_workspace(root, [ticket], pipeline="support-triage", scenario="happy")
        refunds = [a for a in outcome.of(AttemptStarted) if a.step == "refund"]
        if refunds:
            return ticket, refunds[0].t
    raise AssertionError("no demo ticket reached the refund step")


def test_a_refund_retried_after_a_reset_is_made_exactly_once(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    shutil.copytree(FIXTURES, root)
    ticket, refund_at = _refund_routed_ticket(root)
    (root / "scenarios" / "refund-reset.yaml").write_text(
        "services:\n  payments:\n    faults:\n"
        f"      - {{kind: reset, phase: after, window: {{end: {refund_at + 0.01}}}}}\n"
    )
    outcome = run_workspace(root, [ticket], pipeline="support-triage", scenario="refund-reset")
    attempts = [a for a in outcome.of(AttemptFinished) if a.step == "refund"]
    assert [(a.outcome, a.error_kind) for a in attempts] == [("error", "reset"), ("ok", "")]
    payments = outcome.world.sim("payments")
    (refund,) = payments.refunds.values()
    (refund_step,) = [s for s in outcome.of(StepFinished) if s.step == "refund"]
    assert refund_step.output == refund  # the retry got the stored answer back
    assert finished(outcome).stop_reason == "completed"
    assert [s for s in outcome.sent if s.path == "/refunds"] == [
        Sent("payments", "POST", "/refunds")
    ] * 2
