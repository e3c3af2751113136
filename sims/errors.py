"""The error body every tool sim answers with: ``{"error": {"code", "message"}}``.

One shape for the CRM, payments and knowledge sims, with the machine-readable codes real
REST APIs use per status, so a client's error handling is exercised the same way whichever
tool failed. (The LLM sim answers in OpenAI's own shape instead; see ``sims.llm``.)
"""

from __future__ import annotations

from sims.asgi import Reply

_DEFAULTS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "The request is invalid."),
    401: ("unauthorized", "Authentication is required."),
    403: ("forbidden", "You are not allowed to do this."),
    404: ("not_found", "No such resource."),
    408: ("request_timeout", "The request took too long."),
    409: ("conflict", "The resource changed; try again."),
    422: ("unprocessable_entity", "The request could not be processed."),
    429: ("rate_limited", "Too many requests; slow down and retry later."),
    500: ("internal_error", "Something went wrong on our side."),
    502: ("bad_gateway", "An upstream service answered badly."),
    503: ("service_unavailable", "The service is temporarily unavailable."),
    504: ("gateway_timeout", "An upstream service did not answer in time."),
}


def tool_error(status: int, message: str | None = None, code: str | None = None) -> Reply:
    """An error reply; ``message`` and ``code`` default to the usual ones for the status."""
    fallback = ("server_error" if status >= 500 else "client_error", "Request failed.")
    default_code, default_message = _DEFAULTS.get(status, fallback)
    error = {"code": code or default_code, "message": message or default_message}
    return Reply(status, {"error": error})
