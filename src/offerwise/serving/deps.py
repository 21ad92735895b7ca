"""FastAPI dependencies: the service, the caller's API key (scope check) and the rate limit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import State

from offerwise.serving.problems import ApiProblem
from offerwise.serving.security import Principal
from offerwise.serving.service import OfferService

#: The header that carries the API key (OpenAPI security scheme ``ApiKey``).
api_key_header = APIKeyHeader(
    name="X-API-Key",
    scheme_name="ApiKey",
    auto_error=False,
    description="API key: `offerwise apikey --db URL --name NAME --scope decide|admin`",
)
#: The same key as a bearer token (``Authorization: Bearer KEY``), for clients that send one.
bearer_header = HTTPBearer(
    scheme_name="Bearer",
    auto_error=False,
    description="the API key as a bearer token (the same key as X-API-Key)",
)


async def get_service(
    request: Request,
) -> OfferService:  # async: FastAPI runs a sync one in a thread
    """The app's :class:`~offerwise.serving.service.OfferService` (made by the app's lifespan)."""
    service: OfferService = request.app.state.service
    return service


def authorize(state: State, key: str | None, scope: str) -> Principal:
    """The caller's principal for ``key`` (the app's ``state``: its key verifier and rate
    limiter): :class:`ApiProblem` 401 without a valid key, 403 without ``scope``, 429 past the
    key's rate (a token is taken only when the call is allowed)."""
    if not key:
        raise ApiProblem(
            401,
            "missing-api-key",
            "send an API key in the X-API-Key header (or as Authorization: Bearer KEY)",
            headers={"WWW-Authenticate": "ApiKey"},
        )
    principal: Principal | None = state.verifier.verify(key)
    if principal is None:
        raise ApiProblem(
            401,
            "invalid-api-key",
            "the API key is unknown or revoked",
            headers={"WWW-Authenticate": "ApiKey"},
        )
    if not principal.allows(scope):
        raise ApiProblem(
            403,
            "insufficient-scope",
            f"this API key lacks the '{scope}' scope",
            required_scope=scope,
        )
    wait = state.limiter.acquire(principal.key_id, principal.rate_per_s, principal.burst)
    if wait > 0:
        retry = max(1, int(wait + 0.999))
        raise ApiProblem(
            429,
            "rate-limited",
            f"rate limit of this API key exceeded; retry in {retry} s",
            headers={"Retry-After": str(retry)},
        )
    return principal


#: ASGI scope key under which a request's principal is kept once :func:`authorize` passed (the
#: GET offer fast path), so that the app's route, if the request falls through to it, does not
#: check the key and take a rate-limit token a second time.
PRINCIPAL_SCOPE_KEY = "offerwise.principal"


def require_scope(scope: str) -> Callable[..., Awaitable[Principal]]:
    """Dependency: 401 without a valid key, 403 without ``scope``, 429 past the key's rate
    (:func:`authorize`); the principal already authorized for this request, if any."""

    async def dependency(
        request: Request,
        key: Annotated[str | None, Security(api_key_header)] = None,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_header)] = None,
    ) -> Principal:
        done: Principal | None = request.scope.get(PRINCIPAL_SCOPE_KEY)
        if done is not None and done.allows(scope):
            return done
        key = key or (bearer.credentials if bearer is not None else None)
        return authorize(request.app.state, key, scope)

    return dependency


Decide = Annotated[Principal, Depends(require_scope("decide"))]
Admin = Annotated[Principal, Depends(require_scope("admin"))]
Service = Annotated[OfferService, Depends(get_service)]

__all__ = [
    "PRINCIPAL_SCOPE_KEY",
    "Admin",
    "Decide",
    "Service",
    "api_key_header",
    "authorize",
    "bearer_header",
    "get_service",
    "require_scope",
]
