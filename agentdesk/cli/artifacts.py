"""``agentdesk artifacts``: every workspace file's versions — list, history, show, diff, label,
roll back — and the releases runs were recorded with.

Each command first takes the workspace as it is on disk (``ArtifactSession.scan``), so what
it lists is current: a file edited since the last run is a new version, a broken one is a
rejected version (and the newest valid one is the one that is active). Versions are named
``PATH``, ``PATH@3``, ``PATH@production``, ``PATH@latest`` or ``PATH@<hash prefix>``.
"""

from __future__ import annotations

import difflib
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich import box
from rich.table import Table
from rich.text import Text

from agentdesk.cli.console import EXIT_BAD_INPUT, errors_reported, stderr, stdout, workspace_option
from agentdesk.cli.runs import db_option

if TYPE_CHECKING:
    from agentdesk.artifacts.session import ArtifactSession
    from agentdesk.store.artifacts import FileHistory, Registry, ReleaseRecord, Version

_STATUS_STYLE = {"valid": "green", "rejected": "red"}


@click.group(invoke_without_command=True)
@workspace_option
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@click.pass_context
def artifacts(ctx: click.Context, workspace: Path | None, db: str | None, as_json: bool) -> None:
    """Workspace files and their versions (`agentdesk artifacts history PATH` for one)."""
    if ctx.invoked_subcommand is not None:
        return
    with errors_reported():
        session = _session(workspace, db)
        found = _registry(session).files()
        if as_json:
            click.echo(json.dumps([_file_json(f) for f in found], indent=2))
            return
        stdout.print(_files_table(found))
        _print_rejections(session)


@artifacts.command("history")
@click.argument("path")
@workspace_option
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the versions as JSON.")
def history(path: str, workspace: Path | None, db: str | None, as_json: bool) -> None:
    """Every version of one file, newest first."""
    with errors_reported():
        registry = _registry(_session(workspace, db))
        versions = registry.history(path) or [registry.resolve(path)]
        if as_json:
            click.echo(json.dumps([v.to_json() for v in versions], indent=2))
            return
        stdout.print(_versions_table(versions))
        for version in versions:
            if version.error:
                stdout.print(Text(f"#{version.number} rejected:", style="red"))
                for line in version.error.splitlines():
                    stdout.print(Text(f"  {line}"), soft_wrap=True)


@artifacts.command("show")
@click.argument("ref", metavar="REF")
@workspace_option
@db_option
def show(ref: str, workspace: Path | None, db: str | None) -> None:
    """Print one version's content exactly (REF: PATH, PATH@3, PATH@label, PATH@hash)."""
    with errors_reported():
        registry = _registry(_session(workspace, db))
        version = registry.resolve(ref)
        stderr.print(_describe(version), highlight=False)
        sys.stdout.buffer.write(registry.content(version))
        sys.stdout.flush()


@artifacts.command("diff")
@click.argument("old", metavar="A")
@click.argument("new", metavar="[B]", required=False)
@workspace_option
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the diff and token change as JSON.")
@click.option("--no-tokens", is_flag=True, help="Skip the rendered prompt's token count.")
def diff(
    old: str,
    new: str | None,
    workspace: Path | None,
    db: str | None,
    as_json: bool,
    no_tokens: bool,
) -> None:
    """Unified diff between two versions. `diff PATH` compares its last two versions;
    `diff A` compares A with the active version; `diff A B` compares the two.

    For a prompt, also the change in tokens of the prompt as the model receives it
    (rendered by a pipeline that uses it, on that pipeline's example input)."""
    with errors_reported():
        session = _session(workspace, db)
        registry = _registry(session)
        before, after = _pair(registry, old, new)
        a, b = registry.content(before), registry.content(after)
        lines = list(_unified(before, after, a, b))
        tokens = None if no_tokens else _token_change(session, before, a, b)
        if as_json:
            report = {"a": before.to_json(), "b": after.to_json(), "diff": "".join(lines)}
            click.echo(json.dumps({**report, "tokens": tokens}, indent=2))
            return
        stdout.print(_describe(before), "→", _describe(after), highlight=False)
        if not lines:
            stdout.print("same content", style="dim")
        for line in lines:
            stdout.print(_diff_line(line), soft_wrap=True, highlight=False)
        if tokens is not None:
            stdout.print(_tokens_line(tokens))


@artifacts.command("label")
@click.argument("name")
@click.argument("ref", metavar="REF")
@workspace_option
@db_option
@click.option("--delete", is_flag=True, help="Remove the label NAME from the file REF names.")
def label(name: str, ref: str, workspace: Path | None, db: str | None, delete: bool) -> None:
    """Point the label NAME (production, candidate…) at a version; `latest` moves by itself."""
    with errors_reported():
        registry = _registry(_session(workspace, db))
        if delete:
            path = ref.partition("@")[0]
            removed = registry.remove_label(name, path)
            stdout.print(f"{name} removed from {path}" if removed else f"{path} has no {name}")
            return
        version = registry.resolve(ref)
        registry.set_label(name, version)
        stdout.print(Text.assemble((name, "bold"), " → ", _describe(version)))


