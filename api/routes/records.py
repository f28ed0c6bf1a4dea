"""Integration: ingest records (one or a batch) and match without storing."""
from __future__ import annotations

from fastapi import APIRouter, HTTPException

from mpi.errors import InputError, MPIError

from ..deps import GuardedRoute, IntegrationCtx, LookupCtx, StewardCtx
from ..errors import library_status
from ..schemas import BatchIn, BatchItem, BatchOut, GoldenId, IngestOut, ItemError, MatchIn, MatchOut, RecordIn, SplitIn
from .common import check_match_rate, ingest_out, record_target

router = APIRouter(tags=["records"], route_class=GuardedRoute)


@router.post("/records", response_model=IngestOut, summary="Ingest one record")
def ingest(body: RecordIn, ctx: IntegrationCtx) -> IngestOut:
    """Store one source record and link it: to a golden record (``auto_link``), to a new golden
    record waiting for a steward (``review``) or to a new golden record (``new``). Re-sending the
    same data answers ``unchanged``; a steward's link is kept (``manual``)."""
    record = body.model_dump(exclude_none=True)
    result = ctx.change("ingest", record_target(body.source, body.record_id),
                        lambda: ctx.index.ingest(record, actor=ctx.actor))
    return ingest_out(result)


@router.post("/records:batch", response_model=BatchOut, summary="Ingest several records")
def ingest_batch(body: BatchIn, ctx: IntegrationCtx) -> BatchOut:
    """Ingest each record in order, each in its own transaction: a record that fails is reported
    in its slot (field and reason) and does not stop the others."""
    if len(body.records) > ctx.services.settings.max_batch:
        raise HTTPException(413, f"at most {ctx.services.settings.max_batch} records per batch")
    items: list[BatchItem] = []
    for i, rec in enumerate(body.records):
        record = rec.model_dump(exclude_none=True)
        try:
            result = ctx.change("ingest", record_target(rec.source, rec.record_id),
                                lambda record=record: ctx.index.ingest(record, actor=ctx.actor))
        except MPIError as exc:
            status, message, _ = library_status(exc)
            field = exc.column if isinstance(exc, InputError) and exc.column else "record"
            items.append(BatchItem(index=i, error=ItemError(field=f"records.{i}.{field}", status=status,
                                                            message=message)))
            if status >= 500:  # the store is unusable (no model, busy): the rest would fail alike
                for j in range(i + 1, len(body.records)):
                    items.append(BatchItem(index=j, error=ItemError(field=f"records.{j}", status=status,
                                                                    message="not attempted")))
                break
            continue
        items.append(BatchItem(index=i, result=ingest_out(result)))
    failed = sum(item.error is not None for item in items)
    return BatchOut(results=items, ingested=len(items) - failed, failed=failed)


@router.post("/match", response_model=MatchOut, summary="Rank golden records against a record (stores nothing)")
async def match(body: MatchIn, ctx: LookupCtx) -> MatchOut:
    """Golden records that may be this person, best first, with probability, grade and the
    per-field explanation. Nothing is stored. Rate-limited per token."""
    # Run on the event loop, not in the thread pool: a match is a few milliseconds of CPU and
    # short reads, and the hand-off to a thread (and the GIL contention of many threads) cost
    # more than the loop waiting. Workers (mpi serve --workers) give the parallelism.
    check_match_rate(ctx)
    record = body.record.model_dump(exclude_none=True)
    found = ctx.index.match(record, limit=body.count)
    return MatchOut(candidates=[{"golden_id": c.golden_id, "probability": c.probability, "grade": c.grade,
                                 "decision": c.decision, "explanation": c.explanation} for c in found])


@router.post("/records:split", response_model=GoldenId, summary="Take a record out of its golden record")
def split(body: SplitIn, ctx: StewardCtx) -> GoldenId:
    """The record gets a golden record of its own, linked manually (automatic matching will not
    move it back)."""
    gid = ctx.change("split", record_target(body.source, body.record_id),
                     lambda: ctx.index.split(body.source, body.record_id, actor=ctx.actor, reason=body.reason),
                     reason=body.reason)
    return GoldenId(golden_id=gid)
