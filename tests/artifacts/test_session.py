"""ArtifactSession: what an edit does to the active set, the registry and the pipelines' releases.

Edits are written to disk and applied by hand (``session.apply``); the watcher's part is in
test_editing.py."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from agentdesk.artifacts.files import artifact_files
from agentdesk.artifacts.session import ArtifactSession, Outcome, write_atomically
from agentdesk.errors import RunError
from agentdesk.spec.sources import artifact_id
from agentdesk.store.artifacts import Registry

TRIAGE = "support-triage"
RECONCILE = "doc-reconciliation"
USER_PROMPT = "prompts/triage.user.md"


def edit(root: Path, path: str, change: Callable[[str], str]) -> bytes:
    """Rewrite a workspace file through ``change``; returns the new bytes."""
    file = root / path
    content = change(file.read_text(encoding="utf-8")).encode()
    file.write_bytes(content)
    return content


def apply(session: ArtifactSession, path: str) -> Outcome:
    [outcome] = session.apply([path])
    return outcome


# --- scanning --------------------------------------------------------------------------------


def test_a_scan_of_a_valid_workspace_activates_every_file(
    workspace: Path, registry: Registry
) -> None:
    session = ArtifactSession(workspace, registry)
    heard: list[Outcome] = []
    session.listeners.append(heard.append)
    outcomes = session.scan()
    paths = list(artifact_files(workspace))
    assert [o.path for o in outcomes] == paths
    assert "agentdesk.yaml" in paths and USER_PROMPT in paths
    assert {o.status for o in outcomes} == {"activated"}
    assert all(o.problems == () for o in outcomes)
    for outcome in outcomes:
        assert outcome.active == artifact_id((workspace / outcome.path).read_bytes())
        assert outcome.version is not None and outcome.version.number == 1
    assert heard == outcomes
    assert session.problems == {}
    assert session.pipelines() == [RECONCILE, TRIAGE]
    for name in (RECONCILE, TRIAGE):
        assert session.release(name) == session.load(name).release != ""


def test_scanning_again_records_nothing_new(workspace: Path, registry: Registry) -> None:
    ArtifactSession(workspace, registry).scan()
    outcomes = ArtifactSession(workspace, registry).scan()
    assert {o.version.number for o in outcomes if o.version} == {1}


def test_a_scan_restores_the_newest_valid_version_of_a_broken_file(
    workspace: Path, registry: Registry
) -> None:
    first = ArtifactSession(workspace, registry)
    first.scan()
    good = edit(workspace, USER_PROMPT, lambda t: t + "Be brief.\n")
    assert apply(first, USER_PROMPT).status == "activated"
    edit(workspace, USER_PROMPT, lambda t: t + "{{ nope }}\n")

    later = ArtifactSession(workspace, registry)
    outcomes = {o.path: o for o in later.scan()}

    broken = outcomes[USER_PROMPT]
    assert broken.status == "rejected"
    assert [str(p) for p in broken.problems] == [
        f"{USER_PROMPT}:12: unknown variable 'nope' (known: input, steps, loop)"
    ]
    assert broken.active == later.active_id(USER_PROMPT) == artifact_id(good)
    assert later.load(TRIAGE).sources[USER_PROMPT] == artifact_id(good)
    assert later.problems[USER_PROMPT] == broken.problems
    assert {o.status for p, o in outcomes.items() if p != USER_PROMPT} == {"activated"}
    assert registry.resolve(USER_PROMPT).status == "rejected"
    assert registry.resolve(f"{USER_PROMPT}@latest").artifact_id == artifact_id(good)


# --- bad edits -------------------------------------------------------------------------------

BAD_EDITS = [
    pytest.param(
        USER_PROMPT,
        lambda t: t + "{{ nope.x }}\n",
        [f"{USER_PROMPT}:11: unknown variable 'nope' (known: input, steps, loop)"],
        lambda t: t + "Answer in the customer's language.\n",
        id="prompt-unknown-variable",
    ),
    pytest.param(
        "pipelines/support-triage.yaml",
        lambda t: t.replace("max_tokens: 400", "max_tokens: 400\n    bogus: 1"),
        ["pipelines/support-triage.yaml:49:5: unknown key 'bogus'"],
        lambda t: t.replace("max_tokens: 400", "max_tokens: 350"),
        id="pipeline-unknown-key",
    ),
    pytest.param(
        "pipelines/support-triage.yaml",
        lambda t: t.replace("  - id: gate\n", "  - id: [gate\n"),
        [
            "pipelines/support-triage.yaml:53:9: YAML syntax error: while parsing a flow "
            "sequence; expected ',' or ']', but got ':'"
        ],
        lambda t: t.replace("id: gate", "id: gate  # where it goes"),
        id="pipeline-yaml-syntax",
    ),
    pytest.param(
        "agentdesk.yaml",
        lambda t: t.replace("  gpt-4o: {service: llm-backup, context_window: 128000}\n", ""),
        [
            "pipelines/doc-reconciliation.yaml:28:16: unknown model 'gpt-4o' "
            "(did you mean 'gpt-4o-mini'?)",
            "pipelines/doc-reconciliation.yaml:61:16: unknown model 'gpt-4o' "
            "(did you mean 'gpt-4o-mini'?)",
            "pipelines/support-triage.yaml:43:30: unknown model 'gpt-4o' "
            "(did you mean 'gpt-4o-mini'?)",
        ],
        lambda t: t.replace("seed: 42", "seed: 7"),
        id="workspace-model-removed",
    ),
    pytest.param(
        "schemas/triage.json",
        lambda t: t.replace('"type": "object"', '"type": "objekt"'),
        [
            "schemas/triage.json:2:11: invalid JSON Schema: 'objekt' is not valid under any "
            "of the given schemas"
        ],
        lambda t: t.replace('"maxLength": 300', '"maxLength": 280'),
        id="schema-invalid",
    ),
    pytest.param(
        "scenarios/happy.yaml",
        lambda t: t.replace("services: {}", "services: {llm: {faults: [{kind: eror}]}}"),
        [
            "scenarios/happy.yaml:2:34: kind must be one of error, hang, reset, malformed, "
            "drift, spike, inject, got 'eror'"
        ],
        lambda t: t.replace("services: {}", "services: {llm: {faults: [{kind: reset}]}}"),
        id="scenario-bad-fault",
    ),
]


@pytest.mark.parametrize(("path", "break_", "expected", "fix"), BAD_EDITS)
def test_a_bad_edit_is_rejected_and_the_previous_version_stays_active(
    session: ArtifactSession,
    registry: Registry,
    workspace: Path,
    path: str,
    break_: Callable[[str], str],
    expected: list[str],
    fix: Callable[[str], str],
) -> None:
    old = session.active_id(path)
    releases = {name: session.release(name) for name in session.pipelines()}
    original = (workspace / path).read_text(encoding="utf-8")

    bad = edit(workspace, path, break_)
    rejected = apply(session, path)

    assert rejected.status == "rejected"
    found = [str(p) for p in rejected.problems]
    assert len(found) == len(expected)
    assert all(f.startswith(e) for f, e in zip(found, expected, strict=True)), found
    assert all(p.line > 0 for p in rejected.problems)
    assert session.problems[path] == rejected.problems
    assert rejected.active == session.active_id(path) == old
    assert rejected.releases == {}
    for name, release in releases.items():
        loaded = session.load(name)
        assert loaded.release == release == session.release(name)
        if path in loaded.sources:
            assert loaded.sources[path] == old
    assert rejected.version is not None
    assert (rejected.version.status, rejected.version.artifact_id) == ("rejected", artifact_id(bad))
    assert rejected.version.error == "\n".join(found)
    assert registry.resolve(f"{path}@latest").artifact_id == old

    good = fix(original).encode()
    (workspace / path).write_bytes(good)
    activated = apply(session, path)

    assert activated.status == "activated"
    assert activated.problems == ()
    assert path not in session.problems
    assert activated.active == session.active_id(path) == artifact_id(good)
    assert registry.resolve(f"{path}@latest").artifact_id == artifact_id(good)
    for name in session.pipelines():
        loaded = session.load(name)
        if path in loaded.sources:
            assert loaded.sources[path] == artifact_id(good)


def test_going_back_to_the_active_content_clears_the_problems(
    session: ArtifactSession, workspace: Path
) -> None:
    old = session.active_id(USER_PROMPT)
    original = (workspace / USER_PROMPT).read_text(encoding="utf-8")
    edit(workspace, USER_PROMPT, lambda t: t + "{{ nope }}\n")
    assert apply(session, USER_PROMPT).status == "rejected"
    (workspace / USER_PROMPT).write_text(original, encoding="utf-8")
    outcome = apply(session, USER_PROMPT)
    assert (outcome.status, outcome.active) == ("activated", old)
    assert session.problems == {}


def test_an_empty_prompt_is_rejected(session: ArtifactSession, workspace: Path) -> None:
    old = session.active_id(USER_PROMPT)
    (workspace / USER_PROMPT).write_bytes(b"")
    outcome = apply(session, USER_PROMPT)
    assert [str(p) for p in outcome.problems] == [f"{USER_PROMPT}:1:1: prompt file is empty"]
    assert session.active_id(USER_PROMPT) == old


def test_a_pasted_key_is_rejected_and_never_reaches_the_store(
    session: ArtifactSession, workspace: Path, registry: Registry, tmp_path: Path
) -> None:
    key = "sk-live-7hJ2mQ9xR4tY8uW1"
    old = session.active_id(USER_PROMPT)
    before = len(registry.history(USER_PROMPT))
    edit(workspace, USER_PROMPT, lambda t: t + f"Call the API with {key}\n")
    outcome = apply(session, USER_PROMPT)
    assert outcome.status == "rejected" and outcome.version is None
    [problem] = outcome.problems
    assert str(problem).startswith(f"{USER_PROMPT}:") and "holds a secret" in str(problem)
    assert key not in str(problem)
    assert session.active_id(USER_PROMPT) == old
    assert len(registry.history(USER_PROMPT)) == before
    registry.engine.dispose()
    for stored in tmp_path.glob("a.db*"):  # the database and its WAL
        assert key.encode() not in stored.read_bytes()


def test_saving_without_a_change_is_unchanged(
    session: ArtifactSession, workspace: Path, registry: Registry
) -> None:
    content = (workspace / USER_PROMPT).read_bytes()
    (workspace / USER_PROMPT).write_bytes(content.replace(b"\n", b"\r\n"))
    outcome = apply(session, USER_PROMPT)
    assert (outcome.status, outcome.version) == ("unchanged", None)
    assert outcome.active == artifact_id(content)
    assert len(registry.history(USER_PROMPT)) == 1


def test_a_deleted_file_keeps_its_active_content(session: ArtifactSession, workspace: Path) -> None:
    old = session.active_id(USER_PROMPT)
    (workspace / USER_PROMPT).unlink()
    outcome = apply(session, USER_PROMPT)
    assert (outcome.status, outcome.active) == ("deleted", old)
    assert session.load(TRIAGE).sources[USER_PROMPT] == old


def test_a_prompt_no_pipeline_reads_is_checked_on_its_own(
    session: ArtifactSession, workspace: Path
) -> None:
    draft = workspace / "prompts" / "draft.md"
    draft.write_text("{% if %}\n", encoding="utf-8")
    rejected = apply(session, "prompts/draft.md")
    assert rejected.status == "rejected"
    assert [p.file for p in rejected.problems] == ["prompts/draft.md"]
    assert session.active_id("prompts/draft.md") is None
    draft.write_text("Summarise {{ input.text }}\n", encoding="utf-8")
    activated = apply(session, "prompts/draft.md")
    assert (activated.status, activated.releases) == ("activated", {})


# --- activate and roll back ------------------------------------------------------------------


def three_versions(session: ArtifactSession, workspace: Path) -> list[bytes]:
    """The prompt's scanned content and two valid edits, each applied."""
    contents = [(workspace / USER_PROMPT).read_bytes()]
    for extra in (b"Be brief.\n", b"Be kind.\n"):
        contents.append(contents[-1] + extra)
        (workspace / USER_PROMPT).write_bytes(contents[-1])
        assert apply(session, USER_PROMPT).status == "activated"
    return contents