@artifacts.command("rollback")
@click.argument("ref", metavar="REF")
@workspace_option
@db_option
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def rollback(ref: str, workspace: Path | None, db: str | None, yes: bool) -> None:
    """Restore a version's content to its file (atomically: never a half-written file).

    The restored content is then judged like any edit: it becomes the newest version."""
    with errors_reported():
        session = _session(workspace, db)
        registry = _registry(session)
        version = registry.resolve(ref)
        current = session.active_id(version.path)
        if current == version.artifact_id and (session.root / version.path).is_file():
            on_disk = (session.root / version.path).read_bytes()
            if registry.content(version) == on_disk:
                stdout.print(f"{version.path} already holds {version.short}")
                return
        if not yes:
            if not sys.stdin.isatty():
                stderr.print("error: rollback overwrites a file; confirm with --yes")
                sys.exit(EXIT_BAD_INPUT)
            click.confirm(
                f"overwrite {version.path} with {version.ref} ({version.short})?", abort=True
            )
        outcome = session.rollback(version)
        restored = outcome.version
        text = Text.assemble(
            f"{version.path} ← {version.ref} ({version.short}) ", _outcome_word(outcome.status)
        )
        if restored is not None:
            text.append(f" · now {restored.ref}", style="dim")
        stdout.print(text)


@artifacts.command("releases")
@workspace_option
@db_option
@click.option("--pipeline", help="Only releases of this pipeline.")
@click.option("--json", "as_json", is_flag=True, help="Print the releases as JSON.")
def releases(workspace: Path | None, db: str | None, pipeline: str | None, as_json: bool) -> None:
    """Releases runs were recorded with, newest first: what each one's files were."""
    with errors_reported():
        from agentdesk.simulation import find_workspace
        from agentdesk.store import locate, open_engine
        from agentdesk.store.artifacts import Registry

        engine = open_engine(locate(find_workspace(workspace), db))
        try:
            found = Registry(engine).releases(pipeline)
        finally:
            engine.dispose()
        if as_json:
            click.echo(json.dumps([_release_json(r) for r in found], indent=2))
            return
        if not found:
            stdout.print("no releases recorded yet (agentdesk run records one)")
            return
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        for column in ("release", "pipeline", "recorded", "files", "agentdesk"):
            table.add_column(column, no_wrap=column != "files")
        for release in found:
            files = Text(
                "\n".join(f"{artifact[:8]} {path}" for path, artifact in release.files.items())
            )
            table.add_row(
                release.id[:12],
                release.pipeline,
                _when(release.created),
                files,
                str(release.manifest.get("agentdesk", "")),
            )
        stdout.print(table)


# --- helpers ----------------------------------------------------------------------------------


def _session(workspace: Path | None, db: str | None) -> ArtifactSession:
    """The workspace scanned into the store (what every subcommand starts from)."""
    from agentdesk.artifacts.session import ArtifactSession
    from agentdesk.simulation import find_workspace
    from agentdesk.store import locate, open_engine
    from agentdesk.store.artifacts import Registry

    root = find_workspace(workspace)
    session = ArtifactSession(root, Registry(open_engine(locate(root, db))))
    session.scan()
    return session


def _registry(session: ArtifactSession) -> Registry:
    assert session.registry is not None
    return session.registry


def _pair(registry: Registry, old: str, new: str | None) -> tuple[Version, Version]:
    from agentdesk.store.artifacts import UnknownArtifact

    if new is not None:
        return registry.resolve(old), registry.resolve(new)
    if "@" in old:
        return registry.resolve(old), registry.resolve(old.partition("@")[0] + "@latest")
    versions = registry.history(old)
    if len(versions) < 2:
        if not versions:
            registry.resolve(old)  # raises, naming what is known
        raise UnknownArtifact(f"{old} has one version only: nothing to compare")
    return versions[1], versions[0]


def _unified(before: Version, after: Version, a: bytes, b: bytes) -> list[str]:
    old = a.decode("utf-8", "replace").splitlines(keepends=True)
    new = b.decode("utf-8", "replace").splitlines(keepends=True)
    return list(
        difflib.unified_diff(
            old, new, f"{before.path}@{before.number}", f"{after.path}@{after.number}"
        )
    )


