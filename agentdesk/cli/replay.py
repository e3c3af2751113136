"""``agentdesk replay``: an incident re-executed from its bundle, exactly or with changes.

INCIDENT is an incident id (or prefix) in the store, or a bundle file. Without changes the
replay must reproduce the recorded event log byte for byte; with ``--what-if FILE`` or
``--set KEY=VALUE`` it prints the recorded runs beside the changed ones. Headless work is in
``agentdesk.incidents.whatif``; this module parses, calls and prints.

Exit codes (beside ``console``'s): 0 the logs are equal (or a what-if ran), 4 the exact replay
diverged (the first divergent event is printed), 5 a request was not on the tape.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich import box
from rich.table import Table
from rich.text import Text

from agentdesk.cli.console import EXIT_OK, errors_reported, stderr, stdout, workspace_option
from agentdesk.cli.runs import db_option

if TYPE_CHECKING:
    from agentdesk.incidents.bundle import Bundle
    from agentdesk.incidents.replay import Divergence, ReplayResult
    from agentdesk.incidents.whatif import Resolve, WhatIf, WhatIfResult

EXIT_DIVERGED = 4
"""The exact replay's event log differs from the recorded one."""
EXIT_TAPE_MISS = 5
"""A replayed run made a request the tape has no answer for."""
_SHOWN = 400
"""Characters of an event shown in a divergence (``--json`` has them whole)."""


@click.command()
@click.argument("incident", metavar="INCIDENT")
@click.option(
    "--what-if",
    "what_if_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A YAML file of changes (the keys of --set).",
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="A change: retry.max_attempts=5, steps.refund.timeout=3s, budget.usd=0.05, "
    "steps.triage.fallback=[gpt-4o], prompt=prompts/triage.user.md@2. Repeatable.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@workspace_option
@db_option
def replay(
    incident: str,
    what_if_file: Path | None,
    settings: tuple[str, ...],
    as_json: bool,
    workspace: Path | None,
    db: str | None,
) -> None:
    """Replay INCIDENT (an incident id or a bundle file) with its tape, and check or compare."""
    with errors_reported():
        from agentdesk.incidents.tape import TapeMiss
        from agentdesk.incidents.whatif import WhatIf
        from agentdesk.store.incidents import bundle_redactor

        changes = WhatIf.from_file(what_if_file) if what_if_file else WhatIf()
        changes = changes + WhatIf.parse(settings)
        bundle, resolve = _bundle(incident, workspace, db, need_store=_wants_store(changes))
        redactor = bundle_redactor(bundle, os.environ)
        try:
            if changes.changes:
                _what_if(bundle, changes, redactor, resolve, as_json)
                sys.exit(EXIT_OK)
            _exact(bundle, redactor, as_json)
        except TapeMiss as exc:
            stderr.print(Text.assemble(("tape miss: ", "bold red"), str(exc)), soft_wrap=True)
            sys.exit(EXIT_TAPE_MISS)


def _wants_store(changes: WhatIf) -> bool:
    return any(c.key == "prompt" for c in changes.changes)


def _bundle(
    incident: str, workspace: Path | None, db: str | None, need_store: bool
) -> tuple[Bundle, Resolve | None]:
    """The bundle (from a file, or the store) and, when asked, a reader of stored versions."""
    from agentdesk.incidents.bundle import read_bundle

    path = Path(incident)
    from_file = path.is_file()
    if from_file and not need_store:
        return read_bundle(path), None
    from agentdesk.simulation import find_workspace
    from agentdesk.store import locate, open_engine
    from agentdesk.store.incidents import load_incident, version_reader

    engine = open_engine(locate(find_workspace(workspace), db))
    bundle = read_bundle(path) if from_file else load_incident(engine, incident)
    reader = version_reader(engine)

    def resolve(file: str, ref: str) -> bytes:
        content: bytes = reader(file, ref)
        return content

    return bundle, resolve


def _exact(bundle: Bundle, redactor: Any, as_json: bool) -> None:
    from agentdesk.incidents.replay import replay_exact

    result = replay_exact(bundle, redactor=redactor)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        stdout.print(_exact_text(bundle, result))
    sys.exit(EXIT_OK if result.equal else EXIT_DIVERGED)


def _exact_text(bundle: Bundle, result: ReplayResult) -> Text:
    text = Text(f"incident {bundle.id}: ", style="bold")
    text.append(bundle.title, style="")
    text.append(
        f"\nreplayed {len(bundle.runs)} run(s) from the bundle's files: {len(result.replayed)} "
        f"events, {result.answered} calls answered by the tape, "
        f"{result.events_per_second:,.0f} events/s",
        style="dim",
    )
    if result.divergence is None:
        text.append(f"\nequal: all {len(result.recorded)} events match the recording", "green")
        return text
    text.append("\ndiverged ", style="bold red")
    text.append_text(_divergence(result.divergence))
    return text


def _divergence(divergence: Divergence) -> Text:
    text = Text(f"at event {divergence.index}:")
    for label, raw in (("recorded", divergence.recorded), ("replayed", divergence.replayed)):
        shown = "(the log ends here)" if raw is None else raw.decode(errors="replace")
        if len(shown) > _SHOWN:
            shown = shown[: _SHOWN - 1] + "…"
        text.append(f"\n  {label}: ", style="bold")
        text.append(shown)
    return text


def _what_if(
    bundle: Bundle, changes: WhatIf, redactor: Any, resolve: Resolve | None, as_json: bool
) -> None:
    from agentdesk.incidents.whatif import run_what_if

    result = run_what_if(bundle, changes, redactor=redactor, resolve=resolve)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
        return
    stdout.print(_what_if_header(bundle, result))
    stdout.print(_diff_table(result))
    if result.divergence is None:
        stdout.print(Text("the changes made no difference to the event log", style="yellow"))
    else:
        stdout.print(
            Text("first divergence ", style="bold").append_text(_divergence(result.divergence))
        )


def _what_if_header(bundle: Bundle, result: WhatIfResult) -> Text:
    text = Text(f"incident {bundle.id}: ", style="bold")
    text.append(bundle.title, style="")
    text.append("\nwhat if: ", style="bold")
    text.append("; ".join(result.changes.describe()))
    others = (
        "by the trace's stand-in (the call's last recorded answer)"
        if bundle.source == "otlp"
        else f"by the {bundle.scenario} sims (seed {bundle.seed})"
    )
    text.append(
        f"\n{len(bundle.focus)} incident run(s) compared · {result.tape_answered} calls "
        f"answered by the tape, {result.sims_answered} {others}",
        style="dim",
    )
    return text


def _diff_table(result: WhatIfResult) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("")
    table.add_column("recorded", justify="right")
    table.add_column("what if", justify="right")
    for row in result.rows():
        changed = Text(row.changed, style="bold cyan" if row.differs else "")
        table.add_row(row.label, Text(row.original), changed)
    return table
