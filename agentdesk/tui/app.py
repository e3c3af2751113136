"""The agentdesk app and its factory, ``make_app`` — shared by the CLI, tests and benchmarks.

The app owns three things: the ``LiveControl`` (the simulation on its thread), the
``LiveModel`` (read models folded by the bridge), and the ``LiveBridge`` between them. On every
``Updated`` it takes one ``LiveView`` and pushes it into the visible screen; the hidden screen
is not rendered at all. A recorded session (``events=…``) shows a fixed model and starts no
thread, which is what the snapshot tests and screenshots use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from agentdesk.control import FAULTS_BY_KEY, PACES, LiveControl
from agentdesk.engine.events import AnyEvent
from agentdesk.errors import AgentdeskError
from agentdesk.inputs import read_inputs
from agentdesk.simulation import Simulation, find_workspace
from agentdesk.tui import demo as demo_show
from agentdesk.tui.bridge import LiveBridge, Updated
from agentdesk.tui.commands import AgentdeskCommands
from agentdesk.tui.models.live import LiveModel
from agentdesk.tui.models.runs import RecordedRuns
from agentdesk.tui.screens.chaos import ChaosScreen
from agentdesk.tui.screens.help import HelpScreen
from agentdesk.tui.screens.live import LiveScreen
from agentdesk.tui.screens.scenario_picker import ScenarioPicker
from agentdesk.tui.widgets.runs_list import RunsList
from agentdesk.tui.widgets.status_line import pace_label


class AgentdeskApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "agentdesk"
    COMMANDS = App.COMMANDS | {AgentdeskCommands}
    MODES: ClassVar[dict[str, Any]] = {"live": LiveScreen, "chaos": ChaosScreen}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "show_mode('live')", "Live"),
        Binding("c", "show_mode('chaos')", "Chaos"),
        Binding("space", "pause", "Pause"),
        Binding("right_square_bracket", "pace(1)", "Faster"),
        Binding("left_square_bracket", "pace(-1)", "Slower"),
        Binding("question_mark,f1", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self, control: LiveControl, model: LiveModel, live: bool = True, demo: bool = False
    ) -> None:
        super().__init__()
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
        if self.live:
            self.control.start()
            self.bridge.start()
            if self.demo:
                demo_show.attach(self.control)

    def on_unmount(self) -> None:
        self._stop_live()

    def _stop_live(self) -> None:
        self.bridge.stop()
        self.control.stop()

    # --- the view -----------------------------------------------------------------------------

    def on_updated(self, message: Updated) -> None:
        self.refresh_view()

    def refresh_view(self) -> None:
        screen = self.screen
        if isinstance(screen, LiveScreen | ChaosScreen) and screen.is_mounted:
            screen.show(self.model.view(self.selected_run), self.control.state, self.live)

    def on_runs_list_selected(self, message: RunsList.Selected) -> None:
        if message.run_id != self.selected_run:
            self.selected_run = message.run_id
            self.refresh_view()

    # --- actions (keys, palette, screens) -----------------------------------------------------

    def action_show_mode(self, mode: str) -> None:
        self.switch_mode(mode)
        self.call_after_refresh(self.refresh_view)

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
            sim = Simulation.prepare(old.sim.workspace.root, name, old.state.scenario)
        except AgentdeskError as exc:
            self.notify(str(exc), title="pipeline not started", severity="error")
            return
        self._stop_live()
        self.control = LiveControl(sim, workspace_inputs(sim), old.state.sessions, old.state.pace)
        self.model = LiveModel(cooldown=sim.workspace.spec.policies.breaker.cooldown)
        self.bridge = LiveBridge(self.control.bridge, self.model, self.post_message)
        self.services = _services(self.control)
        self.selected_run = None
        self.live = True
        self.control.start()
        self.bridge.start()
        self.notify(f"running {name}", timeout=2)
        self.refresh_view()

    async def action_quit(self) -> None:
        self._stop_live()
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
) -> AgentdeskApp:
    """The app on a workspace (default: here, or the bundled demo).

    ``events``: show these recorded events instead of running anything (no thread starts).
    ``recorded``: where recorded runs come from, listed after the live ones.
    """
    root = find_workspace(workspace)
    sim = Simulation.prepare(root, pipeline or default_pipeline(root), scenario, seed)
    control = LiveControl(sim, workspace_inputs(sim), sessions, pace)
    model = LiveModel(cooldown=sim.workspace.spec.policies.breaker.cooldown, recorded=recorded)
    if events is not None:
        model.apply_batch(events)
    return AgentdeskApp(control, model, live=events is None, demo=demo)


__all__ = ["AgentdeskApp", "Screen", "make_app"]
