"""CRM, payments and knowledge: deterministic records, stored writes, Stripe-like idempotency."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest

from sims import ConnectionReset, SimWorld
from tests.sims.conftest import client

Run = Callable[..., Any]


async def call(world: SimWorld, service: str, method: str, path: str, **kw: Any) -> httpx.Response:
    async with client(world, service) as c:
        return await c.request(method, path, **kw)


# --- crm ---------------------------------------------------------------------------------------


def test_a_ticket_is_derived_from_its_id(run: Run) -> None:
    one = run(call(SimWorld(1), "crm", "GET", "/tickets/T-1001")).json()
    again = run(call(SimWorld(2), "crm", "GET", "/tickets/T-1001")).json()
    other = run(call(SimWorld(1), "crm", "GET", "/tickets/T-1002")).json()
    assert one == again and one != other
    assert set(one) >= {
        "subject",
        "body",
        "customer_id",
        "charge_id",
        "amount_cents",
        "created_at",
        "priority",
    }


def test_the_tickets_customer_and_charge_exist(run: Run) -> None:
    world = SimWorld(1)
    ticket = run(call(world, "crm", "GET", "/tickets/T-1001")).json()
    customer = run(call(world, "crm", "GET", f"/customers/{ticket['customer_id']}"))
    charge = run(call(world, "payments", "GET", f"/charges/{ticket['charge_id']}"))
    assert customer.status_code == 200
    assert set(customer.json()) >= {"name", "email", "phone", "tier", "lifetime_value_cents"}
    assert charge.json()["amount"] == ticket["amount_cents"]


@pytest.mark.parametrize(
    "path", ["/tickets/1001", "/tickets/T-12", "/customers/bob", "/nothing/here"]
)
def test_unknown_ids_get_a_json_404(run: Run, path: str) -> None:
    response = run(call(SimWorld(1), "crm", "GET", path))
    assert response.status_code == 404 and response.json()["error"]["message"]


def test_escalations_and_replies_are_stored(run: Run) -> None:
    world = SimWorld(1)
    first = run(call(world, "crm", "POST", "/tickets/T-1001/replies", json={"body": "Hi"}))
    second = run(call(world, "crm", "POST", "/tickets/T-1001/replies", json={"body": "Again"}))
    escalation = run(
        call(world, "crm", "POST", "/tickets/T-1001/escalations", json={"reason": "angry"})
    )
    assert (first.status_code, escalation.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]
    assert [r["data"]["body"] for r in world.sim("crm").replies["T-1001"]] == ["Hi", "Again"]
    assert world.sim("crm").escalations["T-1001"][0]["data"] == {"reason": "angry"}


# --- payments ----------------------------------------------------------------------------------

CHARGE = "ch_baef27e5e30e"


def refund(
    world: SimWorld, body: dict[str, Any], key: str | None = None
) -> Coroutine[Any, Any, httpx.Response]:
    headers = {"Idempotency-Key": key} if key else {}
    return call(world, "payments", "POST", "/refunds", json=body, headers=headers)


def test_a_refund_updates_the_charge(run: Run) -> None:
    world = SimWorld(1)
    response = run(refund(world, {"charge_id": CHARGE, "amount": 500, "reason": "duplicate"}))
    assert response.status_code == 200 and response.json()["object"] == "refund"
    charge = run(call(world, "payments", "GET", f"/charges/{CHARGE}")).json()
    assert charge["amount_refunded"] == 500


def test_the_same_key_replays_instead_of_refunding_again(run: Run) -> None:
    world = SimWorld(1)
    body = {"charge_id": CHARGE, "amount": 500, "reason": "duplicate"}
    first = run(refund(world, body, "refund-T-1001"))
    second = run(refund(world, body, "refund-T-1001"))
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert len(world.sim("payments").refunds) == 1


def test_the_same_key_with_another_body_is_refused(run: Run) -> None:
    world = SimWorld(1)
    run(refund(world, {"charge_id": CHARGE, "amount": 500}, "k"))
    response = run(refund(world, {"charge_id": CHARGE, "amount": 600}, "k"))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_error"


def test_without_a_key_every_request_acts(run: Run) -> None:
    world = SimWorld(1)
    for _ in range(2):
        assert run(refund(world, {"charge_id": CHARGE, "amount": 100})).status_code == 200
    assert len(world.sim("payments").refunds) == 2


def test_refunding_more_than_remains_is_a_permanent_400(run: Run) -> None:
    world = SimWorld(1)
    amount = run(call(world, "payments", "GET", f"/charges/{CHARGE}")).json()["amount"]
    run(refund(world, {"charge_id": CHARGE, "amount": amount - 100}))
    response = run(refund(world, {"charge_id": CHARGE, "amount": 101}))
    assert response.status_code == 400 and response.json()["error"]["code"] == "amount_too_large"
    full = run(refund(world, {"charge_id": CHARGE}))
    assert full.json()["amount"] == 100
    again = run(refund(world, {"charge_id": CHARGE}))
    assert again.json()["error"]["code"] == "charge_already_refunded"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"amount": 5}, 400),
        ({"charge_id": CHARGE, "amount": -5}, 400),
        ({"charge_id": CHARGE, "amount": "5"}, 400),
        ({"charge_id": "ch_nope", "amount": 5}, 404),
    ],
)
def test_bad_refunds(run: Run, body: dict[str, Any], status: int) -> None:
    assert run(refund(SimWorld(1), body)).status_code == status


def test_a_reset_after_the_refund_then_a_retry_refunds_once(run: Run) -> None:
    """The first attempt refunds and the connection drops; the retry with the same key gets
    the stored answer: the customer is refunded exactly once."""
    reset_first = {"kind": "reset", "phase": "after", "window": {"start": 0, "end": 1}}
    world = SimWorld(
        1,
        {"services": {"payments": {"faults": [reset_first]}}},
        {"payments": {"latency": {"dist": "fixed", "value": 0.2}}},
        epoch=0.0,
    )
    body = {"charge_id": CHARGE, "amount": 700, "reason": "requested_by_customer"}

    async def main() -> httpx.Response:
        with pytest.raises(ConnectionReset):
            await refund(world, body, "refund-T-1001")
        await asyncio.sleep(1)
        return await refund(world, body, "refund-T-1001")

    retry = run(main())
    assert retry.status_code == 200 and retry.headers["idempotent-replayed"] == "true"
    assert len(world.sim("payments").refunds) == 1
    assert world.sim("payments").charge(CHARGE)["amount_refunded"] == 700


def test_created_charges_can_be_read_back(run: Run) -> None:
    world = SimWorld(1)
    created = run(call(world, "payments", "POST", "/charges", json={"amount": 1234}))
    read = run(call(world, "payments", "GET", f"/charges/{created.json()['id']}"))
    assert read.json()["amount"] == 1234


# --- knowledge ---------------------------------------------------------------------------------


def test_search_is_deterministic_and_ranked(run: Run) -> None:
    response = run(
        call(
            SimWorld(1),
            "knowledge",
            "GET",
            "/search",
            params={"q": "refund for a duplicate charge", "k": 3},
        )
    )
    results = response.json()["results"]
    assert len(results) == 3 and results[0]["id"] == "KB-102"
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    assert set(results[0]) == {"id", "title", "snippet", "score"}
    again = run(
        call(
            SimWorld(2),
            "knowledge",
            "GET",
            "/search",
            params={"q": "refund for a duplicate charge", "k": 3},
        )
    )
    assert again.json()["results"] == results


@pytest.mark.parametrize("params", [{}, {"q": "x", "k": "many"}, {"q": "x", "k": "0"}])
def test_bad_searches_get_400(run: Run, params: dict[str, str]) -> None:
    assert run(call(SimWorld(1), "knowledge", "GET", "/search", params=params)).status_code == 400


def test_a_query_matching_nothing_returns_no_results(run: Run) -> None:
    response = run(call(SimWorld(1), "knowledge", "GET", "/search", params={"q": "zebra"}))
    assert response.json()["results"] == []
