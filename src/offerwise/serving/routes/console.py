"""The operator console: ``GET /console`` (an HTML page) and the figures it draws,
``GET /v1/campaigns`` and ``GET /v1/campaigns/{campaign_id}/stats``; all need an admin key.

A browser cannot send a header on a navigation, so ``/console`` also takes the key as
``?key=`` (the page then calls the JSON API with it in ``X-API-Key``). The page is served with
``Cache-Control: no-store``, ``Referrer-Policy: no-referrer`` and a Content-Security-Policy that
allows its own inline blocks and requests to the service only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Security
from fastapi.responses import HTMLResponse

from offerwise.serving.console_page import CSP, PAGE
from offerwise.serving.deps import Admin, Service, api_key_header, require_scope
from offerwise.serving.problems import ApiProblem
from offerwise.serving.routes import AUTH_ERRORS, problem_responses
from offerwise.serving.security import Principal
from offerwise.serving.stats import CampaignList, CampaignStats, campaign_stats, list_campaigns

router = APIRouter(tags=["console"])

_require_admin = require_scope("admin")


async def console_admin(
    request: Request,
    header: Annotated[str | None, Security(api_key_header)] = None,
    key: Annotated[
        str | None,
        Query(max_length=512, description="admin API key (a browser cannot send X-API-Key)"),
    ] = None,
) -> Principal:
    """The admin check of the other routes, with the key from ``X-API-Key`` or ``?key=``."""
    try:
        return await _require_admin(request, header or key)
    except ApiProblem as exc:
        if exc.status == 401 and exc.slug == "missing-api-key":
            exc.detail = "open the console as /console?key=ADMIN_KEY (or send X-API-Key)"
        raise


@router.get(
    "/console",
    response_class=HTMLResponse,
    responses=problem_responses(*AUTH_ERRORS),
    summary="Operator console: budget burn, offers, holdout, SRM check, identification",
)
async def console(_: Annotated[Principal, Depends(console_admin)]) -> HTMLResponse:
    return HTMLResponse(
        PAGE,
        headers={
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": CSP,
        },
    )


@router.get(
    "/v1/campaigns",
    response_model=CampaignList,
    responses=problem_responses(*AUTH_ERRORS),
    summary="Every loaded campaign (the active one first, then newest first)",
)
def get_campaigns(_: Admin, service: Service) -> CampaignList:
    return list_campaigns(service.engine)


@router.get(
    "/v1/campaigns/{campaign_id}/stats",
    response_model=CampaignStats,
    responses=problem_responses(*AUTH_ERRORS, 404),
    summary="The console's figures: burn over time, by offer and segment, shares, SRM check",
)
def get_campaign_stats(
    campaign_id: Annotated[str, Path(min_length=1, max_length=128)], _: Admin, service: Service
) -> CampaignStats:
    return campaign_stats(service.engine, campaign_id, epsilon=service.settings.epsilon)
