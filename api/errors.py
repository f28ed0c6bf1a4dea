"""The library's exception tree mapped to HTTP answers in one place.

Answers are problem details (RFC 9457, ``application/problem+json``) or, under ``/fhir``, FHIR
OperationOutcomes. They name the field that was wrong and never echo a submitted value, so a
demographic value cannot leak through an error; unexpected failures answer 500 with only the
request id, and are logged by type and request id, without the message.
"""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mpi.errors import Conflict, InputError, MPIError, NotFittedError, NotFound, StoreError
from mpi.fhir import operation_outcome

log = logging.getLogger("api")

_FHIR_CODE = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
              409: "conflict", 413: "too-long", 415: "not-supported", 422: "invalid", 429: "throttled",
              500: "exception", 503: "transient"}
_TITLE = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
          409: "Conflict", 413: "Request too large", 415: "Unsupported media type", 422: "Invalid request",
          429: "Too many requests", 500: "Internal error", 503: "Service unavailable"}


def answer(request: Request, status: int, detail: str, errors: list[dict] | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    rid = getattr(request.state, "request_id", "")
    if request.url.path.startswith("/fhir"):
        where = errors[0]["field"] if errors else None
        body = operation_outcome("error", _FHIR_CODE.get(status, "processing"), detail, where)
        if errors and len(errors) > 1:
            body["issue"] += [operation_outcome("error", "invalid", e["message"], e["field"])["issue"][0]
                              for e in errors[1:]]
        return JSONResponse(body, status, headers=headers, media_type="application/fhir+json")
    body = {"type": "about:blank", "title": _TITLE.get(status, "Error"), "status": status, "detail": detail,
            "request_id": rid}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status, headers=headers, media_type="application/problem+json")


def _field(loc: tuple | list) -> str:
    return ".".join(str(part) for part in loc)


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # pydantic's errors carry the submitted value ("input"): only the place and the rule go out
        errors = [{"field": _field(e.get("loc", ())), "message": str(e.get("msg", "invalid"))}
                  for e in exc.errors()][:20]
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        return answer(request, 422, f"{first['field']}: {first['message']}", errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return answer(request, exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(MPIError)
    async def library_error(request: Request, exc: MPIError) -> JSONResponse:
        status, detail, headers = library_status(exc)
        if status == 500:
            log.error("request %s failed: %s", getattr(request.state, "request_id", ""), type(exc).__name__)
        errors = [{"field": exc.column or "body", "message": detail}] if isinstance(exc, InputError) else None
        return answer(request, status, detail, errors, headers)
    # Any other exception is answered (500, request id only) and logged by type in
    # api.middleware.RequestContext, before it could reach the server's traceback logging.


def library_status(exc: MPIError) -> tuple[int, str, dict[str, str] | None]:
    """Status, detail and headers for an error of the library: one mapping for whole requests and
    for the slots of a batch. InputError messages name the record and field, never the value."""
    if isinstance(exc, InputError):
        return 422, str(exc), None
    if isinstance(exc, NotFound):
        return 404, str(exc), None
    if isinstance(exc, Conflict):
        return 409, str(exc), None
    if isinstance(exc, NotFittedError):
        return 503, "the store has no model yet: load records first (mpi load)", None
    if isinstance(exc, StoreError):
        return 503, "the store is busy; try again", {"Retry-After": "1"}
    return 500, "internal error; quote the request id to the operator", None
