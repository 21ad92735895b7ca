"""``GET /v1/customers/{customer_id}/offer`` and ``POST /v1/coupons/{code}/redeem`` answered
without FastAPI's routing and dependencies.

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

A redemption takes the same way when it carries ``X-API-Key``, one ``Idempotency-Key`` (1–255
characters) and a JSON body (``Content-Type: application/json``) that validates as the route's
:class:`~offerwise.serving.schemas.RedeemRequest`; its answer is the route's (status, body,
``Idempotent-Replayed``). Anything else — and a redemption the service answers with an exception
(a 404, a reused key: nothing was written, the idempotency key's claim rolled back) — goes to the
app with its body replayed, and the app answers it as before.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.datastructures import URL

from offerwise.serving.deps import PRINCIPAL_SCOPE_KEY, authorize
from offerwise.serving.problems import PROBLEM_MEDIA_TYPE
from offerwise.serving.schemas import RedeemRequest

#: ASGI types (scope, message, receive, send), as Starlette spells them.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_PREFIX, _SUFFIX = "/v1/customers/", "/offer"
#: The route's path parameter limits (``customer_id``: 1 to 128 characters, no '/').
_MAX_ID = 128
_COUPONS, _REDEEM = "/v1/coupons/", "/redeem"
#: The redeem route's limits: ``code`` 1 to 64 characters, ``Idempotency-Key`` 1 to 255.
_MAX_CODE, _MAX_IDEM = 64, 255


def _path_param(path: str, prefix: str, suffix: str, max_len: int) -> str | None:
    """The segment between ``prefix`` and ``suffix`` when it has 1 to ``max_len`` characters
    and no '/', else None."""
    if not (path.startswith(prefix) and path.endswith(suffix)):
        return None
    value = path[len(prefix) : -len(suffix)]
    return value if 1 <= len(value) <= max_len and "/" not in value else None


def offer_customer(path: str) -> str | None:
    """The customer id of a ``GET offer`` path (``/v1/customers/{id}/offer``), else None."""
    return _path_param(path, _PREFIX, _SUFFIX, _MAX_ID)


def redeem_code(path: str) -> str | None:
    """The coupon code of a redeem path (``/v1/coupons/{code}/redeem``), else None."""
    return _path_param(path, _COUPONS, _REDEEM, _MAX_CODE)


def header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    """The first value of header ``name`` (lower case), as Starlette's ``headers.get`` reads it;
    None when absent or empty."""
    for k, value in headers:
        if k.lower() == name:
            return value.decode("latin-1") or None
    return None


def api_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The first ``X-API-Key`` header's value (as FastAPI's ``APIKeyHeader`` reads it)."""
    return header(headers, b"x-api-key")


def _is_json(content_type: str | None) -> bool:
    return content_type is not None and content_type.split(";", 1)[0].strip() == "application/json"


async def read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole request body, and a ``receive`` that hands it to the app again (one message)."""
    chunks: list[bytes] = []
    last: Message | None = None
    while True:
        msg = await receive()
        if msg["type"] != "http.request":  # the client went away: the app sees it too
            last = msg
            break
        chunks.append(msg.get("body", b""))
        if not msg.get("more_body", False):
            break
    body = b"".join(chunks)
    return body, _replay(body, receive, last)


def _replay(body: bytes, receive: Receive, last: Message | None) -> Receive:
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
    if last is not None:
        pending.append(last)

    async def again() -> Message:
        return pending.pop(0) if pending else await receive()

    return again


class OfferFastPath:
    """ASGI middleware (see the module docstring); ``app``: the rest of the app's stack."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "POST"):
            return await self.app(scope, receive, send)
        path: str = scope["path"]
        root = scope.get("root_path") or ""
        if root and path.startswith(root):
            path = path[len(root) :]
        if scope["method"] == "POST":
            return await self._redeem(scope, receive, send, path)
        cid = offer_customer(path)
        key = None if cid is None else api_key(scope["headers"])
        if cid is None or key is None:
            return await self.app(scope, receive, send)
        state = scope["app"].state
        try:
            # kept in the scope: a fall-through does not check the key (and take a token) again
            scope[PRINCIPAL_SCOPE_KEY] = authorize(state, key, "decide")
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

    async def _redeem(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        code = redeem_code(path)
        headers = scope["headers"]
        key = None if code is None else api_key(headers)
        idem = None if key is None else header(headers, b"idempotency-key")
        if (
            code is None
            or key is None
            or idem is None
            or len(idem) > _MAX_IDEM
            or not _is_json(header(headers, b"content-type"))
        ):
            return await self.app(scope, receive, send)
        raw, again = await read_body(receive)
        state = scope["app"].state
        try:
            req = RedeemRequest.model_validate(json.loads(raw))
            principal = authorize(state, key, "decide")
            scope[PRINCIPAL_SCOPE_KEY] = principal  # not checked twice on fall-through
            out = await asyncio.wrap_future(
                state.service.submit_redeem(
                    code, req, principal.key_id, idem, None, URL(scope=scope).path
                )
            )
        except Exception:  # invalid body, a problem or an error: the app answers, as before
            return await self.app(scope, again, send)
        body = json.dumps(out.body).encode()
        media = b"application/json" if out.status < 400 else PROBLEM_MEDIA_TYPE.encode()
        head = [(b"idempotent-replayed", b"true")] if out.replayed else []
        head += [(b"content-length", str(len(body)).encode()), (b"content-type", media)]
        await send({"type": "http.response.start", "status": out.status, "headers": head})
        await send({"type": "http.response.body", "body": body})


__all__ = ["OfferFastPath", "api_key", "header", "offer_customer", "read_body", "redeem_code"]
