"""What the CLI tests share: a small valid workspace's files, the demo, output helpers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import Result

DEMO = Path(__file__).resolve().parents[2] / "fixtures"
"""The bundled demo workspace, in this checkout."""

WORKSPACE = """\
name: tiny
seed: 7
scenario: happy
services:
  llm: {sim: llm}
  crm: {sim: crm}
models:
  gpt-4o-mini: {service: llm}
  gpt-4o: {service: llm}
policies:
  retry: {max_attempts: 1}
"""

PIPELINE = """\
name: greet
input:
  schema: {type: object, required: [name], properties: {name: {type: string}}}
  example: {name: Ada}
steps:
  - id: ticket
    kind: tool
    service: crm
    path: /tickets/T-1001
  - id: greet
    kind: llm
    model: gpt-4o-mini
    prompt: prompts/hello.md
"""
"""Line 6 is the first step's id, line 13 the llm step's prompt (tests point at these)."""

PROMPT = "Hello {{ input.name }}, about {{ steps.ticket.subject }}.\n"

BASE_FILES: dict[str, str] = {
    "agentdesk.yaml": WORKSPACE,
    "pipelines/greet.yaml": PIPELINE,
    "prompts/hello.md": PROMPT,
    "scenarios/happy.yaml": "description: nothing goes wrong\nservices: {}\n",
}

WriteWorkspace = Callable[..., Path]
Invoke = Callable[..., Result]


def flat(text: str) -> str:
    """Whitespace collapsed: Rich wraps long lines at the console's width."""
    return " ".join(text.split())


def assert_no_crash(result: Result) -> None:
    """The command ended through sys.exit (or returned), never with an exception."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"the command crashed:\n{result.output}") from result.exception
    assert "Traceback" not in result.output
