"""Broken workspace files: exit code 2, every problem as file:line:column, and nothing runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.support import PIPELINE, WORKSPACE, Invoke, WriteWorkspace, flat

ROUTE = """\
  - id: gate
    kind: route
    routes:
      - {when: "steps.ticket.priority == 'high'", goto: TARGET}
    default: end
"""
"""Appended after the base pipeline's 13 lines: the goto target is at 17:57."""

LOOP = """\
  - id: again
    kind: loop
    steps:
      - {id: poll, kind: tool, service: crm, path: /tickets/T-1001}
"""

DUPLICATE = """\
  - id: ticket
    kind: tool
    service: crm
    path: /tickets/T-1002
"""


def _pipeline(old: str, new: str) -> dict[str, str]:
    assert old in PIPELINE
    return {"pipelines/greet.yaml": PIPELINE.replace(old, new, 1)}


def _appended(steps: str) -> dict[str, str]:
    return {"pipelines/greet.yaml": PIPELINE + steps}


AFTER_MODEL = "    model: gpt-4o-mini\n"

BROKEN_PIPELINES = {
    "yaml-syntax": (
        _pipeline("name: greet", "name: [greet"),
        "pipelines/greet.yaml:2:6: YAML syntax error: while parsing a flow sequence; "
        "expected ',' or ']', but got ':'",
    ),
    "unknown-key": (
        _pipeline(AFTER_MODEL, AFTER_MODEL + "    max_tokenz: 10\n"),
        "pipelines/greet.yaml:13:5: unknown key 'max_tokenz' (did you mean 'max_tokens'?)",
    ),
    "wrong-type": (
        _pipeline(AFTER_MODEL, AFTER_MODEL + "    max_tokens: lots\n"),
        "pipelines/greet.yaml:13:17: expected a whole number, got 'lots'",
    ),
    "missing-prompt-file": (
        _pipeline("prompts/hello.md", "prompts/missing.md"),
        "pipelines/greet.yaml:13:13: prompt file 'prompts/missing.md' not found",
    ),
    "unknown-service": (
        _pipeline("service: crm", "service: crn"),
        "pipelines/greet.yaml:8:14: unknown service 'crn' (did you mean 'crm'?)",
    ),
    "unknown-model": (
        _pipeline("model: gpt-4o-mini", "model: gpt-5-mini"),
        "pipelines/greet.yaml:12:12: unknown model 'gpt-5-mini' (did you mean 'gpt-4o-mini'?)",
    ),
    "route-to-unknown-step": (
        _appended(ROUTE.replace("TARGET", "nowhere")),
        "pipelines/greet.yaml:17:57: goto: unknown step 'nowhere'",
    ),
    "backwards-route": (
        _appended(ROUTE.replace("TARGET", "ticket")),
        "pipelines/greet.yaml:17:57: goto: jumps back to 'ticket'; steps only jump forward "
        "(use a loop step to repeat)",
    ),
    "unbounded-loop": (
        _appended(LOOP),
        "pipelines/greet.yaml:14:5: unbounded loop: set max_iterations (1 to 100)",
    ),
    "duplicate-step-id": (
        _appended(DUPLICATE),
        "pipelines/greet.yaml:14:9: duplicate step id 'ticket' (first defined at line 6)",
    ),
    "template-syntax-in-pipeline": (
        _pipeline("/tickets/T-1001", "/tickets/{{ input.name"),
        "pipelines/greet.yaml:9:11: template syntax error: unexpected end of template, "
        "expected 'end of print statement'.",
    ),
    "template-syntax-in-prompt": (
        {"prompts/hello.md": "Hello {{ input.name }},\nabout {% if steps.ticket %}.\n"},
        "prompts/hello.md:2: template syntax error: Unexpected end of template.",
    ),
    "template-refers-to-unknown-step": (
        _pipeline("/tickets/T-1001", "/tickets/{{ steps.tickt.id }}"),
        "pipelines/greet.yaml:9:11: template refers to steps.tickt, which is not a step of "
        "this pipeline (did you mean 'ticket'?)",
    ),
    "prompt-refers-to-unknown-step": (
        {"prompts/hello.md": "Hello {{ input.name }},\nabout {{ steps.tickets.subject }}.\n"},
        "prompts/hello.md:2: template refers to steps.tickets, which is not a step of this "
        "pipeline (did you mean 'ticket'?)",
    ),
}


@pytest.mark.parametrize(
    ("files", "problem"), BROKEN_PIPELINES.values(), ids=list(BROKEN_PIPELINES)
)
def test_a_broken_pipeline_is_reported_and_nothing_runs(
    files: dict[str, str],
    problem: str,
    write_workspace: WriteWorkspace,
    agentdesk: Invoke,
    tmp_path: Path,
) -> None:
    root = write_workspace(files)
    events = tmp_path / "events.jsonl"
    result = agentdesk("run", "greet", "-w", root, "--events", events)
    assert result.exit_code == 2, result.output
    assert flat(result.stderr).startswith("1 problem found; nothing ran:")
    assert flat(problem) in flat(result.stderr)
    assert result.stdout == ""  # no run summary
    assert not events.exists() or events.read_bytes() == b""


