"""FHIR R4: Patient $match, IHE PIXm ($ihe-pix, ITI-83) and the golden Patient read."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import StringConstraints

from mpi.errors import InputError
from mpi.fhir import (GOLDEN_SYSTEM, TOKEN_PATTERN, golden_patient, match_bundle, operation_outcome, patient_to_record,
                      pix_parameters, split_token)
from mpi.tokens import Role

from ..deps import Context, GuardedRoute, LookupCtx
from ..schemas import ID_PATTERN, FhirParameters
from .common import check_match_rate

router = APIRouter(prefix="/fhir", tags=["FHIR"], route_class=GuardedRoute)
SystemName = Annotated[str, StringConstraints(max_length=500, pattern=ID_PATTERN)]
FHIR_JSON = "application/fhir+json"


class FhirResponse(JSONResponse):
    media_type = FHIR_JSON


def _base(request: Request, ctx: Context) -> str:
    configured = ctx.services.settings.base_url.rstrip("/")
    return configured + "/fhir" if configured else str(request.base_url).rstrip("/") + "/fhir"


_VALUE_OF = {"resource": "resource", "count": "valueInteger", "onlyCertainMatches": "valueBoolean"}


def _match_parameters(body: FhirParameters, ctx: Context) -> tuple[dict, int, bool]:
    seen: dict[str, Any] = {}
    for i, p in enumerate(body.parameter):
        where = f"Parameters.parameter[{i}]"
        if p.name in seen:
            raise InputError("is given twice", column=f"{where}.name")
        own = _VALUE_OF.get(p.name)
        extra = sorted(p.model_fields_set - {"name", own})
        if own is not None and extra:
            raise InputError(f"{p.name} takes only {own}", column=f"{where}.{extra[0]}")
        if p.name == "resource":
            if p.resource is None:
                raise InputError("must carry a Patient in 'resource'", column=f"{where}.resource")
            seen["resource"] = p.resource
        elif p.name == "count":
            if p.valueInteger is None or not 1 <= p.valueInteger <= ctx.services.settings.max_match_count:
                raise InputError(f"count must be a valueInteger from 1 to {ctx.services.settings.max_match_count}",
                                 column=f"{where}.valueInteger")
            seen["count"] = p.valueInteger
        elif p.name == "onlyCertainMatches":
            if p.valueBoolean is None:
                raise InputError("onlyCertainMatches must be a valueBoolean", column=f"{where}.valueBoolean")
            seen["onlyCertainMatches"] = p.valueBoolean
        else:
            raise InputError("is not a parameter of $match (resource, count, onlyCertainMatches)",
                             column=f"{where}.name")
    if "resource" not in seen:
        raise InputError("a 'resource' parameter with the Patient to match is required", column="Parameters.parameter")
    return (seen["resource"], seen.get("count", ctx.services.settings.default_match_count),
            seen.get("onlyCertainMatches", False))


@router.post("/Patient/$match", response_class=FhirResponse, summary="FHIR R4 Patient $match",
             responses={200: {"description": "A searchset Bundle of golden Patients, best first",
                              "content": {FHIR_JSON: {"schema": {"type": "object"}}}}})
async def patient_match(body: FhirParameters, request: Request, ctx: LookupCtx) -> FhirResponse:
    """Golden Patients that may be the given Patient, ranked, with ``search.score`` and the
    ``match-grade`` extension (certain / probable / possible). With ``onlyCertainMatches`` only a
    single certain match is returned, or none when more than one would be certain. Integration
    tokens get ids, scores and grades; steward tokens also the golden demographics (audited)."""
    # on the event loop, like POST /match (see there)
    check_match_rate(ctx)
    resource, count, only_certain = _match_parameters(body, ctx)
    record = patient_to_record(resource)
    found = ctx.index.match(record, limit=max(count, 2) if only_certain else count)
    outcome = None
    if only_certain:
        certain = [c for c in found if c.grade == "certain"]
        found = certain if len(certain) == 1 else []
        if len(certain) > 1:
            outcome = operation_outcome("information", "multiple-matches",
                                        "more than one golden record matches with certainty; none is returned")
    base = _base(request, ctx)
    if ctx.principal.role == Role.STEWARD:
        # the event names whose demographics went out, not only how many
        goldens = ctx.read("match with demographics", f"{len(found)} golden records",
                           lambda: [ctx.index.golden(c.golden_id) for c in found],
                           detail={"golden_ids": [c.golden_id for c in found]})
        patients = [golden_patient(g.id, g.status, g.members, g.attributes) for g in goldens]
    else:
        patients = [golden_patient(c.golden_id, "active") for c in found]
    bundle = match_bundle([(p, c.probability, c.grade) for p, c in zip(patients, found)], base)
    if outcome is not None:
        bundle["entry"].append({"resource": outcome, "search": {"mode": "outcome"}})
    return FhirResponse(bundle)


@router.get("/Patient/$ihe-pix", response_class=FhirResponse, summary="IHE PIXm (ITI-83) cross-references",
            responses={200: {"description": "A Parameters resource of targetIdentifier and targetId",
                             "content": {FHIR_JSON: {"schema": {"type": "object"}}}}})
def pix(request: Request, ctx: LookupCtx,
        sourceIdentifier: str = Query(min_length=3, max_length=500, pattern=TOKEN_PATTERN,
                                      description="system|value of a source record"),
        targetSystem: list[SystemName] | None = Query(None, max_length=20,
                                                      description="only identifiers of these systems"),
        ) -> FhirResponse:
    """The other identifiers of the person a source identifier belongs to: every other source
    record, and the golden record (system ``urn:mpi:golden``). An unknown identifier answers 404;
    a ``targetSystem`` the MPI does not know answers 403, as ITI-83 asks."""
    system, value = split_token(sourceIdentifier, "sourceIdentifier")
    if system == GOLDEN_SYSTEM:
        gid = ctx.index.resolve_id(value)
    else:
        gid = ctx.index.golden_of(system, value)

    def lookup() -> list[tuple[str, str]]:
        return ctx.index.cross_references(gid)

    refs = ctx.read("pix", f"record {system}/{value}", lookup) if ctx.principal.role == Role.STEWARD else lookup()
    targets = [(s, v) for s, v in refs if (s, v) != (system, value)]
    golden = ctx.index.resolve_id(gid)
    if system != GOLDEN_SYSTEM:
        targets.append((GOLDEN_SYSTEM, golden))
    if targetSystem:
        wanted = set(targetSystem)
        unknown = [t for t in wanted if t != GOLDEN_SYSTEM and not ctx.index.knows_source(t)]
        if unknown:
            raise HTTPException(403, "targetSystem is not an identifier domain of this MPI")
        targets = [(s, v) for s, v in targets if s in wanted]
    return FhirResponse(pix_parameters(targets, golden, _base(request, ctx)))


@router.get("/Patient/{golden_id}", response_class=FhirResponse, summary="The golden Patient",
            responses={200: {"description": "A Patient; a merged-away id answers as replaced-by its survivor",
                             "content": {FHIR_JSON: {"schema": {"type": "object"}}}}})
def patient_read(ctx: LookupCtx,
                 golden_id: str = Path(min_length=1, max_length=40, pattern=ID_PATTERN)) -> FhirResponse:
    """The golden record as a Patient: identifiers of all its source records and, for stewards,
    the surviving demographics (audited). A merged-away id answers as an inactive Patient whose
    ``link`` is ``replaced-by`` the survivor."""
    if ctx.principal.role == Role.STEWARD:
        g = ctx.read("read golden", f"golden {golden_id}", lambda: ctx.index.golden(golden_id))
    else:
        g = ctx.index.golden(golden_id)
    if g.id != golden_id:
        return FhirResponse(golden_patient(golden_id, "merged", replaced_by=g.id))
    attributes = g.attributes if ctx.principal.role == Role.STEWARD else None
    return FhirResponse(golden_patient(g.id, g.status, g.members, attributes))
