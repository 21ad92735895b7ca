"""``GET /health`` (no authentication)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from offerwise import __version__
from offerwise.serving.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="Liveness and the active campaign")
async def health(request: Request) -> Health:
    service = request.app.state.service
    return Health(
        status="ok",
        version=__version__,
        database=service.engine.dialect.name,
        campaign_id=service.campaign_id,
    )
