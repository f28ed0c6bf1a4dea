"""Stewards: golden records with members and history, merge and unmerge."""
from __future__ import annotations

from fastapi import APIRouter, Path

from ..deps import GuardedRoute, StewardCtx
from ..schemas import ID_PATTERN, EventOut, GoldenId, GoldenOut, MergeIn, ReasonIn

router = APIRouter(prefix="/goldens", tags=["golden records"], route_class=GuardedRoute)
GoldenPath = Path(min_length=1, max_length=40, pattern=ID_PATTERN)


@router.get("/{golden_id}", response_model=GoldenOut, summary="A golden record with its members")
def golden(ctx: StewardCtx, golden_id: str = GoldenPath) -> GoldenOut:
    """The person's surviving fields (each with the source record it came from), member records
    and merged-away ids. A merged-away id answers with the survivor. Audited."""
    g = ctx.read("read golden", f"golden {golden_id}", lambda: ctx.index.golden(golden_id))
    return GoldenOut(id=g.id, requested_id=g.requested_id, status=g.status, attributes=g.attributes,
                     members=g.members, replaced_ids=g.replaced_ids)


@router.get("/{golden_id}/history", response_model=list[EventOut], summary="Every change to a golden record")
def history(ctx: StewardCtx, golden_id: str = GoldenPath) -> list[dict]:
    return ctx.read("read history", f"golden {golden_id}", lambda: ctx.index.history(golden_id))


@router.post("/{golden_id}/merge", response_model=GoldenId, summary="Merge another golden record into this one")
def merge(body: MergeIn, ctx: StewardCtx, golden_id: str = GoldenPath) -> GoldenId:
    """``other`` is merged into ``golden_id`` (the survivor); its id keeps resolving to the survivor.
    Undo with unmerge."""
    survivor = ctx.change("merge", f"golden {golden_id} <- {body.other}",
                          lambda: ctx.index.merge(golden_id, body.other, actor=ctx.actor, reason=body.reason),
                          reason=body.reason)
    return GoldenId(golden_id=survivor)


@router.post("/{golden_id}/unmerge", response_model=GoldenId, summary="Undo the merge that retired this id")
def unmerge(body: ReasonIn, ctx: StewardCtx, golden_id: str = GoldenPath) -> GoldenId:
    gid = ctx.change("unmerge", f"golden {golden_id}",
                     lambda: ctx.index.unmerge(golden_id, actor=ctx.actor, reason=body.reason), reason=body.reason)
    return GoldenId(golden_id=gid)
