"""Recording a tape beside a run, and turning what was recorded into an incident bundle.

``TapeReel`` hands ``Simulation.execute(wrap=…)`` a ``tape.TapeRecorder`` per service and
numbers the calls; its sink is a list (tests, fixtures, benchmarks) or the store's tape writer
(``agentdesk run``). ``record`` runs a simulation with a reel and builds the bundle in memory;
``make_bundle`` assembles one from parts wherever they came from (the store builds bundles
from recorded batches with it).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx
import yaml

from agentdesk import __version__
from agentdesk.engine.events import AnyEvent, RunFinished, RunStarted
from agentdesk.incidents.bundle import Bundle, RunRef, runs_of
from agentdesk.incidents.tape import NoRedaction, Redaction, TapeEntry, TapeRecorder
from agentdesk.simulation import Simulation

if TYPE_CHECKING:
    from agentdesk.load import LoadPlan


class TapeReel:
    """Numbers and collects the calls of one recording, whatever service they went to."""

    def __init__(
        self, redactor: Redaction | None = None, sink: Callable[[TapeEntry], None] | None = None
    ) -> None:
        self.entries: list[TapeEntry] = []
        self._redactor = redactor or NoRedaction()
        self._sink = sink or self.entries.append
        self._count = itertools.count()

    def wrap(
        self, service: str, base_url: str, inner: httpx.AsyncBaseTransport
    ) -> httpx.AsyncBaseTransport:
        return TapeRecorder(
            service, base_url, inner, self._sink, self._redactor, self._count.__next__
        )


def scenario_file(sim: Simulation) -> tuple[str, bytes]:
    """The scenario's workspace path and content: the file as read when it is in the
    workspace's ``scenarios/``, else the validated scenario written out as YAML."""
    for suffix in (".yaml", ".yml"):
        path = sim.workspace.root / "scenarios" / f"{sim.scenario_name}{suffix}"
        if sim.workspace.files.is_file(path):
            return f"scenarios/{sim.scenario_name}{suffix}", sim.workspace.files.read(path)
    data = sim.scenario.model_dump(mode="json", exclude_unset=True)
    return f"scenarios/{sim.scenario_name}.yaml", yaml.safe_dump(data, sort_keys=False).encode()


def budgets_json(sim: Simulation) -> dict[str, Any] | None:
    """The budget overrides a simulation runs with, as set (so replay overrides the same)."""
    return None if sim.budgets is None else sim.budgets.model_dump(exclude_unset=True)


def make_bundle(
    *,
    title: str,
    files: Mapping[str, bytes],
    pipeline_path: str,
    scenario: str,
    scenario_path: str,
    seed: int,
    events: Sequence[bytes],
    decoded: Sequence[AnyEvent],
    tape: Iterable[TapeEntry],
    focus: set[str] | None = None,
    concurrency: int = 1,
    budgets: Mapping[str, Any] | None = None,
    release: str = "",
    recorded: str = "",
    real_clock: bool = False,
    notes: Sequence[str] = (),
    source: str = "recorded",
    load: Mapping[str, Any] | None = None,
) -> Bundle:
    """A bundle from its parts; the tape keeps only the calls of the runs it holds."""
    runs: tuple[RunRef, ...] = runs_of(decoded, focus)
    ids = {r.run_id for r in runs}
    return Bundle(
        title=title,
        pipeline=pipeline_path,
        scenario=scenario,
        scenario_path=scenario_path,
        seed=seed,
        files=dict(files),
        runs=runs,
        events=tuple(events),
        tape=tuple(sorted((e for e in tape if e.run_id in ids), key=lambda e: e.seq)),
        concurrency=concurrency,
        budgets=budgets,
        release=release,
        recorded=recorded,
        real_clock=real_clock,
        source=source,
        agentdesk_version=__version__,
        notes=tuple(notes),
        load=load,
    )


