"""The store's tables. Every change is a new row or an event; nothing a person decided is lost.

- ``source_record``: one row per (source, record_id), the identity a hospital system sends.
- ``record_version``: immutable versions of its demographics, with a content hash, the raw
  values (for display and audit) and the normalised values (so candidates are never re-normalised).
- ``golden``: a person. Its id never changes meaning: when merged away it points to the survivor
  (``replaced_by``) and is never reused.
- ``link``: the one current golden of each source record (the primary key makes "one record, one
  golden" a database constraint), with state, probability, explanation, model, actor and time.
- ``block_key``: the real-time candidate index (hashed blocking keys, see mpi.blocking.keys).
- ``review_task`` / ``match_label``: the steward's queue and the decisions, kept as labels.
- ``event``: the append-only log every history is read from.
- ``model_version``: every model used, with the population statistics it scores with.
"""
from __future__ import annotations

import datetime as dt

import orjson
from sqlalchemy import BigInteger, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def load_values(stored: str | bytes) -> dict:
    """A stored record's raw or normalised values (``source_record.normalised``,
    ``record_version.raw``). They are plain JSON of strings, integers and flags, which orjson
    reads about three times faster than ``json``: every match and ingest reads a few dozen."""
    return orjson.loads(stored)


class ModelVersion(SQLModel, table=True):
    __tablename__ = "model_version"
    id: str = Field(primary_key=True, max_length=64)
    created_at: dt.datetime = Field(default_factory=utcnow)
    body: str = Field(sa_column=Column(Text, nullable=False))  # the model JSON (mpi.model.serialise)
    stats: str = Field(sa_column=Column(Text, nullable=False))  # PopulationStats JSON
    thresholds: str = Field(sa_column=Column(Text, nullable=False))
    active: bool = Field(default=False, index=True)
    origin: str = Field(default="", max_length=200)  # e.g. "learned from records.csv", "file model.json"


class SourceRecord(SQLModel, table=True):
    __tablename__ = "source_record"
    __table_args__ = (UniqueConstraint("source", "record_id", name="uq_source_record"),)
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=200)
    record_id: str = Field(max_length=200, index=True)
    current_version: int = 1
    content_hash: str = Field(max_length=64)
    normalised: str = Field(sa_column=Column(Text, nullable=False))  # of the current version (JSON)
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class RecordVersion(SQLModel, table=True):
    __tablename__ = "record_version"
    __table_args__ = (UniqueConstraint("record", "version", name="uq_record_version"),)
    id: int | None = Field(default=None, primary_key=True)
    record: int = Field(foreign_key="source_record.id", index=True)
    version: int
    content_hash: str = Field(max_length=64)
    raw: str = Field(sa_column=Column(Text, nullable=False))
    normalised: str = Field(sa_column=Column(Text, nullable=False))
    received_at: dt.datetime = Field(default_factory=utcnow)
    actor: str = Field(default="system", max_length=200)


class Golden(SQLModel, table=True):
    __tablename__ = "golden"
    id: str = Field(primary_key=True, max_length=40)
    status: str = Field(default="active", max_length=16, index=True)  # active | merged
    replaced_by: str | None = Field(default=None, max_length=40, index=True)
    attributes: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # survivorship + provenance
    founder: int | None = Field(default=None, index=True)  # the source record that created it
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class Link(SQLModel, table=True):
    __tablename__ = "link"
    record: int = Field(primary_key=True, foreign_key="source_record.id")
    golden_id: str = Field(foreign_key="golden.id", index=True, max_length=40)
    # on PostgreSQL, migration 0003 makes the candidate lookup's link indexes covering:
    # ix_link_record_golden (record) INCLUDE (golden_id), ix_link_golden_id INCLUDE (record)
    state: str = Field(max_length=16)  # auto | manual | review
    probability: float = 1.0
    explanation: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    model_version: str | None = Field(default=None, max_length=64)
    actor: str = Field(default="system", max_length=200)
    linked_at: dt.datetime = Field(default_factory=utcnow)


