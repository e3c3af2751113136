"""Loading workspaces and pipelines: every problem with its place, all reported at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from agentdesk.errors import RunError, SpecError, WorkspaceNotFound
from agentdesk.spec.loader import (
    load_pipeline,
    load_scenario,
    load_workspace,
    merge_policy_layers,
)
from tests.spec.conftest import PIPELINE, WORKSPACE, WriteWorkspace, load, problems_of


def pipeline(steps: str, extra: str = "") -> dict[str, str | bytes]:
    """A pipeline file named triage with the given steps (YAML, indented by two)."""
    return {"pipelines/triage.yaml": f"name: triage\n{extra}steps:\n{steps}"}


# --- happy paths ------------------------------------------------------------------------------


def test_loads_and_compiles(write_workspace: WriteWorkspace) -> None:
    loaded = load(write_workspace())
    assert list(loaded.steps) == ["ticket", "triage"]
    assert list(loaded.prompts) == ["prompts/triage.md"]
    assert loaded.schemas["triage"]["type"] == "object"
    context = {"input": {"ticket_id": "T-7"}, "steps": {"ticket": {"subject": "Refund"}}}
    path = loaded.steps["ticket"].path
    assert path is not None and path.render(context) == "/tickets/T-7"
    (message,) = loaded.steps["triage"].messages
    assert (message.role, message.template.render(context)) == ("user", "Ticket T-7: Refund\n")


def test_policy_merge_precedence(write_workspace: WriteWorkspace) -> None:
    steps = """\
  - id: outer
    kind: loop
    max_iterations: 3
    policies: {timeout: {step: 30}}
    steps:
      - id: inner
        kind: tool
        service: crm
        path: /x
        policies: {retry: {backoff: {cap: 2}}}
  - {id: plain, kind: tool, service: crm, path: /y}
"""
    root = write_workspace(pipeline(steps, extra="policies: {retry: {max_attempts: 5}}\n"))
    policies = load(root).policies
    inner = policies["inner"]
    assert inner.retry.max_attempts == 5  # pipeline over workspace
    assert (inner.retry.backoff.base, inner.retry.backoff.cap) == (0.5, 2)  # step, key by key
    assert (inner.timeout.attempt, inner.timeout.step) == (10, 30)  # from the enclosing loop
    assert policies["plain"].timeout.step == 60  # the model's default
    assert policies["plain"].retry.backoff.cap == 8  # workspace


def test_merge_policy_layers_is_deep() -> None:
    merged = merge_policy_layers({"a": {"b": 1, "c": 2}, "l": [1]}, {"a": {"c": 3}, "l": [2]})
    assert merged == {"a": {"b": 1, "c": 3}, "l": [2]}


def test_inline_schema_and_validate_step(write_workspace: WriteWorkspace) -> None:
    steps = """\
  - {id: t, kind: tool, service: crm, path: /x}
  - id: check
    kind: validate
    value: "{{ steps.t }}"
    schema: {type: object}
