"""Admins: tokens, configuration and the audit log. Plus model info and health for everyone."""
from __future__ import annotations

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy import text

from mpi.audit import VerifyReport

from ..deps import AdminCtx, AnyRoleCtx, GuardedRoute, services
from ..schemas import ID_PATTERN, AuditEventOut, Health, ModelOut, TokenCreated, TokenIn, TokenInfo

router = APIRouter(tags=["administration"], route_class=GuardedRoute)


@router.post("/tokens", response_model=TokenCreated, status_code=201, summary="Create a token (shown once)")
def create_token(body: TokenIn, ctx: AdminCtx) -> TokenCreated:
    issued = ctx.change("create token", f"role {body.role}",
                        lambda: ctx.services.tokens.create(body.role, body.name, body.days, created_by=ctx.actor))
    p = issued.principal
    return TokenCreated(id=p.token_id, token=issued.token, role=p.role.value, name=p.name,
                        expires_at=p.expires_at.isoformat())


@router.get("/tokens", response_model=list[TokenInfo], summary="Tokens (never their secrets)")
def list_tokens(ctx: AdminCtx) -> list[dict]:
    return ctx.services.tokens.list()


@router.delete("/tokens/{token_id}", status_code=204, summary="Revoke a token")
def revoke_token(ctx: AdminCtx, token_id: str = Path(min_length=1, max_length=24, pattern=ID_PATTERN)) -> None:
    ctx.change("revoke token", f"token {token_id}", lambda: ctx.services.tokens.revoke(token_id))
    ctx.services.forget_token(token_id)


@router.get("/audit", response_model=list[AuditEventOut], summary="Audit events, oldest first")
def audit_events(ctx: AdminCtx, after: int = Query(0, ge=0, le=2**31 - 1), limit: int = Query(100, ge=1, le=1000)) -> list[dict]:
    return ctx.read("read audit", f"after {after}", lambda: ctx.services.audit.events(after, limit))


@router.get("/audit/verify", response_model=VerifyReport, summary="Check the audit log's hash chain")
def audit_verify(ctx: AdminCtx) -> VerifyReport:
    return ctx.services.audit.verify()


@router.get("/config", summary="The service's settings (no secrets)")
def config(ctx: AdminCtx) -> dict:
    return ctx.services.settings.public()


@router.get("/model", response_model=ModelOut, summary="The model in use")
def model(ctx: AnyRoleCtx) -> ModelOut:
    version = ctx.index.model_version
    if version is None:
        return ModelOut(model_version=None)
    t = ctx.index.matcher.thresholds
    return ModelOut(model_version=version, auto_link=t.auto_link, review=t.review)


@router.get("/health", response_model=Health, summary="Liveness and database reachability (no token)")
def health(request: Request, response: Response) -> Health:
    svc = services(request)
    try:
        with svc.index.engine.connect() as conn:
            conn.info["write"] = False
            conn.execute(text("SELECT 1"))
            conn.rollback()
    except Exception:  # noqa: BLE001 - health reports, it does not raise
        response.status_code = 503
        return Health(status="degraded", database="unreachable")
    return Health(status="ok", database="ok", model_version=svc.index.model_version)
