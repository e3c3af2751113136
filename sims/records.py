"""Deterministic business records, derived from their ids alone.

The CRM and payments sims describe the same world: ticket T-1001 refers to a charge, and the
payments sim must know that charge and its amount without the two sims talking to each other.
Deriving every record from a hash of its id gives both the same answer, needs no fixtures on
disk, and makes any well-formed id exist, so a golden set can use as many tickets as it likes.
"""

from __future__ import annotations

import hashlib
import re

TICKET_ID = re.compile(r"T-\d{4,8}")
CUSTOMER_ID = re.compile(r"C-\d{5}")
CHARGE_ID = re.compile(r"ch_[0-9a-f]{12}")

_SUBJECTS = (
    ("Refund request for order", "I was charged but the item never arrived. Please refund me."),
    ("Charged twice", "My card shows two identical charges for one order; please refund one."),
    ("Cancel my subscription", "I cancelled last week and was still billed. I want my money."),
    ("Damaged item", "The package arrived broken. I would like a refund or a replacement."),
    ("Where is my package?", "Tracking has not moved for ten days. Can you check the shipment?"),
    ("Wrong size delivered", "I ordered a medium and got a large. How do I return it?"),
    ("Cannot log in", "Password reset emails never arrive. I need access to my account."),
    ("Invoice needed", "Please send a VAT invoice for my last payment, for my accountant."),
)
_FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim")
_LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson")
_TIERS = ("free", "plus", "pro", "enterprise")
_PRIORITIES = ("low", "normal", "normal", "high", "urgent")


def _digest(*parts: str) -> int:
    material = "\x1f".join(parts).encode()
    return int.from_bytes(hashlib.blake2b(material, digest_size=8).digest(), "big")


def _iso_time(n: int) -> str:
    """A timestamp in 2025, from a number."""
    month, day, hour, minute = 1 + n % 12, 1 + (n >> 4) % 28, (n >> 9) % 24, (n >> 14) % 60
    return f"2025-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:00Z"


def charge_id_for(*parts: str) -> str:
    """A charge id derived from whatever identifies the charge."""
    return f"ch_{_digest('charge', *parts):016x}"[:15]


def charge_amount(charge_id: str) -> int:
    """The amount of a charge, in cents (between 4.99 and 499.99)."""
    return (5 + _digest("amount", charge_id) % 495) * 100 - 1


def ticket(ticket_id: str) -> dict[str, object]:
    """The ticket with this id (any well-formed id exists)."""
    n = _digest("ticket", ticket_id)
    subject, body = _SUBJECTS[n % len(_SUBJECTS)]
    charge_id = charge_id_for(ticket_id)
    return {
        "id": ticket_id,
        "subject": subject,
        "body": body,
        "customer_id": f"C-{10000 + (n >> 8) % 90000}",
        "charge_id": charge_id,
        "amount_cents": charge_amount(charge_id),
        "created_at": _iso_time(n >> 24),
        "priority": _PRIORITIES[(n >> 40) % len(_PRIORITIES)],
        "status": "open",
    }


def customer(customer_id: str) -> dict[str, object]:
    """The customer with this id (any well-formed id exists)."""
    n = _digest("customer", customer_id)
    first, last = _FIRST[n % len(_FIRST)], _LAST[(n >> 8) % len(_LAST)]
    return {
        "id": customer_id,
        "name": f"{first} {last}",
        "email": f"{first}.{last}.{customer_id[2:]}@example.com".lower(),
        "phone": f"+1-555-{(n >> 16) % 10000:04d}",
        "tier": _TIERS[(n >> 32) % len(_TIERS)],
        "lifetime_value_cents": (n >> 40) % 500_000,
        "created_at": _iso_time(n >> 20),
    }