"""
    loaded = load(write_workspace(pipeline(steps)))
    assert loaded.schemas == {"check": {"type": "object"}}
    value = loaded.steps["check"].value
    assert value is not None and value.render({"steps": {"t": {"a": 1}}}) == {"a": 1}


def test_pipeline_by_path(write_workspace: WriteWorkspace) -> None:
    root = write_workspace()
    ws = load_workspace(root)
    assert load_pipeline(ws, str(root / "pipelines" / "triage.yaml")).name == "triage"
    assert load_pipeline(ws, "pipelines/triage.yaml").name == "triage"


# --- workspace and file lookup ----------------------------------------------------------------


def test_missing_workspace(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceNotFound):
        load_workspace(tmp_path)


def test_unknown_pipeline_suggests(write_workspace: WriteWorkspace) -> None:
    with pytest.raises(RunError, match=r"no pipeline 'triag' .* \(did you mean 'triage'\?\)"):
        load(write_workspace(), "triag")


def test_workspace_problems(write_workspace: WriteWorkspace) -> None:
    config = WORKSPACE.replace("gpt-4o: {service: llm}", "gpt-4o: {service: lm}") + (
        "seed: abc\nsims:\n  crm: {latncy: 1}\n"
    )
    with pytest.raises(SpecError) as caught:
        load_workspace(write_workspace({"agentdesk.yaml": config}))
    assert [str(p) for p in caught.value.problems] == [
        "agentdesk.yaml:8:21: unknown service 'lm' (did you mean 'llm'?)",
        "agentdesk.yaml:12:7: expected a whole number, got 'abc'",
        "agentdesk.yaml:14:9: unknown key 'latncy' (did you mean 'latency'?)",
    ]


# --- one test per error kind ------------------------------------------------------------------


def test_yaml_syntax_error(write_workspace: WriteWorkspace) -> None:
    root = write_workspace(pipeline("  - {id: a, kind: tool\n"))
    assert problems_of(root) == [
        "pipelines/triage.yaml:4:1: YAML syntax error: while parsing a flow mapping; "
        "expected ',' or '}', but got '<stream end>'"
    ]


def test_unknown_key_with_suggestion(write_workspace: WriteWorkspace) -> None:
    steps = "  - id: a\n    kind: tool\n    service: crm\n    path: /x\n    policies:\n"
    steps += "      retires: {max_attempts: 2}\n"
    assert problems_of(write_workspace(pipeline(steps))) == [
        "pipelines/triage.yaml:8:7: unknown key 'retires' (did you mean 'retry'?)"
    ]


def test_unknown_step_key_with_suggestion(write_workspace: WriteWorkspace) -> None:
    steps = "  - {id: a, kind: tool, service: crm, pth: /x, path: /y}\n"
    assert problems_of(write_workspace(pipeline(steps))) == [
        "pipelines/triage.yaml:3:39: unknown key 'pth' (did you mean 'path'?)"
    ]


def test_wrong_types(write_workspace: WriteWorkspace) -> None:
    steps = """\
  - id: a
    kind: llm
    model: gpt-4o
    prompt: prompts/triage.md
    max_tokens: abc
    temperature: hot
"""
    assert problems_of(write_workspace(pipeline(steps))) == [
        "pipelines/triage.yaml:7:17: expected a whole number, got 'abc'",
        "pipelines/triage.yaml:8:18: expected a number, got 'hot'",
    ]


def test_missing_required_key(write_workspace: WriteWorkspace) -> None:
    steps = "  - id: a\n    kind: llm\n    prompt: prompts/triage.md\n"
    assert problems_of(write_workspace(pipeline(steps))) == [
        "pipelines/triage.yaml:3:5: missing required key 'model'"
    ]


def test_unknown_kind(write_workspace: WriteWorkspace) -> None:
    steps = "  - id: a\n    kind: tol\n"
    assert problems_of(write_workspace(pipeline(steps))) == [
        "pipelines/triage.yaml:4:11: kind must be one of llm, tool, validate, route, parallel, "
        "loop, got 'tol'"
    ]


def test_missing_prompt_file(write_workspace: WriteWorkspace) -> None:
    steps = "  - id: a\n    kind: llm\n    model: gpt-4o\n    prompt: prompts/nope.md\n"
    assert problems_of(write_workspace(pipeline(steps))) == [
        "pipelines/triage.yaml:6:13: prompt file 'prompts/nope.md' not found"
    ]


def test_prompt_outside_workspace(write_workspace: WriteWorkspace) -> None:
    steps = "  - id: a\n    kind: llm\n    model: gpt-4o\n    prompt: ../secret.md\n"
    assert problems_of(write_workspace(pipeline(steps))) == [
        "pipelines/triage.yaml:6:13: prompt file '../secret.md' is outside the workspace"
    ]


def test_unknown_service(write_workspace: WriteWorkspace) -> None:
    steps = "  - {id: a, kind: tool, service: crn, path: /x}\n"
    assert problems_of(write_workspace(pipeline(steps))) == [
        "pipelines/triage.yaml:3:34: unknown service 'crn' (did you mean 'crm'?)"
    ]


def test_templated_service_needs_allow(write_workspace: WriteWorkspace) -> None:
    steps = "  - {id: a, kind: tool, service: '{{ input.svc }}', path: /x}\n"
    assert problems_of(write_workspace(pipeline(steps))) == [
        "pipelines/triage.yaml:3:34: service '{{ input.svc }}' is a template: "
        "list its services in 'allow'"
    ]


def test_unknown_model(write_workspace: WriteWorkspace) -> None:
    steps = """\
  - id: a
    kind: llm
    model: gpt-4o-mni
    fallback: [gpt-4o, claude]
    messages: [{role: user, content: hi}]