@pytest.mark.parametrize(
    ("files", "problem"), BROKEN_PIPELINES.values(), ids=list(BROKEN_PIPELINES)
)
def test_check_reports_the_same_problem(
    files: dict[str, str], problem: str, write_workspace: WriteWorkspace, agentdesk: Invoke
) -> None:
    result = agentdesk("check", "-w", write_workspace(files))
    assert result.exit_code == 2, result.output
    assert flat(problem) in flat(result.stderr)
    assert "no problems" not in result.output


def test_problems_in_several_files_are_reported_at_once(
    write_workspace: WriteWorkspace, agentdesk: Invoke, tmp_path: Path
) -> None:
    files = {
        "agentdesk.yaml": WORKSPACE.replace("seed: 7", "sed: 7").replace(
            "gpt-4o: {service: llm}", "gpt-4o: {service: openai}"
        ),
        **_pipeline("service: crm", "service: crn"),
        "prompts/hello.md": "Hello {{ input.name }\n",
    }
    events = tmp_path / "events.jsonl"
    result = agentdesk("run", "greet", "-w", write_workspace(files), "--events", events)
    assert result.exit_code == 2, result.output
    expected = [
        "agentdesk.yaml:2:1: unknown key 'sed' (did you mean 'seed'?)",
        "agentdesk.yaml:9:21: unknown service 'openai' (services: llm, crm)",
        "pipelines/greet.yaml:8:14: unknown service 'crn' (did you mean 'crm'?)",
        "prompts/hello.md:1: template syntax error: unexpected '}'",
    ]
    stderr = flat(result.stderr)
    assert stderr.startswith("4 problems found; nothing ran:")
    for problem in expected:
        assert problem in stderr
    assert result.stdout == ""
    assert not events.exists() or events.read_bytes() == b""


def test_check_reports_every_pipeline_and_scenario(
    write_workspace: WriteWorkspace, agentdesk: Invoke
) -> None:
    files = {
        "pipelines/other.yaml": PIPELINE.replace("name: greet", "name: other").replace(
            "model: gpt-4o-mini", "model: gpt-5"
        ),
        **_pipeline("service: crm", "service: crn"),
        "scenarios/storm.yaml": "services:\n  crm:\n    faults:\n      - {kind: eror, rate: 1}\n",
    }
    result = agentdesk("check", "-w", write_workspace(files))
    assert result.exit_code == 2, result.output
    stderr = flat(result.stderr)
    assert stderr.startswith("3 problems found")
    assert "pipelines/greet.yaml:8:14: unknown service 'crn'" in stderr
    assert "pipelines/other.yaml:12:12: unknown model 'gpt-5'" in stderr
    assert "scenarios/storm.yaml:4:" in stderr and "eror" in stderr


def test_a_broken_scenario_stops_the_run(
    write_workspace: WriteWorkspace, agentdesk: Invoke
) -> None:
    bad = "services:\n  crm:\n    latency: {dist: lognormal, median: fast}\n"
    result = agentdesk("run", "greet", "-w", write_workspace({"scenarios/happy.yaml": bad}))
    assert result.exit_code == 2, result.output
    assert "scenarios/happy.yaml:3:" in flat(result.stderr)
    assert result.stdout == ""


def test_a_folder_without_agentdesk_yaml_is_not_a_workspace(
    agentdesk: Invoke, tmp_path: Path
) -> None:
    result = agentdesk("run", "greet", "-w", tmp_path)
    assert result.exit_code == 2
    assert f"{tmp_path}: no agentdesk.yaml here" in flat(result.stderr)


def test_each_problem_is_printed_on_one_line(
    write_workspace: WriteWorkspace, agentdesk: Invoke
) -> None:
    name = "billing-" + "x" * 300
    result = agentdesk("run", "greet", "-w", write_workspace(_pipeline("crm\n", f"{name}\n")))
    assert result.exit_code == 2
    assert f"pipelines/greet.yaml:8:14: unknown service '{name}' (services: llm, crm)" in (
        result.stderr.splitlines()
    )


@pytest.mark.xfail(
    strict=True,
    reason="A problem found in a prompt file has a line but no column "
    "('prompts/hello.md:2: template refers to steps.tickets …'), although the README "
    "promises file:line:column and the reference's column is known from the text. Fix: "
    "when the template's origin is a whole file, locate the reference on its line "
    "(loader._template_problem / Origin.at).",
)
def test_a_problem_in_a_prompt_names_its_column(
    write_workspace: WriteWorkspace, agentdesk: Invoke
) -> None:
    prompt = "Hello {{ input.name }},\nabout {{ steps.tickets.subject }}.\n"
    result = agentdesk("run", "greet", "-w", write_workspace({"prompts/hello.md": prompt}))
    assert result.exit_code == 2
    assert "prompts/hello.md:2:10: template refers to steps.tickets" in flat(result.stderr)