def test_activate_makes_a_stored_version_active_without_touching_the_file(
    session: ArtifactSession, workspace: Path, registry: Registry
) -> None:
    contents = three_versions(session, workspace)
    first = registry.resolve(f"{USER_PROMPT}@1")
    outcome = session.activate(first)
    assert (outcome.status, outcome.version) == ("activated", None)
    assert session.active_id(USER_PROMPT) == artifact_id(contents[0])
    assert session.load(TRIAGE).sources[USER_PROMPT] == artifact_id(contents[0])
    assert (workspace / USER_PROMPT).read_bytes() == contents[2]
    assert len(registry.history(USER_PROMPT)) == 3
    assert outcome.releases[TRIAGE][1] == session.release(TRIAGE)


def test_activating_a_rejected_version_is_rejected_again(
    session: ArtifactSession, workspace: Path, registry: Registry
) -> None:
    old = session.active_id(USER_PROMPT)
    edit(workspace, USER_PROMPT, lambda t: t + "{{ nope }}\n")
    apply(session, USER_PROMPT)
    outcome = session.activate(registry.resolve(USER_PROMPT))
    assert outcome.status == "rejected"
    assert session.active_id(USER_PROMPT) == old


def test_rollback_writes_the_stored_version_back_atomically(
    session: ArtifactSession, workspace: Path, registry: Registry
) -> None:
    contents = three_versions(session, workspace)
    folder = workspace / "prompts"
    os.chmod(workspace / USER_PROMPT, 0o600)
    before = sorted(os.listdir(folder))
    first = registry.resolve(f"{USER_PROMPT}@1")

    outcome = session.rollback(first)

    assert (workspace / USER_PROMPT).read_bytes() == registry.content(first) == contents[0]
    assert sorted(os.listdir(folder)) == before
    assert stat.S_IMODE((workspace / USER_PROMPT).stat().st_mode) == 0o600
    assert outcome.status == "activated"
    assert session.active_id(USER_PROMPT) == first.artifact_id
    assert outcome.version is not None
    assert (outcome.version.number, outcome.version.artifact_id) == (4, first.artifact_id)


