"""Hot reload under real editing: the real Watcher on a copy of the demo workspace.

Each test edits files the way an editor or a tool does — its temporary files, renames, swap
files, truncations and pauses included — then waits (on the session's listener, never by
sleeping) until the session has judged the final content, and checks the same things every
time: the active version is the last valid content, the pipelines still load from it, the
registry agrees, only the edited file was judged (editors' scaffolding never is), and the
watcher is alive with no error reported. Pauses *between* an editor's steps are the editor's
own (a user typing, a tool writing in two goes); they never stand in for a wait.
"""

from __future__ import annotations

import os
import random
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agentdesk.artifacts.files import artifact_path
from agentdesk.artifacts.session import ArtifactSession, Outcome
from agentdesk.artifacts.watch import Watcher
from agentdesk.spec.sources import artifact_id
from agentdesk.store.artifacts import Registry

PROMPT = "prompts/triage.user.md"
PIPELINE = "pipelines/support-triage.yaml"
TIMEOUT = 15.0
"""Seconds to wait for the watcher; generous, because the machine may be busy."""


@dataclass
class Desk:
    """A scanned session, its registry and a running watcher, with every outcome heard."""

    root: Path
    session: ArtifactSession
    registry: Registry
    watcher: Watcher
    thread: threading.Thread = field(init=False)
    outcomes: list[Outcome] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    heard: threading.Event = field(default_factory=threading.Event)

    def hear(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        self.heard.set()

    def wait_until(self, predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
        """Wake on every outcome until ``predicate`` holds (cleared before each check, so an
        outcome that lands between the check and the wait is not missed)."""
        deadline = time.monotonic() + timeout
        while True:
            self.heard.clear()
            if predicate():
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.heard.wait(remaining):
                if predicate():
                    return
                recent = [(o.path, o.status, o.short) for o in self.outcomes[-8:]]
                raise AssertionError(f"timed out after {timeout} s; last outcomes: {recent}")

    def mark(self) -> int:
        """Where the outcomes of the next edit start."""
        return len(self.outcomes)

    def judged(self, path: str, content: bytes, since: int) -> list[Outcome]:
        """Outcomes since ``since`` that read exactly ``content`` from ``path``."""
        wanted = artifact_id(content)
        return [o for o in self.outcomes[since:] if o.path == path and _read(o) == wanted]

    def settle(self, path: str, content: bytes, since: int) -> Outcome:
        """Wait until the session has judged ``content`` (what the editor left on disk)."""
        assert (self.root / path).read_bytes() == content, "the editor left something else"
        self.wait_until(lambda: bool(self.judged(path, content, since)))
        return self.judged(path, content, since)[-1]

    def check(self, path: str, valid: bytes, since: int) -> None:
        """What must hold after every editing sequence."""
        expected = artifact_id(valid)
        assert self.session.active_id(path) == expected
        for name in self.session.pipelines():
            loaded = self.session.load(name)
            assert loaded.release == self.session.release(name)
            if path in loaded.sources:
                assert loaded.sources[path] == expected
        assert self.registry.resolve(f"{path}@latest").artifact_id == expected
        assert {o.path for o in self.outcomes[since:]} == {path}
        for recorded in self.registry.files():
            assert artifact_path(self.root, self.root / recorded.path) == recorded.path
        assert self.thread.is_alive()
        assert self.errors == []


def _read(outcome: Outcome) -> str | None:
    """The artifact id of what an outcome read from disk (None: nothing was read)."""
    if outcome.version is not None:
        return outcome.version.artifact_id
    return outcome.active if outcome.status == "unchanged" else None


@pytest.fixture
def desk(workspace: Path, registry: Registry) -> Iterator[Desk]:
    session = ArtifactSession(workspace, registry)
    session.scan()
    found = Desk(workspace, session, registry, Watcher(session, step_ms=10))
    found.watcher.on_error = found.errors.append
    session.listeners.append(found.hear)
    # The watcher's own loop on a thread the test holds, so that it can check it is alive.
    found.thread = threading.Thread(target=found.watcher.run, name="watch", daemon=True)
    found.thread.start()
    assert found.watcher.ready.wait(TIMEOUT)
    yield found
    found.watcher.stop()
    found.thread.join(TIMEOUT)
    assert not found.thread.is_alive()


# --- content ---------------------------------------------------------------------------------


def prompt_text(note: str) -> bytes:
    """A valid version of the user prompt, different for each note."""
    original = (Path(__file__).parents[2] / "fixtures" / PROMPT).read_bytes()
    return original + f"Note: {note}\n".encode()


def broken_prompt(note: str) -> bytes:
    return prompt_text(note) + b"{{ no_such_variable }}\n"


def pipeline(note: str) -> bytes:
    original = (Path(__file__).parents[2] / "fixtures" / PIPELINE).read_bytes()
    return original + f"# {note}\n".encode()


def write(file: Path, content: bytes) -> None:
    """Write in place, as most editors and ``echo >`` do (truncate, write, close)."""
    with open(file, "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())


# --- editors ---------------------------------------------------------------------------------


def vim_open(file: Path) -> Path:
    swap = file.with_name(f".{file.name}.swp")
    write(swap, b"b0VIM 9.1\x00" + bytes(100))
    return swap


def vim_save(file: Path, content: bytes) -> None:
    """vim's save on Linux with its defaults (``backupcopy=auto`` renames a plain file):
    probe that the folder is writable with a file named 4913, move the original aside as
    ``file~``, write the new file, delete the backup."""
    probe = file.with_name("4913")
    write(probe, b"")
    probe.unlink()
    backup = file.with_name(file.name + "~")
    os.rename(file, backup)
    write(file, content)
    backup.unlink()


def atomic_save(file: Path, content: bytes, temporary: str) -> None:
    """Write a temporary file beside the file, then rename it over the file (VS Code's
    atomic save, and most libraries' "write file atomically")."""
    temp = file.with_name(temporary)
    write(temp, content)
    os.replace(temp, file)


def jetbrains_save(file: Path, content: bytes) -> None:
    """IntelliJ's "safe write": new content to ``___jb_tmp___``, original moved to
    ``___jb_old___``, the temporary renamed to the file, the old one deleted."""
    temp = file.with_name(file.name + "___jb_tmp___")
    old = file.with_name(file.name + "___jb_old___")
    write(temp, content)
    os.rename(file, old)
    os.rename(temp, file)
    old.unlink()


# --- editors' saves --------------------------------------------------------------------------


def test_vim_save_with_swap_file(desk: Desk) -> None:
    file, since = desk.root / PROMPT, desk.mark()
    swap = vim_open(file)
    time.sleep(0.02)  # typing; vim updates its swap file as it goes
    write(swap, b"b0VIM 9.1\x00" + bytes(200))
    new = prompt_text("vim")
    vim_save(file, new)
    time.sleep(0.02)
    swap.unlink()  # :q
    assert desk.settle(PROMPT, new, since).status == "activated"
    desk.check(PROMPT, new, since)


def test_vim_save_of_a_broken_edit_then_a_fix(desk: Desk) -> None:
    file, since = desk.root / PROMPT, desk.mark()
    old = file.read_bytes()
    swap = vim_open(file)
    bad = broken_prompt("vim")
    vim_save(file, bad)
    rejected = desk.settle(PROMPT, bad, since)
    assert [str(p) for p in rejected.problems] == [
        f"{PROMPT}:12: unknown variable 'no_such_variable' (known: input, steps, loop)"
    ]
    desk.check(PROMPT, old, since)
    fixed = prompt_text("vim, fixed")
    vim_save(file, fixed)
    swap.unlink()
    assert desk.settle(PROMPT, fixed, since).problems == ()
    assert PROMPT not in desk.session.problems
    desk.check(PROMPT, fixed, since)


@pytest.mark.parametrize(
    "temporary",
    [".triage.user.md.tmp", "triage.user.md.tmp.4242", "triage.user.md.crswap"],
)
def test_atomic_save(desk: Desk, temporary: str) -> None:
    since, new = desk.mark(), prompt_text(temporary)
    atomic_save(desk.root / PROMPT, new, temporary)
    assert desk.settle(PROMPT, new, since).status == "activated"
    desk.check(PROMPT, new, since)


def test_jetbrains_safe_write(desk: Desk) -> None:
    since, new = desk.mark(), prompt_text("jetbrains")
    jetbrains_save(desk.root / PROMPT, new)
    assert desk.settle(PROMPT, new, since).status == "activated"
    desk.check(PROMPT, new, since)


def test_sed_in_place(desk: Desk) -> None:
    file, since = desk.root / PROMPT, desk.mark()
    subprocess.run(["sed", "-i", "s/priority/urgency/", str(file)], check=True)
    new = file.read_bytes()
    assert b"urgency" in new
    assert desk.settle(PROMPT, new, since).status == "activated"
    desk.check(PROMPT, new, since)


def test_delete_and_recreate(desk: Desk) -> None:
    file, since = desk.root / PROMPT, desk.mark()
    old = file.read_bytes()
    file.unlink()
    desk.wait_until(lambda: any(o.status == "deleted" for o in desk.outcomes[since:]))
    desk.check(PROMPT, old, since)
    new = prompt_text("recreated")
    write(file, new)
    assert desk.settle(PROMPT, new, since).status == "activated"
    desk.check(PROMPT, new, since)


def test_delete_and_recreate_with_the_same_content(desk: Desk) -> None:
    file, since = desk.root / PROMPT, desk.mark()
    old = file.read_bytes()
    file.unlink()
    write(file, old)
    assert desk.settle(PROMPT, old, since).status in ("unchanged", "activated")
    assert len(desk.registry.history(PROMPT)) == 1
    desk.check(PROMPT, old, since)


def test_truncation_to_empty_is_rejected(desk: Desk) -> None:
    file, since = desk.root / PROMPT, desk.mark()
    old = file.read_bytes()
    open(file, "wb").close()
    rejected = desk.settle(PROMPT, b"", since)
    assert [str(p) for p in rejected.problems] == [f"{PROMPT}:1:1: prompt file is empty"]
    assert desk.session.problems[PROMPT] == rejected.problems
    desk.check(PROMPT, old, since)
    new = prompt_text("after empty")
    write(file, new)
    desk.settle(PROMPT, new, since)
    assert PROMPT not in desk.session.problems
    desk.check(PROMPT, new, since)


def test_a_partial_write_is_judged_then_the_whole(desk: Desk) -> None:
    file, since = desk.root / PROMPT, desk.mark()
    old, new = file.read_bytes(), prompt_text("written in two goes")
    half = new[: new.index(b"{{ steps.ticket.body") + len(b"{{ steps.ti")]
    with open(file, "wb") as out:
        out.write(half)
        out.flush()
        rejected = desk.settle(PROMPT, half, since)  # the writer pauses: the half is seen
        assert rejected.status == "rejected"
        desk.check(PROMPT, old, since)
        out.write(new[len(half) :])
    assert desk.settle(PROMPT, new, since).status == "activated"
    desk.check(PROMPT, new, since)


def test_binary_garbage_is_rejected(desk: Desk) -> None:
    file, since = desk.root / PROMPT, desk.mark()
    old = file.read_bytes()
    garbage = b"\xff\xfe\x00" + random.Random(5).randbytes(4096)
    write(file, garbage)
    rejected = desk.settle(PROMPT, garbage, since)
    assert [str(p) for p in rejected.problems] == [f"{PROMPT}:1: invalid UTF-8 (byte offset 0)"]
    desk.check(PROMPT, old, since)
    new = prompt_text("after garbage")
    atomic_save(file, new, ".triage.user.md.tmp")
    desk.settle(PROMPT, new, since)
    desk.check(PROMPT, new, since)


# --- YAML hazards ----------------------------------------------------------------------------


def alias_bomb() -> bytes:
    lines = ["name: support-triage", 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 10)]
    return ("\n".join(lines) + "\n").encode()


def with_tab() -> bytes:
    return pipeline("tab").replace(b"\n    kind: llm\n", b"\n\tkind: llm\n", 1)


YAML_HAZARDS = [
    pytest.param(
        alias_bomb(), f"{PIPELINE}:3:10: aliases (*a0) are not supported here", id="alias-bomb"
    ),
    pytest.param(
        b"name: deep\nsteps: " + b"[" * 50_000 + b"]" * 50_000 + b"\n",
        f"{PIPELINE}:2:71: nested deeper than 64 levels",
        id="deep-nesting",
    ),
    pytest.param(
        pipeline("dup") + b"name: again\n",
        f"{PIPELINE}:87:1: duplicate key 'name' (first defined at line 1)",
        id="duplicate-key",
    ),
    pytest.param(with_tab(), f"{PIPELINE}:41:1: tab character: YAML indents with spaces", id="tab"),
    pytest.param(
        pipeline("utf8").replace(b"Fetch a ticket", b"Fetch a \xff\xfe ticket"),
        f"{PIPELINE}:3:11: invalid UTF-8 (byte offset 46)",
        id="invalid-utf8",
    ),
    pytest.param(
        random.Random(7).randbytes(2048).replace(b"\n", b"-"),
        None,
        id="binary-garbage",
    ),
]


@pytest.mark.parametrize(("hazard", "problem"), YAML_HAZARDS)
def test_yaml_hazards_in_a_pipeline_are_rejected(
    desk: Desk, hazard: bytes, problem: str | None
) -> None:
    file, since = desk.root / PIPELINE, desk.mark()
    old = file.read_bytes()
    write(file, hazard)
    rejected = desk.settle(PIPELINE, hazard, since)
    assert rejected.status == "rejected"
    if problem is not None:
        assert [str(p) for p in rejected.problems] == [problem]
    desk.check(PIPELINE, old, since)
    fixed = pipeline("fixed")
    write(file, fixed)
    assert desk.settle(PIPELINE, fixed, since).status == "activated"
    desk.check(PIPELINE, fixed, since)


# --- bursts ----------------------------------------------------------------------------------


def burst(file: Path, contents: list[bytes], pause: float) -> None:
    for content in contents:
        write(file, content)
        time.sleep(pause)


@pytest.mark.parametrize("pause", [0.02, 0.0], ids=["50-in-a-second", "50-at-once"])
def test_a_burst_of_saves_ending_valid(desk: Desk, pause: float) -> None:
    since = desk.mark()
    contents = [prompt_text(f"save {n}") for n in range(50)]
    burst(desk.root / PROMPT, contents, pause)
    assert desk.settle(PROMPT, contents[-1], since).status == "activated"
    desk.check(PROMPT, contents[-1], since)


def test_a_burst_of_saves_ending_invalid_keeps_the_last_valid_save(desk: Desk) -> None:
    """The last valid save stays active, once the session has seen it: here the editor's
    invalid save comes after the previous one was judged."""
    file, since = desk.root / PROMPT, desk.mark()
    valid = [prompt_text(f"save {n}") for n in range(49)]
    burst(file, valid, 0.02)
    desk.settle(PROMPT, valid[-1], since)
    bad = broken_prompt("save 49")
    write(file, bad)
    assert desk.settle(PROMPT, bad, since).status == "rejected"
    desk.check(PROMPT, valid[-1], since)


def test_a_burst_of_saves_ending_invalid_without_a_pause(desk: Desk) -> None:
    """When the invalid save lands before the watcher read the valid one before it, that
    valid content was never seen by anyone; what stays active is the last valid content the
    session read — one of the burst's, and the registry's ``latest``."""
    file, since = desk.root / PROMPT, desk.mark()
    valid = [prompt_text(f"save {n}") for n in range(49)]
    bad = broken_prompt("save 49")
    burst(file, [*valid, bad], 0.02)
    assert desk.settle(PROMPT, bad, since).status == "rejected"
    activated = [o for o in desk.outcomes[since:] if o.status == "activated"]
    assert activated, "no save of the burst was judged valid"
    last = activated[-1].active
    assert last in {artifact_id(content) for content in valid}
    desk.check(PROMPT, next(c for c in valid if artifact_id(c) == last), since)


def test_the_watcher_starts_on_a_thread_of_its_own_and_stops(
    workspace: Path, registry: Registry
) -> None:
    session = ArtifactSession(workspace, registry)
    session.scan()
    heard = threading.Event()
    new = prompt_text("started")
    session.listeners.append(lambda o: heard.set() if o.active == artifact_id(new) else None)
    watcher = Watcher(session, step_ms=10)
    watcher.start()
    try:
        assert watcher.ready.wait(TIMEOUT)
        write(workspace / PROMPT, new)
        assert heard.wait(TIMEOUT)
    finally:
        watcher.stop()
    assert not [t for t in threading.enumerate() if t.name == "agentdesk-watch"]
