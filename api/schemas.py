"""Request and response bodies. Strict: unknown fields are refused (422), strings are bounded."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

Text = Annotated[str, StringConstraints(max_length=200)]
ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"  # ids (body, path or query): no control characters (PostgreSQL refuses NUL)
Id = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=ID_PATTERN)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=r"^[^\x00]+$")]  # no NUL


def _whole(value: object) -> object:
    return int(value) if isinstance(value, float) and value.is_integer() else value


# an integer as JSON Schema has it: 3 and 3.0 are the same number (strict models refuse floats otherwise)
WholeNumber = Annotated[int, BeforeValidator(_whole)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Demographics(Strict):
    """The canonical fields (see the batch contract). All optional; sent as the source has them."""

    first_name: Text | None = None
    middle_name: Text | None = None
    last_name: Text | None = None
    suffix: Text | None = None
    dob: Text | None = None
    sex: Text | None = None
    ssn: Text | None = None
    phone: Text | None = None
    email: Text | None = None
    street: Text | None = None
    city: Text | None = None
    state: Text | None = None
    zip: Text | None = None


class RecordIn(Demographics):
    source: Id
    record_id: Id


class BatchIn(Strict):
    records: list[RecordIn] = Field(min_length=1)


class MatchIn(Strict):
    record: Demographics
    count: WholeNumber = Field(default=10, ge=1, le=100)


class IngestOut(BaseModel):
    source: str
    record_id: str
    golden_id: str
    decision: Literal["auto_link", "review", "new", "unchanged", "manual"]
    probability: float
    explanation: dict[str, Any]
    review_task_id: int | None = None
    model_version: str | None = None


class ItemError(BaseModel):
    field: str
    message: str
    status: int


class BatchItem(BaseModel):
    index: int
    result: IngestOut | None = None
    error: ItemError | None = None


class BatchOut(BaseModel):
    results: list[BatchItem]
    ingested: int
    failed: int


class CandidateOut(BaseModel):
    golden_id: str
    probability: float
    grade: Literal["certain", "probable", "possible"]
    decision: Literal["auto_link", "review", "new"]
    explanation: dict[str, Any]


class MatchOut(BaseModel):
    candidates: list[CandidateOut]


class MergeIn(Strict):
    other: Id = Field(description="the golden id merged into this one (it keeps resolving to the survivor)")
    reason: Reason


class ReasonIn(Strict):
    reason: Reason


class SplitIn(Strict):
    source: Id
    record_id: Id
    reason: Reason


class DecideIn(Strict):
    decision: Literal["same", "different"]
    reason: Reason


class GoldenId(BaseModel):
    golden_id: str


class MemberOut(BaseModel):
    source: str
    record_id: str
    state: str
    probability: float | None = None
    model_version: str | None = None
    linked_by: str | None = None
    linked_at: str | None = None


class GoldenOut(BaseModel):
    id: str
    requested_id: str
    status: str
    attributes: dict[str, Any]
    members: list[MemberOut]
    replaced_ids: list[str]


class EventOut(BaseModel):
    id: int
    at: str
    kind: str
    actor: str
    reason: str
    golden_id: str | None = None
    other_golden_id: str | None = None
    record: dict[str, str] | None = None
    detail: dict[str, Any]


class TaskOut(BaseModel):
    id: int
    kind: str
    golden_id: str | None = None
    other_golden_id: str | None = None
    record: int | None = None
    candidate_record: int | None = None
    probability: float | None = None
    priority: float | None = None
    rule: str | None = None
    explanation: dict[str, Any] | list[Any] | None = None
    status: str
    claimed_by: str | None = None
    decision: str | None = None
    decided_by: str | None = None
    reason: str | None = None
    created_at: str | None = None
    decided_at: str | None = None


class PairRecordOut(BaseModel):
    source: str
    record_id: str
    version: int
    golden_id: str | None = None
    fields: dict[str, str]


class ReviewPairOut(BaseModel):
    task: TaskOut
    record: PairRecordOut | None = None
    candidate: PairRecordOut | None = None


class TokenIn(Strict):
    role: Literal["integration", "steward", "admin"]
    # the name is the actor of the holder's changes ("NAME (id)"): mpi.tokens allows 185 characters
    name: Annotated[str, StringConstraints(min_length=1, max_length=185, pattern=ID_PATTERN)]
    days: WholeNumber = Field(default=90, ge=1, le=3650)


class TokenCreated(BaseModel):
    id: str
    token: str
    role: str
    name: str
    expires_at: str


class TokenInfo(BaseModel):
    id: str
    role: str
    name: str
    created_at: str
    expires_at: str
    revoked_at: str | None = None
    live: bool


class AuditEventOut(BaseModel):
    seq: int
    at: str
    actor: str
    role: str
    action: str
    target: str
    reason: str
    outcome: str
    request_id: str
    detail: dict[str, Any]
    hash: str




class ModelOut(BaseModel):
    model_version: str | None
    auto_link: float | None = None
    review: float | None = None


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unreachable"]
    model_version: str | None = None


class FhirParameter(BaseModel):
    """One ``Parameters.parameter``: its name and the one value[x] that name takes (checked by the
    route; the OpenAPI document spells the three shapes out, see api.app)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    name: Annotated[str, StringConstraints(max_length=100)]
    resource: dict[str, Any] | None = None
    valueInteger: WholeNumber | None = None
    valueBoolean: bool | None = None


class FhirParameters(BaseModel):
    """A FHIR R4 Parameters resource, as $match takes it: ``resource`` (a Patient), ``count``,
    ``onlyCertainMatches``."""

    model_config = ConfigDict(extra="forbid", strict=True)
    resourceType: Literal["Parameters"]
    id: Annotated[str, StringConstraints(max_length=64)] | None = None
    meta: dict[str, Any] | None = None
    parameter: list[FhirParameter] = Field(max_length=20)
