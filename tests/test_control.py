"""The live-control core, driven without any UI: steady load, pace, pause, faults, scenarios.

Tests wait for the simulation thread by draining its bridge until what they expect arrives
(with a generous deadline as a safety net), never by sleeping for a fixed time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agentdesk.control import FAULTS, EventBridge, LiveControl, shifted
from agentdesk.engine.events import AnyEvent, AttemptFinished, RunFinished, RunStarted
from agentdesk.inputs import read_inputs
from agentdesk.simulation import Simulation, demo_workspace
from sims.profiles import validate_scenario

DEADLINE = 60.0


def _control(scenario: str = "happy", pace: float | None = None) -> LiveControl:
    sim = Simulation.prepare(demo_workspace(), "support-triage", scenario)
    inputs = read_inputs(None, None, demo_workspace() / "inputs" / "tickets.jsonl", None)
    return LiveControl(sim, inputs, sessions=4, pace=pace)


@pytest.fixture
def control() -> Iterator[LiveControl]:
    live = _control()
    live.start()
    yield live
    live.stop()


def _until(
    control: LiveControl, seen: Callable[[AnyEvent], bool], every: bool = False
) -> list[AnyEvent]:
    """Drain the bridge until an event matches; returns everything drained. ``every``: the
    caller needs every event, and fails if the (lossy) bridge dropped any."""
    drained: list[AnyEvent] = []
    give_up = time.monotonic() + DEADLINE
    while time.monotonic() < give_up:
        control.bridge.wait(1.0)
        batch = control.bridge.drain()
        assert not (every and batch.dropped), f"the bridge dropped {batch.dropped} events"
        drained += batch.events
        if any(seen(e) for e in batch.events):
            return drained
    raise AssertionError(f"nothing matched in {DEADLINE}s; {len(drained)} events")


def _count(kind: type, n: int) -> Callable[[AnyEvent], bool]:
    seen = 0

    def check(event: AnyEvent) -> bool:
        nonlocal seen
        seen += isinstance(event, kind)
        return seen >= n

    return check


def test_steady_load_keeps_sessions_coming(control: LiveControl) -> None:
    """Sessions cycle through the input file for as long as the control runs: more runs
    start than there are inputs, each with its own session number."""
    events = _until(control, _count(RunFinished, 30))
    sessions = [e.session for e in events if isinstance(e, RunStarted)]
    assert len(sessions) > len(control.inputs)
    assert len(set(sessions)) == len(sessions)


def test_stop_joins_the_thread() -> None:
    """Stopping cancels the runs in flight and the thread ends."""
    live = _control()
    live.start()
    _until(live, _count(RunStarted, 1))
    live.stop()
    assert not live.running
    assert live.state.error == ""


def test_an_injected_fault_shows_in_the_events_and_clearing_ends_it(control: LiveControl) -> None:
    """A 503 storm injected into payments from another thread makes payments answer 503;
    once cleared, payments answers successfully again."""
    _until(control, _count(RunFinished, 5))
    control.inject("payments", "503")
    assert control.state.injected == {"payments": ["503 storm"]}

    def payments(code: int | None) -> Callable[[AnyEvent], bool]:
        return lambda e: (
            isinstance(e, AttemptFinished) and e.service == "payments" and e.status_code == code
        )

    _until(control, payments(503))
    control.clear("payments")
    assert control.state.injected == {}
    _until(control, payments(200))


def test_switching_scenario_starts_its_windows_now(control: LiveControl) -> None:
    """The payments storm's window (0-20 s) counts from the switch, so switching to it after
    the simulation has run a while still brings the storm."""
    _until(control, lambda e: e.t > 30)
    control.switch_scenario("payments-503-storm")
    assert control.state.scenario == "payments-503-storm"
    _until(
        control,
        lambda e: (
            isinstance(e, AttemptFinished) and e.service == "payments" and e.status_code == 503
        ),
    )


def test_pause_stops_simulated_time() -> None:
    """Paused, the simulation's clock does not move and nothing new happens; resumed, it runs."""
    live = _control(pace=None)
    live.start()
    try:
        _until(live, _count(RunFinished, 3))
        live.pause()
        # Let what was already on its way through, then expect silence.
        while live.bridge.wait(0.3):
            live.bridge.drain()
        paused_at = live.loop_time
        assert not live.bridge.wait(0.3)
        assert live.loop_time == paused_at
        live.resume()
        _until(live, lambda e: e.t > paused_at)
    finally:
        live.stop()


def test_pace_cycles_through_the_ui_steps() -> None:
    """The pace key goes 1x, 5x, 20x, max and round again."""
    live = _control(pace=1.0)
    assert [live.next_pace() for _ in range(4)] == [5.0, 20.0, None, 1.0]


