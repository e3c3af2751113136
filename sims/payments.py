"""A payments API with Stripe's idempotency semantics: the sim where retries can cost money.

A refund retried after a timeout or a dropped connection must not refund twice. Like Stripe,
a POST carrying an ``Idempotency-Key`` stores its response; the same key with the same body
replays that response (``Idempotent-Replayed: true``) without acting again, and the same key
with a different body is refused (422 ``idempotency_error``). Charges derive from their ids
(``sims.records``), so a charge the CRM mentions exists here with the same amount.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeGuard

from sims import records
from sims.asgi import Reply, Router
from sims.errors import tool_error
from sims.gateway import SIM_EPOCH, Call

_ID = r"(?P<id>[^/]+)"


class PaymentsSim:
    """``GET /charges/{id}``, ``POST /charges``, ``POST /refunds``, ``GET /refunds/{id}``."""

    damages_content = False

    def __init__(self) -> None:
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self._stored: dict[str, tuple[str, Reply]] = {}
        self.router: Router[Callable[[Call], Reply]] = Router()
        self.router.add("GET", f"/charges/{_ID}", self._get_charge)
        self.router.add("POST", "/charges", self._create_charge)
        self.router.add("POST", "/refunds", self._refund)
        self.router.add("GET", f"/refunds/{_ID}", self._get_refund)

    def handle(self, call: Call) -> Reply:
        handler = self.router.match(call.request)
        if handler is None:
            return tool_error(404, f"No route for {call.request.method} {call.request.path}")
        key = call.request.headers.get("idempotency-key")
        if call.request.method == "POST" and key:
            return self._idempotent(call, key, handler)
        return handler(call)

    def error(self, status: int, message: str | None) -> Reply:
        return tool_error(status, message)

    def charge(self, charge_id: str) -> dict[str, Any] | None:
        """The charge's current state (a well-formed id that was never seen is derived)."""
        if charge_id not in self.charges and records.CHARGE_ID.fullmatch(charge_id):
            self.charges[charge_id] = _charge(charge_id, records.charge_amount(charge_id))
        return self.charges.get(charge_id)

    def _idempotent(self, call: Call, key: str, handler: Callable[[Call], Reply]) -> Reply:
        fingerprint = _fingerprint(call)
        stored = self._stored.get(key)
        if stored is not None and stored[0] != fingerprint:
            message = (
                "Keys for idempotent requests can only be used with the same parameters they "
                "were first used with. Try using a key other than "
                f"'{key}' if you meant to execute a different request."
            )
            return tool_error(422, message, "idempotency_error")
        if stored is not None:
            return stored[1].with_headers(("Idempotent-Replayed", "true"))
        reply = handler(call).with_headers(("Idempotency-Key", key))
        if reply.status < 500:
            self._stored[key] = (fingerprint, reply)
        return reply

    def _get_charge(self, call: Call) -> Reply:
        charge = self.charge(call.request.params["id"])
        return Reply(200, dict(charge)) if charge else _missing("charge", call.request.params["id"])

    def _get_refund(self, call: Call) -> Reply:
        refund = self.refunds.get(call.request.params["id"])
        return Reply(200, refund) if refund else _missing("refund", call.request.params["id"])

    def _create_charge(self, call: Call) -> Reply:
        body = _object(call)
        if isinstance(body, Reply):
            return body
        amount = body.get("amount")
        if not _positive_int(amount):
            return _bad_param("amount", "must be a positive integer (cents)")
        charge_id = records.charge_id_for("created", call.key)
        charge = _charge(charge_id, amount, body.get("currency", "usd"), body.get("customer"))
        charge["created"] = SIM_EPOCH + int(call.now)
        self.charges[charge_id] = charge
        return Reply(200, dict(charge))

    def _refund(self, call: Call) -> Reply:
        body = _object(call)
        if isinstance(body, Reply):
            return body
        charge_id = body.get("charge_id")
        if not isinstance(charge_id, str):
            return _bad_param("charge_id", "is required")
        charge = self.charge(charge_id)
        if charge is None:
            return _missing("charge", charge_id)
        return self._refund_charge(call, charge, body)

    def _refund_charge(self, call: Call, charge: dict[str, Any], body: dict[str, Any]) -> Reply:
        remaining = charge["amount"] - charge["amount_refunded"]
        if remaining == 0:
            message = f"Charge {charge['id']} has already been refunded."
            return tool_error(400, message, "charge_already_refunded")
        amount = body.get("amount", remaining)
        if not _positive_int(amount):
            return _bad_param("amount", "must be a positive integer (cents)")
        if amount > remaining:
            message = f"Refund amount ({amount}) is greater than unrefunded amount ({remaining})."
            return tool_error(400, message, "amount_too_large")
        refund = self._record_refund(call, charge, amount, body.get("reason"))
        return Reply(200, refund)

    def _record_refund(
        self, call: Call, charge: dict[str, Any], amount: int, reason: Any
    ) -> dict[str, Any]:
        number = sum(1 for r in self.refunds.values() if r["charge"] == charge["id"]) + 1
        refund_id = "re_" + records.charge_id_for("refund", charge["id"], str(number))[3:]
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        refund = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "currency": charge["currency"],
            "reason": reason,
            "status": "succeeded",
            "created": SIM_EPOCH + int(call.now),
        }
        self.refunds[refund_id] = refund
        return refund


def _charge(
    charge_id: str, amount: int, currency: str = "usd", customer: Any = None
) -> dict[str, Any]:
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_refunded": 0,
        "currency": currency,
        "customer": customer,
        "refunded": False,
        "status": "succeeded",
        "created": SIM_EPOCH,
    }


def _fingerprint(call: Call) -> str:
    try:
        canonical = json.dumps(call.request.json(), sort_keys=True, separators=(",", ":"))
    except ValueError:
        canonical = call.request.body.decode("latin-1")
    material = f"{call.request.method} {call.request.path} {canonical}".encode()
    return hashlib.blake2b(material, digest_size=16).hexdigest()


def _object(call: Call) -> dict[str, Any] | Reply:
    try:
        body = call.request.json()
    except ValueError:
        return tool_error(400, "The body is not valid JSON.", "invalid_json")
    if not isinstance(body, dict):
        return tool_error(400, "The body must be a JSON object.", "invalid_body")
    return body


def _positive_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _bad_param(param: str, problem: str) -> Reply:
    return tool_error(400, f"Parameter '{param}' {problem}.", "parameter_invalid")


def _missing(kind: str, object_id: str) -> Reply:
    return tool_error(404, f"No such {kind}: '{object_id}'", "resource_missing")
