"""Bearer tokens of the HTTP service: created, checked, listed and revoked here.

A token is ``mpi_<id>_<secret>``: the id is a public handle (lists, audit log), the secret 256
random bits. Only SHA-256 of the whole token is stored, so the database never holds a usable
token; a fast hash is enough because the secret cannot be guessed (no dictionary to attack).
Tokens expire; a revoked or expired token is refused like an unknown one.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass, replace
from enum import Enum

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from .audit import append, current_entry
from .errors import InputError, NotFound
from .store.database import with_retries
from .store.schema import ApiToken, utcnow

TK = ApiToken.__table__
PREFIX = "mpi_"
DEFAULT_DAYS = 90
MAX_DAYS = 3650
MAX_NAME = 185  # the actor "NAME (id)" of a token's changes must fit the 200 characters every change allows


class Role(str, Enum):
    """What a token may do. Roles are not nested: an admin manages tokens and reads the audit
    log but does not review pairs unless also given a steward token."""

    INTEGRATION = "integration"  # ingest, match, PIX: ids, scores and grades, no other source's demographics
    STEWARD = "steward"  # review queue, merge/unmerge/split, golden records with demographics
    ADMIN = "admin"  # tokens, configuration, audit log


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's public id, its holder's name and its role."""

    token_id: str
    name: str
    role: Role
    expires_at: dt.datetime

    @property
    def actor(self) -> str:
        return f"{self.name or 'token'} ({self.token_id})"


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once; never stored
    principal: Principal


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _audit(conn, detail: dict) -> None:  # type: ignore[no-untyped-def]
    """Token changes are audited in their own transaction (by whoever set the audit entry)."""
    entry = current_entry()
    if entry is not None:
        append(conn, replace(entry, detail={**entry.detail, **detail}))


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


class TokenStore:
    """The api_token table of one store."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, role: Role | str, name: str = "", days: int = DEFAULT_DAYS, created_by: str = "cli") -> IssuedToken:
        try:
            role = Role(role)
        except ValueError:
            raise InputError(f"unknown role; use one of {', '.join(r.value for r in Role)}", column="role") from None
        if not 1 <= days <= MAX_DAYS:
            raise InputError(f"a token lives 1 to {MAX_DAYS} days", column="days")
        # the name is the actor of the holder's changes: one the store would refuse makes a token
        # that authenticates but can change nothing
        if len(name) > MAX_NAME or any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
            raise InputError(f"a token's name is at most {MAX_NAME} characters, without control characters",
                             column="name")
        token_id = secrets.token_hex(6)
        token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        expires = utcnow() + dt.timedelta(days=days)

        def work() -> None:
            with self.engine.connect() as conn:
                conn.info["write"] = True
                with conn.begin():
                    conn.execute(insert(TK).values(id=token_id, token_hash=token_hash(token), role=role.value,
                                                   name=name, created_at=utcnow(), expires_at=expires,
                                                   created_by=created_by[:200]))
                    _audit(conn, {"token": token_id, "role": role.value})

        with_retries(work)
        return IssuedToken(token, Principal(token_id, name, role, expires))

    def authenticate(self, token: str) -> Principal | None:
        """The principal of a live token, or None (unknown, malformed, expired or revoked)."""
        if not token.startswith(PREFIX) or len(token) > 200:
            return None
        digest = token_hash(token)

        def read():  # type: ignore[no-untyped-def]
            with self.engine.connect() as conn:
                conn.info["write"] = False
                found = conn.execute(select(TK).where(TK.c.token_hash == digest)).first()
                conn.rollback()
                return found
        row = with_retries(read)  # every request starts here: a dropped connection is renewed
        if row is None:  # looked up by the hash: the database compared it
            return None
        if row.revoked_at is not None or _aware(row.expires_at) <= utcnow():
            return None
        return Principal(row.id, row.name, Role(row.role), _aware(row.expires_at))

    def list(self) -> list[dict]:
        with self.engine.connect() as conn:
            conn.info["write"] = False
            rows = conn.execute(select(TK).order_by(TK.c.created_at)).all()
            conn.rollback()
        now = utcnow()
        return [{"id": r.id, "role": r.role, "name": r.name, "created_at": _aware(r.created_at).isoformat(),
                 "expires_at": _aware(r.expires_at).isoformat(),
                 "revoked_at": None if r.revoked_at is None else _aware(r.revoked_at).isoformat(),
                 "live": r.revoked_at is None and _aware(r.expires_at) > now} for r in rows]

    def revoke(self, token_id: str) -> None:
        def work() -> int:
            with self.engine.connect() as conn:
                conn.info["write"] = True
                with conn.begin():
                    n = conn.execute(update(TK).where(TK.c.id == token_id, TK.c.revoked_at.is_(None))
                                     .values(revoked_at=utcnow())).rowcount
                    if n:
                        _audit(conn, {"token": token_id})
                    return n

        if not with_retries(work):
            if not any(t["id"] == token_id for t in self.list()):
                raise NotFound(f"no token {token_id!r}")


__all__ = ["IssuedToken", "Principal", "Role", "TokenStore", "token_hash"]