def test_rollback_of_a_deleted_file_recreates_it(
    session: ArtifactSession, workspace: Path, registry: Registry
) -> None:
    (workspace / USER_PROMPT).unlink()
    apply(session, USER_PROMPT)
    outcome = session.rollback(registry.resolve(f"{USER_PROMPT}@latest"))
    assert outcome.status == "unchanged"
    assert (workspace / USER_PROMPT).is_file()


def test_a_failed_atomic_write_leaves_the_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "prompt.md"
    target.write_bytes(b"old\n")

    def refuse(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(target, b"new\n")
    assert target.read_bytes() == b"old\n"
    assert os.listdir(tmp_path) == ["prompt.md"]


def test_activate_and_rollback_need_the_store(workspace: Path, registry: Registry) -> None:
    version = registry.record(USER_PROMPT, b"Hello.\n").version
    session = ArtifactSession(workspace)
    session.scan()
    with pytest.raises(RunError, match="activating a stored version needs the store"):
        session.activate(version)
    with pytest.raises(RunError, match="rolling back needs the store"):
        session.rollback(version)
    assert (workspace / USER_PROMPT).read_bytes() != b"Hello.\n"


# --- releases --------------------------------------------------------------------------------


def releases_of(session: ArtifactSession) -> dict[str, str]:
    return {name: session.load(name).release for name in session.pipelines()}


@pytest.mark.parametrize(
    ("path", "change", "changed"),
    [
        (USER_PROMPT, lambda t: t + "Be brief.\n", {TRIAGE}),
        ("prompts/classify.md", lambda t: t + "Be brief.\n", {RECONCILE}),
        ("schemas/ticket.json", lambda t: t.replace("{", "{ ", 1), {TRIAGE}),
        ("pipelines/doc-reconciliation.yaml", lambda t: t + "# note\n", {RECONCILE}),
        ("agentdesk.yaml", lambda t: t + "# note\n", {TRIAGE, RECONCILE}),
        ("scenarios/happy.yaml", lambda t: t + "# note\n", set()),
    ],
)
def test_a_release_changes_exactly_when_a_file_it_reads_changes(
    session: ArtifactSession,
    workspace: Path,
    path: str,
    change: Callable[[str], str],
    changed: set[str],
) -> None:
    before = releases_of(session)
    edit(workspace, path, change)
    outcome = apply(session, path)
    after = releases_of(session)
    assert outcome.status == "activated"
    assert {name for name in before if before[name] != after[name]} == changed
    assert outcome.releases == {name: (before[name], after[name]) for name in changed}
    assert all(session.release(name) == after[name] for name in after)


def test_a_new_file_no_pipeline_reads_changes_no_release(
    session: ArtifactSession, workspace: Path
) -> None:
    before = releases_of(session)
    (workspace / "prompts" / "unused.md").write_text("Hello.\n", encoding="utf-8")
    assert apply(session, "prompts/unused.md").status == "activated"
    assert releases_of(session) == before


def test_going_back_to_the_same_content_gives_back_the_same_release(
    session: ArtifactSession, workspace: Path
) -> None:
    before = releases_of(session)
    original = (workspace / USER_PROMPT).read_bytes()
    edit(workspace, USER_PROMPT, lambda t: t + "Be brief.\n")
    apply(session, USER_PROMPT)
    assert releases_of(session)[TRIAGE] != before[TRIAGE]
    (workspace / USER_PROMPT).write_bytes(original)
    apply(session, USER_PROMPT)
    assert releases_of(session) == before


def test_a_file_that_cannot_be_read_keeps_the_active_content(
    session: ArtifactSession, workspace: Path
) -> None:
    old = session.active_id(USER_PROMPT)
    (workspace / USER_PROMPT).unlink()
    (workspace / USER_PROMPT).mkdir()
    outcome = apply(session, USER_PROMPT)
    assert outcome.status == "rejected"
    assert [str(p) for p in outcome.problems] == [f"{USER_PROMPT}: cannot read: Is a directory"]
    assert outcome.active == session.active_id(USER_PROMPT) == old


def test_later_edits_are_judged_against_the_active_workspace(
    session: ArtifactSession, workspace: Path
) -> None:
    wider = edit(workspace, "agentdesk.yaml", lambda t: t.replace("128000}", "64000}", 1))
    assert apply(session, "agentdesk.yaml").status == "activated"
    edit(workspace, "agentdesk.yaml", lambda t: t.replace("gpt-4o: {", "gpt-4o-old: {"))
    assert apply(session, "agentdesk.yaml").status == "rejected"

    edit(workspace, USER_PROMPT, lambda t: t + "Be brief.\n")
    assert apply(session, USER_PROMPT).status == "activated"

    loaded = session.load(TRIAGE)
    assert loaded.sources["agentdesk.yaml"] == artifact_id(wider)
    assert loaded.manifest["models"]["gpt-4o-mini"]["context_window"] == 64000
    assert "gpt-4o" in loaded.manifest["models"]
