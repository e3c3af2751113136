"""Incident bundles: one self-contained, versioned file holding everything a replay needs.

A bundle is **JSON Lines** (UTF-8, one JSON object per line, in this order):

    {"agentdesk_incident": 1, "id": …, "title": …, …, "counts": {…}}     the header
    {"file": {"path": "agentdesk.yaml", "text": "…"}}                    the release's files
    {"run": {"run_id": …, "session": 0, "focus": true, …}}               the runs, by session
    {"event": {"type": "run_started", …}}                                  the event log
    {"tape": {"seq": 0, "service": "crm", …}}                              the tape

Lines, not one big document, so a bundle streams, diffs well, and a problem is reported with
the line it is on; ``counts`` in the header makes a truncated file an error rather than a
smaller incident. The same incident always writes the same bytes (keys in a fixed order,
nothing from the wall clock but the recording's own creation time), and its id is a hash of
its content. The format is documented in ``docs/incidents.md``; ``FORMAT_VERSION`` is bumped
on any incompatible change, and a reader refuses versions it does not know.

What a bundle holds: the pipeline's files (every file its release hashes, plus the scenario
file), the scenario's name and path, the seed, the concurrency and budget overrides of the
recording, the runs (the incident's own — ``focus`` — and the earlier runs of the same batch
that shared breakers with them, which a replay must re-run too), their events (as recorded:
redacted) and their tape.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import msgspec

from agentdesk.engine.events import AnyEvent, RunFinished, RunStarted
from agentdesk.errors import AgentdeskError
from agentdesk.incidents.tape import TapeEntry

FORMAT_VERSION = 1
MAGIC = "agentdesk_incident"
_encoder = msgspec.json.Encoder()
_events = msgspec.json.Decoder(AnyEvent)


class BundleError(AgentdeskError):
    """A bundle file that cannot be read: ``file:line: problem``; nothing is imported."""

    exit_code = 2

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}" if line else f"{file}: {message}")
        self.file, self.line, self.message = file, line, message


class RunRef(msgspec.Struct, frozen=True, kw_only=True):
    """One run of the incident."""

    run_id: str
    session: int
    focus: bool = True
    """False for a run kept only because it shared breakers and sims with the incident's."""
    status: str = ""
    stop_reason: str = ""
    input: Any = None


@dataclass(frozen=True)
class Bundle:
    """An incident, whole: see the module docstring."""

    title: str
    pipeline: str
    """The pipeline file's workspace path (in ``files``)."""
    scenario: str
    scenario_path: str
    """The scenario file's workspace path (in ``files``)."""
    seed: int
    files: Mapping[str, bytes]
    runs: tuple[RunRef, ...]
    events: tuple[bytes, ...]
    """The events as recorded: JSON, redacted (decode with ``events()``)."""
    tape: tuple[TapeEntry, ...]
    concurrency: int = 1
    budgets: Mapping[str, Any] | None = None
    """Budget overrides the recording ran with (``run --budget``), as BudgetsSpec data."""
    release: str = ""
    recorded: str = ""
    """When the recording started (ISO 8601, UTC)."""
    real_clock: bool = False
    source: str = "recorded"
    """``recorded`` (from the store or a run), ``otlp`` (built from an imported trace)."""
    agentdesk_version: str = ""
    notes: tuple[str, ...] = ()
    load: Mapping[str, Any] | None = None
    """For runs a load test drove (``agentdesk load --record``): its traffic
    (``LoadPlan.traffic_json``) and ``inputs``, so a replay sends the same requests at the same
    moments; None for runs ``agentdesk run`` drove (one per session, ``concurrency`` at once)."""
    _id: str = field(default="", compare=False)

    @property
    def id(self) -> str:
        """``inc-`` and 12 hex digits of the content's hash: the same incident, the same id."""
        return self._id or content_id(self)

    def decoded_events(self) -> list[AnyEvent]:
        return [_events.decode(e) for e in self.events]

    @property
    def focus(self) -> tuple[RunRef, ...]:
        return tuple(r for r in self.runs if r.focus)

    def inputs(self) -> list[Any]:
        """The inputs of the runs to re-run, in session order."""
        return [r.input for r in sorted(self.runs, key=lambda r: r.session)]


def content_id(bundle: Bundle) -> str:
    digest = hashlib.sha256()
    if bundle.load is not None:
        digest.update(_encoder.encode(bundle.load))
    for line in _body_lines(bundle):
        digest.update(line)
    return "inc-" + digest.hexdigest()[:12]


# --- writing ----------------------------------------------------------------------------------


def bundle_lines(bundle: Bundle) -> Iterator[bytes]:
    """The bundle's bytes, line by line (each ends with a newline)."""
    yield _encoder.encode(_header(bundle)) + b"\n"
    yield from _body_lines(bundle)


def write_bundle(bundle: Bundle, target: Path | IO[bytes]) -> None:
    if isinstance(target, Path):
        with target.open("wb") as handle:
            handle.writelines(bundle_lines(bundle))
    else:
        target.writelines(bundle_lines(bundle))


