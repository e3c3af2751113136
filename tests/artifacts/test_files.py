"""Which workspace files are artifacts, and which are editors' and tools' scaffolding."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentdesk.artifacts.files import artifact_files, artifact_path, is_scratch


@pytest.mark.parametrize(
    "name",
    [
        ".triage.user.md.swp",  # vim swap
        ".triage.user.md.swx",
        "triage.user.md.swp",
        "4913",  # vim's write probe
        "triage.user.md~",  # vim backup
        "triage.user.md___jb_tmp___",  # JetBrains safe write
        "triage.user.md___jb_old___",
        "#triage.user.md#",  # emacs autosave
        ".#triage.user.md",  # emacs lock
        "triage.user.md.tmp",
        "triage.user.md.tmp.4242",
        "triage.user.md.crswap",
        "sedOsmYHP",  # sed -i
        "tmpk3x_9q2a",  # tempfile.mkstemp(dir=...) by atomic-write helpers
        "triage.user.md.31337",  # write-to-temp with a pid suffix
    ],
)
def test_editor_scaffolding_is_never_an_artifact(workspace: Path, name: str) -> None:
    assert is_scratch(name)
    assert artifact_path(workspace, workspace / "prompts" / name) is None


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("agentdesk.yaml", "agentdesk.yaml"),
        ("prompts/triage.user.md", "prompts/triage.user.md"),
        ("prompts/nested/deeper.txt", "prompts/nested/deeper.txt"),
        ("prompts/triage.v2.md", "prompts/triage.v2.md"),
        ("prompts/tmp-notes.md", "prompts/tmp-notes.md"),
        ("schemas/triage.json", "schemas/triage.json"),
        ("pipelines/support-triage.yaml", "pipelines/support-triage.yaml"),
        ("scenarios/happy.yml", "scenarios/happy.yml"),
        ("golden/cases.jsonl", "golden/cases.jsonl"),
        ("pipelines/notes.md", None),
        ("scenarios/happy.json", None),
        ("README.md", None),
        ("inputs/tickets.jsonl", None),
        (".agentdesk/store.db", None),
        ("prompts/.hidden/x.md", None),
    ],
)
def test_which_files_are_artifacts(workspace: Path, relative: str, expected: str | None) -> None:
    assert artifact_path(workspace, workspace / relative) == expected


def test_a_path_outside_the_workspace_is_not_an_artifact(workspace: Path, tmp_path: Path) -> None:
    assert artifact_path(workspace, tmp_path / "prompts" / "x.md") is None


def test_artifact_files_lists_the_workspace_sorted_without_scaffolding(workspace: Path) -> None:
    (workspace / "prompts" / ".classify.md.swp").write_bytes(b"b0VIM")
    (workspace / "prompts" / "classify.md~").write_bytes(b"old")
    found = list(artifact_files(workspace))
    assert found == sorted(found)
    assert found[0] == "agentdesk.yaml"
    assert "prompts/classify.md" in found
    assert not [path for path in found if "~" in path or ".swp" in path]
    assert "inputs/tickets.jsonl" not in found
