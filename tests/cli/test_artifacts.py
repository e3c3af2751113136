"""``agentdesk artifacts`` and ``agentdesk watch``: versions as a user reads and changes them."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from agentdesk.spec.sources import artifact_id
from tests.cli.support import PROMPT, Invoke, WriteWorkspace, assert_no_crash, flat

HELLO = "prompts/hello.md"


def _json(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_list_shows_every_artifact_file_with_its_active_version(
    write_workspace: WriteWorkspace, agentdesk: Invoke
) -> None:
    root = write_workspace({"prompts/.hello.md.swp": "vim swap", "prompts/hello.md~": "backup"})
    listed = _json(agentdesk("artifacts", "-w", root, "--json"))
    assert [f["path"] for f in listed] == [
        "agentdesk.yaml",
        "pipelines/greet.yaml",
        HELLO,
        "scenarios/happy.yaml",
    ]
    hello = next(f for f in listed if f["path"] == HELLO)
    assert hello["active"]["artifact"] == artifact_id(PROMPT.encode())
    assert hello["active"]["labels"] == ["latest"]


def test_an_edit_is_a_new_version_and_the_same_content_is_not(
    write_workspace: WriteWorkspace, agentdesk: Invoke
) -> None:
    root = write_workspace()
    agentdesk("artifacts", "-w", root)
    (root / HELLO).write_text(PROMPT + "Be brief.\n")
    agentdesk("artifacts", "-w", root)
    agentdesk("artifacts", "-w", root)  # nothing changed since: no new version
    (root / HELLO).write_bytes((PROMPT + "Be brief.\n").replace("\n", "\r\n").encode())
    versions = _json(agentdesk("artifacts", "history", HELLO, "-w", root, "--json"))
    assert [v["number"] for v in versions] == [2, 1]  # CRLF is the same artifact
    assert versions[0]["labels"] == ["latest"] and versions[1]["labels"] == []


def test_a_broken_edit_is_rejected_and_the_previous_version_stays_active(
    write_workspace: WriteWorkspace, agentdesk: Invoke
) -> None:
    root = write_workspace()
    agentdesk("artifacts", "-w", root)
    (root / HELLO).write_text("Hello {{ nme }}\n")
    result = agentdesk("artifacts", "-w", root)
    kept = artifact_id(PROMPT.encode())[:8]
    assert f"prompts/hello.md: rejected ({kept} stays active)" in flat(result.stderr)
    assert "prompts/hello.md:1: unknown variable 'nme'" in flat(result.stderr)
    listed = _json(agentdesk("artifacts", "-w", root, "--json"))
    hello = next(f for f in listed if f["path"] == HELLO)
    assert hello["active"]["number"] == 1
    assert hello["newest"]["status"] == "rejected" and hello["newest"]["error"]


def test_diff_shows_the_change_and_the_rendered_prompts_token_change(
    write_workspace: WriteWorkspace, agentdesk: Invoke
) -> None:
    root = write_workspace()
    agentdesk("artifacts", "-w", root)
    (root / HELLO).write_text(PROMPT + "Answer in one short, polite and friendly sentence.\n")
    report = _json(agentdesk("artifacts", "diff", HELLO, "-w", root, "--json"))
    assert "+Answer in one short, polite and friendly sentence." in report["diff"]
    assert report["a"]["number"] == 1 and report["b"]["number"] == 2
    tokens = report["tokens"]
    assert tokens["pipeline"] == "greet"
    assert tokens["b"] - tokens["a"] == 10  # the added line, as the model receives it


def test_label_and_rollback_restore_a_version_atomically(
    write_workspace: WriteWorkspace, agentdesk: Invoke
) -> None:
    root = write_workspace()
    agentdesk("artifacts", "-w", root)
    assert agentdesk("artifacts", "label", "production", f"{HELLO}@1", "-w", root).exit_code == 0
    (root / HELLO).write_text("Hi {{ input.name }}.\n")
    agentdesk("artifacts", "-w", root)
    result = agentdesk("artifacts", "rollback", f"{HELLO}@production", "--yes", "-w", root)
    assert result.exit_code == 0, result.output
    assert (root / HELLO).read_text() == PROMPT
    assert not [p.name for p in (root / "prompts").iterdir() if p.name != "hello.md"]
    versions = _json(agentdesk("artifacts", "history", HELLO, "-w", root, "--json"))
    assert [(v["number"], v["artifact"] == artifact_id(PROMPT.encode())) for v in versions] == [
        (3, True),
        (2, False),
        (1, True),
    ]
    shown = agentdesk("artifacts", "show", f"{HELLO}@2", "-w", root)
    assert shown.stdout == "Hi {{ input.name }}.\n"


def test_rollback_asks_before_overwriting_and_bad_references_are_clear(
    write_workspace: WriteWorkspace, agentdesk: Invoke
) -> None:
    root = write_workspace()
    agentdesk("artifacts", "-w", root)
    (root / HELLO).write_text("Hi {{ input.name }}.\n")
    refused = agentdesk("artifacts", "rollback", f"{HELLO}@1", "-w", root)
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert (root / HELLO).read_text() == "Hi {{ input.name }}.\n"
    for ref, message in [
        (f"{HELLO}@9", "no such version (versions 1–2, labels latest"),
        ("prompts/helo.md", "no versions of 'prompts/helo.md' are recorded (did you mean"),
    ]:
        result = agentdesk("artifacts", "show", ref, "-w", root)
        assert_no_crash(result)
        assert result.exit_code == 2 and message in flat(result.stderr)
    latest = agentdesk("artifacts", "label", "latest", f"{HELLO}@1", "-w", root)
    assert latest.exit_code == 2 and "moves by itself" in latest.stderr


def test_runs_record_their_release_and_releases_lists_its_files(
    write_workspace: WriteWorkspace, agentdesk: Invoke
) -> None:
    root = write_workspace()
    assert agentdesk("run", "greet", "-w", root).exit_code == 0
    (root / HELLO).write_text(PROMPT + "Sign as the support team.\n")
    assert agentdesk("run", "greet", "-w", root).exit_code == 0
    runs = _json(agentdesk("runs", "-w", root, "--json"))
    releases = _json(agentdesk("artifacts", "releases", "-w", root, "--json"))
    assert [r["release_id"] for r in runs] == [r["id"] for r in releases]
    assert len({r["id"] for r in releases}) == 2
    newest = dict(releases[0]["files"])
    assert newest[HELLO] == artifact_id((PROMPT + "Sign as the support team.\n").encode())


def _readline(process: subprocess.Popen[str], timeout: float = 20.0) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, "agentdesk watch printed nothing in time"
    return process.stdout.readline()


def test_watch_prints_a_comparison_on_every_save(
    write_workspace: WriteWorkspace, store_db: Path
) -> None:
    root = write_workspace()
    env = {**os.environ, "AGENTDESK_DB": str(store_db)}
    script = Path(sys.executable).with_name("agentdesk")
    command = [str(script), "watch", "greet", "-w", str(root), "--json"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        ready = json.loads(_readline(process))
        assert ready["pipeline"] == "greet"
        (root / HELLO).write_text("Hello {{ input.nope }}\n")
        rejected = json.loads(_readline(process))
        assert rejected["status"] == "rejected" and rejected["path"] == HELLO
        assert rejected["active"] == artifact_id(PROMPT.encode())
        assert "prompts/hello.md:1" in rejected["problems"][0]
        edited = PROMPT + "Please also thank them for their patience with us today.\n"
        (root / HELLO).write_text(edited)
        activated = json.loads(_readline(process))
        assert activated["status"] == "activated"
        comparison = activated["comparison"]
        assert comparison["before"] == ready["release"] != comparison["after"]
        tokens = comparison["deltas"]["prompt tokens"]
        assert tokens["after"] > tokens["before"]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)  # Ctrl-C ends the watch; a loaded machine may take seconds
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0