def _diff_line(line: str) -> Text:
    text = Text(line.rstrip("\n"))
    if line.startswith(("+++", "---")):
        text.stylize("bold")
    elif line.startswith("+"):
        text.stylize("green")
    elif line.startswith("-"):
        text.stylize("red")
    elif line.startswith("@@"):
        text.stylize("cyan")
    return text


def _token_change(
    session: ArtifactSession, before: Version, a: bytes, b: bytes
) -> dict[str, object] | None:
    """The rendered prompt's tokens at both versions, through a pipeline that reads it."""
    from agentdesk.artifacts.compare import rendered_prompt_tokens
    from agentdesk.errors import AgentdeskError
    from agentdesk.spec.sources import OverlayFiles

    if before.kind != "prompt":
        return None
    readers = session.readers(before.path)
    if not readers:
        return {"pipeline": None, "a": None, "b": None}
    pipeline = readers[0]
    counts: list[int | None] = []
    for content in (a, b):
        files = OverlayFiles(session.root, {**_active(session), before.path: content})
        try:
            counts.append(rendered_prompt_tokens(session.root, files, pipeline, before.path))
        except AgentdeskError:
            counts.append(None)  # that version does not load
    return {"pipeline": pipeline, "a": counts[0], "b": counts[1]}


def _active(session: ArtifactSession) -> dict[str, bytes | None]:
    return dict(session.files().overrides)


def _tokens_line(tokens: dict[str, object]) -> Text:
    pipeline, a, b = tokens["pipeline"], tokens["a"], tokens["b"]
    if pipeline is None:
        return Text("no pipeline reads this prompt: no rendered token count", style="dim")
    text = Text(f"rendered prompt tokens ({pipeline}, example input): ", style="dim")
    text.append("n/a" if a is None else f"{a:,}")
    text.append(" → ")
    text.append("n/a" if b is None else f"{b:,}")
    if isinstance(a, int) and isinstance(b, int) and a != b:
        text.append(f" ({b - a:+,})", style="yellow" if b > a else "green")
    return text


def _describe(version: Version) -> Text:
    text = Text.assemble((version.ref, "bold"), f" {version.short} ")
    text.append(version.status, style=_STATUS_STYLE.get(version.status, ""))
    if version.labels:
        text.append(f" [{', '.join(version.labels)}]", style="cyan")
    return text


def _outcome_word(status: str) -> Text:
    styles = {"activated": "green", "rejected": "red", "unchanged": "dim", "deleted": "yellow"}
    return Text(status, style=styles.get(status, ""))


def _print_rejections(session: ArtifactSession) -> None:
    for path, problems in sorted(session.problems.items()):
        active = session.active_id(path)
        still = f"{active[:8]} stays active" if active else "no valid version yet"
        stderr.print(Text.assemble((f"{path}: rejected", "red"), f" ({still})"))
        for problem in problems:
            stderr.print(Text(f"  {problem}"), soft_wrap=True)


def _files_table(found: list[FileHistory]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
    table.add_column("file", no_wrap=True, overflow="ellipsis", min_width=16)
    table.add_column("vers", justify="right", no_wrap=True)
    table.add_column("active", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("changed", no_wrap=True)
    table.add_column("labels", overflow="fold")
    today = datetime.now().astimezone().date()
    for file in found:
        active = file.active
        newest = file.newest
        shown = Text("-" if active is None else f"#{active.number} {active.short}")
        if newest.status == "rejected":
            shown.append(f"  #{newest.number} rejected", style="red")
        labels = [] if active is None else [x for x in active.labels if x != "latest"]
        table.add_row(
            file.path,
            str(file.versions),
            shown,
            f"{(active or newest).size:,}",
            _short_when(newest.created, today),
            ", ".join(labels),
        )
    return table


def _versions_table(versions: list[Version]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for column in ("#", "hash", "when", "size", "status", "labels"):
        table.add_column(column, justify="right" if column in ("#", "size") else "left")
    for version in versions:
        status = Text(version.status, style=_STATUS_STYLE.get(version.status, ""))
        table.add_row(
            str(version.number),
            version.short,
            _when(version.created),
            f"{version.size:,}",
            status,
            ", ".join(version.labels),
        )
    return table


def _file_json(file: FileHistory) -> dict[str, object]:
    return {
        "path": file.path,
        "kind": file.kind,
        "versions": file.versions,
        "active": None if file.active is None else file.active.to_json(),
        "newest": file.newest.to_json(),
    }


def _release_json(release: ReleaseRecord) -> dict[str, object]:
    created = release.created.isoformat()
    return {"id": release.id, "pipeline": release.pipeline, "created": created, **release.manifest}


def _when(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _short_when(moment: datetime, today: date) -> str:
    local = moment.astimezone()
    return local.strftime("%H:%M:%S") if local.date() == today else local.strftime("%m-%d")
