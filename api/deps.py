"""What routes are given: the shared services, the caller (from the bearer token) and role checks."""

import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mpi.audit import AuditEntry, AuditLog, auditing
from mpi.errors import MPIError
from mpi.service import MasterPatientIndex
from mpi.tokens import Principal, Role, TokenStore, token_hash

from .limits import RateLimiter
from .settings import Settings

T = TypeVar("T")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
bearer = HTTPBearer(auto_error=False, description="A token from `mpi token create --role ROLE`")


@dataclass
class Services:
    """Everything the routes share, built once per app (see api.app.create_app)."""

    settings: Settings
    index: MasterPatientIndex
    tokens: TokenStore
    audit: AuditLog
    limiter: RateLimiter
    _token_cache: dict[str, tuple[Principal, float]] = field(default_factory=dict)
    _cache_lock: threading.Lock = field(default_factory=threading.Lock)

    def authenticate(self, token: str) -> Principal | None:
        """A live token's principal; checked in the database at most every token_cache_seconds."""
        digest = token_hash(token)
        now = time.monotonic()
        with self._cache_lock:
            hit = self._token_cache.get(digest)
        if hit is not None and now - hit[1] < self.settings.token_cache_seconds:
            return hit[0] if hit[0].expires_at.timestamp() > time.time() else None
        found = self.tokens.authenticate(token)
        with self._cache_lock:
            if found is None:
                self._token_cache.pop(digest, None)
            else:
                if len(self._token_cache) > 10_000:
                    self._token_cache.clear()
                self._token_cache[digest] = (found, now)
        return found

    def forget_token(self, token_id: str) -> None:
        with self._cache_lock:
            for digest, (p, _) in list(self._token_cache.items()):
                if p.token_id == token_id:
                    del self._token_cache[digest]


def services(request: Request) -> Services:
    return request.app.state.services


def request_id(request: Request) -> str:
    return getattr(request.state, "request_id", "")


def new_request_id(offered: str | None) -> str:
    return offered if offered and _REQUEST_ID.match(offered) else uuid.uuid4().hex


def caller(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
    """The principal behind the bearer token; 401 without a live one."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    principal = services(request).authenticate(credentials.credentials)
    if principal is None:
        raise HTTPException(401, "the token is unknown, expired or revoked",
                            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    request.state.principal = principal
    return principal


def allow(*roles: Role) -> Callable[..., Principal]:
    """A dependency that lets only ``roles`` through (403 for any other valid token)."""
    allowed = frozenset(roles)

    def check(principal: Annotated[Principal, Depends(caller)]) -> Principal:
        if principal.role not in allowed:
            raise HTTPException(403, f"the {principal.role.value} role may not do this")
        return principal

    check.roles = allowed  # type: ignore[attr-defined]  # read by the route/role table test
    return check


@dataclass(frozen=True)
class Context:
    """One request's caller, request id and services, with the audit helpers routes use."""

    principal: Principal
    request_id: str
    services: Services

    @property
    def index(self) -> MasterPatientIndex:
        return self.services.index

    @property
    def actor(self) -> str:
        return self.principal.actor

    def entry(self, action: str, target: str = "", reason: str = "", detail: dict | None = None) -> AuditEntry:
        return AuditEntry(actor=self.actor, role=self.principal.role.value, action=action, target=target,
                          reason=reason, request_id=self.request_id, detail=detail or {})

    def change(self, action: str, target: str, work: Callable[[], T], reason: str = "") -> T:
        """Run a change whose audit event commits in its own transaction; a refused or failed
        change is audited too, with its outcome."""
        entry = self.entry(action, target, reason)
        try:
            with auditing(entry):
                return work()
        except Exception as exc:
            self.services.audit.record(replace(entry, outcome=f"failed: {type(exc).__name__}"
                                               if not isinstance(exc, MPIError) else f"refused: {type(exc).__name__}"))
            raise

    def read(self, action: str, target: str, work: Callable[[], T], detail: dict | None = None) -> T:
        """A read of demographics by a person: audited before the data leaves (no audit, no data)."""
        try:
            result = work()
        except Exception as exc:
            self.services.audit.record(replace(self.entry(action, target, detail=detail),
                                               outcome=f"refused: {type(exc).__name__}"))
            raise
        self.services.audit.record(self.entry(action, target, detail=detail))
        return result


def context_for(*roles: Role) -> Callable[..., Context]:
    check = allow(*roles)

    def build(request: Request, principal: Annotated[Principal, Depends(check)]) -> Context:
        return Context(principal, request_id(request), services(request))

    build.roles = check.roles  # type: ignore[attr-defined]
    return build


INTEGRATION, STEWARD, ADMIN = Role.INTEGRATION, Role.STEWARD, Role.ADMIN
IntegrationCtx = Annotated[Context, Depends(context_for(INTEGRATION))]
StewardCtx = Annotated[Context, Depends(context_for(STEWARD))]
AdminCtx = Annotated[Context, Depends(context_for(ADMIN))]
LookupCtx = Annotated[Context, Depends(context_for(INTEGRATION, STEWARD))]
AnyRoleCtx = Annotated[Context, Depends(context_for(INTEGRATION, STEWARD, ADMIN))]
