"""The Incidents screen: pick an incident, scrub its timeline, try a fix.

Two views in one screen. The list: the workspace's incident bundles, incidents saved in the
store, recorded runs that failed, and this session's runs (``IncidentCatalog``). Enter opens
one: a timeline strip of the whole incident over simulated time, the event under the cursor,
and the Live screen's own widgets — trace, breaker board, budget meters, totals — showing
the state *as of* that event (``models.timeline``). Keys move the cursor by event or step,
or jump to the first error, the next breaker transition, budget exhaustion. ``w`` opens the
what-if form; the replay runs on a worker thread and its result opens side by side.

The UI thread never reads the store or a file: listing, opening (which also folds the
timeline's checkpoints) and what-if replays are thread workers that hand back results with
``call_from_thread``; only moving the cursor happens here (a few milliseconds, measured by
``bench/timeline_jump.py``).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, ClassVar, cast

import msgspec
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Static
from textual.worker import get_current_worker

from agentdesk.engine.events import AnyEvent
from agentdesk.errors import AgentdeskError
from agentdesk.incidents.whatif import WhatIf, WhatIfError, WhatIfResult
from agentdesk.tui.incident_catalog import IncidentCatalog, IncidentEntry, OpenIncident
from agentdesk.tui.models.timeline import MarkKind, Timeline
from agentdesk.tui.safe import safe_text
from agentdesk.tui.screens.what_if_form import WhatIfForm
from agentdesk.tui.screens.what_if_result import WhatIfComparison
from agentdesk.tui.widgets.breaker_board import BreakerBoard
from agentdesk.tui.widgets.budget_meters import BudgetMeters
from agentdesk.tui.widgets.counters import CounterPanel
from agentdesk.tui.widgets.event_detail import EventDetail
from agentdesk.tui.widgets.incident_list import IncidentList
from agentdesk.tui.widgets.status_line import StatusLine
from agentdesk.tui.widgets.timeline_strip import StripData, TimelineStrip
from agentdesk.tui.widgets.trace_view import TraceView

if TYPE_CHECKING:
    from agentdesk.tui.app import AgentdeskApp

LIST_TITLE = "incidents · ↑↓ choose · enter open · ✔ what-if replay"
STRIP_TITLE = "timeline · ←→ event · [ ] step · e error · b breaker · x budget · home/end"
TIMELINE_ACTIONS = frozenset({"step", "jump", "first", "go", "what_if", "close"})
_decode = msgspec.json.Decoder(AnyEvent)


class IncidentsScreen(Screen[None]):
    CSS_PATH = "incidents.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open"),
        Binding("r", "reload", "Reload"),
        Binding("left", "step(-1)", "Event", key_display="←→", priority=True),
        Binding("right", "step(1)", "Event", show=False, priority=True),
        Binding(
            "left_square_bracket,shift+left",
            "jump('step', -1)",
            "Step",
            key_display="[]",
            show=False,
        ),
        Binding("right_square_bracket,shift+right", "jump('step', 1)", "Step", show=False),
        Binding("e", "first('error')", "Error"),
        Binding("b", "jump('breaker', 1)", "Breaker", show=False),
        Binding("B", "jump('breaker', -1)", "Breaker back", show=False),
        Binding("x", "first('budget')", "Budget", show=False),
        Binding("home", "go(0)", "Start", show=False, priority=True),
        Binding("end", "go(-1)", "End", show=False, priority=True),
        Binding("w", "what_if", "What-if"),
        Binding("escape", "close", "List"),
    ]

    def __init__(self, catalog: IncidentCatalog | None = None) -> None:
        super().__init__()
        self.catalog = catalog
        self.incident: OpenIncident | None = None
        self.timeline: Timeline | None = None
        self.result: WhatIfResult | None = None
        """The last what-if of the open incident."""
        self.notes: dict[int, str] = {}
        """Events worth naming in the detail panel (first error, first divergence)."""
        self._form: dict[str, str] = {}

    @property
    def desk(self) -> AgentdeskApp:
        return cast("AgentdeskApp", self.app)

    def compose(self) -> ComposeResult:
        yield StatusLine()
        with ContentSwitcher(initial="incidents-pick", id="incidents-switcher"):
            with Vertical(id="incidents-pick"):
                listing = IncidentList(id="incident-list")
                listing.add_class("panel")
                listing.border_title = LIST_TITLE
                yield listing
                yield Static("", id="incident-about")
            with Vertical(id="incident-open"):
                strip = TimelineStrip(id="incident-strip")
                strip.border_title = STRIP_TITLE
                yield strip
                with Horizontal(id="incident-panels"):
                    with Vertical(id="incident-left"):
                        trace = TraceView(id="incident-trace")
                        trace.border_title = "trace as of the cursor"
                        yield trace
                        with Horizontal(id="incident-meters"):
                            budget = BudgetMeters(id="incident-budget")
                            budget.border_title = "budget (this run)"
                            yield budget
                            counters = CounterPanel(id="incident-counters")
                            counters.border_title = "totals so far"
                            yield counters
                    with Vertical(id="incident-right"):
                        detail = EventDetail(id="incident-event", classes="panel")
                        detail.border_title = "event"
                        yield detail
                        board = BreakerBoard(id="incident-breakers")
                        board.border_title = "breakers as of the cursor"
                        yield board
        yield Footer()

    def on_mount(self) -> None:
        self._catalog()
        self.query_one(IncidentList).focus()
        self.set_interval(0.5, self.show_live_status)
        self.show_live_status()

    def _catalog(self) -> IncidentCatalog:
        if self.catalog is None:
            self.catalog = catalog_for(self.desk)
        return self.catalog

    def on_screen_resume(self) -> None:
        self.action_reload()

    def on_resize(self) -> None:
        trace = self.query_one(TraceView)
        trace.call_after_refresh(trace.scroll_to_cursor)

    def on_unmount(self) -> None:
        if self.catalog is not None:
            self.catalog.close()

    # --- which keys work where ----------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        switcher = self.query_one(ContentSwitcher)
        return switcher.current == "incident-open" and self.timeline is not None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in TIMELINE_ACTIONS:
            return self.is_open
        if action in ("open", "reload"):
            return not self.is_open
        return True

    # --- the list -----------------------------------------------------------------------------

    def action_reload(self) -> None:
        self.query_one(IncidentList).border_subtitle = "reading…"
        self.run_worker(self._list_worker, thread=True, exclusive=True, group="incidents-list")

    def _list_worker(self) -> None:
        catalog = self._catalog()
        entries = tuple(catalog.entries())
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show_entries, entries, catalog.problem)

    def show_entries(self, entries: tuple[IncidentEntry, ...], problem: str = "") -> None:
        listing = self.query_one(IncidentList)
        listing.update_entries(entries)
        listing.border_subtitle = f"{len(entries)} listed"
        about = (
            "✔ = a bundle with its tape: what-if replay works. Other runs open as a timeline; "
            "`agentdesk incidents save RUN` keeps one as an incident."
        )
        if problem:
            about = f"{about}\n✗ {problem}"
        self.query_one("#incident-about", Static).update(safe_text(about, 400))

    def on_incident_list_chosen(self, message: IncidentList.Chosen) -> None:
        self.open_entry(message.entry)

    def action_open(self) -> None:
        entry = self.query_one(IncidentList).entry
        if entry is not None:
            self.open_entry(entry)

    def open_entry(self, entry: IncidentEntry) -> None:
        self.notify(f"opening {safe_text(entry.title, 80)}…", timeout=1.5, markup=False)
        worker = partial(self._open_worker, entry)
        self.run_worker(worker, thread=True, exclusive=True, group="incidents-open")

    def _open_worker(self, entry: IncidentEntry) -> None:
        try:
            incident = self._catalog().open(entry)
        except (AgentdeskError, OSError) as exc:
            self.app.call_from_thread(self._failed, "incident not opened", exc)
            return
        timeline = Timeline(incident.events, incident.cooldown)  # folds the checkpoints
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show_incident, incident, timeline)

    def _failed(self, title: str, exc: BaseException) -> None:
        self.notify(safe_text(exc, 300), title=title, severity="error", markup=False)

    # --- the open incident --------------------------------------------------------------------

    def show_incident(self, incident: OpenIncident, timeline: Timeline) -> None:
        if self.incident is None or incident.entry != self.incident.entry:
            self._form = {"more": " ".join(incident.suggested)} if incident.suggested else {}
        self.incident, self.timeline, self.result = incident, timeline, None
        first_error = timeline.first("error")
        self.notes = {first_error: "first error"} if first_error is not None else {}
        marks = tuple(m for m in timeline.marks if m.kind != "step")
        strip = self.query_one(TimelineStrip)
        strip.data = StripData(tuple(e.t for e in timeline.events), marks)
        entry = incident.entry
        status = self.query_one(StatusLine)
        status.live, status.faults = False, 0
        status.pipeline = entry.pipeline or "incident"
        status.scenario = entry.scenario or "—"
        status.narration = entry.title
        self.query_one(ContentSwitcher).current = "incident-open"
        strip.focus()
        self.refresh_bindings()
        self.show_moment()

    def show_moment(self) -> None:
        """Push the panels as of the cursor into the widgets (attributes down)."""
        timeline = self.timeline
        if timeline is None:
            return
        moment = timeline.moment()
        strip = self.query_one(TimelineStrip)
        strip.cursor = moment.index
        strip.border_subtitle = (
            f"event {moment.index + 1:,} of {moment.total:,} · "
            f"{_count(len(timeline.indices('error')), 'error')} · "
            f"{_count(len(timeline.indices('breaker')), 'breaker transition')}"
        )
        detail = self.query_one(EventDetail)
        detail.event, detail.position = moment.event, (moment.index, moment.total)
        detail.note = self.notes.get(moment.index, "")
        trace = self.query_one(TraceView)
        trace.update_trace(moment.trace, moment.now)
        trace.cursor = moment.trace_line
        trace.refresh()
        # After the new lines' virtual size is laid out, or the scroll is clamped to the old.
        trace.call_after_refresh(trace.scroll_to_cursor)
        trace.border_title = f"trace as of the cursor · {safe_text(moment.run_id, 60) or '—'}"
        self.query_one(BreakerBoard).breakers = moment.breakers
        self.query_one(BudgetMeters).meters = moment.meters
        self.query_one(CounterPanel).counters = moment.counters
        self.query_one(StatusLine).now = moment.now

    # --- keys ---------------------------------------------------------------------------------

    def action_step(self, delta: int) -> None:
        if self.timeline is not None:
            self.timeline.step(delta)
            self.show_moment()

    def action_go(self, index: int) -> None:
        if self.timeline is not None:
            self.timeline.go(index if index >= 0 else len(self.timeline) - 1)
            self.show_moment()

    def action_jump(self, kind: MarkKind, direction: int) -> None:
        timeline = self.timeline
        if timeline is None:
            return
        if timeline.jump(kind, direction, wrap=kind != "step") is None:
            self._nothing(kind)
        self.show_moment()

    def action_first(self, kind: MarkKind) -> None:
        """The first mark of ``kind``; pressed again there (or past it), the next one."""
        timeline = self.timeline
        if timeline is None:
            return
        first = timeline.first(kind)
        if first is None:
            self._nothing(kind)
        elif timeline.cursor < first:
            timeline.go(first)
        else:
            timeline.jump(kind)
        self.show_moment()

    def _nothing(self, kind: MarkKind) -> None:
        what = {
            "error": "no errors",
            "breaker": "no breaker transitions",
            "budget": "no budget was exhausted",
            "step": "no more steps",
        }.get(kind, f"no {kind}")
        self.notify(f"{what} in this incident", timeout=2)

    def action_close(self) -> None:
        self.query_one(ContentSwitcher).current = "incidents-pick"
        self.query_one(IncidentList).focus()
        self.refresh_bindings()
        self.show_live_status()

    def show_live_status(self) -> None:
        """While the list shows, the status line is the app's, as on every other screen."""
        if self.is_open:
            return
        app, status = self.desk, self.query_one(StatusLine)
        state = app.control.state
        status.pipeline, status.scenario = state.pipeline, state.scenario
        status.now = app.model.summary.sim_time
        status.pace, status.paused, status.live = state.pace, state.paused, app.live
        status.faults = sum(len(f) for f in state.injected.values())
        status.narration = ""

    # --- what-if ------------------------------------------------------------------------------

    def action_what_if(self, error: str = "") -> None:
        incident = self.incident
        if incident is None:
            return
        if incident.bundle is None:
            self.notify(
                "a what-if replays an incident's tape; this is a run without one: save it "
                "with `agentdesk incidents save RUN` and open it from the list",
                title="no what-if for a run",
                severity="warning",
                timeout=6,
                markup=False,
            )
            return
        form = WhatIfForm(incident.entry.title, self._form, error)

        def submitted(changes: WhatIf | None) -> None:
            self._form = form.values
            if changes is not None:
                self.run_what_if(changes)

        self.app.push_screen(form, submitted)

    def run_what_if(self, changes: WhatIf) -> None:
        incident = self.incident
        if incident is None:
            return
        described = ", ".join(changes.describe())
        self.notify(safe_text(f"replaying with {described}…", 300), timeout=3, markup=False)
        self.query_one(TimelineStrip).border_title = f"{STRIP_TITLE} · what-if replaying…"
        worker = partial(self._what_if_worker, incident, changes)
        self.run_worker(worker, thread=True, exclusive=True, group="incidents-what-if")

    def _what_if_worker(self, incident: OpenIncident, changes: WhatIf) -> None:
        try:
            result = self._catalog().what_if(incident, changes)
        except (AgentdeskError, OSError) as exc:
            self.app.call_from_thread(self._what_if_failed, exc)
            return
        self.app.call_from_thread(self.show_result, incident, result)

    def _what_if_failed(self, exc: BaseException) -> None:
        self.query_one(TimelineStrip).border_title = STRIP_TITLE
        if isinstance(exc, WhatIfError):  # a change the form could not judge: fix it there
            self.action_what_if(str(exc))
        else:
            self._failed("what-if not replayed", exc)

    def show_result(self, incident: OpenIncident, result: WhatIfResult) -> None:
        self.query_one(TimelineStrip).border_title = STRIP_TITLE
        if incident is not self.incident:
            return  # another incident was opened meanwhile
        self.result = result
        if result.divergence is not None and self.timeline is not None:
            index, last = result.divergence.index, len(self.timeline) - 1
            ended = "the recording ends here; the what-if goes on"
            self.notes[min(index, last)] = "first divergence (what-if)" if index <= last else ended

        def answered(answer: str | None) -> None:
            if answer == "divergence" and result.divergence is not None and self.timeline:
                self.timeline.go(result.divergence.index)
                self.show_moment()
            elif answer == "replay":
                self.scrub_replay(incident, result)

        self.app.push_screen(WhatIfComparison(incident.entry.title, result), answered)

    def scrub_replay(self, incident: OpenIncident, result: WhatIfResult) -> None:
        """Open the what-if's own events as a timeline (no tape: no what-if of a what-if)."""
        entry = incident.entry
        title = f"what-if of {entry.title}: {', '.join(result.changes.describe())}"
        replay = IncidentEntry("session", entry.ref, title, entry.pipeline, entry.scenario)
        self.run_worker(
            partial(self._replay_worker, replay, result.events, incident.cooldown),
            thread=True,
            exclusive=True,
            group="incidents-open",
        )

    def _replay_worker(self, entry: IncidentEntry, raw: tuple[bytes, ...], cooldown: float) -> None:
        events = tuple(_decode.decode(line) for line in raw)
        timeline = Timeline(events, cooldown)
        if not get_current_worker().is_cancelled:
            opened = OpenIncident(entry, events, None, (), cooldown)
            self.app.call_from_thread(self.show_incident, opened, timeline)


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def catalog_for(app: AgentdeskApp) -> IncidentCatalog:
    """The app's incidents: its workspace's, its store's (when it uses one), its session's."""
    workspace = app.control.sim.workspace

    def session_events(run_id: str) -> list[AnyEvent]:
        model = app.model
        events = model.runs.events(run_id)
        if not events and model.recorded is not None:
            events = model.recorded.run_events(run_id)
        return events

    return IncidentCatalog(
        workspace.root,
        app.hot.db if app.hot is not None else None,
        use_store=app.hot is not None,
        session=lambda: list(app.model.view().runs),
        session_events=session_events,
        cooldown=workspace.spec.policies.breaker.cooldown,
    )
