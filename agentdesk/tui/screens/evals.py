"""The Evals screen: stored eval results per scenario and case, gates, the trend per release,
and each failing case one key away from its recorded run's trace.

Everything comes from the store (``agentdesk eval`` records results and runs by default) and
is read on a thread worker, never on the UI thread: the screen asks, the worker builds an
``EvalsView`` (``models/evals.py``) and the screen shows it. Enter on a case reads that run's
events (its ``BATCH/RUN``: run ids repeat across recordings) on a worker too, folds them with
the Live screen's own ``build_trace`` and shows them in a ``TraceView``, in a modal
(``RunTraceScreen``) over this screen — the live run book is not touched, so a recorded run
never mixes with live runs that share its id.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from agentdesk.errors import AgentdeskError
from agentdesk.tui.models.evals import CaseRow, EvalsView, ScenarioRow, TrendPoint, bars
from agentdesk.tui.models.runs import TraceLine, build_trace
from agentdesk.tui.safe import safe_text
from agentdesk.tui.screens.run_trace import RunTraceScreen

if TYPE_CHECKING:
    from agentdesk.tui.app import AgentdeskApp

TREND_RELEASES = 24
"""Releases shown in the trend chart (the newest)."""


class EvalsScreen(Screen[None]):
    CSS_PATH = "evals.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_trace", "Trace", show=False),
        Binding("n", "step(1)", "Older eval"),
        Binding("p", "step(-1)", "Newer eval"),
        Binding("f", "failing_only", "Failing only"),
        Binding("r", "reload", "Reload"),
        Binding("escape", "app.show_mode('live')", "Live", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view = EvalsView(pipeline="")
        self.scenario: str | None = None
        """The scenario whose cases, gates and trend are shown."""
        self.failing_only = True
        self.shown_cases: tuple[CaseRow, ...] = ()

    @property
    def desk(self) -> AgentdeskApp:
        return cast("AgentdeskApp", self.app)

    def compose(self) -> ComposeResult:
        yield Static(id="evals-header")
        with Horizontal(id="evals-body"):
            with Vertical(id="evals-left"):
                scenarios = OptionList(id="eval-scenarios")
                scenarios.border_title = "scenarios · passed · p95 · cost/case · gates"
                yield scenarios
                gates = Static(id="eval-gates")
                gates.border_title = "gates"
                yield gates
                trend = Static(id="eval-trend")
                trend.border_title = "trend per release (oldest → newest)"
                yield trend
            with Vertical(id="evals-right"):
                cases = OptionList(id="eval-cases")
                cases.border_title = "cases · enter opens the run's trace"
                yield cases
                detail = Static(id="eval-case")
                detail.border_title = "case"
                yield detail
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#eval-cases", OptionList).focus()

    def on_screen_resume(self) -> None:
        self.load(self.view.selected)

    # --- reading the store (worker threads) ---------------------------------------------------

    def _where(self) -> tuple[Path, str | None, str]:
        control = self.desk.control
        db = self.desk.hot.db if self.desk.hot is not None else None
        return control.sim.workspace.root, db, control.state.pipeline

    @work(thread=True, exclusive=True, group="evals-load")
    def load(self, selected: str | None = None) -> None:
        view = read_view(*self._where(), selected)
        self.app.call_from_thread(self.show_evals, view)

    @work(thread=True, exclusive=True, group="evals-trace")
    def load_trace(self, case: CaseRow) -> None:
        root, db, _ = self._where()
        try:
            lines = read_trace(root, db, case.run_ref)
        except AgentdeskError as exc:
            self.app.call_from_thread(self._no_trace, case, str(exc))
            return
        self.app.call_from_thread(self._show_trace, case, lines)

    # --- attributes down ----------------------------------------------------------------------

    def show_evals(self, view: EvalsView) -> None:
        self.view = view
        names = [s.scenario for s in view.scenarios]
        if self.scenario not in names:
            self.scenario = next(
                (s.scenario for s in view.scenarios if s.passed < s.cases),
                names[0] if names else None,
            )
        self.query_one("#evals-header", Static).update(_header(view))
        scenarios = self.query_one("#eval-scenarios", OptionList)
        scenarios.clear_options()
        scenarios.add_options(Option(_scenario_line(s), id=s.scenario) for s in view.scenarios)
        scenarios.border_subtitle = safe_text(view.store, 80)
        if self.scenario is not None:
            scenarios.highlighted = names.index(self.scenario)
        self._show_scenario()

    def _show_scenario(self) -> None:
        row = next((s for s in self.view.scenarios if s.scenario == self.scenario), None)
        self.query_one("#eval-gates", Static).update(_gates(row))
        points = self.view.trend(self.scenario)[-TREND_RELEASES:]
        self.query_one("#eval-trend", Static).update(_trend(points, self.view.eval_row()))
        cases = self.view.cases_of(self.scenario)
        failing = tuple(c for c in cases if not c.passed)
        self.shown_cases = failing if self.failing_only and failing else cases
        listing = self.query_one("#eval-cases", OptionList)
        listing.clear_options()
        listing.add_options(Option(_case_line(c)) for c in self.shown_cases)
        what = "failing cases" if self.shown_cases is failing else "cases"
        listing.border_title = f"{what} · {len(self.shown_cases)} · enter opens the run's trace"
        listing.highlighted = 0 if self.shown_cases else None
        self._show_case(self.shown_cases[0] if self.shown_cases else None)

    def _show_case(self, case: CaseRow | None) -> None:
        self.query_one("#eval-case", Static).update(_case_detail(case))

    def _show_trace(self, case: CaseRow, lines: list[TraceLine]) -> None:
        title = f"trace · {safe_text(case.case_id, 60)} · {case.scenario} · {case.run_ref}"
        self.app.push_screen(RunTraceScreen(title, tuple(lines)))

    def _no_trace(self, case: CaseRow, why: str) -> None:
        self.notify(safe_text(why, 300), title="no trace", severity="warning", markup=False)

    # --- messages up --------------------------------------------------------------------------

    def on_option_list_option_highlighted(self, message: OptionList.OptionHighlighted) -> None:
        if message.option_list.id == "eval-scenarios":
            chosen = message.option.id
            if chosen is not None and chosen != self.scenario:
                self.scenario = chosen
                self._show_scenario()
        elif message.option_list.id == "eval-cases":
            index = message.option_index
            self._show_case(self.shown_cases[index] if index < len(self.shown_cases) else None)

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        if message.option_list.id == "eval-cases":
            self.action_open_trace()
        else:
            self.query_one("#eval-cases", OptionList).focus()

    # --- keys ---------------------------------------------------------------------------------

    def selected_case(self) -> CaseRow | None:
        index = self.query_one("#eval-cases", OptionList).highlighted
        if index is None or index >= len(self.shown_cases):
            return None
        return self.shown_cases[index]

    def action_open_trace(self) -> None:
        case = self.selected_case()
        if case is None:
            return
        if not case.recorded:
            self.notify(
                "this eval did not record its runs (agentdesk eval --no-record)",
                severity="warning",
                markup=False,
            )
            return
        self.load_trace(case)

    def action_step(self, step: int) -> None:
        ids = [e.id for e in self.view.evals]
        if not ids:
            return
        index = ids.index(self.view.selected) if self.view.selected in ids else 0
        target = ids[max(0, min(len(ids) - 1, index + step))]
        if target != self.view.selected:
            self.load(target)

    def action_failing_only(self) -> None:
        self.failing_only = not self.failing_only
        self._show_scenario()

    def action_reload(self) -> None:
        self.load(self.view.selected)


# --- the store, read on workers ----------------------------------------------------------------


def read_view(root: Path, db: str | None, pipeline: str, selected: str | None) -> EvalsView:
    """The pipeline's stored evals and the ``selected`` one (default: the newest)."""
    from agentdesk.store import locate, open_engine
    from agentdesk.store.evals import EvalStore
    from agentdesk.tui.models.evals import build_view

    try:
        location = locate(root, db)
        engine = open_engine(location)
    except AgentdeskError as exc:
        return EvalsView(pipeline, error=str(exc))
    try:
        store = EvalStore(engine)
        evals = store.evals(pipeline, limit=200)
        chosen = selected if selected in {e.id for e in evals} else None
        chosen = chosen or (evals[0].id if evals else None)
        scenarios = store.scenarios(chosen) if chosen else []
        cases = store.cases(chosen) if chosen else []
        trend = store.trend(pipeline, limit=TREND_RELEASES)
        where = location.describe()
        return build_view(pipeline, evals, chosen, scenarios, cases, trend, where)
    except AgentdeskError as exc:
        return EvalsView(pipeline, error=str(exc))
    finally:
        engine.dispose()


