"""Bad run inputs, unknown names, bad options and API keys: exit code 2, nothing runs."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.support import WORKSPACE, Invoke, WriteWorkspace, assert_no_crash, flat

SCHEMA_MISMATCH = "input does not match the pipeline's input schema"


def _nothing_ran(stdout: str, events: Path) -> None:
    assert stdout == ""
    assert not events.exists() or events.read_bytes() == b""


def test_input_that_is_not_json(
    write_workspace: WriteWorkspace, agentdesk: Invoke, tmp_path: Path
) -> None:
    events = tmp_path / "events.jsonl"
    result = agentdesk(
        "run", "greet", "-w", write_workspace(), "--input", "{name: Ada}", "--events", events
    )
    assert result.exit_code == 2
    assert "--input: not JSON: Expecting property name enclosed in double quotes" in flat(
        result.stderr
    )
    _nothing_ran(result.stdout, events)


def test_input_that_fails_the_input_schema(
    write_workspace: WriteWorkspace, agentdesk: Invoke, tmp_path: Path
) -> None:
    events = tmp_path / "events.jsonl"
    result = agentdesk(
        "run", "greet", "-w", write_workspace(), "--input", '{"nom": "Ada"}', "--events", events
    )
    assert result.exit_code == 2
    assert f"--input: {SCHEMA_MISMATCH}: at $: 'name' is a required property" in flat(result.stderr)
    _nothing_ran(result.stdout, events)


def test_every_bad_line_of_an_inputs_file_is_named(
    write_workspace: WriteWorkspace, agentdesk: Invoke, tmp_path: Path
) -> None:
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text('{"name": "Ada"}\nnot json\n\n{"name": 7}\n{"name": "Bo"}\n')
    events = tmp_path / "events.jsonl"
    result = agentdesk(
        "run", "greet", "-w", write_workspace(), "--inputs", inputs, "--events", events
    )
    assert result.exit_code == 2
    stderr = flat(result.stderr)
    assert stderr.startswith("2 problems found; nothing ran:")
    assert f"{inputs}:2: not JSON: Expecting value at column 1" in stderr
    assert f"{inputs}:4: {SCHEMA_MISMATCH}: at $.name: 7 is not of type 'string'" in stderr
    _nothing_ran(result.stdout, events)


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "no inputs (the file is empty)"), ("\n  \n", "no inputs (the file is empty)")],
    ids=["empty", "blank-lines"],
)
def test_an_inputs_file_without_inputs(
    content: str,
    message: str,
    write_workspace: WriteWorkspace,
    agentdesk: Invoke,
    tmp_path: Path,
) -> None:
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text(content)
    result = agentdesk("run", "greet", "-w", write_workspace(), "--inputs", inputs)
    assert result.exit_code == 2
    assert f"{inputs}: {message}" in flat(result.stderr)
    assert result.stdout == ""


def test_an_inputs_file_that_does_not_exist(
    write_workspace: WriteWorkspace, agentdesk: Invoke, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.jsonl"
    result = agentdesk("run", "greet", "-w", write_workspace(), "--inputs", missing)
    assert result.exit_code == 2
    assert f"{missing}: cannot read" in flat(result.stderr)
    assert result.stdout == ""


def test_input_and_inputs_together(
    write_workspace: WriteWorkspace, agentdesk: Invoke, tmp_path: Path
) -> None:
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text('{"name": "Ada"}\n')
    root = write_workspace()
    result = agentdesk("run", "greet", "-w", root, "--input", '{"name": "Bo"}', "--inputs", inputs)
    assert result.exit_code == 2
    assert "--input: give --input or --inputs, not both" in flat(result.stderr)


def test_a_good_inputs_file_runs_one_run_per_line(
    write_workspace: WriteWorkspace, agentdesk: Invoke, tmp_path: Path
) -> None:
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text('{"name": "Ada"}\n\n{"name": "Bo"}\n{"name": "Cy"}\n')
    result = agentdesk("run", "greet", "-w", write_workspace(), "--inputs", inputs, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["runs"] == 3 and summary["stop_reasons"] == {"completed": 3}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", "gret"), "no pipeline 'gret' in {root}/pipelines (did you mean 'greet'?)"),
        (
            ("run", "zzz"),
            "no pipeline 'zzz' in {root}/pipelines (pipelines: greet)",
        ),
        (
            ("run", "greet", "--scenario", "hapy"),
            "no scenario 'hapy' in {root}/scenarios (did you mean 'happy'?)",
        ),
        (("check", "gret"), "no pipeline 'gret' in {root}/pipelines (did you mean 'greet'?)"),
        (
            ("sims", "serve", "--scenario", "hapy"),
            "no scenario 'hapy' in {root}/scenarios (did you mean 'happy'?)",
        ),
    ],
    ids=["pipeline-typo", "pipeline-unknown", "scenario-typo", "check-typo", "serve-typo"],
)
def test_unknown_names_get_a_suggestion(
    args: tuple[str, ...], message: str, write_workspace: WriteWorkspace, agentdesk: Invoke
) -> None:
    root = write_workspace()
    result = agentdesk(*args, "-w", root)
    assert result.exit_code == 2, result.output
    assert f"error: {message.format(root=root)}" in flat(result.stderr)
    assert result.stdout == ""


@pytest.mark.parametrize(
    "option", [("--sessions", "0"), ("--runs", "0"), ("--seed", "abc"), ("--bogus",)]
)
def test_bad_options_are_usage_errors(
    option: tuple[str, ...], write_workspace: WriteWorkspace, agentdesk: Invoke
) -> None:
    result = agentdesk("run", "greet", "-w", write_workspace(), *option)
    assert result.exit_code == 2
    assert "Usage:" in result.stderr and option[0] in result.stderr
    assert result.stdout == ""


# --- API keys ---------------------------------------------------------------------------------

KEY_VARIABLE = "AGENTDESK_TEST_LLM_KEY"
SECRET = "sk-test-4f1c9e2b7a6d5c3b"
WITH_KEY = WORKSPACE.replace("llm: {sim: llm}", f"llm: {{sim: llm, api_key_env: {KEY_VARIABLE}}}")


def test_a_missing_api_key_variable_is_named(
    write_workspace: WriteWorkspace, agentdesk: Invoke, tmp_path: Path
) -> None:
    events = tmp_path / "events.jsonl"
    root = write_workspace({"agentdesk.yaml": WITH_KEY})
    result = agentdesk("run", "greet", "-w", root, "--events", events, env={KEY_VARIABLE: None})
    assert result.exit_code == 2
    assert (
        f"error: service 'llm' needs an API key: set the environment variable {KEY_VARIABLE}"
        in flat(result.stderr)
    )
    _nothing_ran(result.stdout, events)


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_an_api_key_never_appears_in_any_output(
    as_json: bool, write_workspace: WriteWorkspace, agentdesk: Invoke, tmp_path: Path
) -> None:
    events = tmp_path / "events.jsonl"
    root = write_workspace({"agentdesk.yaml": WITH_KEY})
    args = ["run", "greet", "-w", root, "--events", events, "--runs", "3"]
    result = agentdesk(*args, *(["--json"] if as_json else []), env={KEY_VARIABLE: SECRET})
    assert result.exit_code == 0, result.output
    assert events.read_bytes()
    for output in (result.stdout, result.stderr, events.read_text()):
        assert SECRET not in output
        assert SECRET[3:] not in output


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections (bound, never listening) for the test."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def _network_workspace(port: int) -> dict[str, str]:
    """The CRM is 'on the network' at a port nobody listens on: the run uses the real clock,
    the tool step fails at once with a connection error, and the key is sent in headers."""
    crm = f'crm: {{url: "http://127.0.0.1:{port}", api_key_env: {KEY_VARIABLE}}}'
    return {"agentdesk.yaml": WORKSPACE.replace("crm: {sim: crm}", crm)}


def test_an_api_key_stays_out_of_network_errors(
    closed_port: int, write_workspace: WriteWorkspace, agentdesk: Invoke, tmp_path: Path
) -> None:
    events = tmp_path / "events.jsonl"
    root = write_workspace(_network_workspace(closed_port))
    args = ["run", "greet", "-w", root, "--events", events, "--json"]
    result = agentdesk(*args, env={KEY_VARIABLE: SECRET})
    assert_no_crash(result)
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    crm = next(s for s in summary["services"] if s["service"] == "crm")
    assert crm["errors"] == {"connect": 1}
    for output in (result.stdout, result.stderr, events.read_text()):
        assert SECRET not in output


def test_a_real_clock_run_reports_its_own_duration(
    closed_port: int, write_workspace: WriteWorkspace, agentdesk: Invoke, tmp_path: Path
) -> None:
    events = tmp_path / "events.jsonl"
    root = write_workspace(_network_workspace(closed_port))
    result = agentdesk(
        "run", "greet", "-w", root, "--json", "--events", events, env={KEY_VARIABLE: SECRET}
    )
    summary = json.loads(result.stdout)
    first = json.loads(events.read_text().splitlines()[0])
    assert first["type"] == "run_started"
    # One run: everything happened within that run's duration.
    assert summary["sim_time"] <= summary["duration"]["max"] + 0.5


def test_an_events_file_that_cannot_be_written(
    write_workspace: WriteWorkspace, agentdesk: Invoke, tmp_path: Path
) -> None:
    events = tmp_path / "no-such-folder" / "events.jsonl"
    result = agentdesk("run", "greet", "-w", write_workspace(), "--events", events)
    assert_no_crash(result)
    assert result.exit_code == 2
    assert str(events) in flat(result.stderr)
