"""``GET /v1/campaigns/{campaign_id}``: budget, spend and counts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from offerwise.serving.deps import Admin, Service
from offerwise.serving.routes import AUTH_ERRORS, problem_responses
from offerwise.serving.schemas import CampaignOut

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])


@router.get(
    "/{campaign_id}",
    response_model=CampaignOut,
    responses=problem_responses(*AUTH_ERRORS, 404),
    summary="Budget, spent, remaining, redemptions and offers issued",
)
def get_campaign(
    campaign_id: Annotated[str, Path(min_length=1, max_length=128)], _: Admin, service: Service
) -> CampaignOut:
    return service.campaign(campaign_id)
