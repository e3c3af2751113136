"""Exact replay: an incident re-executed from its bundle, the tape standing in for every service.

The pipeline is loaded from the bundle's own files (``BundleFiles``: nothing is read from the
disk), the runs are re-run with the recorded inputs, seed, scenario name, concurrency and
budget overrides on a fresh virtual clock, and every downstream call is answered by a
``tape.ReplayTransport``. Then the new event log is compared with the recorded one, encoded
the same way (redacted by the same rules): ``ReplayResult.divergence`` is the first event that
differs, or None when the two logs are equal byte for byte.

A bundle may hold earlier runs of the same batch as context (they shared breakers with the
incident's runs): they are re-run too, and the replay stops once it has produced as many
events as were recorded, so runs that were still going when the last incident run finished
do not need tape they do not have.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import httpx

from agentdesk.engine.clock import run_virtual
from agentdesk.engine.events import AnyEvent, decode, encode
from agentdesk.incidents.bundle import Bundle
from agentdesk.incidents.tape import (
    NoRedaction,
    Redaction,
    ReplayTransport,
    StandIn,
    TapeDeck,
)
from agentdesk.projections.summary import RunSummary
from agentdesk.services import SimTransport, TransportWrapper
from agentdesk.simulation import Simulation
from agentdesk.spec.loader import load_pipeline, load_scenario, load_workspace
from agentdesk.spec.models import BudgetsSpec
from sims.profiles import validate_scenario

BUNDLE_ROOT = Path("/agentdesk-incident")
"""Where a bundle's files appear to be: a path that is never read from the disk."""


class EventRedaction(Redaction, Protocol):
    def event_json(self, event: Any) -> bytes: ...


class PlainEvents(NoRedaction):
    """No redaction: events encoded as they are."""

    def event_json(self, event: Any) -> bytes:
        return encode(event)


class BundleFiles:
    """A ``FileSource`` answering from a bundle's files only: a path it does not hold does not
    exist (the disk is never consulted)."""

    def __init__(self, files: Mapping[str, bytes], root: Path = BUNDLE_ROOT) -> None:
        self.root = root
        self.files = dict(files)

    def _key(self, path: Path) -> str | None:
        try:
            relative = PurePosixPath(path.as_posix()).relative_to(self.root.as_posix())
        except ValueError:
            return None
        return relative.as_posix()

    def read(self, path: Path) -> bytes:
        key = self._key(path)
        if key is None or key not in self.files:
            raise FileNotFoundError(2, "No such file in the incident bundle", str(path))
        return self.files[key]

    def is_file(self, path: Path) -> bool:
        key = self._key(path)
        return key is not None and key in self.files


def prepare(bundle: Bundle, overrides: Mapping[str, bytes] | None = None) -> Simulation:
    """The bundle's pipeline, scenario and seed, loaded from its files (``overrides``: some
    files' content replaced, by workspace path). Problems raise ``SpecError``."""
    files = BundleFiles({**bundle.files, **(overrides or {})})
    workspace = load_workspace(BUNDLE_ROOT, strict=False, files=files)
    pipeline = load_pipeline(workspace, bundle.pipeline)
    _, raw = load_scenario(workspace, bundle.scenario_path)
    budgets = BudgetsSpec.model_validate(bundle.budgets) if bundle.budgets else None
    return Simulation(
        workspace, pipeline, bundle.scenario, validate_scenario(raw), bundle.seed, budgets
    )


@dataclass(frozen=True)
class Divergence:
    """The first event where two logs differ (None on the side that ended first)."""

    index: int
    recorded: bytes | None
    replayed: bytes | None

    def describe(self) -> str:
        def show(raw: bytes | None) -> str:
            if raw is None:
                return "(the log ends here)"
            return raw.decode(errors="replace")

        return (
            f"event {self.index}:\n  recorded: {show(self.recorded)}\n"
            f"  replayed: {show(self.replayed)}"
        )

    def to_json(self) -> dict[str, Any]:
        def event(raw: bytes | None) -> Any:
            return None if raw is None else _as_json(raw)

        return {
            "index": self.index,
            "recorded": event(self.recorded),
            "replayed": event(self.replayed),
        }


def _as_json(raw: bytes) -> Any:
    import msgspec

    return msgspec.json.decode(raw)


def first_divergence(recorded: Sequence[bytes], replayed: Sequence[bytes]) -> Divergence | None:
    for index, (a, b) in enumerate(zip(recorded, replayed, strict=False)):
        if a != b:
            return Divergence(index, a, b)
    if len(recorded) == len(replayed):
        return None
    index = min(len(recorded), len(replayed))
    return Divergence(
        index,
        recorded[index] if index < len(recorded) else None,
        replayed[index] if index < len(replayed) else None,
    )


@dataclass
class Played:
    """What one replay produced."""

    events: list[AnyEvent]
    encoded: list[bytes]
    deck: TapeDeck
    seconds: float
    """Wall-clock seconds the replay took."""


