"""Small pieces several route modules use."""
from __future__ import annotations

from fastapi import HTTPException

from mpi.service import IngestResult

from ..deps import Context
from ..schemas import IngestOut


def record_target(source: str, record_id: str) -> str:
    return f"record {source}/{record_id}"


def ingest_out(r: IngestResult) -> IngestOut:
    return IngestOut(source=r.source, record_id=r.record_id, golden_id=r.golden_id, decision=r.decision,
                     probability=r.probability, explanation=r.explanation, review_task_id=r.review_task_id,
                     model_version=r.model_version)




def check_match_rate(ctx: Context) -> None:
    wait = ctx.services.limiter.allow(ctx.principal.token_id)
    if wait > 0:
        raise HTTPException(429, "match rate limit reached for this token",
                            headers={"Retry-After": str(max(1, round(wait + 0.5)))})
