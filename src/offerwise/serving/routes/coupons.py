"""Coupons: validate, redeem (idempotent), roll back."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

from fastapi import APIRouter, Header, Path, Request, Response

from offerwise.serving.deps import Decide, Service
from offerwise.serving.problems import PROBLEM_MEDIA_TYPE
from offerwise.serving.routes import AUTH_ERRORS, problem_responses
from offerwise.serving.schemas import (
    Cart,
    RedeemRequest,
    Redemption,
    RollbackRequest,
    RollbackResult,
    Validation,
)

router = APIRouter(prefix="/v1/coupons", tags=["coupons"])

Code = Annotated[str, Path(min_length=1, max_length=64, description="coupon code")]


@router.post(
    "/{code}/validate",
    response_model=Validation,
    responses=problem_responses(*AUTH_ERRORS, 404),
    summary="The discount the coupon would give on a cart, or why it does not apply",
)
def validate(code: Code, cart: Cart, _: Decide, service: Service) -> Validation:
    return service.validate(code, cart)


@router.post(
    "/{code}/redeem",
    response_model=Redemption,
    responses={
        **problem_responses(*AUTH_ERRORS, 404, 409),
        200: {
            "description": "redeemed",
            "headers": {
                "Idempotent-Replayed": {
                    "description": "'true' when this is the stored answer of an earlier "
                    "request with the same Idempotency-Key",
                    "schema": {"type": "string"},
                }
            },
        },
    },
    summary="Redeem the coupon on an order (atomic, idempotent)",
)
async def redeem(
    code: Code,
    body: RedeemRequest,
    request: Request,
    principal: Decide,
    service: Service,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=255)],
) -> Response:
    """Checks and books the campaign budget, the coupon's and the customer's uses in one
    transaction. A retry with the same ``Idempotency-Key`` returns the first answer (header
    ``Idempotent-Replayed: true``); the same key with a different body is a 409."""
    out = await asyncio.wrap_future(
        service.submit_redeem(code, body, principal.key_id, idempotency_key, None, request.url.path)
    )
    headers = {"Idempotent-Replayed": "true"} if out.replayed else {}
    media = "application/json" if out.status < 400 else PROBLEM_MEDIA_TYPE
    return Response(json.dumps(out.body), status_code=out.status, media_type=media, headers=headers)


@router.post(
    "/{code}/rollback",
    response_model=RollbackResult,
    responses=problem_responses(*AUTH_ERRORS, 404, 409),
    summary="Undo a redemption (refund or cancel): the budget and the coupon use return",
)
def rollback(
    code: Code, _: Decide, service: Service, body: RollbackRequest | None = None
) -> RollbackResult:
    return service.rollback(code, body or RollbackRequest())
