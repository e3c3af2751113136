"""The world: live fault injection, scenario switches, several services on one sim kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sims import SimWorld
from sims.profiles import ErrorFault, FixedLatency
from tests.sims.conftest import client

Run = Callable[..., Any]


async def status(world: SimWorld, service: str = "crm", kind: str | None = None) -> int:
    world.app(service, kind)
    async with client(world, service) as c:
        return (await c.get("/tickets/T-1001")).status_code


def test_inject_and_clear_live(run: Run) -> None:
    world = SimWorld(1)

    async def main() -> list[int]:
        seen = [await status(world)]
        world.inject("crm", {"kind": "error", "status": 503})
        seen.append(await status(world))
        world.clear("crm")
        seen.append(await status(world))
        return seen

    assert run(main()) == [200, 503, 200]


def test_injected_faults_come_before_the_scenarios(run: Run) -> None:
    world = SimWorld(1, {"services": {"crm": {"faults": [{"kind": "error", "status": 500}]}}})
    world.inject("crm", ErrorFault(kind="error", status=429))
    assert [f.kind for f in world.profile("crm").faults] == ["error", "error"]
    assert run(status(world)) == 429
    world.clear()
    assert run(status(world)) == 500


def test_set_scenario_switches_live_and_keeps_injected_faults(run: Run) -> None:
    world = SimWorld(1)
    world.inject("payments", {"kind": "hang"})
    world.set_scenario({"services": {"crm": {"faults": [{"kind": "error", "status": 502}]}}})
    assert run(status(world)) == 502
    assert [f.kind for f in world.profile("payments").faults] == ["hang"]


def test_the_profile_keeps_the_baseline_latency_unless_the_scenario_sets_one() -> None:
    world = SimWorld(1, None, {"crm": {"latency": {"dist": "fixed", "value": 0.3}}})
    assert world.profile("crm").latency == FixedLatency(dist="fixed", value=0.3)
    world.set_scenario({"services": {"crm": {"latency": {"dist": "fixed", "value": 9}}}})
    assert world.profile("crm").latency == FixedLatency(dist="fixed", value=9)


def test_two_services_of_one_kind_have_their_own_faults(run: Run) -> None:
    world = SimWorld(1, {"services": {"crm-eu": {"faults": [{"kind": "error", "status": 503}]}}})
    assert run(status(world, "crm-eu", "crm")) == 503
    assert run(status(world, "crm-us", "crm")) == 200


def test_a_changed_rate_limit_gets_a_fresh_bucket(run: Run) -> None:
    world = SimWorld(1, {"services": {"crm": {"rate_limit": {"rate": 0.001, "burst": 1}}}})

    async def main() -> list[int]:
        seen = [await status(world), await status(world)]
        world.set_scenario({"services": {"crm": {"rate_limit": {"rate": 0.001, "burst": 5}}}})
        seen.append(await status(world))
        return seen

    assert run(main()) == [200, 429, 200]


def test_unknown_sim_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown sim kind 'mail'"):
        SimWorld(1).app("mail")