def incident_slice(
    events: Sequence[AnyEvent], focus: set[str], *, one_run_per_session: bool = True
) -> list[int]:
    """Which events an incident of the runs ``focus`` keeps: everything up to the last of them
    finishing, of the runs started by then (they shared breakers and sims with the incident's
    runs, so a replay re-runs them too). Raises ValueError when one of them never finished, or
    when ``one_run_per_session`` (``agentdesk run``'s recordings, re-driven as sessions 0, 1,
    2…) does not hold; a load test's traffic is re-driven from its plan instead."""
    ends = [i for i, e in enumerate(events) if isinstance(e, RunFinished) and e.run_id in focus]
    unfinished = focus - {events[i].run_id for i in ends}
    if unfinished:
        raise ValueError(f"run(s) {', '.join(sorted(unfinished))} never finished (cut short)")
    cut = max(ends) + 1
    started = [e for e in events[:cut] if isinstance(e, RunStarted)]
    sessions = sorted(e.session for e in started)
    if one_run_per_session and sessions != list(range(len(sessions))):
        raise ValueError(
            "these runs cannot be replayed: their recording ran sessions "
            f"{sessions[:8]}… rather than one run per session from 0"
        )
    ids = {e.run_id for e in started}
    return [i for i in range(cut) if events[i].run_id in ids]


def record(
    sim: Simulation,
    inputs: Sequence[Any],
    *,
    concurrency: int = 1,
    redactor: Any = None,
    title: str = "",
    failed_only: bool = False,
) -> Bundle:
    """Run ``inputs`` on ``sim`` with a tape and return the incident as a bundle.

    ``redactor``: the store's ``Redactor`` (anything with ``text``, ``value`` and
    ``event_json``); None keeps everything. ``failed_only``: the incident's own runs are the
    runs that did not complete (the others stay as context)."""
    from agentdesk.incidents.replay import PlainEvents

    redaction = redactor or PlainEvents()
    reel = TapeReel(redaction)
    events: list[AnyEvent] = []
    sim.execute(inputs, concurrency, [events.append], wrap=reel.wrap)
    focus = None
    if failed_only:
        focus = {e.run_id for e in events if isinstance(e, RunFinished) and e.status != "ok"}
    title = title or f"{sim.pipeline.spec.name} under {sim.scenario_name}"
    return _bundle_of(sim, events, reel, redaction, title, focus, concurrency=concurrency)


def record_load(
    sim: Simulation,
    plan: LoadPlan,
    inputs: Sequence[Any],
    *,
    redactor: Any = None,
    title: str = "",
    first: int | None = None,
) -> Bundle:
    """Run a load test with a tape and return its failures as one incident, as
    ``agentdesk load --record`` then ``incidents save --failed BATCH [--first N]`` would:
    the failed runs (the first ``first`` to finish) and, as context, every run started before
    the last of them finished."""
    from agentdesk.incidents.replay import PlainEvents
    from agentdesk.load import LoadTest

    redaction = redactor or PlainEvents()
    reel = TapeReel(redaction)
    events: list[AnyEvent] = []
    LoadTest(sim, plan, inputs, listeners=[events.append], wrap=reel.wrap).run()
    failed = [e.run_id for e in events if isinstance(e, RunFinished) and e.status != "ok"]
    if not failed:
        raise ValueError("every run of the load test completed: no failures to keep")
    focus = set(failed[:first])
    keep = incident_slice(events, focus, one_run_per_session=False)
    kept = [events[i] for i in keep]
    title = title or f"{sim.pipeline.spec.name} under {sim.scenario_name}: load failures"
    load = {**plan.traffic_json(), "inputs": redaction.value(list(inputs))}
    return _bundle_of(sim, kept, reel, redaction, title, focus, load=load)


def _bundle_of(
    sim: Simulation,
    events: list[AnyEvent],
    reel: TapeReel,
    redaction: Any,
    title: str,
    focus: set[str] | None,
    *,
    concurrency: int = 1,
    load: Mapping[str, Any] | None = None,
) -> Bundle:
    """What ``sim`` recorded in memory, as a bundle: its release's files and the scenario."""
    files = dict(sim.pipeline.contents)
    scenario_path, content = scenario_file(sim)
    files[scenario_path] = content
    return make_bundle(
        title=title,
        files=files,
        pipeline_path=sim.workspace.relative(sim.pipeline.path),
        scenario=sim.scenario_name,
        scenario_path=scenario_path,
        seed=sim.seed,
        events=[redaction.event_json(e) for e in events],
        decoded=events,
        tape=reel.entries,
        focus=focus,
        concurrency=concurrency,
        budgets=budgets_json(sim),
        release=sim.pipeline.release,
        real_clock=sim.real_clock,
        load=load,
    )
