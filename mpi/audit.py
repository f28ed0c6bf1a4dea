"""The tamper-evident audit trail: who read or changed patient data, when, why and with what outcome.

Each event's hash is SHA-256 over its own fields and the previous event's hash, so a row that is
altered, deleted or moved breaks every hash after it; a head row (last seq and hash), written in
the same transaction, exposes events cut off the end. Triggers in the database refuse UPDATE and
DELETE on the table, so tampering needs someone who can drop them, and :func:`verify` catches that.
Publishing the head hash somewhere else (a ticket, a daily e-mail) anchors the whole chain.

Appends are serialised (a PostgreSQL advisory lock; SQLite writers are serial already) and are
made in the caller's transaction when there is one, so a change and its audit event commit
together or not at all. There is no switch to turn auditing off.

Audit events never hold demographic values: the target is an id (golden id, source/record id,
task id), the detail holds counts and decisions.
"""
from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import insert, select, text, update
from sqlalchemy.engine import Connection, Engine

from .store.database import with_retries
from .store.schema import AuditEvent, AuditHead, utcnow

AE = AuditEvent.__table__
AH = AuditHead.__table__
GENESIS = "0" * 64
AUDIT_LOCK = 7261002  # advisory lock id serialising appends on PostgreSQL


@dataclass(frozen=True)
class AuditEntry:
    """What happened, as the HTTP layer (or any other caller acting for a person) knows it."""

    actor: str
    role: str
    action: str
    target: str = ""
    reason: str = ""
    outcome: str = "ok"
    request_id: str = ""
    detail: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class VerifyReport:
    """The result of walking the chain: ``ok`` or the first place it breaks."""

    ok: bool
    events: int
    head_seq: int
    head_hash: str
    problem: str = ""
    at_seq: int | None = None


# The audit entry for the work being done on this thread/task. MasterPatientIndex appends it inside
# every write transaction it runs while one is set (see :func:`auditing`).
_current: contextvars.ContextVar[AuditEntry | None] = contextvars.ContextVar("mpi_audit_entry", default=None)


@contextmanager
def auditing(entry: AuditEntry) -> Iterator[None]:
    """Within this block, every write transaction of the store appends ``entry`` to the audit log
    in the same transaction (the change and its audit event commit together)."""
    token = _current.set(entry)
    try:
        yield
    finally:
        _current.reset(token)


def current_entry() -> AuditEntry | None:
    return _current.get()


def _digest(seq: int, at: str, e: Mapping[str, object], prev_hash: str) -> str:
    body = json.dumps({"seq": seq, "at": at, "actor": e["actor"], "role": e["role"], "action": e["action"],
                       "target": e["target"], "reason": e["reason"], "outcome": e["outcome"],
                       "request_id": e["request_id"], "detail": e["detail"], "prev": prev_hash},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(body.encode()).hexdigest()


def _at_text(at: dt.datetime) -> str:
    if at.tzinfo is None:  # SQLite hands datetimes back naive; they were stored as UTC
        at = at.replace(tzinfo=dt.timezone.utc)
    return at.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def append(conn: Connection, entry: AuditEntry) -> int:
    """Append ``entry`` in the caller's (write) transaction; returns its sequence number."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK})
    head = conn.execute(select(AH.c.seq, AH.c.hash).where(AH.c.id == 1)).first()
    seq, prev = (head.seq + 1, head.hash) if head else (1, GENESIS)
    at = utcnow()
    row = {"actor": entry.actor[:200], "role": entry.role[:20], "action": entry.action[:60],
           "target": entry.target[:300], "reason": entry.reason, "outcome": entry.outcome[:60],
           "request_id": entry.request_id[:64],
           "detail": json.dumps(dict(entry.detail), sort_keys=True, separators=(",", ":"), default=str)}
    digest = _digest(seq, _at_text(at), row, prev)
    conn.execute(insert(AE).values(seq=seq, at=at, prev_hash=prev, hash=digest, **row))
    if head:
        conn.execute(update(AH).where(AH.c.id == 1).values(seq=seq, hash=digest))
    else:
        conn.execute(insert(AH).values(id=1, seq=seq, hash=digest))
    return seq


class AuditLog:
    """Appends to and reads the audit log of the store at ``engine``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, entry: AuditEntry) -> int:
        """Append ``entry`` in a transaction of its own (reads, refusals and failed changes)."""
        def work() -> int:
            with self.engine.connect() as conn:
                conn.info["write"] = True
                with conn.begin():
                    return append(conn, entry)

        return with_retries(work)

    def events(self, after: int = 0, limit: int = 100) -> list[dict]:
        with self.engine.connect() as conn:
            conn.info["write"] = False
            rows = conn.execute(select(AE).where(AE.c.seq > after).order_by(AE.c.seq).limit(limit)).all()
        return [{"seq": r.seq, "at": _at_text(r.at), "actor": r.actor, "role": r.role, "action": r.action,
                 "target": r.target, "reason": r.reason, "outcome": r.outcome, "request_id": r.request_id,
                 "detail": json.loads(r.detail), "hash": r.hash} for r in rows]

    def verify(self, anchor: tuple[int, str] | None = None) -> VerifyReport:
        """Walk the whole chain: recompute every hash, check every link and the sequence, and
        check the head. ``anchor`` (seq, hash), kept outside the database, must still hold."""
        with self.engine.connect() as conn:
            conn.info["write"] = False
            with conn.begin():
                head = conn.execute(select(AH.c.seq, AH.c.hash).where(AH.c.id == 1)).first()
                head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
                prev, expected, n = GENESIS, 1, 0
                anchor_seen = anchor is None
                result = conn.execution_options(yield_per=5000).execute(select(AE).order_by(AE.c.seq))
                for r in result:
                    n += 1
                    if r.seq != expected:
                        return VerifyReport(False, n, head_seq, head_hash,
                                            f"event {expected} is missing (next is {r.seq})", expected)
                    if r.prev_hash != prev:
                        return VerifyReport(False, n, head_seq, head_hash,
                                            "event does not follow the one before it (reordered or replaced)",
                                            r.seq)
                    fields = {"actor": r.actor, "role": r.role, "action": r.action, "target": r.target,
                              "reason": r.reason, "outcome": r.outcome, "request_id": r.request_id,
                              "detail": r.detail}
                    if _digest(r.seq, _at_text(r.at), fields, prev) != r.hash:
                        return VerifyReport(False, n, head_seq, head_hash, "event was altered", r.seq)
                    if anchor is not None and r.seq == anchor[0]:
                        if r.hash != anchor[1]:
                            return VerifyReport(False, n, head_seq, head_hash,
                                                "event does not match the anchor kept outside", r.seq)
                        anchor_seen = True
                    prev, expected = r.hash, r.seq + 1
        if (head_seq, head_hash) != (expected - 1, prev):
            return VerifyReport(False, n, head_seq, head_hash,
                                f"the head names event {head_seq} but the log ends at {expected - 1}", head_seq)
        if not anchor_seen:
            return VerifyReport(False, n, head_seq, head_hash, "the anchored event is gone", anchor[0] if anchor else None)
        return VerifyReport(True, n, head_seq, head_hash)


__all__ = ["AuditEntry", "AuditLog", "VerifyReport", "append", "auditing", "current_entry"]
