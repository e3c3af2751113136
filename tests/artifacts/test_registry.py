"""The artifact registry: content stored once, numbered versions, labels, references, releases."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from agentdesk.spec.loader import load_pipeline, load_workspace
from agentdesk.spec.sources import artifact_id, normalize
from agentdesk.store.artifacts import LATEST, Registry, UnknownArtifact
from agentdesk.store.tables import Artifact, ArtifactVersion, table

PROMPT = "prompts/greet.md"


def count(engine: Engine, model: type[Artifact] | type[ArtifactVersion]) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table(model))).scalar_one())


def three_versions(registry: Registry) -> None:
    for text in (b"one\n", b"two\n", b"three\n"):
        registry.record(PROMPT, text)


# --- content ---------------------------------------------------------------------------------


def test_identical_content_in_two_files_is_stored_once(registry: Registry, engine: Engine) -> None:
    first = registry.record("prompts/a.md", b"same words\n").version
    second = registry.record("prompts/b.md", b"same words\n").version
    assert first.artifact_id == second.artifact_id
    assert count(engine, Artifact) == 1
    assert count(engine, ArtifactVersion) == 2


def test_content_coming_back_is_a_new_version_of_stored_content(
    registry: Registry, engine: Engine
) -> None:
    for text in (b"A\n", b"B\n", b"A\n"):
        registry.record(PROMPT, text)
    history = registry.history(PROMPT)
    assert [v.number for v in history] == [3, 2, 1]
    assert history[0].artifact_id == history[2].artifact_id
    assert count(engine, Artifact) == 2


def test_saving_the_same_content_again_is_not_a_new_version(registry: Registry) -> None:
    first = registry.record(PROMPT, b"hello\n")
    again = registry.record(PROMPT, b"hello\n")
    assert (first.new, again.new) == (True, False)
    assert again.version == first.version
    assert len(registry.history(PROMPT)) == 1


@pytest.mark.parametrize(
    "variant",
    [b"line one\r\nline two\r\n", b"line one\rline two\r", b"\xef\xbb\xbfline one\nline two\n"],
    ids=["crlf", "lone-cr", "bom"],
)
def test_line_endings_and_a_bom_do_not_change_the_artifact_id(
    registry: Registry, variant: bytes
) -> None:
    plain = b"line one\nline two\n"
    assert artifact_id(variant) == artifact_id(plain)
    assert normalize(variant) == plain
    registry.record(PROMPT, plain)
    assert registry.record(PROMPT, variant).new is False


def test_whitespace_inside_a_line_and_a_final_newline_are_real_changes() -> None:
    plain = b"a b\n"
    assert len({artifact_id(plain), artifact_id(b"a  b\n"), artifact_id(b"a b")}) == 3


def test_the_stored_content_is_the_normalized_bytes(registry: Registry) -> None:
    version = registry.record(PROMPT, b"\xef\xbb\xbfa\r\nb\r\n").version
    assert registry.content(version) == b"a\nb\n"
    assert version.size == 4


# --- versions --------------------------------------------------------------------------------


def test_versions_are_numbered_and_point_at_their_parent(registry: Registry) -> None:
    three_versions(registry)
    newest, middle, first = registry.history(PROMPT)
    assert [first.number, middle.number, newest.number] == [1, 2, 3]
    assert first.parent_id is None
    assert middle.parent_id == first.id
    assert newest.parent_id == middle.id
    assert {v.kind for v in (first, middle, newest)} == {"prompt"}
    assert newest.ref == f"{PROMPT}@3"


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("agentdesk.yaml", "workspace"),
        ("pipelines/p.yaml", "pipeline"),
        ("schemas/s.json", "schema"),
        ("scenarios/happy.yaml", "scenario"),
        ("golden/cases.jsonl", "golden"),
        ("notes.txt", "file"),
    ],
)
def test_a_versions_kind_comes_from_where_the_file_lives(
    registry: Registry, path: str, kind: str
) -> None:
    assert registry.record(path, b"x: 1\n").version.kind == kind


def test_latest_moves_by_itself_to_the_newest_valid_version(registry: Registry) -> None:
    registry.record(PROMPT, b"one\n")
    assert registry.resolve(f"{PROMPT}@latest").number == 1
    registry.record(PROMPT, b"two\n")
    assert registry.resolve(f"{PROMPT}@latest").number == 2
    registry.record(PROMPT, b"{{ broken\n", status="rejected", error=f"{PROMPT}:1:1: bad")
    assert registry.resolve(f"{PROMPT}@latest").number == 2
    assert registry.resolve(PROMPT).number == 3
    labels = {v.number: v.labels for v in registry.history(PROMPT)}
    assert labels == {3: (), 2: (LATEST,), 1: ()}
    registry.record(PROMPT, b"four\n")
    assert registry.resolve(f"{PROMPT}@latest").number == 4


def test_a_file_with_only_rejected_versions_has_no_latest(registry: Registry) -> None:
    registry.record(PROMPT, b"", status="rejected", error=f"{PROMPT}:1:1: prompt file is empty")
    with pytest.raises(UnknownArtifact, match=rf"^{PROMPT} has no valid version$"):
        registry.resolve(f"{PROMPT}@latest")
    [history] = registry.files()
    assert history.active is None
    assert history.newest.status == "rejected"


def test_rejected_versions_keep_their_error(registry: Registry) -> None:
    registry.record(PROMPT, b"hello {{ name }}\n")
    error = f"{PROMPT}:1:10: unknown variable 'nme' (known: input, steps, loop)"
    recorded = registry.record(PROMPT, b"hello {{ nme }}\n", status="rejected", error=error)
    stored = registry.resolve(f"{PROMPT}@2")
    assert stored == recorded.version
    assert (stored.status, stored.error) == ("rejected", error)
    assert stored.to_json()["error"] == error
    assert registry.resolve(f"{PROMPT}@1").error == ""


def test_the_same_content_rejected_for_another_reason_is_a_new_version(
    registry: Registry,
) -> None:
    registry.record(PROMPT, b"x\n", status="rejected", error="a")
    assert registry.record(PROMPT, b"x\n", status="rejected", error="b").new is True
    assert registry.record(PROMPT, b"x\n", status="valid").new is True
    assert [v.status for v in registry.history(PROMPT)] == ["valid", "rejected", "rejected"]


def test_files_lists_each_file_with_its_newest_and_active_version(registry: Registry) -> None:
    three_versions(registry)
    registry.record(PROMPT, b"bad\n", status="rejected", error="no")
    registry.record("prompts/other.md", b"other\n")
    by_path = {f.path: f for f in registry.files()}
    assert list(by_path) == ["prompts/greet.md", "prompts/other.md"]
    greet = by_path[PROMPT]
    assert (greet.versions, greet.newest.number, greet.kind) == (4, 4, "prompt")
    assert greet.active is not None and greet.active.number == 3
    assert LATEST in greet.active.labels


# --- labels ----------------------------------------------------------------------------------


def test_a_label_is_set_moved_and_removed(registry: Registry) -> None:
    three_versions(registry)
    first, second = registry.resolve(f"{PROMPT}@1"), registry.resolve(f"{PROMPT}@2")
    registry.set_label("production", first)
    assert registry.resolve(f"{PROMPT}@production").number == 1
    registry.set_label("production", second)
    assert registry.resolve(f"{PROMPT}@production").number == 2
    assert "production" not in registry.resolve(f"{PROMPT}@1").labels
    assert registry.remove_label("production", PROMPT) is True
    assert registry.remove_label("production", PROMPT) is False
    with pytest.raises(UnknownArtifact, match="no such version"):
        registry.resolve(f"{PROMPT}@production")


def test_a_label_belongs_to_one_file(registry: Registry) -> None:
    a = registry.record("prompts/a.md", b"a\n").version
    b = registry.record("prompts/b.md", b"b\n").version
    registry.set_label("candidate", a)
    registry.set_label("candidate", b)
    assert registry.resolve("prompts/a.md@candidate") == registry.resolve("prompts/a.md@1")
    assert registry.resolve("prompts/b.md@candidate").path == "prompts/b.md"


def test_latest_cannot_be_set(registry: Registry) -> None:
    version = registry.record(PROMPT, b"one\n").version
    with pytest.raises(UnknownArtifact) as caught:
        registry.set_label(LATEST, version)
    assert str(caught.value) == "'latest' moves by itself (the newest valid version)"


@pytest.mark.parametrize("name", ["", "1st", "has space", "x" * 65, "ünïcode"])
def test_a_label_name_must_look_like_a_name(registry: Registry, name: str) -> None:
    version = registry.record(PROMPT, b"one\n").version
    with pytest.raises(UnknownArtifact, match=r"use a letter then letters, digits"):
        registry.set_label(name, version)


def test_a_rejected_version_cannot_be_labelled(registry: Registry) -> None:
    version = registry.record(PROMPT, b"x\n", status="rejected", error="bad").version
    with pytest.raises(UnknownArtifact) as caught:
        registry.set_label("production", version)
    assert str(caught.value) == f"{PROMPT}@1 was rejected; only a valid version is labelled"


# --- references ------------------------------------------------------------------------------


def test_references_name_versions(registry: Registry) -> None:
    three_versions(registry)
    registry.set_label("production", registry.resolve(f"{PROMPT}@2"))
    second = registry.resolve(f"{PROMPT}@2")
    assert second.labels == ("production",)
    assert registry.resolve(PROMPT).number == 3
    assert registry.resolve(f"{PROMPT}@2") == second
    assert registry.resolve(f"{PROMPT}@production") == second
    assert registry.resolve(f"{PROMPT}@{second.artifact_id[:4]}") == second
    assert registry.resolve(f"{PROMPT}@{second.artifact_id}") == second


def test_a_hash_prefix_names_the_newest_version_with_that_content(registry: Registry) -> None:
    for text in (b"A\n", b"B\n", b"A\n"):
        registry.record(PROMPT, text)
    prefix = artifact_id(b"A\n")[:8]
    assert registry.resolve(f"{PROMPT}@{prefix}").number == 3


def two_contents_sharing_a_prefix() -> tuple[bytes, bytes, str]:
    """Two contents whose artifact ids start with the same four hex digits."""
    seen: dict[str, bytes] = {}
    for n in itertools.count():
        content = f"draft {n}\n".encode()
        prefix = artifact_id(content)[:4]
        if prefix in seen:
            return seen[prefix], content, prefix
        seen[prefix] = content
    raise AssertionError("unreachable")


def test_an_ambiguous_hash_prefix_is_refused(registry: Registry) -> None:
    first, second, prefix = two_contents_sharing_a_prefix()
    registry.record(PROMPT, first)
    registry.record(PROMPT, second)
    with pytest.raises(UnknownArtifact) as caught:
        registry.resolve(f"{PROMPT}@{prefix}")
    assert str(caught.value) == f"{PROMPT}@{prefix}: the hash prefix matches 2 versions"


def test_an_unknown_file_is_named_with_a_suggestion(registry: Registry) -> None:
    registry.record(PROMPT, b"one\n")
    with pytest.raises(UnknownArtifact) as caught:
        registry.resolve("prompts/greeet.md@1")
    assert str(caught.value) == (
        "no versions of 'prompts/greeet.md' are recorded (did you mean 'prompts/greet.md'?)"
    )


@pytest.mark.parametrize("which", ["9", "0", "staging", "abc", "ffff", "ABCD"])
def test_an_unknown_version_lists_what_there_is(registry: Registry, which: str) -> None:
    three_versions(registry)
    registry.set_label("production", registry.resolve(f"{PROMPT}@1"))
    with pytest.raises(UnknownArtifact) as caught:
        registry.resolve(f"{PROMPT}@{which}")
    assert str(caught.value) == (
        f"{PROMPT}@{which}: no such version (versions 1–3, labels latest, production, "
        "or a prefix of a content hash)"
    )


# --- releases --------------------------------------------------------------------------------


def test_recording_a_release_is_idempotent(
    registry: Registry, engine: Engine, workspace: Path
) -> None:
    loaded = load_pipeline(load_workspace(workspace, strict=False), "support-triage")
    args = (loaded.release, loaded.name, loaded.manifest, loaded.contents)
    assert registry.record_release(*args) is True
    versions = count(engine, ArtifactVersion)
    assert registry.record_release(*args) is False
    assert count(engine, ArtifactVersion) == versions == len(loaded.sources)
    [release] = registry.releases("support-triage")
    assert release.id == loaded.release
    assert release.files == loaded.sources
    assert registry.release(loaded.release[:6]) == release
    assert registry.releases("doc-reconciliation") == []


def test_a_release_records_its_files_as_valid_versions(registry: Registry, workspace: Path) -> None:
    loaded = load_pipeline(load_workspace(workspace, strict=False), "support-triage")
    registry.record_release(loaded.release, loaded.name, loaded.manifest, loaded.contents)
    for path, artifact in loaded.sources.items():
        latest = registry.resolve(f"{path}@latest")
        assert (latest.artifact_id, latest.number, latest.status) == (artifact, 1, "valid")


def test_an_unknown_or_ambiguous_release_prefix_is_refused(registry: Registry) -> None:
    for release in ("ab12", "ab34"):
        registry.record_release(release, "p", {"files": []}, {})
    with pytest.raises(UnknownArtifact, match=r"^several releases with an id starting 'ab'$"):
        registry.release("ab")
    with pytest.raises(UnknownArtifact, match=r"^no release with an id starting 'cd'$"):
        registry.release("cd")
