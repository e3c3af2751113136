"""Faults as a client sees them, in-process on the virtual clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from sims import ConnectionReset, SimWorld
from tests.sims.conftest import client

Run = Callable[..., Any]
FAST = {"crm": {"latency": {"dist": "fixed", "value": 0.1}}}


def world_with(service: str, faults: list[dict[str, Any]], **profile: Any) -> SimWorld:
    scenario = {"services": {service: {"faults": faults, **profile}}}
    return SimWorld(1, scenario, FAST, epoch=0.0)


async def get_ticket(world: SimWorld) -> Any:
    async with client(world, "crm") as c:
        return await c.get("/tickets/T-1001")


def test_latency_advances_the_loop_clock(run: Run) -> None:
    async def main() -> float:
        await get_ticket(SimWorld(1, None, FAST))
        return asyncio.get_running_loop().time()

    assert run(main()) == pytest.approx(0.1)


def test_scenario_latency_replaces_the_baseline(run: Run) -> None:
    world = world_with("crm", [], latency={"dist": "fixed", "value": 2.5})

    async def main() -> float:
        await get_ticket(world)
        return asyncio.get_running_loop().time()

    assert run(main()) == pytest.approx(2.5)


@pytest.mark.parametrize(
    ("fault", "header", "value"),
    [
        ({"retry_after": 2}, "retry-after", "2"),
        ({"retry_after": 0.5}, "retry-after", "0.5"),
        ({"retry_after_ms": 1500}, "retry-after-ms", "1500"),
    ],
)
def test_errors_carry_their_retry_after(
    run: Run, fault: dict[str, Any], header: str, value: str
) -> None:
    world = world_with("crm", [{"kind": "error", "status": 429, **fault}])
    response = run(get_ticket(world))
    assert response.status_code == 429 and response.headers[header] == value
    assert response.json()["error"]["code"] == "rate_limited"


def test_retry_after_as_an_http_date_is_relative_to_the_date_header(run: Run) -> None:
    world = world_with("crm", [{"kind": "error", "status": 503, "retry_after_date": 3}])

    async def main() -> Any:
        await asyncio.sleep(41.7)
        return await get_ticket(world)

    response = run(main())
    date = parsedate_to_datetime(response.headers["date"])
    later = parsedate_to_datetime(response.headers["retry-after"])
    assert response.status_code == 503 and (later - date).total_seconds() == 3
    assert date.isoformat() == "2026-01-01T00:00:41+00:00"


def test_a_custom_error_message(run: Run) -> None:
    world = world_with("crm", [{"kind": "error", "status": 500, "message": "db on fire"}])
    assert run(get_ticket(world)).json()["error"] == {
        "code": "internal_error",
        "message": "db on fire",
    }


def test_windows_are_sim_seconds_since_the_epoch(run: Run) -> None:
    world = world_with(
        "crm", [{"kind": "error", "status": 503, "window": {"start": 30, "end": 60}}]
    )

    async def main() -> list[int]:
        statuses = []
        for _ in range(4):
            statuses.append((await get_ticket(world)).status_code)
            await asyncio.sleep(20)
        return statuses

    assert run(main()) == [200, 200, 503, 200]  # at 0, 20.1, 40.2, 60.3


def test_a_hang_is_cut_by_the_callers_timeout(run: Run) -> None:
    world = world_with("crm", [{"kind": "hang"}])

    async def main() -> float:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(10):
                await get_ticket(world)
        return asyncio.get_running_loop().time()

    assert run(main()) == pytest.approx(10)


def test_a_hang_without_a_timeout_ends_in_504_a_day_later(run: Run) -> None:
    assert run(get_ticket(world_with("crm", [{"kind": "hang"}]))).status_code == 504


@pytest.mark.parametrize("phase", ["before", "after"])
def test_a_reset_raises_connection_reset(run: Run, phase: str) -> None:
    world = world_with("crm", [{"kind": "reset", "phase": phase}])

    async def main() -> None:
        async with client(world, "crm") as c:
            await c.post("/tickets/T-1001/replies", json={"body": "hi"})

    with pytest.raises(ConnectionReset):
        run(main())
    assert len(world.sim("crm").replies.get("T-1001", [])) == (1 if phase == "after" else 0)


def test_malformed_truncated_body_is_not_json(run: Run) -> None:
    response = run(get_ticket(world_with("crm", [{"kind": "malformed", "mode": "truncated"}])))
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_malformed_fenced_body(run: Run) -> None:
    response = run(get_ticket(world_with("crm", [{"kind": "malformed", "mode": "fenced"}])))
    text = response.text
    assert text.startswith("```json\n") and text.endswith("\n```")
    assert json.loads(text[8:-4])["id"] == "T-1001"


def test_malformed_wrong_types(run: Run) -> None:
    body = run(get_ticket(world_with("crm", [{"kind": "malformed", "mode": "wrong_types"}])))
    ticket = body.json()
    assert isinstance(ticket["amount_cents"], str) and ticket["id"] == "T-1001"


def test_drift_renames_and_drops_fields(run: Run) -> None:
    drift = {"kind": "drift", "rename": {"customer_id": "customerId"}, "drop": ["priority"]}
    ticket = run(get_ticket(world_with("crm", [drift]))).json()
    assert "customerId" in ticket and "customer_id" not in ticket and "priority" not in ticket


def test_drift_reaches_one_level_down(run: Run) -> None:
    drift = {"kind": "drift", "rename": {"title": "name"}, "drop": ["score"]}
    world = world_with("knowledge", [drift])

    async def main() -> Any:
        async with client(world, "knowledge") as c:
            return (await c.get("/search", params={"q": "refund"})).json()

    first = run(main())["results"][0]
    assert "name" in first and "title" not in first and "score" not in first


def test_the_rate_limit_answers_429_with_an_exact_retry_after(run: Run) -> None:
    world = world_with("crm", [], rate_limit={"rate": 0.5, "burst": 2})

    async def main() -> list[tuple[int, str | None]]:
        seen = []
        async with client(world, "crm") as c:
            for _ in range(3):
                r = await c.get("/tickets/T-1001")
                seen.append((r.status_code, r.headers.get("retry-after")))
            await asyncio.sleep(int(seen[-1][1] or 0))
            r = await c.get("/tickets/T-1001")
            seen.append((r.status_code, r.headers.get("retry-after")))
        return seen

    # two at once, the third at t=0.2 must wait for a token at t=2 (rounded up: 2 s).
    assert run(main()) == [(200, None), (200, None), (429, "2"), (200, None)]


def test_same_seed_and_key_give_the_same_fate_different_seeds_differ(run: Run) -> None:
    scenario = {
        "services": {
            "crm": {
                "latency": {"dist": "lognormal", "median": 0.2, "sigma": 0.8},
                "faults": [{"kind": "error", "status": 503, "rate": 0.5}],
            }
        }
    }

    async def fates(seed: int) -> list[tuple[int, float]]:
        world, out = SimWorld(seed, scenario), []
        loop = asyncio.get_running_loop()
        async with client(world, "crm") as c:
            for n in range(20):
                start = loop.time()
                r = await c.get("/tickets/T-1001", headers={"x-agentdesk-key": f"run/t#{n}"})
                out.append((r.status_code, loop.time() - start))
        return out

    assert run(fates(3)) == run(fates(3))
    assert run(fates(3)) != run(fates(4))


def test_without_a_key_the_arrival_counter_keys_requests(run: Run) -> None:
    scenario = {"services": {"crm": {"faults": [{"kind": "error", "status": 503, "rate": 0.5}]}}}

    async def statuses() -> list[int]:
        world = SimWorld(9, scenario)
        async with client(world, "crm") as c:
            return [(await c.get("/tickets/T-1001")).status_code for _ in range(12)]

    first = run(statuses())
    assert first == run(statuses()) and {200, 503} <= set(first)


def test_request_ids_and_dates_are_stamped(run: Run) -> None:
    response = run(get_ticket(SimWorld(1, None, FAST)))
    assert response.headers["x-request-id"].startswith("req_")
    assert response.headers["date"] == "Thu, 01 Jan 2026 00:00:00 GMT"
