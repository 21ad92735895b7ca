"""The FastAPI application factory: ``create_app(settings)``.

Errors are RFC 9457 problem+json everywhere (validation errors: 422 with ``errors``); a bug
answers a 500 problem without internals.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

from offerwise.serving.settings import ServeSettings

log = logging.getLogger("offerwise.serving")


def bootstrap(settings: ServeSettings, *, take_over: bool = True) -> Any:
    """Engine + migrations + (if configured) the plan load; returns the engine.

    ``take_over=False`` in a worker's startup: a plan loaded before does not replace a campaign
    swapped in since (see :func:`offerwise.serving.storage.load_plan`)."""
    from offerwise.serving.storage import load_plan, make_engine, migrate

    engine = make_engine(
        settings.db_url,
        pool_size=settings.pool_size,
        busy_timeout_ms=settings.busy_timeout_ms,
        background_checkpoints=True,
    )
    migrate(engine)
    if settings.load_plan and settings.plan is not None:
        # without a model directory: the menu beside a first campaign's plan (else ConfigError)
        got = load_plan(
            engine, settings.plan, settings.model_dir, settings.budget, take_over=take_over
        )
        if not got.active:
            log.warning(
                "plan %s (campaign %r) was loaded before and is not made active again: campaign "
                "%r was swapped in since (POST /v1/admin/plan swaps plans while serving)",
                settings.plan,
                got.campaign_id,
                got.previous_campaign_id,
            )
    return engine


def create_app(settings: ServeSettings | None = None) -> Any:
    """Build the app; settings default to ``OFFERWISE_SERVE_*`` environment variables."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from offerwise import __version__
    from offerwise.serving.fastpath import OfferFastPath
    from offerwise.serving.problems import PROBLEM_MEDIA_TYPE, ApiProblem, problem_body
    from offerwise.serving.routes import (
        campaigns,
        console,
        coupons,
        customers,
        events,
        health,
        plans,
    )
    from offerwise.serving.security import KeyVerifier, RateLimiter
    from offerwise.serving.service import OfferService

    settings = settings or ServeSettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = bootstrap(settings, take_over=False)
        app.state.service = OfferService(engine, settings)
        app.state.verifier = KeyVerifier(engine, settings.key_cache_s)
        app.state.limiter = RateLimiter(settings.rate_per_s, settings.rate_burst)
        # The framework's objects live as long as the process: move them out of the garbage
        # collector's generations, so a full collection does not walk them all (it stalled
        # every request of the worker for tens of ms under load).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            app.state.service.close()
            engine.dispose()

    app = FastAPI(
        title="offerwise offer service",
        version=__version__,
        lifespan=lifespan,
        description="Offers, coupons and the redemption ledger of an offerwise plan.",
    )
    app.state.settings = settings

    def problem(
        status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> JSONResponse:
        return JSONResponse(
            body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
        )

    @app.exception_handler(ApiProblem)
    async def _api_problem(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem(exc.status, exc.body(request.url.path), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": [str(x) for x in e.get("loc", ())],
                "msg": str(e.get("msg")),
                "type": str(e.get("type")),
            }
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        detail = f"{'.'.join(first['loc'])}: {first['msg']}" + (
            f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        )
        return problem(
            422,
            problem_body(422, "validation-error", detail, instance=request.url.path, errors=errors),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem(
            exc.status_code,
            problem_body(exc.status_code, slug, detail, instance=request.url.path),
            getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:  # pragma: no cover
        log.exception("internal error on %s", request.url.path)
        return problem(
            500, problem_body(500, "internal-error", "internal error", instance=request.url.path)
        )

    for module in (health, customers, coupons, events, campaigns, console, plans):
        app.include_router(module.router)
    # GET offer's success path without the framework's routing and dependencies (same checks)
    app.add_middleware(OfferFastPath)

    def openapi() -> dict[str, Any]:
        """The generated schema with every 4xx/5xx answer declared as problem+json."""
        if app.openapi_schema:
            return app.openapi_schema
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        ref = {"$ref": "#/components/schemas/Problem"}
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        if "Problem" not in schemas:
            from offerwise.serving.schemas import Problem

            schemas["Problem"] = Problem.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
        for path in schema.get("paths", {}).values():
            for op in path.values():
                if "requestBody" in op:
                    op["responses"].setdefault("400", {"description": "malformed request body"})
                for code, resp in op.get("responses", {}).items():
                    if code.isdigit() and int(code) >= 400:
                        resp["content"] = {PROBLEM_MEDIA_TYPE: {"schema": ref}}
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


__all__ = ["bootstrap", "create_app"]
