"""One router per resource: health, customers (offers), coupons, events, campaigns, console."""

from __future__ import annotations

from typing import Any

from offerwise.serving.schemas import Problem


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for error codes (content is set to problem+json in app.py)."""
    text = {
        401: "missing or invalid API key",
        403: "API key lacks the scope",
        404: "not found",
        409: "conflict (see `reason`)",
        413: "batch too large",
        422: "invalid request",
        429: "rate limit exceeded (Retry-After)",
        503: "no plan loaded",
    }
    return {c: {"model": Problem, "description": text.get(c, "error")} for c in codes}


AUTH_ERRORS = (401, 403, 422, 429)
