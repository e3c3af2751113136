"""The Artifacts screen and hot reload in the app, through the factory the CLI uses.

Each test works on its own copy of the demo workspace, with its own store. Edits are made as
an editor would (the file is written) and handed to the session directly (``session.apply``)
instead of waiting for the watcher; the test then waits for hot reload's worker
(``wait_idle``) and the screen's diff workers — never for a fixed time. The app shows a
recorded session, so no simulation thread runs; the live pipeline's release is read from the
control, which is what a swap changes.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from textual.pilot import Pilot

from agentdesk.store.artifacts import UnknownArtifact, Version
from agentdesk.tui.app import AgentdeskApp, make_app
from agentdesk.tui.hot_reload import HotReload
from agentdesk.tui.screens.artifacts import ArtifactsScreen
from agentdesk.tui.screens.confirm import ConfirmScreen
from agentdesk.tui.screens.label_input import LabelInput
from agentdesk.tui.widgets.diff_view import DiffView
from agentdesk.tui.widgets.effect_panel import EffectPanel
from agentdesk.tui.widgets.status_line import StatusLine
from agentdesk.tui.widgets.version_list import VersionList
from tests.tui.conftest import SIZE, recorded
from tests.tui.test_hostile import BAD_BYTES, HOSTILE

PROMPT = "prompts/triage.user.md"
BROKEN = b"Ticket {{ input.ticket_id \n"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    from agentdesk.simulation import demo_workspace

    root = tmp_path / "ws"
    shutil.copytree(demo_workspace(), root, ignore=shutil.ignore_patterns(".agentdesk"))
    return root


def _app(root: Path) -> AgentdeskApp:
    hot = HotReload(root, db=str(root / ".agentdesk" / "test.db"), watch=False)
    events = list(recorded("happy"))
    return make_app(root, "support-triage", "happy", events=events, hot_reload=hot)


async def _settle(app: AgentdeskApp, pilot: Pilot[None]) -> None:
    """Wait for hot reload's worker, then for the messages and diff workers it started."""
    assert app.hot is not None
    for _ in range(50):
        await pilot.pause()
        assert await asyncio.to_thread(app.hot.wait_idle, 60.0)
        if app.hot.snapshot.ready:
            break
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def _edit(app: AgentdeskApp, pilot: Pilot[None], path: str, content: bytes) -> None:
    assert app.hot is not None and app.hot.session is not None
    (app.hot.root / path).write_bytes(content)
    await asyncio.to_thread(app.hot.session.apply, [path])
    await _settle(app, pilot)


def _versions(app: AgentdeskApp, path: str) -> list[Version]:
    assert app.hot is not None and app.hot.registry is not None
    return app.hot.registry.history(path)


def _prompt_edit(root: Path) -> bytes:
    return (root / PROMPT).read_bytes() + b"\nAnswer in two sentences at most.\n"


async def test_the_screen_lists_every_file_and_its_versions(workspace: Path) -> None:
    """a opens the Artifacts screen: every artifact file of the workspace is listed with its
    one version, active (▶), and the diff view shows the highlighted version."""
    app = _app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        await _settle(app, pilot)
        assert isinstance(app.screen, ArtifactsScreen)
        versions = app.screen.query_one(VersionList)
        paths = {e.file.path for e in versions.entries}
        assert {"agentdesk.yaml", PROMPT, "pipelines/support-triage.yaml"} <= paths
        rows = [e for e in versions.entries if e.version is not None]
        assert rows and all(e.file.is_active(e.version) for e in rows if e.version)
        assert versions.version is not None
        assert "v1" in str(app.screen.query_one(DiffView).border_title)
        assert app.screen.query_one(DiffView).lines
        assert "versions recorded in" in str(versions.border_subtitle)


