"""What routes are given: the shared services, the caller (from the bearer token) and role checks."""

import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

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

    def cached(self, token: str) -> Principal | None:
        """The principal of a token checked within token_cache_seconds and not expired since,
        else None (then :meth:`authenticate` asks the database). Never blocks on I/O."""
        with self._cache_lock:
            hit = self._token_cache.get(token_hash(token))
        if hit is not None and time.monotonic() - hit[1] < self.settings.token_cache_seconds \
                and hit[0].expires_at.timestamp() > time.time():
            return hit[0]
        return None

    def authenticate(self, token: str) -> Principal | None:
        """A live token's principal; checked in the database at most every token_cache_seconds."""
        known = self.cached(token)
        if known is not None:
            return known
        digest = token_hash(token)
        now = time.monotonic()
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


def authenticate(request: Request) -> Principal:
    """The principal behind the request's bearer token (remembered on the request); 401 without
    a live one."""
    known = getattr(request.state, "principal", None)
    if known is not None:
        return known
    token = _bearer_token(request)
    if not token:
        raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    principal = services(request).authenticate(token)
    if principal is None:
        raise HTTPException(401, "the token is unknown, expired or revoked",
                            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    request.state.principal = principal
    return principal


def _bearer_token(request: Request) -> str:
    """The token of an ``Authorization: Bearer ...`` header, "" without one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _from_cache(request: Request) -> Principal | None:
    token = _bearer_token(request)
    if not token:
        return None
    principal = services(request).cached(token)
    if principal is not None:
        request.state.principal = principal
    return principal


async def caller(request: Request,
                 credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
    """The principal behind the bearer token; 401 without a live one. (``credentials`` puts the
    bearer scheme into the OpenAPI document; :class:`GuardedRoute` has usually checked already.)"""
    known = getattr(request.state, "principal", None)
    return known if known is not None else await run_in_threadpool(authenticate, request)


def allow(*roles: Role) -> Callable[..., Principal]:
    """A dependency that lets only ``roles`` through (403 for any other valid token)."""
    allowed = frozenset(roles)

    async def check(principal: Annotated[Principal, Depends(caller)]) -> Principal:
        if principal.role not in allowed:
            raise HTTPException(403, f"the {principal.role.value} role may not do this")
        return principal

    check.roles = allowed  # type: ignore[attr-defined]  # read by GuardedRoute
    return check


def declared_roles(dependant: Dependant) -> frozenset[Role] | None:
    """The roles a route's dependencies let through (see :func:`allow`), None for a public route."""
    for dep in dependant.dependencies:
        roles = getattr(dep.call, "roles", None)
        if roles is None:
            roles = declared_roles(dep)
        if roles is not None:
            return roles
    return None


def _has_body(request: Request) -> bool:
    return request.headers.get("content-length", "0") not in ("", "0") or "transfer-encoding" in request.headers


def is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class GuardedRoute(APIRoute):
    """A route that checks, in this order and before its body is read, parsed or validated: the
    bearer token (401), the role (403) and that a body is JSON (415). FastAPI parses the body
    before it solves dependencies, so without this a caller without a token would get 422 for
    malformed JSON, i.e. learn about a route's body before being authenticated."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()
        roles = declared_roles(self.dependant)

        async def guarded(request: Request) -> Response:
            if roles is not None:
                # a token seen lately is answered from memory, on the event loop; only a token
                # the database must check costs a trip to the thread pool
                principal = _from_cache(request) or await run_in_threadpool(authenticate, request)
                if principal.role not in roles:
                    raise HTTPException(403, f"the {principal.role.value} role may not do this")
            if _has_body(request) and not is_json(request.headers.get("content-type", "")):
                raise HTTPException(415, "send the body as application/json (application/fhir+json on /fhir routes)")
            return await handler(request)

        return guarded


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

    async def build(request: Request, principal: Annotated[Principal, Depends(check)]) -> Context:
        return Context(principal, request_id(request), services(request))

    build.roles = check.roles  # type: ignore[attr-defined]
    return build


INTEGRATION, STEWARD, ADMIN = Role.INTEGRATION, Role.STEWARD, Role.ADMIN
IntegrationCtx = Annotated[Context, Depends(context_for(INTEGRATION))]
StewardCtx = Annotated[Context, Depends(context_for(STEWARD))]
AdminCtx = Annotated[Context, Depends(context_for(ADMIN))]
LookupCtx = Annotated[Context, Depends(context_for(INTEGRATION, STEWARD))]
AnyRoleCtx = Annotated[Context, Depends(context_for(INTEGRATION, STEWARD, ADMIN))]
