"""``agentdesk tokens``: counts and prices a request body; every bad input is one clear line.

The request bodies are the examples of OpenAI's cookbook "How to count tokens with tiktoken",
for which the notebook shows the API's own prompt_tokens (see tests/tokens/test_counting.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from agentdesk.cli import main
from tests.cli.support import WriteWorkspace, assert_no_crash, flat
from tests.tokens.test_counting import JARGON, WEATHER_MESSAGES, WEATHER_TOOLS

GOLDEN = Path(__file__).parent / "golden"
ROOT = Path(__file__).resolve().parents[2]
WEATHER = {"model": "gpt-4o", "messages": WEATHER_MESSAGES, "tools": WEATHER_TOOLS}
PRICED_WORKSPACE = """\
name: priced
services:
  llm: {sim: llm}
models:
  support-bot:
    service: llm
    name: gpt-4o-mini
    input_per_mtok: 0.2
    cached_input_per_mtok: 0.1
    output_per_mtok: 0.8
  gpt-4o: {service: llm, input_per_mtok: 1, output_per_mtok: 4}
"""


class Tokens:
    """``agentdesk tokens ARGS…`` in-process, with ``input`` as stdin."""

    def __call__(self, *args: str | Path, input: str | None = None) -> Result:
        arguments = ["tokens", *(str(a) for a in args)]
        return CliRunner().invoke(main, arguments, input=input, catch_exceptions=True)


@pytest.fixture
def agentdesk_tokens() -> Tokens:
    return Tokens()


def write(path: Path, body: Any) -> Path:
    path.write_text(body if isinstance(body, str) else json.dumps(body, indent=2))
    return path


def as_json(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_counts_and_prices_a_request_with_tools(agentdesk_tokens: Tokens, tmp_path: Path) -> None:
    result = agentdesk_tokens(write(tmp_path / "weather.json", WEATHER))
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "prompt tokens 101" in out  # what the API reported for gpt-4o
    assert "encoding o200k_base" in out
    assert "$0.0002525 at $2.5 per million input tokens · genai-prices" in out
    assert "(openai/gpt-4o)" in out


@pytest.mark.parametrize(
    ("model", "prompt_tokens", "encoding"),
    [("gpt-4", 105, "cl100k_base"), ("gpt-3.5-turbo", 105, "cl100k_base"), ("gpt-4o-mini", 101,
     "o200k_base")],
)  # fmt: skip
def test_model_option_overrides_the_body(
    agentdesk_tokens: Tokens, tmp_path: Path, model: str, prompt_tokens: int, encoding: str
) -> None:
    result = agentdesk_tokens("--json", "-m", model, write(tmp_path / "w.json", WEATHER))
    document = as_json(result)
    assert (document["model"], document["prompt_tokens"], document["encoding"]) == (
        model,
        prompt_tokens,
        encoding,
    )


def test_reads_stdin(agentdesk_tokens: Tokens) -> None:
    body = json.dumps({"model": "gpt-4", "messages": JARGON})
    for args in (["--json", "-"], ["--json"]):
        document = as_json(agentdesk_tokens(*args, input=body))
        assert (document["file"], document["prompt_tokens"]) == ("<stdin>", 129)


def test_json_output_is_pinned_by_a_golden_file(
    agentdesk_tokens: Tokens, write_workspace: WriteWorkspace
) -> None:
    """The whole document, byte for byte: a workspace model priced by the workspace (so the
    bytes do not change with genai-prices releases), counted by its wire name gpt-4o-mini."""
    workspace = write_workspace({"agentdesk.yaml": PRICED_WORKSPACE})
    body = json.dumps({"model": "support-bot", "messages": JARGON})
    result = agentdesk_tokens("--json", "-w", workspace, "-", input=body)
    assert result.exit_code == 0, result.output
    golden = GOLDEN / "tokens.json"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(result.stdout)
    assert result.stdout == golden.read_text()


def test_a_workspace_price_wins_over_the_database(
    agentdesk_tokens: Tokens, write_workspace: WriteWorkspace, tmp_path: Path
) -> None:
    body = write(tmp_path / "w.json", WEATHER)
    database = as_json(agentdesk_tokens("--json", body))
    workspace = write_workspace({"agentdesk.yaml": PRICED_WORKSPACE})
    overridden = as_json(agentdesk_tokens("--json", "-w", workspace, body))
    assert database["price"]["source"].startswith("genai-prices")
    assert overridden["price"]["source"] == "workspace"
    assert overridden["cost_pico_usd"] == 101 * 1_000_000  # $1 per million tokens
    assert database["prompt_tokens"] == overridden["prompt_tokens"] == 101


def test_an_unknown_model_is_counted_with_a_visible_guess_and_left_unpriced(
    agentdesk_tokens: Tokens, tmp_path: Path
) -> None:
    body = write(tmp_path / "w.json", {**WEATHER, "model": "llama-3-70b-local"})
    result = agentdesk_tokens(body)
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "guessed: agentdesk does not know this model's encoding" in out
    assert "unpriced" in out and "input_per_mtok" in out
    document = as_json(agentdesk_tokens("--json", body))
    assert document["encoding_guessed"] is True
    assert (document["priced"], document["cost_usd"], document["price"]) == (False, None, None)


def test_image_parts_are_reported_as_not_counted(agentdesk_tokens: Tokens) -> None:
    image = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    text = {"type": "text", "text": "What is this?"}
    body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": [text, image]}]})
    result = agentdesk_tokens(input=body)
    assert "+ 1 image/audio/file part not counted" in flat(result.stdout)
    assert as_json(agentdesk_tokens("--json", input=body))["uncounted_parts"] == 1


def test_strings_from_the_body_are_printed_as_plain_text(agentdesk_tokens: Tokens) -> None:
    body = json.dumps({"model": "[bold red]x[/bold red]", "messages": JARGON})
    result = agentdesk_tokens(input=body)
    assert "[bold red]x[/bold red]" in result.stdout


BAD_BODIES = [
    ("", "<stdin>:1:1: not valid JSON: Expecting value"),
    (
        '{"model": "gpt-4o",\n "messages": [\n  {"role": "user", "content": "hi",}\n]}',
        "<stdin>:3:36: not valid JSON: Expecting property name enclosed in double quotes",
    ),
    ("[1, 2]", "<stdin>:1:1: expected a JSON object (a chat-completions request), got a list"),
    ('{"model": "gpt-4o"}', '<stdin>:1:1: no "messages": a chat request needs a list of messages'),
    (
        '{"model": "gpt-4o", "messages": []}',
        "<stdin>:1:33: messages: empty (a chat request needs at least one message)",
    ),
    ('{"model": 4, "messages": []}', "<stdin>:1:1: model: expected a string, got a number"),
    (
        '{"model": "gpt-4o", "messages": {"role": "user"}}',
        "<stdin>:1:1: messages: expected a list, got an object",
    ),
    (
        '{"model": "gpt-4o", "messages": ["hi"]}',
        "<stdin>:1:33: messages[0]: expected an object, got a string",
    ),
    (
        '{"model": "gpt-4o",\n "messages": [\n  {"content": "hi"}]}',
        "<stdin>:3:3: messages[0].role: expected a string, got nothing",
    ),
    (
        '{"model": "gpt-4o", "messages": [{"role": "user", "content": 3}]}',
        "<stdin>:1:34: messages[0].content: expected a string, a list of parts or null, "
        "got a number",
    ),
    (
        '{"model": "gpt-4o", "messages": [{"role": "user", "content": [{"type": "text", '
        '"text": null}]}]}',
        "<stdin>:1:63: messages[0].content[0].text: expected a string, got null",
    ),
    (
        '{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}],\n'
        ' "tools": [{"type": "function", "function": {"name": "f", "parameters": '
        '{"properties": {"unit": {"enum": "celsius"}}}}}]}',
        "<stdin>:2:97: tools[0].function.parameters.properties.unit.enum: expected a list, "
        "got a string",
    ),
    (
        '{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "tools": [{}]}',
        "<stdin>:1:80: tools[0].function: expected an object, got nothing",
    ),
    (
        '{"messages": [{"role": "user", "content": "hi"}]}',
        '<stdin>: no "model" in the request body; pass --model',
    ),
]


@pytest.mark.parametrize(("body", "message"), BAD_BODIES)
def test_bad_bodies_are_one_line_naming_the_place(
    agentdesk_tokens: Tokens, body: str, message: str
) -> None:
    result = agentdesk_tokens(input=body)
    assert_no_crash(result)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"error: {message}"]


def test_a_missing_file_is_named(agentdesk_tokens: Tokens, tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    result = agentdesk_tokens(missing)
    assert result.exit_code == 2
    assert flat(result.stderr) == f"error: {missing}: cannot read: No such file or directory"


def test_a_file_that_is_not_utf8_is_named_with_the_byte(
    agentdesk_tokens: Tokens, tmp_path: Path
) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"model": "caf\xe9"}')
    result = agentdesk_tokens(path)
    assert result.exit_code == 2
    assert flat(result.stderr) == f"error: {path}: not UTF-8 text (byte 15 is 0xe9)"


def test_a_body_with_a_bom_is_read(agentdesk_tokens: Tokens, tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(WEATHER).encode())
    assert as_json(agentdesk_tokens("--json", path))["prompt_tokens"] == 101


def test_a_folder_that_is_not_a_workspace_is_an_error(
    agentdesk_tokens: Tokens, tmp_path: Path
) -> None:
    result = agentdesk_tokens("-w", tmp_path, input=json.dumps(WEATHER))
    assert result.exit_code == 2
    assert "no agentdesk.yaml here" in flat(result.stderr)


OFFLINE = """
import socket, sys

def refuse(*args, **kwargs):
    raise OSError("network blocked by the test")

socket.socket.connect = refuse
socket.getaddrinfo = refuse
from agentdesk.cli import main
main(sys.argv[1:], prog_name="agentdesk")
"""


def offline_agentdesk(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``agentdesk ARGS`` in a fresh process with an empty tiktoken cache and no network."""
    empty = tmp_path / "empty-cache"
    empty.mkdir(exist_ok=True)
    env = {"TIKTOKEN_CACHE_DIR": str(empty), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-c", OFFLINE, *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_offline_counts_are_marked_approximate_with_one_warning(tmp_path: Path) -> None:
    body = str(write(tmp_path / "w.json", WEATHER))
    human = offline_agentdesk(tmp_path, "tokens", body)
    assert human.returncode == 0, human.stderr
    assert "~" in human.stdout and "approximate" in human.stdout
    warnings = [line for line in human.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "TIKTOKEN_CACHE_DIR" in warnings[0]
    done = offline_agentdesk(tmp_path, "tokens", "--json", body)
    document = json.loads(done.stdout)
    assert document["approximate"] is True and document["priced"] is True
