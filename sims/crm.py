"""A CRM: tickets and customers to read, escalations and replies to write.

Records are derived from their ids (``sims.records``), so any well-formed id exists and the
same id always reads the same; what pipelines write (escalations, replies) is kept in memory
for the life of the world — the newest ``KEPT`` per ticket, numbered from the first — so a run
can check what an earlier step did.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from typing import Any, Final

from sims import records
from sims.asgi import Reply, Router
from sims.errors import tool_error
from sims.gateway import SIM_EPOCH, Call

_ID = r"(?P<id>[^/]+)"
KEPT: Final = 100


class CRMSim:
    """``GET /tickets/{id}``, ``GET /customers/{id}``,
    ``POST /tickets/{id}/escalations`` and ``POST /tickets/{id}/replies``."""

    damages_content = False

    def __init__(self) -> None:
        self.escalations: dict[str, deque[dict[str, Any]]] = {}
        self.replies: dict[str, deque[dict[str, Any]]] = {}
        """The newest ``KEPT`` writes per ticket: a load test writes a reply per run, and a sim
        that kept them all would grow with the test's length."""
        self._written: Counter[tuple[str, str]] = Counter()
        self.router: Router[Callable[[Call], Reply]] = Router()
        self.router.add("GET", f"/tickets/{_ID}", self._ticket)
        self.router.add("GET", f"/customers/{_ID}", self._customer)
        self.router.add("POST", f"/tickets/{_ID}/escalations", self._escalate)
        self.router.add("POST", f"/tickets/{_ID}/replies", self._reply)

    def handle(self, call: Call) -> Reply:
        handler = self.router.match(call.request)
        if handler is None:
            return tool_error(404, f"No route for {call.request.method} {call.request.path}")
        return handler(call)

    def error(self, status: int, message: str | None) -> Reply:
        return tool_error(status, message)

    def _ticket(self, call: Call) -> Reply:
        ticket_id = call.request.params["id"]
        if not records.TICKET_ID.fullmatch(ticket_id):
            return tool_error(404, f"No such ticket: '{ticket_id}'", "ticket_not_found")
        return Reply(200, records.ticket(ticket_id))

    def _customer(self, call: Call) -> Reply:
        customer_id = call.request.params["id"]
        if not records.CUSTOMER_ID.fullmatch(customer_id):
            return tool_error(404, f"No such customer: '{customer_id}'", "customer_not_found")
        return Reply(200, records.customer(customer_id))

    def _escalate(self, call: Call) -> Reply:
        return self._write(call, self.escalations, "ESC", {"status": "open"})

    def _reply(self, call: Call) -> Reply:
        return self._write(call, self.replies, "RPL", {"status": "sent"})

    def _write(
        self,
        call: Call,
        store: dict[str, deque[dict[str, Any]]],
        prefix: str,
        extra: dict[str, Any],
    ) -> Reply:
        ticket_id = call.request.params["id"]
        if not records.TICKET_ID.fullmatch(ticket_id):
            return tool_error(404, f"No such ticket: '{ticket_id}'", "ticket_not_found")
        try:
            body = call.request.json()
        except ValueError:
            return tool_error(400, "The body is not valid JSON.", "invalid_json")
        if body is not None and not isinstance(body, dict):
            return tool_error(400, "The body must be a JSON object.", "invalid_body")
        items = store.setdefault(ticket_id, deque(maxlen=KEPT))
        self._written[prefix, ticket_id] += 1
        item = {
            "id": f"{prefix}-{ticket_id[2:]}-{self._written[prefix, ticket_id]}",
            "ticket_id": ticket_id,
            **extra,
            "created": SIM_EPOCH + int(call.now),
            "data": body or {},
        }
        items.append(item)
        return Reply(201, item)
