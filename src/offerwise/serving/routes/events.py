"""``POST /v1/events``: batched order outcomes for the feedback loop."""

from __future__ import annotations

from fastapi import APIRouter

from offerwise.serving.deps import Admin, Service
from offerwise.serving.routes import AUTH_ERRORS, problem_responses
from offerwise.serving.schemas import EventBatch, EventsAccepted

router = APIRouter(prefix="/v1/events", tags=["events"])


@router.post(
    "",
    response_model=EventsAccepted,
    responses=problem_responses(*AUTH_ERRORS, 413),
    summary="Record order outcomes (idempotent per order_id)",
)
def post_events(batch: EventBatch, _: Admin, service: Service) -> EventsAccepted:
    return service.record_events(batch)