def read_trace(root: Path, db: str | None, ref: str) -> list[TraceLine]:
    """The trace of the recorded run ``ref`` (``BATCH/RUN``)."""
    from agentdesk.store import locate, open_engine
    from agentdesk.store.queries import find_run, run_events

    engine = open_engine(locate(root, db))
    try:
        events, _ = run_events(engine, find_run(engine, ref))
    finally:
        engine.dispose()
    return build_trace(events)


# --- drawing ------------------------------------------------------------------------------------


def _header(view: EvalsView) -> Text:
    text = Text(f" evals · {safe_text(view.pipeline, 60)}", style="bold")
    if view.error:
        return text.append(f" · {safe_text(view.error, 300)}", style="red")
    row = view.eval_row()
    if row is None:
        hint = f" · nothing recorded yet: agentdesk eval {safe_text(view.pipeline, 60)}"
        return text.append(hint, style="dim")
    position = [e.id for e in view.evals].index(row.id) + 1
    when = row.created.astimezone().strftime("%Y-%m-%d %H:%M")
    text.append(f" · eval {row.id} ({position} of {len(view.evals)}) · {when}", style="")
    text.append(f" · release {row.release[:12]} · {row.passed}/{row.cases} passed · ")
    return text.append_text(_gate_mark(row.gates_passed))