"""
    assert problems_of(write_workspace(pipeline(steps))) == [
        "pipelines/triage.yaml:5:12: unknown model 'gpt-4o-mni' (did you mean 'gpt-4o-mini'?)",
        "pipelines/triage.yaml:6:24: unknown model 'claude' (models: gpt-4o-mini, gpt-4o)",
    ]


def test_route_to_unknown_step(write_workspace: WriteWorkspace) -> None:
    steps = """\
  - id: gate
    kind: route
    routes:
      - {when: "input.x > 1", goto: escalte}
    default: end
  - {id: escalate, kind: tool, service: crm, path: /x}
"""
    assert problems_of(write_workspace(pipeline(steps))) == [
        "pipelines/triage.yaml:6:37: goto: unknown step 'escalte' (did you mean 'escalate'?)"
    ]


def test_backward_jumps(write_workspace: WriteWorkspace) -> None:
    steps = """\
  - {id: a, kind: tool, service: crm, path: /x}
  - id: gate
    kind: route
    routes:
      - {when: "true", goto: a}
    default: gate
  - {id: b, kind: tool, service: crm, path: /x, next: a}
"""
    back = "jumps back to '{}'; steps only jump forward (use a loop step to repeat)"
    assert problems_of(write_workspace(pipeline(steps))) == [
        f"pipelines/triage.yaml:7:30: goto: {back.format('a')}",
        f"pipelines/triage.yaml:8:14: default: {back.format('gate')}",
        f"pipelines/triage.yaml:9:55: next: {back.format('a')}",
    ]


def test_route_target_in_another_list(write_workspace: WriteWorkspace) -> None:
    steps = """\
  - id: gate
    kind: route
    routes: [{when: "true", goto: inner}]
    default: end
  - id: fan
    kind: parallel
    steps:
      - {id: inner, kind: tool, service: crm, path: /x}
"""
    assert problems_of(write_workspace(pipeline(steps))) == [
        "pipelines/triage.yaml:5:35: goto: step 'inner' is not in the same step list as 'gate'"
    ]


def test_unbounded_loop(write_workspace: WriteWorkspace) -> None:
    steps = """\
  - id: refine
    kind: loop
    steps:
      - {id: draft, kind: tool, service: crm, path: /x}
"""
    assert problems_of(write_workspace(pipeline(steps))) == [
        "pipelines/triage.yaml:3:5: unbounded loop: set max_iterations (1 to 100)"
    ]


def test_duplicate_step_ids(write_workspace: WriteWorkspace) -> None:
    steps = """\
  - {id: a, kind: tool, service: crm, path: /x}
  - id: fan
    kind: parallel
    steps:
      - {id: a, kind: tool, service: crm, path: /y}
