"""``GET /v1/customers/{customer_id}/offer`` answered without FastAPI's routing and dependencies.

Profiled under k6 at 1,000 requests/s on PostgreSQL (py-spy on the 2 uvicorn workers, 2026-12-02):
FastAPI's routing and dependency resolution took about 40 % of a worker's event-loop time per
``GET offer``, the service's own work (cache, decision read, answer) about 14 %. This ASGI
middleware answers the route's success path itself, with the same key check
(:func:`offerwise.serving.deps.authorize`: key, ``decide`` scope, rate limit) and the same answer
(:meth:`offerwise.serving.service.OfferService.offer_json`). Everything else goes to the app
unchanged and is answered as before: other routes and methods, a key sent only as
``Authorization: Bearer``, and every ``GET offer`` the fast path cannot answer with 200 — no key,
a bad key, a missing scope, the rate limit, no active campaign, an error (the app then answers
with its problem document; a key the fast path already accepted is not checked again, so the
request takes one rate-limit token, not two).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from offerwise.serving.deps import PRINCIPAL_SCOPE_KEY, authorize

#: ASGI types (scope, message, receive, send), as Starlette spells them.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_PREFIX, _SUFFIX = "/v1/customers/", "/offer"
#: The route's path parameter limits (``customer_id``: 1 to 128 characters, no '/').
_MAX_ID = 128


def offer_customer(path: str) -> str | None:
    """The customer id of a ``GET offer`` path (``/v1/customers/{id}/offer``), else None."""
    if not (path.startswith(_PREFIX) and path.endswith(_SUFFIX)):
        return None
    cid = path[len(_PREFIX) : -len(_SUFFIX)]
    if not 1 <= len(cid) <= _MAX_ID or "/" in cid:
        return None
    return cid


def api_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The first ``X-API-Key`` header's value (as FastAPI's ``APIKeyHeader`` reads it)."""
    for name, value in headers:
        if name.lower() == b"x-api-key":
            return value.decode("latin-1") or None
    return None


class OfferFastPath:
    """ASGI middleware (see the module docstring); ``app``: the rest of the app's stack."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            return await self.app(scope, receive, send)
        path: str = scope["path"]
        root = scope.get("root_path") or ""
        if root and path.startswith(root):
            path = path[len(root) :]
        cid = offer_customer(path)
        key = None if cid is None else api_key(scope["headers"])
        if cid is None or key is None:
            return await self.app(scope, receive, send)
        state = scope["app"].state
        try:
            scope[PRINCIPAL_SCOPE_KEY] = authorize(
                state, key, "decide"
            )  # not twice on fall-through
            body = await state.service.offer_json(cid)
        except Exception:  # a problem (401 ... 503) or an error: the app answers it, as before
            return await self.app(scope, receive, send)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(body)).encode()),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


__all__ = ["OfferFastPath", "api_key", "offer_customer"]
