"""``POST /v1/admin/plan``: swap the live plan without a restart (admin scope)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from offerwise.serving.deps import Admin, Service
from offerwise.serving.routes import AUTH_ERRORS, problem_responses
from offerwise.serving.schemas import PlanLoaded, PlanSwap

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post(
    "/plan",
    response_model=PlanLoaded,
    responses=problem_responses(*AUTH_ERRORS, 422),
    summary="Load a plan as the active campaign; every worker serves it within a second",
)
async def swap_plan(req: PlanSwap, _: Admin, service: Service) -> PlanLoaded:
    return await run_in_threadpool(service.swap_plan, req)