def _gate_mark(passed: bool | None) -> Text:
    if passed is None:
        return Text("no gates", style="dim")
    return Text("gates ✓", style="green") if passed else Text("gates ✗", style="bold red")


def _scenario_line(s: ScenarioRow) -> Text:
    name = safe_text(s.scenario, 19)
    text = Text(f"{name:<19}", style="bold" if s.passed < s.cases else "")
    style = "green" if s.passed == s.cases else "red"
    text.append(f" {s.passed:>3}/{s.cases:<3}{s.pass_rate:>5.0%}", style=style)
    text.append(f" {s.p95:>6.2f}s ${s.cost_per_case:.5f} ")
    failed = s.failed_gates
    if s.gates_passed is None:
        text.append("-", style="dim")
    elif failed:
        text.append(f"✗ {len(failed)}", style="bold red")
    else:
        text.append("✓", style="green")
    return text


def _gates(row: ScenarioRow | None) -> Text:
    if row is None:
        return Text("no scenario", style="dim")
    text = Text()
    for metric, score in row.scores:
        text.append(f"{safe_text(metric, 30)} {score:.3f}  ", style="cyan")
    if row.scores:
        text.append("\n")
    if not row.gates:
        return text.append("no gates checked", style="dim")
    ordered = sorted(row.gates, key=lambda g: (g.passed, not g.skipped))
    for gate in ordered:
        mark, style = (
            ("·", "dim") if gate.skipped else ("✔", "green") if gate.passed else ("✗", "bold red")
        )
        text.append(f"{mark} ", style=style).append(safe_text(gate.gate, 60), style=style)
        text.append(f"  {safe_text(gate.text, 120)}\n", style="dim")
    return text


def _trend(points: tuple[TrendPoint, ...], current: object) -> Text:
    if not points:
        return Text("no releases evaluated under this scenario yet", style="dim")
    passes = [p.pass_rate for p in points]
    costs = [p.cost_per_case for p in points]
    p95s = [p.p95 for p in points]
    text = Text()
    text.append("pass rate ", style="bold").append(bars(passes, 0.0, 1.0), style="green")
    text.append(f"  {passes[0]:.0%} → {passes[-1]:.0%}\n")
    text.append("p95       ", style="bold").append(bars(p95s), style="yellow")
    text.append(f"  {p95s[0] * 1000:.0f} → {p95s[-1] * 1000:.0f} ms\n")
    text.append("cost/case ", style="bold").append(bars(costs), style="magenta")
    text.append(f"  ${costs[0]:.5f} → ${costs[-1]:.5f}\n")
    text.append(f"{len(points)} release(s); newest {points[-1].release[:12]}", style="dim")
    return text


def _case_line(c: CaseRow) -> Text:
    """One line: mark, id, time, cost, stop reason (its failures are in the case panel)."""
    mark = Text("✔ ", style="green") if c.passed else Text("✗ ", style="bold red")
    text = mark.append(f"{safe_text(c.case_id, 24):<24}", style="" if c.passed else "bold")
    stop = safe_text(c.stop_reason, 28)
    text.append(f" {c.duration:>6.2f}s ${c.usd:.5f} ", style="dim")
    text.append(stop, style="green" if stop == "completed" else "red")
    return text


def _case_detail(c: CaseRow | None) -> Text:
    if c is None:
        return Text("no case", style="dim")
    text = Text(safe_text(c.case_id, 80), style="bold")
    text.append(f" · line {c.line} · {safe_text(', '.join(c.tags), 80) or 'no tags'}", style="dim")
    text.append(f"\nrun {safe_text(c.run_ref, 80)}", style="cyan")
    if not c.recorded:
        text.append(" (not recorded)", style="yellow")
    text.append(f" · {safe_text(c.stop_reason, 60)} · {c.retries} retries\n", style="dim")
    if c.passed:
        return text.append("every assertion passed", style="green")
    for failure in c.failures:
        text.append("✗ ", style="red").append(safe_text(failure, 240)).append("\n")
    return text