def _header(bundle: Bundle) -> dict[str, Any]:
    header = {
        MAGIC: FORMAT_VERSION,
        "id": bundle.id,
        "title": bundle.title,
        "source": bundle.source,
        "recorded": bundle.recorded,
        "agentdesk": bundle.agentdesk_version,
        "pipeline": bundle.pipeline,
        "scenario": bundle.scenario,
        "scenario_path": bundle.scenario_path,
        "seed": bundle.seed,
        "concurrency": bundle.concurrency,
        "budgets": bundle.budgets,
        "release": bundle.release,
        "real_clock": bundle.real_clock,
        "notes": list(bundle.notes),
        "counts": {
            "files": len(bundle.files),
            "runs": len(bundle.runs),
            "events": len(bundle.events),
            "tape": len(bundle.tape),
        },
    }
    if bundle.load is not None:
        header["load"] = dict(bundle.load)
    return header


def _body_lines(bundle: Bundle) -> Iterator[bytes]:
    for path in sorted(bundle.files):
        yield _encoder.encode({"file": _file_json(path, bundle.files[path])}) + b"\n"
    for run in bundle.runs:
        yield _encoder.encode({"run": run}) + b"\n"
    for event in bundle.events:
        yield b'{"event":' + event + b"}\n"
    for entry in bundle.tape:
        yield b'{"tape":' + _encoder.encode(entry) + b"}\n"


def _file_json(path: str, content: bytes) -> dict[str, Any]:
    try:
        return {"path": path, "text": content.decode()}
    except UnicodeDecodeError:
        return {"path": path, "base64": base64.b64encode(content).decode()}


# --- reading ----------------------------------------------------------------------------------

_HEADER_FIELDS: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "title": str,
    "source": str,
    "recorded": str,
    "agentdesk": str,
    "pipeline": str,
    "scenario": str,
    "scenario_path": str,
    "seed": int,
    "concurrency": int,
    "budgets": (dict, type(None)),
    "release": str,
    "real_clock": bool,
    "notes": list,
    "counts": dict,
}
_SECTIONS = ("file", "run", "event", "tape")


class _Line(msgspec.Struct, forbid_unknown_fields=True):
    file: dict[str, Any] | None = None
    run: RunRef | None = None
    event: AnyEvent | None = None
    tape: TapeEntry | None = None


_line_decoder = msgspec.json.Decoder(_Line)


