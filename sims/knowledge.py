"""Search over a small built-in corpus of support articles.

Retrieval steps need results that depend on the query and nothing else: the corpus is fixed
and scoring is plain term overlap weighted by rarity (a pocket BM25), ties broken by id, so
the same query always returns the same ranked list.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from sims.asgi import Reply, Router
from sims.errors import tool_error
from sims.gateway import Call

ARTICLES: tuple[tuple[str, str, str], ...] = (
    (
        "KB-101",
        "Refund policy",
        "Orders can be refunded within 30 days of delivery. Refunds go back to the original "
        "payment method within 5 to 10 business days. Refunds above $200 need a supervisor.",
    ),
    (
        "KB-102",
        "Duplicate charges",
        "If a customer was charged twice for one order, refund the duplicate charge in full. "
        "Pending authorisations drop off by themselves within 3 business days.",
    ),
    (
        "KB-103",
        "Shipping times",
        "Standard shipping takes 3 to 7 business days; express takes 1 to 2. A package whose "
        "tracking has not moved for 7 days is considered lost and can be reshipped or refunded.",
    ),
    (
        "KB-104",
        "Damaged or wrong items",
        "Customers can return a damaged or wrong item for a replacement or a full refund. Ask "
        "for a photo of the damage; return shipping is free.",
    ),
    (
        "KB-105",
        "Cancelling a subscription",
        "Subscriptions can be cancelled at any time and stop at the end of the billing period. "
        "A charge made after a confirmed cancellation is refunded in full.",
    ),
    (
        "KB-106",
        "Account access and password reset",
        "Password reset emails can take 10 minutes. Check the spam folder. If the email never "
        "arrives, verify the account email address and resend the reset link.",
    ),
    (
        "KB-107",
        "Invoices and VAT",
        "Invoices are available in the billing section of the account. A VAT invoice needs "
        "the company name and VAT number; it can be issued for any past payment.",
    ),
    (
        "KB-108",
        "Billing disputes and chargebacks",
        "Before a customer files a chargeback, offer a refund. A disputed charge cannot be "
        "refunded while the dispute is open.",
    ),
    (
        "KB-109",
        "Escalation guidelines",
        "Escalate to a human when the refund is above policy limits, the customer is "
        "enterprise tier, or the request is ambiguous. Include the ticket id and a summary.",
    ),
    (
        "KB-110",
        "Payment methods",
        "We accept cards, PayPal and bank transfers. Bank transfer refunds take up to 10 "
        "business days. Card payments are charged when the order ships.",
    ),
)
_WORD = re.compile(r"[a-z0-9]+")
MAX_K = 10


def _terms(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class KnowledgeSim:
    """``GET /search?q=...&k=3`` → ``{"query", "results": [{id, title, snippet, score}]}``."""

    damages_content = False

    def __init__(self) -> None:
        self._docs = [
            (a, title, body, set(_terms(f"{title} {body}"))) for a, title, body in ARTICLES
        ]
        count = len(self._docs)
        self._idf = {
            term: math.log(1 + count / sum(term in d[3] for d in self._docs))
            for term in set().union(*(d[3] for d in self._docs))
        }
        self.router: Router[Callable[[Call], Reply]] = Router()
        self.router.add("GET", "/search", self._search)

    def handle(self, call: Call) -> Reply:
        handler = self.router.match(call.request)
        if handler is None:
            return tool_error(404, f"No route for {call.request.method} {call.request.path}")
        return handler(call)

    def error(self, status: int, message: str | None) -> Reply:
        return tool_error(status, message)

    def search(self, query: str, k: int = 3) -> list[dict[str, Any]]:
        """The ``k`` best articles for ``query`` (only those sharing a term with it)."""
        terms = set(_terms(query))
        scored = [(self._score(terms, doc[3]), doc) for doc in self._docs]
        ranked = sorted((i for i in scored if i[0] > 0), key=lambda i: (-i[0], i[1][0]))
        return [_result(score, doc) for score, doc in ranked[:k]]

    def _score(self, terms: set[str], words: set[str]) -> float:
        return round(sum(self._idf[t] for t in terms & words), 4)

    def _search(self, call: Call) -> Reply:
        query = call.request.query.get("q", "").strip()
        if not query:
            return tool_error(400, "Parameter 'q' is required.", "parameter_missing")
        try:
            k = int(call.request.query.get("k", "3"))
        except ValueError:
            return tool_error(400, "Parameter 'k' must be an integer.", "parameter_invalid")
        if not 1 <= k <= MAX_K:
            message = f"Parameter 'k' must be between 1 and {MAX_K}."
            return tool_error(400, message, "parameter_invalid")
        return Reply(200, {"query": query, "results": self.search(query, k)})


def _result(score: float, doc: tuple[str, str, str, set[str]]) -> dict[str, Any]:
    article_id, title, body, _ = doc
    snippet = body if len(body) <= 160 else body[:157].rsplit(" ", 1)[0] + "..."
    return {"id": article_id, "title": title, "snippet": snippet, "score": score}