"""
    assert problems_of(write_workspace(pipeline(steps))) == [
        "pipelines/triage.yaml:7:14: duplicate step id 'a' (first defined at line 3)"
    ]


def test_duplicate_yaml_keys(write_workspace: WriteWorkspace) -> None:
    steps = "  - id: a\n    kind: tool\n    service: crm\n    path: /x\n    path: /y\n"
    assert problems_of(write_workspace(pipeline(steps))) == [
        "pipelines/triage.yaml:7:5: duplicate key 'path' (first defined at line 6)"
    ]


def test_alias_bomb(write_workspace: WriteWorkspace) -> None:
    bomb = 'x: &a ["lol", "lol"]\ny: &b [*a, *a]\nz: [*b, *b]\n'
    assert problems_of(write_workspace({"pipelines/triage.yaml": bomb})) == [
        "pipelines/triage.yaml:2:8: aliases (*a) are not supported here"
    ]


def test_deep_nesting(write_workspace: WriteWorkspace) -> None:
    deep = "name: x\ninput: {example: " + "[" * 80 + "]" * 80 + "}\n"
    assert problems_of(write_workspace({"pipelines/triage.yaml": deep})) == [
        "pipelines/triage.yaml:2:80: nested deeper than 64 levels"
    ]


def test_tabs(write_workspace: WriteWorkspace) -> None:
    assert problems_of(write_workspace(pipeline("\t- id: a\n"))) == [
        "pipelines/triage.yaml:3:1: tab character: YAML indents with spaces"
    ]


def test_invalid_utf8(write_workspace: WriteWorkspace) -> None:
    root = write_workspace({"pipelines/triage.yaml": b"name: triage\ndescription: caf\xe9\n"})
    assert problems_of(root) == ["pipelines/triage.yaml:2:17: invalid UTF-8 (byte offset 29)"]


def test_prompt_template_syntax_error(write_workspace: WriteWorkspace) -> None:
    root = write_workspace({"prompts/triage.md": "Ticket:\n\n{% if input.x %}open\n"})
    assert problems_of(root) == [
        "prompts/triage.md:3: template syntax error: Unexpected end of template. Jinja was "
        "looking for the following tags: 'elif' or 'else' or 'endif'. The innermost block that "
        "needs to be closed is 'if'."
    ]


def test_inline_template_syntax_error(write_workspace: WriteWorkspace) -> None:
    steps = "  - {id: a, kind: tool, service: crm, path: '/x/{{ input.id }'}\n"
    assert problems_of(write_workspace(pipeline(steps))) == [
        "pipelines/triage.yaml:3:45: template syntax error: unexpected '}'"
    ]


def test_undefined_template_variables_and_steps(write_workspace: WriteWorkspace) -> None:
    steps_text = """\
  - id: ticket
    kind: tool
    service: crm
    path: /tickets/{{ inpt.ticket_id }}
    json: {n: "{{ loop.iteration }}"}
  - {id: triage, kind: llm, model: gpt-4o, prompt: prompts/triage.md}
"""
    root = write_workspace({**pipeline(steps_text), "prompts/triage.md": "{{ steps.tickt.x }}\n"})
    assert problems_of(root) == [
        "pipelines/triage.yaml:6:11: unknown variable 'inpt' (did you mean 'input'?)",
        "pipelines/triage.yaml:7:15: 'loop' is only defined inside a loop step",
        "prompts/triage.md:1: template refers to steps.tickt, which is not a step of this "
        "pipeline (did you mean 'ticket'?)",
    ]


def test_input_properties_the_schema_does_not_declare(write_workspace: WriteWorkspace) -> None:
    """Strict templates would fail at render time on every run: say so when loading."""
    schema = "input:\n  schema: {type: object, properties: {ticket_id: {type: string}}}\n"
    steps = "  - {id: a, kind: tool, service: crm, path: '/x/{{ input.ticket }}'}\n"
    files = {**pipeline(steps, schema), "prompts/triage.md": "{{ input.ticket_id }}\n"}
    assert problems_of(write_workspace(files)) == [
        "pipelines/triage.yaml:5:45: input has no property 'ticket' in the pipeline's input "
        "schema (did you mean 'ticket_id'?)"
    ]


def test_unknown_variable_lists_the_known_ones(write_workspace: WriteWorkspace) -> None:
    steps = "  - {id: a, kind: tool, service: crm, path: '/x/{{ zzz }}'}\n"
    assert problems_of(write_workspace(pipeline(steps))) == [
        "pipelines/triage.yaml:3:45: unknown variable 'zzz' (known: input, steps, loop)"
    ]


def test_invalid_schema_file(write_workspace: WriteWorkspace) -> None:
    schema = '{\n  "type": "object",\n  "properties": {"c": {"type": "numbr"}}\n}\n'
    assert problems_of(write_workspace({"schemas/triage.json": schema})) == [
        "schemas/triage.json:3:32: invalid JSON Schema: 'numbr' is not valid under any of the "
        "given schemas"
    ]


def test_invalid_inline_schema(write_workspace: WriteWorkspace) -> None:
    steps = """\
  - id: v
    kind: validate
    value: "{{ input }}"
    schema: {type: object, required: yes}