class BlockKey(SQLModel, table=True):
    __tablename__ = "block_key"
    __table_args__ = (Index("ix_block_key_fine", "fine", "record"), Index("ix_block_key_record", "record"))
    key: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    record: int = Field(primary_key=True, foreign_key="source_record.id")
    fine: int = Field(sa_column=Column(BigInteger, nullable=False))


class ReviewTask(SQLModel, table=True):
    __tablename__ = "review_task"
    __table_args__ = (Index("ix_review_open", "status", "priority"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)  # record_golden | golden_golden
    record: int | None = Field(default=None, foreign_key="source_record.id", index=True)
    candidate_record: int | None = Field(default=None, foreign_key="source_record.id")
    golden_id: str | None = Field(default=None, max_length=40, index=True)
    other_golden_id: str | None = Field(default=None, max_length=40, index=True)
    probability: float = 0.0
    priority: float = 0.0
    rule: str = Field(default="", max_length=200)
    explanation: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    status: str = Field(default="open", max_length=16)  # open | claimed | decided | obsolete
    claimed_by: str | None = Field(default=None, max_length=200)
    created_at: dt.datetime = Field(default_factory=utcnow)
    decided_at: dt.datetime | None = None
    decided_by: str | None = Field(default=None, max_length=200)
    decision: str | None = Field(default=None, max_length=16)  # same | different
    reason: str | None = Field(default=None, sa_column=Column(Text))


class MatchLabel(SQLModel, table=True):
    __tablename__ = "match_label"
    id: int | None = Field(default=None, primary_key=True)
    record_a: int = Field(foreign_key="source_record.id", index=True)
    record_b: int = Field(foreign_key="source_record.id", index=True)
    same: bool
    actor: str = Field(max_length=200)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    task_id: int | None = None
    created_at: dt.datetime = Field(default_factory=utcnow)


class Event(SQLModel, table=True):
    __tablename__ = "event"
    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(default_factory=utcnow)
    kind: str = Field(max_length=20)  # ingest | update | relink | merge | unmerge | split | decide | review
    actor: str = Field(max_length=200)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    golden_id: str | None = Field(default=None, max_length=40, index=True)
    other_golden_id: str | None = Field(default=None, max_length=40, index=True)
    record: int | None = Field(default=None, index=True)
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False))


class ApiToken(SQLModel, table=True):
    """A bearer token of the HTTP service. Only its SHA-256 is kept: a stolen database does not
    yield usable tokens (they are 256-bit random, so a slow password hash adds nothing)."""
    __tablename__ = "api_token"
    id: str = Field(primary_key=True, max_length=24)  # public handle, shown in lists and the audit log
    token_hash: str = Field(max_length=64, unique=True)
    role: str = Field(max_length=20)  # integration | steward | admin
    name: str = Field(default="", max_length=200)  # who holds it: the actor recorded in the audit log
    created_at: dt.datetime = Field(default_factory=utcnow)
    expires_at: dt.datetime
    revoked_at: dt.datetime | None = None
    created_by: str = Field(default="", max_length=200)


class AuditEvent(SQLModel, table=True):
    """The tamper-evident audit trail: each row's hash covers its fields and the previous row's
    hash, so altering, deleting or reordering rows breaks the chain (``mpi audit verify``).
    Database triggers refuse UPDATE and DELETE on this table."""
    __tablename__ = "audit_event"
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: dt.datetime
    actor: str = Field(max_length=200)
    role: str = Field(max_length=20)
    action: str = Field(max_length=60)
    target: str = Field(default="", max_length=300)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    outcome: str = Field(max_length=60)
    request_id: str = Field(default="", max_length=64)
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    """The chain's last (seq, hash), written with every append: cutting events off the end of
    the log shows as a head that points past the last row."""
    __tablename__ = "audit_head"
    id: int = Field(default=1, primary_key=True)
    seq: int
    hash: str = Field(max_length=64)
