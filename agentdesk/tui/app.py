"""The agentdesk app and its factory, ``make_app`` — shared by the CLI, tests and benchmarks.

The app owns four things: the ``LiveControl`` (the simulation on its thread), the
``LiveModel`` (read models folded by the bridge), the ``LiveBridge`` between them, and
``HotReload`` (the store, the artifact session and the watcher, on threads of their own). On
every ``Updated`` it takes one ``LiveView`` and pushes it into the visible screen; the hidden
screen is not rendered at all. On every ``Reloaded`` it swaps the live pipeline to a new
release, tells the user what an edit did, and pushes the artifacts snapshot. A recorded
session (``events=…``) shows a fixed model and starts no thread, which is what the snapshot
tests and screenshots use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from agentdesk import heap
from agentdesk.alerts import load_rules
from agentdesk.control import FAULTS_BY_KEY, PACES, LiveControl
from agentdesk.engine.events import AnyEvent
from agentdesk.errors import AgentdeskError, SpecError
from agentdesk.inputs import read_inputs
from agentdesk.simulation import Simulation, find_workspace
from agentdesk.spec.sources import DISK, FileSource
from agentdesk.store.artifacts import Version
from agentdesk.tui import demo as demo_show
from agentdesk.tui.bridge import LiveBridge, Reloaded, Updated
from agentdesk.tui.commands import AgentdeskCommands
from agentdesk.tui.hot_reload import (
    HotReload,
    Judged,
    LiveTarget,
    News,
    Notice,
    Swap,
    last_valid_files,
)
from agentdesk.tui.models.live import LiveModel
from agentdesk.tui.models.runs import RecordedRuns
from agentdesk.tui.safe import safe_text
from agentdesk.tui.screens.artifacts import ArtifactsScreen, rollback_question
from agentdesk.tui.screens.chaos import ChaosScreen
from agentdesk.tui.screens.confirm import ConfirmScreen
from agentdesk.tui.screens.evals import EvalsScreen
from agentdesk.tui.screens.help import HelpScreen
from agentdesk.tui.screens.incidents import IncidentsScreen
from agentdesk.tui.screens.label_input import LabelInput
from agentdesk.tui.screens.live import LiveScreen
from agentdesk.tui.screens.scenario_picker import ScenarioPicker
from agentdesk.tui.widgets.runs_list import RunsList
from agentdesk.tui.widgets.status_line import StatusLine, pace_label


class AgentdeskApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "agentdesk"
    COMMANDS = App.COMMANDS | {AgentdeskCommands}
    MODES: ClassVar[dict[str, Any]] = {
        "live": LiveScreen,
        "chaos": ChaosScreen,
        "artifacts": ArtifactsScreen,
        "incidents": IncidentsScreen,
        "evals": EvalsScreen,
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "show_mode('live')", "Live"),
        Binding("c", "show_mode('chaos')", "Chaos"),
        Binding("a", "show_mode('artifacts')", "Artifacts"),
        Binding("i", "show_mode('incidents')", "Incidents"),
        Binding("e", "show_mode('evals')", "Evals"),
        Binding("space", "pause", "Pause"),
        Binding("right_square_bracket", "pace(1)", "Faster"),
        Binding("left_square_bracket", "pace(-1)", "Slower"),
        Binding("question_mark,f1", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        control: LiveControl,
        model: LiveModel,
        live: bool = True,
        demo: bool = False,
        hot: HotReload | None = None,
    ) -> None:
        super().__init__()
        self.hot = hot
        if hot is not None:
            hot.live = self.live_target
        self.control = control
        self.model = model
        self.live = live
        self.demo = demo
        self.selected_run: str | None = None
        self.bridge = LiveBridge(control.bridge, model, self.post_message)
        self.services = _services(control)

    # --- lifecycle ----------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.switch_mode("live")
        self.call_after_refresh(self.refresh_view)
        # What is loaded by now (Textual, the workspace, the pipeline) lives as long as the app:
        # frozen, full collections no longer walk it (~100 ms, a stalled frame, one to two
        # times a second while events stream). Young collections stay short (CPython's own).
        self.call_after_refresh(heap.settle, None)
        if self.live:
            self.control.start()
            self.bridge.start()
            if self.demo:
                demo_show.attach(self.control)
        if self.hot is not None:
            self.hot.emit = self._hot_news
            self.call_after_refresh(self.hot.start)  # after the first frame

    def on_unmount(self) -> None:
        self._shut_down()

    def _shut_down(self) -> None:
        self._stop_live()
        if self.hot is not None:
            self.hot.emit = lambda news: None
            self.hot.stop()

    def _stop_live(self) -> None:
        self.bridge.stop()
        self.control.stop()

    # --- the view -----------------------------------------------------------------------------

    def on_updated(self, message: Updated) -> None:
        self.refresh_view()

    def refresh_view(self) -> None:
        if not self.screen_stack:  # shutting down: a late message finds no screen
            return
        screen = self.screen
        if isinstance(screen, LiveScreen | ChaosScreen | ArtifactsScreen) and screen.is_mounted:
            screen.show(self.model.view(self.selected_run), self.control.state, self.live)
            self._show_problem(screen)

    # --- hot reload ---------------------------------------------------------------------------

    def live_target(self) -> LiveTarget:
        """What the Live screen runs (read from hot reload's threads)."""
        control = self.control
        state = control.state
        return LiveTarget(state.pipeline, state.scenario, control.sim.seed, control.inputs)

    def _hot_news(self, news: News) -> None:
        self.post_message(Reloaded(news))

    def on_reloaded(self, message: Reloaded) -> None:
        news = message.news
        if isinstance(news, Swap):
            self._swap(news)
        elif isinstance(news, Judged) and news.outcome.status == "rejected":
            problems = news.outcome.problems
            text = str(problems[0]) if problems else news.outcome.path
            title = "edit rejected: the previous version stays active"
            self.notify(safe_text(text, 300), title=title, severity="error", markup=False)
        elif isinstance(news, Notice):
            self.notify(safe_text(news.text, 300), severity=news.severity, timeout=4, markup=False)
        self.refresh_artifacts()

    def _swap(self, swap: Swap) -> None:
        state = self.control.state
        if swap.pipeline.spec.name != state.pipeline or swap.pipeline.release == state.release:
            return
        self.control.swap_pipeline(swap.workspace, swap.pipeline)
        what = swap.outcome.path if swap.outcome is not None else "the active versions"
        self.notify(
            safe_text(
                f"{state.pipeline} runs new sessions with {what} "
                f"(release {swap.pipeline.release[:8]})",
                300,
            ),
            title="hot reload",
            timeout=3,
            markup=False,
        )

    def refresh_artifacts(self) -> None:
        screen = self.screen
        if self.hot is not None and isinstance(screen, ArtifactsScreen) and screen.is_mounted:
            screen.show_artifacts(self.hot.snapshot)
        self._show_problem(screen)

    def problem_text(self) -> str:
        """The first rejected edit still unfixed, and what stays active meanwhile."""
        if self.hot is None or not self.hot.snapshot.problems:
            return ""
        snapshot = self.hot.snapshot
        problems = snapshot.problems
        row = snapshot.row(problems[0].file)
        active = row.active_version if row is not None else None
        stays = f"v{active.number}" if active is not None else "the previous version"
        more = f" (+{len(problems) - 1} more on the Artifacts screen)" if len(problems) > 1 else ""
        return f"edit rejected, {stays} stays active: {problems[0]}{more}"

    def _show_problem(self, screen: Screen[Any]) -> None:
        problem = self.problem_text()
        for line in screen.query(StatusLine):
            line.problem = problem

    def confirm_rollback(self, version: Version) -> None:
        """Ask, then write a stored version back to its file (the watcher sees it as an edit)."""
        hot = self.hot
        if hot is None:
            return
        if version.status != "valid":
            self.notify(
                f"{version.ref} was rejected: only a valid version can be restored",
                severity="error",
                markup=False,
            )
            return

        def answered(yes: bool | None) -> None:
            if yes:
                hot.rollback(version)

        self.push_screen(ConfirmScreen(rollback_question(version)), answered)

    def ask_label(self, version: Version) -> None:
        hot = self.hot
        if hot is None:
            return
        if version.status != "valid":
            self.notify(
                f"{version.ref} was rejected: only a valid version is labelled",
                severity="error",
                markup=False,
            )
            return
        question = Text.assemble(
            "Label ", (safe_text(version.ref, 80), "bold"), f" ({version.short}) as:"
        )

        def answered(name: str | None) -> None:
            if name:
                hot.label(version, name)

        self.push_screen(LabelInput(question), answered)

    def on_runs_list_selected(self, message: RunsList.Selected) -> None:
        if message.run_id != self.selected_run:
            self.selected_run = message.run_id
            self.refresh_view()

    # --- actions (keys, palette, screens) -----------------------------------------------------

    def action_show_mode(self, mode: str) -> None:
        self.switch_mode(mode)
        self.call_after_refresh(self.refresh_view)
        self.call_after_refresh(self.refresh_artifacts)

    def action_pause(self) -> None:
        self.control.toggle_pause()
        self.refresh_view()

    def action_pace(self, step: int) -> None:
        pace = self.control.state.pace
        index = PACES.index(pace) if pace in PACES else 1
        self.control.set_pace(PACES[max(0, min(len(PACES) - 1, index + step))])
        self.notify(f"pace {pace_label(self.control.state.pace)}", timeout=1.5)
        self.refresh_view()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_pick_scenario(self) -> None:
        picker = ScenarioPicker(self.control.scenarios(), self.control.state.scenario)
        self.push_screen(picker, self._picked)

    def _picked(self, name: str | None) -> None:
        if name:
            self.switch_scenario(name)

    def inject(self, service: str, key: str) -> None:
        self.control.inject(service, key)
        self.notify(f"injected {FAULTS_BY_KEY[key].label} into {service}", timeout=2)
        self.refresh_view()

    def clear_faults(self, service: str | None) -> None:
        self.control.clear(service)
        self.notify(f"cleared injected faults on {service or 'every service'}", timeout=2)
        self.refresh_view()

    def switch_scenario(self, name: str) -> None:
        try:
            self.control.switch_scenario(name)
        except AgentdeskError as exc:
            self.notify(str(exc), title="scenario not switched", severity="error")
            return
        self.notify(f"scenario {name}", timeout=2)
        self.refresh_view()

    def open_run(self, run_id: str) -> None:
        self.action_show_mode("live")
        self.selected_run = run_id

        def select() -> None:
            self.screen.query_one(RunsList).select_run(run_id)
            self.refresh_view()

        self.call_after_refresh(select)

    def pipelines(self) -> list[str]:
        folder = self.control.sim.workspace.root / "pipelines"
        return sorted(p.stem for p in folder.glob("*.y*ml"))

    def run_pipeline(self, name: str) -> None:
        """Replace the running simulation with one of another pipeline (same scenario)."""
        old = self.control
        try:
            sim = Simulation.prepare(
                old.sim.workspace.root, name, old.state.scenario, files=self._active_files()
            )
        except AgentdeskError as exc:
            self.notify(str(exc), title="pipeline not started", severity="error")
            return
        self._stop_live()
        self.control = LiveControl(sim, workspace_inputs(sim), old.state.sessions, old.state.pace)
        self.model = LiveModel(
            cooldown=sim.workspace.spec.policies.breaker.cooldown, alerts=self.model.alerts.rules
        )
        self.bridge = LiveBridge(self.control.bridge, self.model, self.post_message)
        self.services = _services(self.control)
        self.selected_run = None
        self.live = True
        self.control.start()
        self.bridge.start()
        self.notify(f"running {name}", timeout=2)
        self.refresh_view()

    def _active_files(self) -> FileSource:
        """What a pipeline is loaded from: hot reload's active set once it is up, else the disk."""
        session = self.hot.session if self.hot is not None else None
        return session.files() if session is not None else DISK

    async def action_quit(self) -> None:
        self._shut_down()
        self.exit()


def _services(control: LiveControl) -> list[tuple[str, str]]:
    specs = control.sim.workspace.spec.services
    return [(name, specs[name].sim or "url") for name in control.services]


def default_pipeline(root: Path) -> str:
    names = sorted(p.stem for p in (root / "pipelines").glob("*.y*ml"))
    if not names:
        raise AgentdeskError(f"no pipelines in {root / 'pipelines'}")
    return "support-triage" if "support-triage" in names else names[0]


def workspace_inputs(sim: Simulation) -> list[Any]:
    """The first ``inputs/*.jsonl`` whose lines all fit the pipeline; else its example input."""
    schema = sim.pipeline.spec.input.schema_
    for path in sorted((sim.workspace.root / "inputs").glob("*.jsonl")):
        try:
            return read_inputs(None, None, path, schema)
        except AgentdeskError:
            continue
    return [sim.default_input()]


def make_app(
    workspace: Path | None = None,
    pipeline: str | None = None,
    scenario: str | None = None,
    *,
    seed: int | None = None,
    sessions: int = 8,
    pace: float | None = 5.0,
    demo: bool = False,
    events: list[AnyEvent] | None = None,
    recorded: RecordedRuns | None = None,
    hot_reload: bool | HotReload | None = None,
    db: str | None = None,
) -> AgentdeskApp:
    """The app on a workspace (default: here, or the bundled demo).

    ``events``: show these recorded events instead of running anything (no thread starts).
    ``recorded``: where recorded runs come from, listed after the live ones.
    ``hot_reload``: watch the workspace, record versions in the store (``db``, default the
    workspace's) and run new sessions on each new release; on by default when live. A
    ``HotReload`` given here is used as it is (the screenshots prepare one).
    """
    root = find_workspace(workspace)
    name = pipeline or default_pipeline(root)
    try:
        sim = Simulation.prepare(root, name, scenario, seed)
    except SpecError as broken:
        # A file broken on disk: start on its last valid version, if the store has one (the
        # broken save then shows as rejected until it is fixed).
        live = hot_reload is not False and events is None
        files = last_valid_files(root, db) if live else None
        if files is None:
            raise
        try:
            sim = Simulation.prepare(root, name, scenario, seed, files=files)
        except SpecError:
            raise broken from None
    control = LiveControl(sim, workspace_inputs(sim), sessions, pace)
    model = LiveModel(
        cooldown=sim.workspace.spec.policies.breaker.cooldown,
        recorded=recorded,
        alerts=load_rules(root),
    )
    if events is not None:
        model.apply_batch(events)
    if hot_reload is None:
        hot_reload = events is None
    hot = hot_reload if isinstance(hot_reload, HotReload) else None
    if hot_reload is True:
        hot = HotReload(root, db=db)
    return AgentdeskApp(control, model, live=events is None, demo=demo, hot=hot)


__all__ = ["AgentdeskApp", "Screen", "make_app"]
