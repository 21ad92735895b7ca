"""RFC 9457 problem details: the one error format of the API (``application/problem+json``)."""

from __future__ import annotations

from typing import Any

PROBLEM_MEDIA_TYPE = "application/problem+json"
_TYPE_BASE = "urn:offerwise:problem:"

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class ApiProblem(Exception):
    """An error answered as problem+json; ``slug`` names the type
    (``urn:offerwise:problem:<slug>``)."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str | None = None,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ):
        self.status = status
        self.slug = slug
        self.title = title or _TITLES.get(status, "Error")
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra
        super().__init__(detail or self.title)

    def body(self, instance: str | None = None) -> dict[str, Any]:
        return problem_body(
            self.status, self.slug, self.detail, instance=instance, title=self.title, **self.extra
        )


def problem_body(
    status: int,
    slug: str,
    detail: str | None = None,
    *,
    instance: str | None = None,
    title: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The problem+json document (type, title, status, detail, instance + extension members)."""
    body: dict[str, Any] = {
        "type": _TYPE_BASE + slug,
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


class Rejection(Exception):
    """A coupon operation refused for a business reason (answered 409 with ``reason``)."""

    def __init__(self, reason: str, detail: str, remaining_cents: int | None = None):
        self.reason = reason
        self.detail = detail
        #: the campaign's budget left (cents) when the refusal read it, else None
        self.remaining_cents = remaining_cents
        super().__init__(detail)


__all__ = ["PROBLEM_MEDIA_TYPE", "ApiProblem", "Rejection", "problem_body"]
