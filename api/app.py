"""The FastAPI application, built by :func:`create_app` (nothing happens at import time)."""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from mpi.audit import AuditLog
from mpi.fhir import PATIENT_SCHEMA
from mpi.service import MasterPatientIndex
from mpi.tokens import TokenStore

from . import errors
from .deps import Services
from .limits import BodyLimit, RateLimiter
from .middleware import RequestContext
from .routes import admin, fhir, goldens, records, review
from .settings import Settings

_PROBLEM = {"type": "object", "required": ["title", "status"], "properties": {
    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
    "detail": {"type": "string"}, "request_id": {"type": "string"},
    "errors": {"type": "array", "items": {"type": "object", "properties": {
        "field": {"type": "string"}, "message": {"type": "string"}}}}}}
_OUTCOME = {"type": "object", "required": ["resourceType", "issue"], "properties": {
    "resourceType": {"type": "string", "enum": ["OperationOutcome"]}, "issue": {"type": "array"}}}
_ERRORS = {"400": "The body could not be read as JSON (not UTF-8, or nested too deeply)",
           "401": "No token, or an unknown, expired or revoked one", "403": "The token's role may not do this",
           "404": "No such record, golden record or task", "409": "The store's state forbids this change",
           "413": "Request body or batch too large", "415": "The body is not JSON", "422": "Invalid request (the field is named)",
           "429": "Rate limit reached", "503": "No model yet, or the store is busy"}


class _NoResultRows(logging.Filter):
    """SQLAlchemy logs every result row at DEBUG when its logger is enabled for DEBUG (a root
    logger at DEBUG is enough); rows are patients' demographics. (Statements are logged at INFO,
    with their parameters hidden: the store's engines use hide_parameters.)"""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


def _never_log_result_rows() -> None:
    engine_log = logging.getLogger("sqlalchemy.engine.Engine")
    if not any(isinstance(f, _NoResultRows) for f in engine_log.filters):
        engine_log.addFilter(_NoResultRows())


def create_app(settings: Settings | None = None) -> FastAPI:
    """The HTTP service over one store. ``settings`` default to ``Settings.from_env()``."""
    settings = settings or Settings.from_env()
    _never_log_result_rows()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        index = MasterPatientIndex(settings.database_url)
        app.state.services = Services(settings, index, TokenStore(index.engine), AuditLog(index.engine),
                                      RateLimiter(settings.match_rate_per_minute, settings.match_burst))
        try:
            yield
        finally:
            index.close()

    app = FastAPI(title="mpi", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Master patient index: ingest, match (FHIR $match), cross-references (IHE PIXm), "
                              "golden records, merge/unmerge and review. Every route but /health and "
                              "/openapi.json needs a bearer token; the README lists which role may call what.")
    errors.install(app)
    for module in (records, fhir, goldens, review, admin):
        app.include_router(module.router)

    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContext)  # outermost: every answer, 413 included, carries the request id
    app.openapi = lambda: _openapi(app, settings)  # type: ignore[method-assign]
    return app


def _match_parameter_schema(max_count: int) -> dict[str, Any]:
    """``Parameters.parameter`` of $match as the route reads it: the three parameters, each with
    its one value, the resource a Patient as mpi.fhir reads it, and the resource required. (That a
    name may appear only once is checked too, but JSON Schema cannot say it.)"""
    def param(name: str, key: str, value: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "required": ["name", key], "additionalProperties": False,
                "properties": {"name": {"type": "string", "enum": [name]}, key: value}}

    resource = param("resource", "resource", PATIENT_SCHEMA)
    return {"type": "array", "maxItems": 20, "contains": resource, "items": {"oneOf": [
        resource, param("count", "valueInteger", {"type": "integer", "minimum": 1, "maximum": max_count}),
        param("onlyCertainMatches", "valueBoolean", {"type": "boolean"})]}}


def _openapi(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """FastAPI's document, with the error answers we really give (problem details, or FHIR
    OperationOutcomes under /fhir) and the bearer scheme on every route but health."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    doc.setdefault("components", {}).setdefault("schemas", {})["Problem"] = _PROBLEM
    doc["components"]["schemas"]["OperationOutcome"] = _OUTCOME
    for path, ops in doc.get("paths", {}).items():
        fhir_path = path.startswith("/fhir")
        ref = {"$ref": "#/components/schemas/OperationOutcome" if fhir_path else "#/components/schemas/Problem"}
        media = "application/fhir+json" if fhir_path else "application/problem+json"
        for op in ops.values():
            responses = op.setdefault("responses", {})
            public = not op.get("security")
            for code, text in _ERRORS.items():
                if public and code in ("401", "403", "429"):
                    continue
                if code in ("400", "415") and "requestBody" not in op:
                    continue
                responses[code] = {"description": text, "content": {media: {"schema": ref}}}
    schemas = doc["components"]["schemas"]
    if "FhirParameters" in schemas:
        schemas["FhirParameters"]["properties"]["parameter"] = _match_parameter_schema(settings.max_match_count)
        schemas.pop("FhirParameter", None)
    doc["components"]["schemas"].pop("HTTPValidationError", None)
    doc["components"]["schemas"].pop("ValidationError", None)
    app.openapi_schema = doc
    return doc


def app_from_env() -> FastAPI:
    """The factory ``mpi serve`` hands to uvicorn (its workers read MPI_* variables)."""
    return create_app(Settings.from_env())