def test_unknown_service_is_refused() -> None:
    """Injecting into a service the workspace does not have says which ones it has."""
    with pytest.raises(KeyError, match="no service 'billing'; known: crm, knowledge"):
        _control().inject("billing", "503")


def test_every_fault_preset_is_a_valid_fault() -> None:
    """Each key on the Chaos screen injects a fault the sims accept."""
    for preset in FAULTS:
        scenario = validate_scenario({"services": {"crm": {"faults": [dict(preset.fault)]}}})
        assert scenario.services["crm"].faults


def test_shifted_moves_windows_and_keeps_open_ends() -> None:
    """Shifting a scenario moves each window's start and end; an open end stays open and a
    fault without a window is untouched."""
    raw: dict[str, Any] = {
        "services": {
            "llm": {
                "faults": [
                    {"kind": "error", "status": 429, "window": {"start": 0, "end": 20}},
                    {"kind": "hang", "window": {"start": 5}},
                    {"kind": "error", "status": 500},
                ]
            }
        }
    }
    faults = shifted(validate_scenario(raw), 100.0).services["llm"].faults
    windows = [(f.window.start, f.window.end) if f.window else None for f in faults]
    assert windows == [(100.0, 120.0), (105.0, None), None]


def test_the_bridge_is_bounded_and_counts_what_it_dropped() -> None:
    """A consumer that falls behind loses the oldest events, and is told how many."""
    bridge = EventBridge(maxsize=3)
    for n in range(5):
        bridge.put(
            RunStarted(
                t=n, run_id=f"r{n}", pipeline="p", session=n, seed=0, scenario="", input=None
            )
        )
    bridge.note("storm begins")
    batch = bridge.drain()
    assert [e.run_id for e in batch.events] == ["r2", "r3", "r4"]
    assert (batch.notes, batch.dropped, bridge.received) == (["storm begins"], 2, 5)
    assert not bridge.wait(0)


def test_the_control_core_loads_no_ui(tmp_path: Any) -> None:
    """Imported alone in a fresh interpreter, the control core loads neither Textual nor Rich
    (nor the store or the CLI), and has no import-time side effects."""
    from tests.test_layers import _forbidden, _probe

    report = _probe("agentdesk.control", tmp_path)
    assert _forbidden(report["modules"]) == []
    assert (report["threads"], report["loops"], report["clock_reads"]) == ([], [], [])


@pytest.fixture
def paced() -> Iterator[LiveControl]:
    """A control at 50x: slow enough that the bridge never drops an event, as the TUI's 1x-20x
    never do (unpaced, a busy machine can starve the draining thread past the bridge's size)."""
    live = _control(pace=50.0)
    live.start()
    yield live
    live.stop()


def test_swapping_the_pipeline_starts_new_runs_on_the_new_release(paced: LiveControl) -> None:
    """Hot reload swaps the pipeline live: runs started after the swap carry the new release,
    runs already in flight finish (on the old one), and simulated time keeps counting from the
    same epoch (no event's ``t`` goes back to zero)."""
    from agentdesk.spec.loader import load_pipeline, load_workspace
    from agentdesk.spec.sources import OverlayFiles

    control = paced
    root = demo_workspace()
    old = control.state.release
    before = _until(control, _count(RunFinished, 5), every=True)
    prompt = (root / "prompts" / "triage.user.md").read_bytes() + b"\nBe brief.\n"
    files = OverlayFiles(root, {"prompts/triage.user.md": prompt})
    workspace = load_workspace(root, strict=False, files=files)
    loaded = load_pipeline(workspace, "support-triage")
    control.swap_pipeline(workspace, loaded)
    assert control.state.release == loaded.release != old
    assert control.sim.pipeline is loaded
    started_new = lambda e: isinstance(e, RunStarted) and e.release == loaded.release  # noqa: E731
    after = _until(control, started_new, every=True)
    events = before + after
    in_flight = {e.run_id for e in events if isinstance(e, RunStarted) and e.release == old}
    later = _until(control, _count(RunFinished, 12), every=True)
    finished = {e.run_id for e in events + later if isinstance(e, RunFinished)}
    assert in_flight <= finished
    first_new = next(e for e in after if isinstance(e, RunStarted) and e.release != old)
    assert first_new.t >= max(e.t for e in before)


def test_swapping_to_another_pipeline_is_refused(control: LiveControl) -> None:
    """The swap replaces a release of the running pipeline, never the pipeline itself."""
    other = Simulation.prepare(demo_workspace(), "doc-reconciliation")
    with pytest.raises(ValueError, match="not the running support-triage"):
        control.swap_pipeline(other.workspace, other.pipeline)