"""
    assert problems_of(write_workspace(pipeline(steps))) == [
        "pipelines/triage.yaml:6:38: invalid JSON Schema: True is not of type 'array'"
    ]


def test_schema_file_not_json(write_workspace: WriteWorkspace) -> None:
    root = write_workspace({"schemas/triage.json": '{"type": "object",}\n'})
    assert problems_of(root) == [
        "schemas/triage.json:1:19: invalid JSON: Expecting property name enclosed in double quotes"
    ]


def test_missing_schema_file(write_workspace: WriteWorkspace) -> None:
    steps = """\
  - id: a
    kind: llm
    model: gpt-4o
    messages: [{role: user, content: hi}]
    output: {schema_file: schemas/nope.json}
"""
    assert problems_of(write_workspace(pipeline(steps))) == [
        "pipelines/triage.yaml:7:27: schema file 'schemas/nope.json' not found"
    ]


def test_many_problems_in_many_files_at_once(write_workspace: WriteWorkspace) -> None:
    config = WORKSPACE + "seed: many\n"
    steps = """\
  - {id: ticket, kind: tool, service: crm, path: /x, retries: 2}
  - id: triage
    kind: llm
    model: gpt-5
    prompt: prompts/triage.md
    output: {schema_file: schemas/triage.json}
  - {id: send, kind: tool, service: mail, path: /x, next: ticket}
"""
    root = write_workspace(
        {
            "agentdesk.yaml": config,
            **pipeline(steps),
            "prompts/triage.md": "{{ steps.ticket.subject }\n",
            "schemas/triage.json": '{"type": 5}',
        }
    )
    assert problems_of(root) == [
        "agentdesk.yaml:12:7: expected a whole number, got 'many'",
        "pipelines/triage.yaml:3:54: unknown key 'retries'",
        "pipelines/triage.yaml:6:12: unknown model 'gpt-5' (did you mean 'gpt-4o'?)",
        "pipelines/triage.yaml:9:37: unknown service 'mail' (services: llm, crm, payments)",
        "pipelines/triage.yaml:9:59: next: jumps back to 'ticket'; steps only jump forward "
        "(use a loop step to repeat)",
        "prompts/triage.md:1: template syntax error: unexpected '}'",
        "schemas/triage.json:1:10: invalid JSON Schema: 5 is not valid under any of the given "
        "schemas",
    ]


# --- scenarios --------------------------------------------------------------------------------


class _Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = ""
    services: dict[str, Any] = {}


def test_scenario_loads_with_a_validator(write_workspace: WriteWorkspace) -> None:
    root = write_workspace({"scenarios/storm.yaml": "description: 503s\nservices: {}\n"})
    ws = load_workspace(root)
    assert load_scenario(ws, "storm", _Scenario.model_validate) == (
        "storm",
        {"description": "503s", "services": {}},
    )


def test_scenario_problems_have_positions(write_workspace: WriteWorkspace) -> None:
    root = write_workspace({"scenarios/storm.yaml": "description: x\nservice: {}\n"})
    with pytest.raises(SpecError) as caught:
        load_scenario(load_workspace(root), "storm", _Scenario.model_validate)
    assert [str(p) for p in caught.value.problems] == [
        "scenarios/storm.yaml:2:1: unknown key 'service' (did you mean 'services'?)"
    ]


def test_scenario_validated_by_the_sims_model_by_default(write_workspace: WriteWorkspace) -> None:
    scenario = """\