def is_bundle(first_bytes: bytes) -> bool:
    """True when a file's first bytes open an incident bundle (rather than an OTLP trace)."""
    head = first_bytes.lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{") and f'"{MAGIC}"'.encode() in head[:200]


def read_bundle(source: Path | bytes, name: str | None = None) -> Bundle:
    """Read and check a whole bundle; raises ``BundleError`` (file:line: problem)."""
    label = name or (str(source) if isinstance(source, Path) else "<bundle>")
    if isinstance(source, Path):
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise BundleError(label, 0, f"cannot read: {exc.strerror}") from exc
    else:
        data = source
    return _Reader(label).read(data.removeprefix(b"\xef\xbb\xbf").splitlines())


class _Reader:
    def __init__(self, label: str) -> None:
        self.label = label
        self.files: dict[str, bytes] = {}
        self.runs: list[RunRef] = []
        self.events: list[bytes] = []
        self.tape: list[TapeEntry] = []

    def fail(self, line: int, message: str) -> BundleError:
        return BundleError(self.label, line, message)

    def read(self, lines: list[bytes]) -> Bundle:
        numbered = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
        if not numbered:
            raise self.fail(0, "empty file: not an incident bundle")
        header = self._header(*numbered[0])
        order = 0
        for number, line in numbered[1:]:
            section, value = self._line(number, line)
            rank = _SECTIONS.index(section)
            if rank < order:
                raise self.fail(number, f"a {section!r} line after the {_SECTIONS[order]!r} lines")
            order = rank
            self._take(number, section, value)
        self._check_counts(header, len(lines))
        return self._bundle(header)

    def _header(self, number: int, line: bytes) -> dict[str, Any]:
        header = self._json(number, line)
        if not isinstance(header, dict) or MAGIC not in header:
            raise self.fail(number, f"not an incident bundle (the first line has no {MAGIC!r})")
        version = header[MAGIC]
        if version != FORMAT_VERSION:
            raise self.fail(
                number,
                f"bundle format version {version!r}; this agentdesk reads version {FORMAT_VERSION}",
            )
        for key, kind in _HEADER_FIELDS.items():
            if key not in header:
                raise self.fail(number, f"the header has no {key!r}")
            if not isinstance(header[key], kind) or (kind is int and isinstance(header[key], bool)):
                raise self.fail(
                    number, f"header {key!r}: wrong type ({type(header[key]).__name__})"
                )
        if header["concurrency"] < 1:
            raise self.fail(number, "header 'concurrency': must be at least 1")
        if "load" in header:
            self._load(number, header["load"])
        return header

    def _load(self, number: int, load: Any) -> None:
        from agentdesk.load.plan import LoadPlan

        if not isinstance(load, dict):
            raise self.fail(number, f"header 'load': expected an object, got {type(load).__name__}")
        try:
            LoadPlan.from_traffic(load)
        except ValueError as exc:
            raise self.fail(number, f"header {exc}") from None
        if not isinstance(load.get("inputs"), list) or not load["inputs"]:
            raise self.fail(number, "header 'load': 'inputs' must be a non-empty list")

    def _json(self, number: int, line: bytes) -> Any:
        try:
            return msgspec.json.decode(line)
        except msgspec.DecodeError as exc:
            raise self.fail(number, f"invalid JSON: {exc}") from None

    def _line(self, number: int, line: bytes) -> tuple[str, Any]:
        """The line's one section and its value, typed and checked."""
        try:
            item = _line_decoder.decode(line)
        except msgspec.ValidationError as exc:
            raise self.fail(number, str(exc).replace("`$.", "`")) from None
        except msgspec.DecodeError as exc:
            raise self.fail(number, f"invalid JSON: {exc}") from None
        present = [name for name in _SECTIONS if getattr(item, name) is not None]
        if len(present) != 1:
            raise self.fail(
                number, f"expected an object with one key, one of {', '.join(_SECTIONS)}"
            )
        return present[0], getattr(item, present[0])

    def _take(self, number: int, section: str, value: Any) -> None:
        if section == "event":
            self.events.append(_encoder.encode(value))  # canonical: as the recorder wrote it
        elif section == "tape":
            self.tape.append(value)
        elif section == "run":
            self.runs.append(value)
        else:
            self._file(number, value)

    def _file(self, number: int, value: Any) -> None:
        if not isinstance(value, dict) or not isinstance(value.get("path"), str):
            raise self.fail(number, "file: expected {'path': …, 'text' or 'base64': …}")
        path = value["path"]
        if path.startswith("/") or ".." in Path(path).parts or not path:
            raise self.fail(number, f"file {path!r}: not a relative workspace path")
        if isinstance(value.get("text"), str):
            content = value["text"].encode()
        elif isinstance(value.get("base64"), str):
            try:
                content = base64.b64decode(value["base64"], validate=True)
            except ValueError:
                raise self.fail(number, f"file {path!r}: invalid base64") from None
        else:
            raise self.fail(number, f"file {path!r}: no 'text' or 'base64'")
        if path in self.files:
            raise self.fail(number, f"file {path!r} appears twice")
        self.files[path] = content

    def _check_counts(self, header: dict[str, Any], lines: int) -> None:
        counts = header["counts"]
        found = {"files": self.files, "runs": self.runs, "events": self.events, "tape": self.tape}
        for name, items in found.items():
            expected = counts.get(name)
            if expected != len(items):
                raise self.fail(
                    lines,
                    f"the header promises {expected} {name} lines, the file has {len(items)} "
                    "(truncated or edited?)",
                )

    def _bundle(self, header: dict[str, Any]) -> Bundle:
        for path in (header["pipeline"], header["scenario_path"], "agentdesk.yaml"):
            if path not in self.files:
                raise self.fail(1, f"the bundle does not hold {path!r}, which the header names")
        sessions = sorted(r.session for r in self.runs)
        if "load" not in header and sessions != list(range(len(sessions))):
            raise self.fail(1, f"run sessions must be 0…{len(sessions) - 1}: found {sessions}")
        bundle = Bundle(
            title=header["title"],
            pipeline=header["pipeline"],
            scenario=header["scenario"],
            scenario_path=header["scenario_path"],
            seed=header["seed"],
            files=self.files,
            runs=tuple(self.runs),
            events=tuple(self.events),
            tape=tuple(self.tape),
            concurrency=header["concurrency"],
            budgets=header["budgets"],
            release=header["release"],
            recorded=header["recorded"],
            real_clock=header["real_clock"],
            source=header["source"],
            agentdesk_version=header["agentdesk"],
            notes=tuple(str(n) for n in header["notes"]),
            load=header.get("load"),
        )
        if bundle.id != header["id"]:
            raise self.fail(
                1, f"the content does not match the id {header['id']!r} (edited after export?)"
            )
        return bundle


# --- building ---------------------------------------------------------------------------------


def runs_of(events: Iterable[AnyEvent], focus: set[str] | None = None) -> tuple[RunRef, ...]:
    """The runs an event log holds, by session; ``focus``: the incident's own (default: all)."""
    started: dict[str, RunStarted] = {}
    finished: dict[str, RunFinished] = {}
    for event in events:
        if isinstance(event, RunStarted):
            started[event.run_id] = event
        elif isinstance(event, RunFinished):
            finished[event.run_id] = event
    refs = []
    for run_id, start in started.items():
        end = finished.get(run_id)
        refs.append(
            RunRef(
                run_id=run_id,
                session=start.session,
                focus=focus is None or run_id in focus,
                status=end.status if end else "running",
                stop_reason=end.stop_reason if end else "",
                input=start.input,
            )
        )
    return tuple(sorted(refs, key=lambda r: r.session))