async def test_a_valid_edit_becomes_a_version_runs_live_and_is_compared(workspace: Path) -> None:
    """Saving a prompt records v2, makes it active, swaps the live pipeline to the new
    release, and the effect panel shows the before/after comparison (more prompt tokens)."""
    app = _app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        await _settle(app, pilot)
        before = app.control.state.release
        await _edit(app, pilot, PROMPT, _prompt_edit(workspace))
        assert app.hot is not None and app.hot.session is not None
        v2 = _versions(app, PROMPT)[0]
        assert (v2.number, v2.status) == (2, "valid")
        assert app.hot.session.active_id(PROMPT) == v2.artifact_id
        assert app.control.state.release == app.hot.session.release("support-triage") != before
        assert app.control.sim.pipeline.release == app.control.state.release
        effect = app.screen.query_one(EffectPanel).effect
        assert effect is not None and effect.comparison is not None
        tokens = next(d for d in effect.comparison.deltas if d.name == "prompt tokens")
        assert tokens.after > tokens.before
        assert effect.version is not None and effect.version.number == 2


async def test_a_rejected_edit_shows_its_error_and_changes_nothing_live(workspace: Path) -> None:
    """A broken prompt is recorded as rejected; its file:line error stays on the status line
    (on every screen) and the live release does not move; a valid edit clears the error."""
    app = _app(workspace)
    fixed = _prompt_edit(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        await _settle(app, pilot)
        before = app.control.state.release
        await _edit(app, pilot, PROMPT, BROKEN)
        rejected = _versions(app, PROMPT)[0]
        assert rejected.status == "rejected" and f"{PROMPT}:1" in rejected.error
        assert app.control.state.release == before
        problem = app.screen.query_one(StatusLine).problem
        assert problem.startswith("edit rejected, v1 stays active: prompts/triage.user.md:1")
        versions = app.screen.query_one(VersionList)
        versions.select(PROMPT, rejected.number)
        await _settle(app, pilot)
        diff = app.screen.query_one(DiffView).lines
        assert diff[0].kind == "error" and any(PROMPT + ":1" in line.text for line in diff)
        await pilot.press("l")
        await pilot.pause()
        assert app.screen.query_one(StatusLine).problem == problem
        await _edit(app, pilot, PROMPT, fixed)
        assert app.screen.query_one(StatusLine).problem == ""
        assert app.control.state.release != before


async def test_activate_roll_back_and_label_keys(workspace: Path) -> None:
    """enter activates the picked version (the file is untouched), r rolls back after a y
    (the file then holds exactly the stored version), t labels it."""
    app = _app(workspace)
    original = (workspace / PROMPT).read_bytes()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        await _settle(app, pilot)
        first_release = app.control.state.release
        edited = _prompt_edit(workspace)
        await _edit(app, pilot, PROMPT, edited)
        assert app.hot is not None and app.hot.session is not None
        v2, v1 = _versions(app, PROMPT)
        versions = app.screen.query_one(VersionList)

        versions.select(PROMPT, 1)
        await pilot.press("enter")
        await _settle(app, pilot)
        assert app.hot.session.active_id(PROMPT) == v1.artifact_id
        assert app.control.state.release == first_release
        assert (workspace / PROMPT).read_bytes() == edited

        versions.select(PROMPT, 2)
        await pilot.press("A")
        await _settle(app, pilot)
        assert app.hot.session.active_id(PROMPT) == v2.artifact_id

        versions.select(PROMPT, 1)
        await pilot.press("r")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await _settle(app, pilot)
        assert (workspace / PROMPT).read_bytes() == edited
        await pilot.press("r", "y")
        await _settle(app, pilot)
        assert app.hot.registry is not None
        assert (workspace / PROMPT).read_bytes() == app.hot.registry.content(v1) == original
        assert app.hot.session.active_id(PROMPT) == v1.artifact_id

        versions.select(PROMPT, 2)
        await pilot.press("t")
        assert isinstance(app.screen, LabelInput)
        await pilot.press(*"candidate", "enter")
        await _settle(app, pilot)
        assert "candidate" in _versions(app, PROMPT)[-2].labels
        assert any(
            e.version is not None and "candidate" in e.version.labels for e in versions.entries
        )

        # u offers the version's label, enter removes it; the registry forgets it
        versions.select(PROMPT, 2)
        await pilot.press("u")
        assert isinstance(app.screen, LabelInput)
        await pilot.press("enter")
        await _settle(app, pilot)
        assert "candidate" not in _versions(app, PROMPT)[-2].labels
        assert not any(
            e.version is not None and "candidate" in e.version.labels for e in versions.entries
        )
        with pytest.raises(UnknownArtifact):
            app.hot.registry.resolve(f"{PROMPT}@candidate")


async def test_a_bad_label_name_is_explained(workspace: Path) -> None:
    """A label name the registry refuses is reported, and nothing is labelled."""
    app = _app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        await _settle(app, pilot)
        await pilot.press("t", *"9 lives", "enter")
        await _settle(app, pilot)
        assert not any(
            label != "latest"
            for e in app.screen.query_one(VersionList).entries
            if e.version is not None
            for label in e.version.labels
        )
        assert any("use a letter" in n.message for n in app._notifications)


@pytest.mark.parametrize("payload", [*HOSTILE, "\x00\x01binary\xff"])
async def test_hostile_file_content_is_plain_text_in_the_diff(
    workspace: Path, payload: str
) -> None:
    """Whatever a file holds — markup, ANSI/OSC escapes, a 100,000-character line, NUL and
    raw bytes — the diff view paints it inert: no control bytes reach the terminal, markup
    shows literally, and nothing spills past the screen's width."""
    app = _app(workspace)
    content = payload.encode("utf-8", errors="surrogateescape")
    if payload.startswith("\x00"):
        content = b"\x00\x01binary\xff\xfe\n"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        await _settle(app, pilot)
        await _edit(app, pilot, PROMPT, content)
        versions = app.screen.query_one(VersionList)
        versions.select(PROMPT, 2)
        await _settle(app, pilot)
        diff = app.screen.query_one(DiffView)
        assert diff.lines and all(not any(c in line.text for c in BAD_BYTES) for line in diff.lines)
        painted = app.export_screenshot()
        assert not any(c in painted for c in BAD_BYTES)
        assert diff.region.right <= SIZE[0]
        if payload.startswith("[bold red]"):
            assert "[bold red]MARKUP[/bold red]" in painted.replace("&#160;", " ")


async def test_the_screen_fits_the_smallest_terminal(workspace: Path) -> None:
    """At 100×30 the versions, the diff and the effect panel all have room."""
    app = _app(workspace)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("a")
        await _settle(app, pilot)
        for selector in ("#versions", "#diff", "#effect"):
            region = app.screen.query_one(selector).region
            assert region.width >= 36 and region.height >= 6, selector
            assert region.right <= 100 and region.bottom <= 30, selector


async def test_the_palette_opens_the_artifacts_screen(workspace: Path) -> None:
    """ctrl+p offers "Open artifacts"."""
    app = _app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        await pilot.press("ctrl+p", *"open artifacts")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ArtifactsScreen)


async def test_without_a_store_hot_reload_still_works(workspace: Path) -> None:
    """When the store cannot be opened the screen says so, and a valid edit still runs live."""
    blocker = workspace / "not-a-folder"
    blocker.write_text("a file where the store's folder would go")
    hot = HotReload(workspace, db=str(blocker / "store.db"), watch=False)
    app = make_app(
        workspace, "support-triage", "happy", events=list(recorded("happy")), hot_reload=hot
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")
        await _settle(app, pilot)
        versions = app.screen.query_one(VersionList)
        assert "versions are not recorded" in str(versions.border_subtitle)
        before = app.control.state.release
        assert app.hot is not None and app.hot.session is not None
        (workspace / PROMPT).write_bytes(_prompt_edit(workspace))
        await asyncio.to_thread(app.hot.session.apply, [PROMPT])
        await _settle(app, pilot)
        assert app.control.state.release != before