services:
  payments:
    latency: {dist: normal, mean: 0.2, stdev: 0.05}
    faults:
      - {kind: eror, rate: 0.1}
"""
    root = write_workspace({"scenarios/storm.yaml": scenario})
    with pytest.raises(SpecError) as caught:
        load_scenario(load_workspace(root), "storm")
    assert [str(p) for p in caught.value.problems] == [
        "scenarios/storm.yaml:3:5: missing required key 'stddev'",
        "scenarios/storm.yaml:3:40: unknown key 'stdev' (did you mean 'stddev'?)",
        "scenarios/storm.yaml:5:16: kind must be one of error, hang, reset, malformed, drift, "
        "spike, inject, got 'eror'",
    ]


# --- schemas given twice or not at all --------------------------------------------------------


def test_validate_step_needs_a_schema(write_workspace: WriteWorkspace) -> None:
    steps = "  - {id: v, kind: validate, value: '{{ input }}'}\n"
    assert problems_of(write_workspace(pipeline(steps))) == [
        "pipelines/triage.yaml:3:5: a validate step needs 'schema' or 'schema_file'"
    ]


def test_schema_given_twice(write_workspace: WriteWorkspace) -> None:
    steps = """\
  - id: v
    kind: validate
    value: "{{ input }}"
    schema: {type: object}
    schema_file: schemas/triage.json
"""
    assert problems_of(write_workspace(pipeline(steps))) == [
        "pipelines/triage.yaml:7:18: give either 'schema' or 'schema_file', not both"
    ]


def test_allow_rules_name_known_services(write_workspace: WriteWorkspace) -> None:
    steps = """\
  - id: a
    kind: tool
    service: "{{ input.svc }}"
    path: /x
    allow: [{service: crm, paths: ["/x"]}, {service: paymnts, paths: ["/x"]}]
"""
    assert problems_of(write_workspace(pipeline(steps))) == [
        "pipelines/triage.yaml:7:54: unknown service 'paymnts' (did you mean 'payments'?)"
    ]


def test_a_half_set_model_price_is_an_error_not_a_silent_database_price(
    write_workspace: WriteWorkspace,
) -> None:
    config = WORKSPACE.replace(
        "gpt-4o: {service: llm}", "gpt-4o: {service: llm, input_per_mtok: 0.5}"
    )
    with pytest.raises(SpecError) as caught:
        load_workspace(write_workspace({"agentdesk.yaml": config}))
    (problem,) = caught.value.problems
    assert (problem.file, problem.line) == ("agentdesk.yaml", 8)
    assert "needs both 'input_per_mtok' and 'output_per_mtok'" in problem.message


def test_pipeline_budgets_override_the_workspaces_limit_by_limit(
    write_workspace: WriteWorkspace,
) -> None:
    config = WORKSPACE + "budgets:\n  run: {usd: 0.5, steps: 9}\n"
    text = PIPELINE.replace("steps:\n", "budgets: {run: {usd: 0.1}}\nsteps:\n", 1)
    files = {"agentdesk.yaml": config, "pipelines/triage.yaml": text}
    workspace = load_workspace(write_workspace(files))
    loaded = load_pipeline(workspace, "triage")
    budgets = workspace.spec.budgets.overridden_by(loaded.spec.budgets)
    assert budgets.run.limits() == {"usd": 0.1, "steps": 9}
    assert budgets.session.limits() == {}
