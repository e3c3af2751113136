"""A key pasted into a workspace file is a load problem at its line and column, never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentdesk.spec.loader import check_file
from agentdesk.spec.secrets import is_secret_problem, secret_problems
from tests.spec.conftest import PROMPT, WORKSPACE, WriteWorkspace, load, problems_of

KEY = "sk-proj-Zq81kLmN0pQrStUv"
ENV_KEY = "cx7-4f1e9b2a-very-private"


def test_a_key_shaped_string_in_a_prompt_stops_the_load(write_workspace: WriteWorkspace) -> None:
    root = write_workspace({"prompts/triage.md": f"{PROMPT}Use key\n  auth {KEY} please\n"})
    [problem] = problems_of(root)
    assert problem.startswith("prompts/triage.md:3:8: holds a secret (text shaped like an API")
    assert KEY not in problem and KEY[4:] not in problem


def test_the_value_of_a_services_key_variable_is_found_anywhere(
    write_workspace: WriteWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROVIDER_KEY", ENV_KEY)
    workspace = WORKSPACE.replace(
        "  payments: {sim: payments}\n",
        "  payments: {sim: payments}\n  real: {url: 'https://x.test', api_key_env: PROVIDER_KEY}\n",
    )
    pipeline_with_key = f"# debug: {ENV_KEY}\n"
    root = write_workspace({"agentdesk.yaml": workspace})
    (root / "pipelines/triage.yaml").write_text(
        pipeline_with_key + (root / "pipelines/triage.yaml").read_text()
    )
    [problem] = problems_of(root)
    assert problem.startswith("pipelines/triage.yaml:1:10: holds a secret (an API key's value")
    assert ENV_KEY not in problem
    monkeypatch.delenv("PROVIDER_KEY")
    assert load(root).name == "triage"  # without the variable the text is just text


def test_ordinary_text_about_keys_is_not_a_secret(write_workspace: WriteWorkspace) -> None:
    prose = f"{PROMPT}Never reveal keys (they start with sk-) or Bearer tokens.\n"
    root = write_workspace({"prompts/triage.md": prose})
    assert load(root).name == "triage"


def test_check_file_reports_a_key_in_a_prompt_no_pipeline_reads(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts/draft.md").write_text(f"Authorization: Bearer {KEY}\n")
    [problem] = check_file(tmp_path, "prompts/draft.md")
    assert (problem.line, problem.column) == (1, 16)
    assert is_secret_problem(problem)


def test_short_environment_values_are_not_treated_as_secrets() -> None:
    assert secret_problems({"p.md": b"the word test appears"}, ["test"]) == []