def play(
    sim: Simulation,
    bundle: Bundle,
    redactor: EventRedaction,
    *,
    fallback: bool,
    limit: int | None,
    listeners: Iterable[Callable[[AnyEvent], None]] = (),
) -> Played:
    """Re-run the bundle's runs on ``sim`` with the tape in front of every service.

    ``fallback``: send what the tape cannot answer to the recorded scenario's sims (what-if)
    instead of raising ``TapeMiss`` — or, for an incident imported from a trace, to a
    ``tape.StandIn``. ``limit``: stop after this many events."""
    deck = TapeDeck(list(bundle.tape))
    events: list[AnyEvent] = []
    extra = list(listeners)

    def closed() -> bool:
        return limit is not None and len(events) >= limit

    def wrap(service: str, base: str, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        spare: httpx.AsyncBaseTransport | None = None
        if fallback and bundle.source == "otlp":
            spare = StandIn(service, base, deck, redactor)  # no sims behind an imported trace
        elif fallback and isinstance(inner, SimTransport):
            spare = inner
        return ReplayTransport(service, base, deck, redactor, spare, closed)

    async def main() -> None:
        finished = asyncio.Event()

        def listen(event: AnyEvent) -> None:
            if closed():
                return
            events.append(event)
            for listener in extra:
                listener(event)
            if closed():
                finished.set()

        environ = _placeholder_keys(sim)
        runs = asyncio.ensure_future(_drive(sim, bundle, listen, environ, wrap))
        stop = asyncio.ensure_future(finished.wait())
        await asyncio.wait({runs, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not runs.done():
            runs.cancel()
            await asyncio.gather(runs, return_exceptions=True)
            return
        runs.result()

    started = time.perf_counter()
    run_virtual(main())
    seconds = time.perf_counter() - started
    return Played(events, [redactor.event_json(e) for e in events], deck, seconds)


async def _drive(
    sim: Simulation,
    bundle: Bundle,
    listen: Callable[[AnyEvent], None],
    environ: Mapping[str, str],
    wrap: TransportWrapper,
) -> None:
    """Send the recorded traffic again: the load test's sessions, or one run per input."""
    if bundle.load is None:
        inputs = bundle.inputs()
        await sim.run_async(inputs, bundle.concurrency, [listen], environ=environ, wrap=wrap)
        return
    from agentdesk.load import LoadPlan, LoadTest

    plan = LoadPlan.from_traffic(bundle.load)
    test = LoadTest(
        sim, plan, bundle.load["inputs"], listeners=[listen], wrap=wrap, environ=environ
    )
    await test.run_async()


def _placeholder_keys(sim: Simulation) -> dict[str, str]:
    """API key variables a replay must not need: the tape answers, nothing is sent out."""
    return {
        service.api_key_env: "replay-without-a-key"
        for service in sim.workspace.spec.services.values()
        if service.api_key_env
    }


@dataclass(frozen=True)
class ReplayResult:
    """An exact replay: the replayed log beside the recorded one."""

    bundle_id: str
    recorded: tuple[bytes, ...]
    replayed: tuple[bytes, ...]
    divergence: Divergence | None
    answered: int
    """Downstream calls the tape answered."""
    seconds: float
    """Wall-clock seconds the replay took."""
    summary: RunSummary = field(compare=False)
    """The replayed runs, folded (``projections.summary``)."""

    @property
    def equal(self) -> bool:
        return self.divergence is None

    @property
    def events_per_second(self) -> float:
        return len(self.replayed) / self.seconds if self.seconds else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "incident": self.bundle_id,
            "equal": self.equal,
            "events": {"recorded": len(self.recorded), "replayed": len(self.replayed)},
            "tape_answered": self.answered,
            "divergence": self.divergence.to_json() if self.divergence else None,
        }


def replay_exact(bundle: Bundle, *, redactor: EventRedaction | None = None) -> ReplayResult:
    """Re-execute the incident from its bundle with the tape answering every call, and compare
    the event logs. Raises ``TapeMiss`` when a request is not on the tape, ``SpecError`` when
    the bundle's files do not load. ``redactor``: the rules the recording was redacted by
    (``store.incidents.bundle_redactor``); without one nothing is redacted, so a recording
    whose events held personal data would differ where it was replaced."""
    redactor = redactor or PlainEvents()
    sim = prepare(bundle)
    played = play(sim, bundle, redactor, fallback=False, limit=len(bundle.events))
    summary = RunSummary()
    for event in played.events:
        summary.apply(event)
    return ReplayResult(
        bundle.id,
        bundle.events,
        tuple(played.encoded),
        first_divergence(bundle.events, played.encoded),
        played.deck.answered,
        played.seconds,
        summary,
    )


def recorded_summary(bundle: Bundle, runs: set[str] | None = None) -> RunSummary:
    """The recorded events folded, optionally only those of ``runs``."""
    summary = RunSummary()
    for raw in bundle.events:
        event = decode(raw)
        if runs is None or event.run_id in runs:
            summary.apply(event)
    return summary
