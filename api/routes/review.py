"""Stewards: the review queue (list, claim, decide)."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Path, Query

from ..deps import GuardedRoute, StewardCtx
from ..schemas import DecideIn, ReviewPairOut, TaskOut

router = APIRouter(prefix="/review-tasks", tags=["review"], route_class=GuardedRoute)
TaskPath = Path(ge=1, le=2**31 - 1)  # the id columns are 32-bit integers on PostgreSQL


@router.get("", response_model=list[TaskOut], summary="Review tasks, highest priority first")
def tasks(ctx: StewardCtx, status: Literal["open", "claimed", "decided", "obsolete", "all"] = "open",
          limit: int = Query(100, ge=1, le=1000)) -> list[dict]:
    return ctx.index.review_tasks(status=status, limit=limit)


@router.get("/{task_id}", response_model=TaskOut, summary="One review task")
def task(ctx: StewardCtx, task_id: int = TaskPath) -> dict:
    return ctx.index.review_task(task_id)


@router.get("/{task_id}/pair", response_model=ReviewPairOut, summary="A task with both records' demographics")
def pair(ctx: StewardCtx, task_id: int = TaskPath) -> dict:
    """What the steward compares: the incoming record and the candidate it resembles, with their
    current demographics as the sources sent them, and their golden records. Audited."""
    return ctx.read("read review pair", f"task {task_id}", lambda: ctx.index.review_pair(task_id))


@router.post("/{task_id}/claim", response_model=TaskOut, summary="Claim a task (so no one else decides it)")
def claim(ctx: StewardCtx, task_id: int = TaskPath) -> dict:
    return ctx.change("claim", f"task {task_id}", lambda: ctx.index.claim(task_id, actor=ctx.actor))


@router.post("/{task_id}/decide", response_model=TaskOut, summary="Decide a task: same person or not")
def decide(body: DecideIn, ctx: StewardCtx, task_id: int = TaskPath) -> dict:
    """``same`` links (or merges) the pair; ``different`` pins the record where it is. Both are
    kept as labels the model can learn from."""
    return ctx.change("decide", f"task {task_id}",
                      lambda: ctx.index.decide(task_id, body.decision, actor=ctx.actor, reason=body.reason),
                      reason=body.reason)
