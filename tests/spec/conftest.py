"""Small workspaces written into tmp_path, and a way to read a SpecError's problems as text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agentdesk.errors import SpecError
from agentdesk.spec.loader import LoadedPipeline, load_pipeline, load_workspace

WORKSPACE = """\
name: demo
services:
  llm: {sim: llm}
  crm: {sim: crm}
  payments: {sim: payments}
models:
  gpt-4o-mini: {service: llm}
  gpt-4o: {service: llm}
policies:
  retry: {max_attempts: 3, backoff: {base: 0.5, cap: 8}}
  timeout: {attempt: 10}
"""

PIPELINE = """\
name: triage
steps:
  - id: ticket
    kind: tool
    service: crm
    path: /tickets/{{ input.ticket_id }}
  - id: triage
    kind: llm
    model: gpt-4o-mini
    prompt: prompts/triage.md
    output: {schema_file: schemas/triage.json}
"""

PROMPT = "Ticket {{ input.ticket_id }}: {{ steps.ticket.subject }}\n"
SCHEMA = '{"type": "object", "properties": {"confidence": {"type": "number"}}}\n'

Files = dict[str, str | bytes]
WriteWorkspace = Callable[..., Path]


@pytest.fixture
def write_workspace(tmp_path: Path) -> WriteWorkspace:
    """Writes the base workspace with any file replaced (keys are workspace-relative paths)."""

    def write(files: Files | None = None) -> Path:
        base: Files = {
            "agentdesk.yaml": WORKSPACE,
            "pipelines/triage.yaml": PIPELINE,
            "prompts/triage.md": PROMPT,
            "schemas/triage.json": SCHEMA,
        }
        for name, content in {**base, **(files or {})}.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        return tmp_path

    return write


def load(root: Path, pipeline: str = "triage") -> LoadedPipeline:
    return load_pipeline(load_workspace(root, strict=False), pipeline)


def problems_of(root: Path, pipeline: str = "triage") -> list[str]:
    """Every problem loading the pipeline reports, as ``file:line:column: message``."""
    with pytest.raises(SpecError) as caught:
        load(root, pipeline)
    return [str(problem) for problem in caught.value.problems]
