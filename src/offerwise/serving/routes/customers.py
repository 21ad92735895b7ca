"""``GET /v1/customers/{customer_id}/offer``: the customer's offer (issues a coupon once)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from offerwise.serving.deps import Decide, Service
from offerwise.serving.routes import AUTH_ERRORS, problem_responses
from offerwise.serving.schemas import OfferDecision

router = APIRouter(prefix="/v1/customers", tags=["customers"])


@router.get(
    "/{customer_id}/offer",
    response_model=OfferDecision,
    responses=problem_responses(*AUTH_ERRORS, 503),
    summary="The customer's offer in the active campaign (null = no offer)",
)
async def get_offer(
    customer_id: Annotated[str, Path(min_length=1, max_length=128)], _: Decide, service: Service
) -> Response:
    """The first ask decides (plan choice, or an exploration draw with probability ε), logs the
    exposure and issues a coupon; later asks return the same decision and coupon; once that coupon
    has expired unused (and its offer still runs) the next ask issues a fresh coupon (new code and
    expiry) for the same offer. Holdout customers, plan choice 'none' and unknown customers under
    the default cold-start rule get ``offer: null``."""
    return Response(await service.offer_json(customer_id), media_type="application/json")
