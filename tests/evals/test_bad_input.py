"""Bad golden and gates files: every problem at once, with file:line:column, exit 2, nothing
runs (no report on stdout, no JUnit file)."""

from __future__ import annotations

from pathlib import Path

from tests.evals.conftest import Eval

BAD_GOLDEN = """\
{"id": "a", "input": {"ticket_id": "T-1001"}, "assert": [{"kind": "equal", "value": 1}]}

{"id": "a", "input": {"ticket_id": "X"}, "assert": [{"kind": "regex", "pattern": "("}]}
{"id": "b", "input": {"ticket_id": "T-1"}, "extra": 1, "scenarios": ["hapy"]}
not json
[1]
{"id": "c", "id": "d", "input": {"ticket_id": "T-1"}}
{"input": {"ticket_id": "T-1"}, "assert": [{"kind": "judge", "criteria": "x", "model": "gpt-5"}]}
{"input": {"ticket_id": "T-1"}, "assert": [{"kind": "json_path", "path": "$.steps..x"}]}
"""


def test_every_problem_of_a_golden_file_at_once(run_eval: Eval, tmp_path: Path) -> None:
    golden = tmp_path / "bad.jsonl"
    golden.write_text(BAD_GOLDEN)
    junit = tmp_path / "out.xml"
    result = run_eval("support-triage", "-g", golden, "--junit", junit)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert not junit.exists()
    lines = result.stderr.splitlines()
    assert "11 problems found; nothing ran:" in lines[0]
    assert lines[1:] == [
        f"{golden}:1:67: kind must be one of equals, contains, regex, json_schema, json_path, "
        "number, judge, stop_reason, max_cost, max_latency, max_retries, breaker_never_opened, "
        "no_fallback, got 'equal'",
        f"{golden}:3:8: duplicate case id 'a' (first used at line 1)",
        f"{golden}:3:13: input does not match the pipeline's input schema: at $.ticket_id: "
        "'X' does not match '^T-[0-9]+$'",
        f"{golden}:3:82: invalid regex '(': missing ), unterminated subpattern at position 0",
        f"{golden}:4:44: unknown key 'extra'",
        f"{golden}:4:70: unknown scenario 'hapy' (did you mean 'happy'?)",
        f"{golden}:5:1: not JSON: Expecting value",
        f"{golden}:6:1: expected a JSON object (one case per line)",
        f"{golden}:7:13: duplicate key 'id'",
        f"{golden}:8:88: unknown model 'gpt-5' (did you mean 'gpt-4o'?)",
        f"{golden}:9:74: bad path '$.steps..x': cannot read '..x' (use .name, ['name'] or [index])",
    ]


def test_an_empty_golden_file(run_eval: Eval, tmp_path: Path) -> None:
    golden = tmp_path / "empty.jsonl"
    golden.write_text("\n\n")
    result = run_eval("support-triage", "-g", golden)
    assert result.exit_code == 2
    assert f"{golden}: no cases (the file is empty)" in result.stderr


def test_a_missing_golden_file(run_eval: Eval, tmp_path: Path) -> None:
    result = run_eval("support-triage", "-g", tmp_path / "nope.jsonl")
    assert result.exit_code == 2
    assert "nope.jsonl: cannot read: No such file or directory" in result.stderr


BAD_GATES = """\
defaults:
  max_error_rate: {paymnts: 0.1}
scenarios:
  hapy:
    min_pass_rate: 0.9
  happy:
    max_latency_p90: 250 msec
    min_pass_rate: 1.5
    min_pass_rate_by_tag: {refnd: 1.0}
    max_retries: 3
"""


def test_every_problem_of_a_gates_file_at_once(run_eval: Eval, tmp_path: Path) -> None:
    gates = tmp_path / "gates.yaml"
    gates.write_text(BAD_GATES)
    result = run_eval("support-triage", "--gates", gates)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines()[1:] == [
        f"{gates}:2:20: unknown service 'paymnts' (did you mean 'payments'?)",
        f"{gates}:4:3: unknown scenario 'hapy' (did you mean 'happy'?)",
        f"{gates}:7:22: expected a duration such as 250ms or 2s, got '250 msec'",
        f"{gates}:8:20: min_pass_rate must be less than or equal to 1, got 1.5",
        f"{gates}:10:5: unknown key 'max_retries' (did you mean 'max_rise'?)",
    ]


def test_golden_and_gates_problems_are_reported_together(run_eval: Eval, tmp_path: Path) -> None:
    golden = tmp_path / "g.jsonl"
    golden.write_text('{"input": {"ticket_id": "nope"}}\n')
    gates = tmp_path / "gates.yaml"
    gates.write_text("scenarios: {happy: {min_pass_rat: 1}}\n")
    result = run_eval("support-triage", "-g", golden, "--gates", gates)
    assert result.exit_code == 2
    assert "2 problems found" in result.stderr
