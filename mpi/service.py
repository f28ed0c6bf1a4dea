"""The persistent master patient index: ``MasterPatientIndex(database_url)``.

The facade owns transactions and locking; the algorithms live elsewhere (normalising, keys,
comparators, model and decision rules in the batch modules; the real-time choice in
:mod:`mpi.realtime`; golden fields in :mod:`mpi.survivorship`). Every change happens in one
transaction together with its event, so a link, its golden record and its history land together
or not at all.

Concurrency. Two records of one person share at least one blocking key (otherwise they could
never be candidates of each other), so an ingest first takes a transaction-scoped lock on each of
its keys (PostgreSQL advisory locks, in sorted order; SQLite serialises writers with
``BEGIN IMMEDIATE``). Golden rows are locked ``FOR UPDATE`` before their membership changes, and a
golden found merged away meanwhile sends the work round again. Serialization failures, deadlocks
and busy files are retried (:func:`mpi.store.database.with_retries`).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import Connection, bindparam, delete, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from .audit import append as append_audit, current_entry
from .blocking.keys import RecordKey, frame_keys
from .decision import Decision, Thresholds
from .errors import InputError, NotFittedError
from .model.fellegi_sunter import FellegiSunterModel
from .model.serialise import model_from_dict, model_to_dict
from .normalise.frame import normalise_frame
from .population import PopulationStats
from .realtime import MAX_MEMBERS_SCORED, Choice, Matcher, MemberScores
from .records import CANONICAL_COLUMNS, ID_COLUMN, SOURCE_COLUMN, validate_records
from .store.database import (Conflict, NotFound, Retry, StoreError, close_engine, driver_execute, driver_executemany,
                             driver_rows, is_sqlite, make_engine, pg_int_array, upgrade, with_retries)
from .store.schema import (BlockKey, Event, Golden, Link, MatchLabel, ModelVersion, RecordVersion, ReviewTask,
                           SourceRecord, load_values, utcnow)
from .survivorship import Member, SurvivorshipPolicy, golden_attributes

log = logging.getLogger(__name__)

SR, RV, GO, LI, BK, RT, ML, EV, MV = (t.__table__ for t in (SourceRecord, RecordVersion, Golden, Link, BlockKey,
                                                             ReviewTask, MatchLabel, Event, ModelVersion))
# Statements of the hot path, built once (building them per call costs more than running them).
_FIND_RECORD = select(SR.c.id, SR.c.content_hash, SR.c.current_version).where(
    SR.c.source == bindparam("s"), SR.c.record_id == bindparam("r"))
_INSERT_RECORD = insert(SR).returning(SR.c.id)
_INSERT_VERSION, _INSERT_LINK, _INSERT_GOLDEN, _INSERT_EVENT = (insert(t) for t in (RV, LI, GO, EV))
_COUNT_FOUNDED = select(func.count()).select_from(GO).where(GO.c.founder == bindparam("f"))
_SET_ATTRIBUTES = update(GO).where(GO.c.id == bindparam("g")).values(attributes=bindparam("attributes"),
                                                                     updated_at=bindparam("updated_at"))
_GOLDEN_STATUS = (select(GO.c.id, GO.c.status, GO.c.replaced_by)
                  .where(GO.c.id.in_(bindparam("ids", expanding=True))).order_by(GO.c.id))
_GOLDEN_STATUS_FOR_UPDATE = _GOLDEN_STATUS.with_for_update()
OUTCOME = {Decision.AUTO_LINK: "auto_link", Decision.REVIEW: "review", Decision.DISTINCT: "new"}
MATCH_GRADE = {Decision.AUTO_LINK: "certain", Decision.REVIEW: "probable", Decision.DISTINCT: "possible"}
MIN_MATCH_PROBABILITY = 0.05  # below this a golden record is no candidate worth showing
INGEST_CHUNK = 20_000  # records normalised and keyed at a time by ingest_frame (bounds its memory)
REFRESH_CHUNK = 500  # golden records whose fields are recomputed per statement
ANALYZE_AFTER = 5_000  # new records after which ingest_frame refreshes the planner's statistics


@dataclass
class IngestResult:
    """What happened to one incoming record."""

    source: str
    record_id: str
    golden_id: str
    decision: str  # auto_link | review | new | unchanged | manual
    probability: float
    explanation: dict = field(default_factory=dict)
    review_task_id: int | None = None
    model_version: str | None = None


@dataclass
class MatchCandidate:
    """A stored golden record ranked against a query record (nothing stored)."""

    golden_id: str
    probability: float
    decision: str  # auto_link | review | new (what ingesting the query would do with this golden)
    grade: str  # certain | probable | possible
    explanation: dict = field(default_factory=dict)


@dataclass
class GoldenRecord:
    """A person: current fields with provenance, member source records and merged-away ids."""

    id: str
    status: str
    attributes: dict
    members: list[dict]
    replaced_ids: list[str]
    requested_id: str  # the id asked for (may be merged away into ``id``)


def canonical_raw(record: Mapping[str, object]) -> dict[str, str]:
    """The record's canonical fields as strings (missing -> ""), with record_id and source checked."""
    if not isinstance(record, Mapping):
        raise InputError("a record must be a mapping of field names to values")
    rid = record.get(ID_COLUMN)
    if rid is None or str(rid).strip() == "":
        raise InputError("record has no record_id", column=ID_COLUMN)
    out = {}
    for col in CANONICAL_COLUMNS:
        value = record.get(col)
        out[col] = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    out[ID_COLUMN] = out[ID_COLUMN].strip()
    out[SOURCE_COLUMN] = out[SOURCE_COLUMN].strip() or "default"
    for col in (ID_COLUMN, SOURCE_COLUMN):
        if any(ord(ch) < 32 for ch in out[col]):
            raise InputError("record_id and source may not contain control characters", column=col)
    if len(out[ID_COLUMN]) > 200 or len(out[SOURCE_COLUMN]) > 200:
        raise InputError("record_id and source may be at most 200 characters", record_id=out[ID_COLUMN][:40],
                         column=ID_COLUMN if len(out[ID_COLUMN]) > 200 else SOURCE_COLUMN)
    return out


def content_hash(raw: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps([raw.get(c, "") for c in CANONICAL_COLUMNS]).encode()).hexdigest()


def golden_id_for(source: str, rid: str, founded: int) -> str:
    """The id of the golden record a source record founds when it has founded ``founded`` before:
    derived, so a golden id is the same whichever path (one by one, batched) created it."""
    return "G" + hashlib.blake2b(f"{source}\x1f{rid}\x1f{founded}".encode(), digest_size=8).hexdigest()


def _lock_id(value: str) -> int:
    return int.from_bytes(hashlib.blake2b(value.encode(), digest_size=8).digest(), "big", signed=True)


def _record_locks(raw: Mapping[str, str], keys: Iterable[RecordKey]) -> list[int]:
    """The advisory locks an ingest takes: the record's identity and each of its blocking keys."""
    return [_lock_id(f"{raw[SOURCE_COLUMN]}\x1f{raw[ID_COLUMN]}"), *(k.key for k in keys)]


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), default=_json_default)


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    raise TypeError(type(value).__name__)


class MasterPatientIndex:
    """A master patient index backed by a SQL database (SQLite file or PostgreSQL).

    ``lock_keys=False`` turns off the blocking-key locks; it exists only so a test can show that
    concurrent loaders then create duplicate golden records. Do not use it otherwise.
    """

    def __init__(self, database_url: str | None = None, *, thresholds: Thresholds | None = None,
                 survivorship: SurvivorshipPolicy = SurvivorshipPolicy(), migrate: bool = True,
                 lock_keys: bool = True) -> None:
        self.engine = make_engine(database_url)
        self.url = self.engine.url.render_as_string(hide_password=True)
        if migrate:
            with_retries(lambda: upgrade(self.engine))
        self._thresholds = thresholds
        self.survivorship = survivorship
        self.lock_keys = lock_keys
        self._matcher: Matcher | None = None
        self._model_version: str | None = None
        self._before_write: Callable[[], None] | None = None  # test hook: widen race windows

    # ----------------------------------------------------------------------------- plumbing
    def close(self) -> None:
        close_engine(self.engine)

    def __enter__(self) -> "MasterPatientIndex":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self, write: bool = True, snapshot: bool = True) -> Iterator[Connection]:
        """A transaction; ``write=False, snapshot=False`` is a read whose statements may each see
        the latest commits (match: see :meth:`_statement_reads`).

        Pooled connections are not pinged before use (a round trip on every match): one the
        server dropped fails its first statement, the pool is renewed, and the transaction ends
        in :class:`Retry`, which retrying callers (ingest, match, every change) simply redo and
        others report as a busy store."""
        if not write and not snapshot:
            with self._statement_reads() as conn:
                yield conn
            return
        try:
            with self.engine.connect() as conn:
                conn.info["write"] = write
                with conn.begin():
                    yield conn
                    entry = current_entry() if write else None
                    if entry is not None:  # a person's change: its audit event commits with it
                        append_audit(conn, entry)
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise Retry("the connection to the database was lost; it has been renewed") from None
            raise

    @contextmanager
    def _statement_reads(self) -> Iterator[Connection]:
        """A pooled connection outside any transaction, for driver-level reads (match): each
        statement sees the latest commits, and no BEGIN or COMMIT is sent. On PostgreSQL the
        driver connection is put in autocommit for the duration (a local flag: SQLAlchemy's
        isolation-level switch does the same at several times the Python cost); on SQLite no
        BEGIN is issued, so each driver statement is its own read transaction."""
        try:
            with self.engine.connect() as conn:
                conn.info["write"] = False  # were a statement to begin a transaction, it would only read
                if not self._is_pg():
                    yield conn
                    return
                driver = conn.connection.dbapi_connection
                driver.autocommit = True
                try:
                    yield conn
                finally:
                    if not conn.invalidated:
                        try:
                            driver.autocommit = False
                        except conn.dialect.loaded_dbapi.Error:  # a broken connection: not back into the pool
                            conn.invalidate()
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise Retry("the connection to the database was lost; it has been renewed") from None
            raise

    def _is_pg(self) -> bool:
        return not is_sqlite(self.engine)

    def _lock(self, conn: Connection, ids: Iterable[int]) -> None:
        """Transaction-scoped advisory locks, taken in sorted order (no lock-order deadlocks)."""
        if not self._is_pg() or not self.lock_keys:
            return
        ordered = sorted(set(ids))
        conn.execute(text("SELECT pg_advisory_xact_lock(k) FROM (SELECT unnest(CAST(:ks AS bigint[])) AS k "
                          "ORDER BY 1) s"), {"ks": ordered})

    def _lock_goldens(self, conn: Connection, ids: Iterable[str]) -> dict[str, tuple[str, str | None]]:
        """Lock golden rows (sorted) and return their (status, replaced_by)."""
        ordered = sorted(set(ids))
        if not ordered:
            return {}
        q = _GOLDEN_STATUS_FOR_UPDATE if self._is_pg() else _GOLDEN_STATUS
        return {r.id: (r.status, r.replaced_by) for r in conn.execute(q, {"ids": ordered})}

    # ----------------------------------------------------------------------------- models
    @property
    def matcher(self) -> Matcher:
        if self._matcher is None:
            self._load_active_model()
        if self._matcher is None:
            raise NotFittedError("the store has no model yet: run `mpi load RECORDS.csv` (learns one) or "
                                 "register one with MasterPatientIndex.register_model")
        return self._matcher

    @property
    def model_version(self) -> str | None:
        if self._matcher is None:
            self._load_active_model()
        return self._model_version

    def _load_active_model(self) -> None:
        with self._tx(write=False) as conn:
            row = conn.execute(select(MV).where(MV.c.active.is_(True)).order_by(MV.c.created_at.desc())).first()
        if row is None:
            return
        model = model_from_dict(json.loads(row.body))
        thresholds = self._thresholds or Thresholds(**json.loads(row.thresholds))
        self._matcher = Matcher(model, PopulationStats.from_dict(json.loads(row.stats)), thresholds)
        self._model_version = row.id

    def has_model(self) -> bool:
        return self.model_version is not None

    def register_model(self, model: FellegiSunterModel, stats: PopulationStats,
                       thresholds: Thresholds = Thresholds(), origin: str = "", only_if_none: bool = False) -> str:
        """Store a model with the population statistics it scores with, and make it the active one.

        ``only_if_none``: keep the store's active model if it has one (several loaders starting at
        once each learn a model; the first stored wins and the others use it).
        """
        body = model_to_dict(model, {"auto_link": thresholds.auto_link, "review": thresholds.review})
        version = body["model_version"]

        def work() -> str:
            with self._tx() as conn:
                self._lock(conn, [_lock_id("model registration")])
                active = conn.execute(select(MV.c.id).where(MV.c.active.is_(True))).scalars().first()
                if only_if_none and active is not None:
                    return active
                conn.execute(update(MV).values(active=False))
                if conn.execute(select(MV.c.id).where(MV.c.id == version)).first():
                    conn.execute(update(MV).where(MV.c.id == version).values(active=True))
                else:
                    conn.execute(insert(MV).values(
                        id=version, created_at=utcnow(), body=_dumps(body), stats=_dumps(stats.to_dict()),
                        thresholds=_dumps({"auto_link": thresholds.auto_link, "review": thresholds.review}),
                        active=True, origin=origin[:200]))
                self._event(conn, "model", "system", detail={"model_version": version, "origin": origin[:200]})
                return version

        chosen = with_retries(work)
        self._matcher = None
        self._load_active_model()
        return chosen

    def learn_model(self, records: pd.DataFrame, origin: str = "", seed: int = 0,
                    model: FellegiSunterModel | None = None) -> str:
        """Measure a file's population (and, unless ``model`` is given, learn a model from it
        without labels), store both, and return the model version in use."""
        from .pipeline import learn_population

        norm = normalise_frame(validate_records(records))
        model, lookalikes = learn_population(norm, seed, model)
        stats = PopulationStats.from_normalised(norm, lookalikes)
        return self.register_model(model, stats, self._thresholds or Thresholds(), origin, only_if_none=True)

    # ----------------------------------------------------------------------------- ingest
    def ingest(self, record: Mapping[str, object], actor: str = "system") -> IngestResult:
        """Store one record and link it: to a golden record (auto_link), to a new golden record
        waiting for review (review), or to a new golden record (new). Re-sending identical data
        changes nothing (``unchanged``); changed data makes a new version and re-evaluates the
        link, except that a steward's manual link is kept."""
        _need_actor(actor)
        raw = canonical_raw(record)
        norm = self.matcher.normalise(raw)
        keys = self.matcher.keys(norm)
        return with_retries(lambda: self._ingest_tx(raw, norm, keys, actor))

    def ingest_frame(self, records: pd.DataFrame, actor: str = "system", batch_size: int = 200,
                     progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
        """Ingest a DataFrame of canonical records in file order, exactly as ingesting them one by
        one would, but normalised and keyed in one vectorised pass and committed ``batch_size``
        records per transaction. Returns counts per outcome.

        A batch is all-or-nothing; a crash loses at most the open batch, and running the same
        records again skips what is stored unchanged, so an interrupted load can simply be rerun.
        """
        _need_actor(actor)
        frame = validate_records(records)
        m = self.matcher
        # every source gets its stored day order (None when unknown: never inferred from this
        # file), so each row normalises exactly as it would alone, and chunks bound the memory
        day_order = m.stats.day_order | {s: m.stats.day_order.get(s) for s in frame[SOURCE_COLUMN].unique()}
        counts: dict[str, int] = {}
        for chunk_start in range(0, len(frame), INGEST_CHUNK):
            chunk = frame.iloc[chunk_start:chunk_start + INGEST_CHUNK].reset_index(drop=True)
            norm = normalise_frame(chunk, day_order, m.stats.shared)
            keys = frame_keys(norm)
            norm_rows = norm.to_dict("records")
            raws = chunk[list(CANONICAL_COLUMNS)].to_dict("records")
            for start in range(0, len(chunk), batch_size):
                stop = min(start + batch_size, len(chunk))

                def work(start: int = start, stop: int = stop) -> list[IngestResult]:
                    batch = [canonical_raw(raws[i]) for i in range(start, stop)]
                    with self._tx() as conn:
                        # the whole batch's locks at once, in sorted order: two loaders sharing keys
                        # queue behind each other instead of deadlocking halfway through their batches
                        self._lock(conn, [lid for raw, i in zip(batch, range(start, stop))
                                          for lid in _record_locks(raw, keys[i])])
                        later = _Deferred()
                        results = self._ingest_batch(conn, batch, norm_rows[start:stop], keys[start:stop],
                                                     actor, later)
                        self._flush(conn, later)
                        return results

                for r in with_retries(work):
                    counts[r.decision] = counts.get(r.decision, 0) + 1
                if progress:
                    progress(chunk_start + stop, len(frame))
        if len(frame) - counts.get("unchanged", 0) >= ANALYZE_AFTER:
            self.analyze()
        return counts

    def _ingest_batch(self, conn: Connection, batch: list[dict], norms: list[dict], keys: list[list[RecordKey]],
                      actor: str, later: "_Deferred") -> list[IngestResult]:
        """Ingest a batch under its locks, in order. New and unchanged records take the bulk path
        (:mod:`mpi.ingest_batch`, same results); a batch that changes a stored record or names one
        record twice goes record by record."""
        from .ingest_batch import NewRecord, ingest_new

        hashes = [content_hash(raw) for raw in batch]
        idents = [(raw[SOURCE_COLUMN], raw[ID_COLUMN]) for raw in batch]
        stored = self._stored_hashes(conn, idents)
        changed = any(ident in stored and stored[ident][1] != h for ident, h in zip(idents, hashes))
        if changed or len(set(idents)) < len(idents):
            return [self._ingest_in(conn, raw, norm, k, actor, later) for raw, norm, k in zip(batch, norms, keys)]
        fresh = [NewRecord(i, raw, norm, k, h) for i, (raw, norm, k, h, ident)
                 in enumerate(zip(batch, norms, keys, hashes, idents)) if ident not in stored]
        out: list[IngestResult | None] = [None] * len(batch)
        for rec, result in zip(fresh, ingest_new(self, conn, fresh, actor, later)):
            out[rec.position] = result
        unchanged = [i for i, ident in enumerate(idents) if ident in stored]
        links = self._links(conn, [stored[idents[i]][0] for i in unchanged])
        for i in unchanged:
            link = links[stored[idents[i]][0]]
            out[i] = IngestResult(idents[i][0], idents[i][1], link.golden_id, "unchanged", link.probability,
                                  json.loads(link.explanation), None, link.model_version)
        return out  # type: ignore[return-value]

    @staticmethod
    def _stored_hashes(conn: Connection, idents: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, str]]:
        """(source, record_id) -> (pk, content hash) of the given records that are stored."""
        wanted = set(idents)
        rows = conn.execute(select(SR.c.id, SR.c.source, SR.c.record_id, SR.c.content_hash)
                            .where(SR.c.record_id.in_(sorted({rid for _, rid in wanted})))).all()
        return {(r.source, r.record_id): (r.id, r.content_hash) for r in rows if (r.source, r.record_id) in wanted}

    @staticmethod
    def _links(conn: Connection, pks: list[int]) -> dict[int, object]:
        if not pks:
            return {}
        rows = conn.execute(select(LI).where(LI.c.record.in_(sorted(pks)))).all()
        found = {r.record: r for r in rows}
        if len(found) < len(set(pks)):
            raise StoreError("stored record has no golden record")  # cannot happen: written together
        return found

    def analyze(self) -> None:
        """Refresh the database's planner statistics. After a bulk load PostgreSQL has none for the
        new rows and plans candidate lookups as if every golden record had hundreds of members (a
        hundred-fold slower match); ``ingest_frame`` and seeding call this themselves. On
        PostgreSQL it also vacuums: until the new rows are marked all-visible, every index-only
        scan of the blocking keys visits the table too (a third more page reads per match)."""
        with self.engine.connect() as conn:
            if self._is_pg():
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM (ANALYZE)")
            else:
                conn.info["write"] = True
                conn.exec_driver_sql("PRAGMA optimize")
                conn.commit()

    def _ingest_tx(self, raw: dict, norm: dict, keys: list[RecordKey], actor: str) -> IngestResult:
        with self._tx() as conn:
            later = _Deferred()
            result = self._ingest_in(conn, raw, norm, keys, actor, later)
            self._flush(conn, later)
            return result

    def _flush(self, conn: Connection, later: "_Deferred") -> None:
        """The deferred writes of an ingest transaction, in bulk, before it commits."""
        if later.versions:
            conn.execute(_INSERT_VERSION, later.versions)
        self._refresh_goldens(conn, later.goldens)
        if later.events:
            conn.execute(_INSERT_EVENT, later.events)

    def _ingest_in(self, conn: Connection, raw: dict, norm: dict, keys: list[RecordKey], actor: str,
                   later: "_Deferred") -> IngestResult:
        source, rid = raw[SOURCE_COLUMN], raw[ID_COLUMN]
        chash = content_hash(raw)
        self._lock(conn, _record_locks(raw, keys))
        existing = conn.execute(_FIND_RECORD, {"s": source, "r": rid}).first()
        if existing is not None and existing.content_hash == chash:
            return self._current_result(conn, existing.id, source, rid, "unchanged")
        now = utcnow()
        norm_json = _dumps(norm)
        if existing is None:
            pk = conn.execute(_INSERT_RECORD, dict(source=source, record_id=rid, current_version=1, content_hash=chash,
                                                   normalised=norm_json, created_at=now, updated_at=now)).scalar_one()
            version = 1
        else:
            pk, version = existing.id, existing.current_version + 1
            conn.execute(update(SR).where(SR.c.id == pk).values(current_version=version, content_hash=chash,
                                                                 normalised=norm_json, updated_at=now))
            conn.execute(delete(BK).where(BK.c.record == pk))
            conn.execute(update(RT).where(RT.c.record == pk, RT.c.status.in_(("open", "claimed")))
                         .values(status="obsolete"))
        later.versions.append(dict(record=pk, version=version, content_hash=chash, raw=_dumps(raw),
                                   normalised=norm_json, received_at=now, actor=actor))

        old = None
        if existing is not None:
            old = conn.execute(select(LI).where(LI.c.record == pk)).first()
            if old is not None:  # a steward's merge or split must not move it under us
                status = self._lock_goldens(conn, [old.golden_id])
                again = conn.execute(select(LI).where(LI.c.record == pk)).first()
                if status.get(old.golden_id, ("gone",))[0] != "active" or again is None or \
                        again.golden_id != old.golden_id or again.state != old.state:
                    raise Retry("the record's golden record changed meanwhile")
            if old is not None and old.state == "manual":
                insert_keys(conn, [(k.key, pk, k.fine) for k in keys])
                later.goldens[old.golden_id] = None
                later.events.append(_event_row("update", actor, golden_id=old.golden_id, record=pk,
                                               detail={"version": version, "decision": "manual"}))
                return IngestResult(source, rid, old.golden_id, "manual", old.probability,
                                    json.loads(old.explanation), None, old.model_version)

        members = self._candidate_members(conn, keys, exclude=pk)
        # the record's own keys go in after its candidates are read: a block's size is then the
        # stored records plus this one, as in batch blocking
        insert_keys(conn, [(k.key, pk, k.fine) for k in keys])
        choice, scores = self._choose(norm, members)
        if self._before_write is not None:
            self._before_write()
        target = choice.golden_id if choice.decision == Decision.AUTO_LINK else None
        if target is not None:
            status = self._lock_goldens(conn, [target] + ([old.golden_id] if old is not None else []))
            if status.get(target, ("gone",))[0] != "active":
                raise Retry("the chosen golden record changed meanwhile")
        explanation = scores.explanation(choice.best_member) if scores is not None and choice.best_member is not None \
            else {}
        if old is not None:
            alone = conn.execute(select(func.count()).select_from(LI).where(LI.c.golden_id == old.golden_id,
                                                                           LI.c.record != pk)).scalar_one() == 0
            if target is None and alone:
                target = old.golden_id  # still its own person: keep the id
            if target != old.golden_id and alone:
                conn.execute(update(GO).where(GO.c.id == old.golden_id)
                             .values(status="merged", replaced_by=target, updated_at=now))
        if target is None:
            target = self._new_golden(conn, pk, source, rid, now, founded=0 if existing is None else None)
        state = "review" if choice.decision == Decision.REVIEW else "auto"
        link_values = dict(golden_id=target, state=state, probability=float(choice.probability),
                           explanation=_dumps(explanation), model_version=self.model_version, actor=actor,
                           linked_at=now)
        if old is None:
            conn.execute(_INSERT_LINK, dict(record=pk, **link_values))
        else:
            conn.execute(update(LI).where(LI.c.record == pk).values(**link_values))
        later.goldens.update(dict.fromkeys([target] + ([old.golden_id] if old is not None and
                                                       old.golden_id != target else [])))
        task_id = self._open_choice_tasks(conn, pk, target, choice, members, scores, explanation)
        decision = OUTCOME[choice.decision]
        later.events.append(_event_row(
            "ingest" if old is None else "update", actor, golden_id=target, record=pk,
            other_golden_id=old.golden_id if old is not None and old.golden_id != target else None,
            detail={"version": version, "decision": decision, "probability": round(choice.probability, 6),
                    "model_version": self.model_version, "review_task": task_id,
                    "previous_golden": old.golden_id if old is not None else None}))
        return IngestResult(source, rid, target, decision, float(choice.probability), explanation, task_id,
                            self.model_version)

    def _choose(self, norm: dict, members: list[dict]) -> tuple[Choice, MemberScores | None]:
        m = self.matcher
        if not members:
            return Choice(Decision.DISTINCT, None, 0.0, None), None
        scores = m.score(norm, [x["norm"] for x in members])
        return m.choose(scores, [x["golden"] for x in members]), scores

    def _candidate_members(self, conn: Connection, keys: list[RecordKey], exclude: int | None) -> list[dict]:
        """Stored records sharing a blocking key with the query, and the other members of their
        golden records (so a record is checked against the whole person it would join)."""
        if not keys:
            return []
        rows = _pg_candidate_rows(conn, keys, exclude) if self._is_pg() else \
            self._stepwise_candidate_rows(conn, keys, exclude)
        return _members_of(rows, exclude)

    def _stepwise_candidate_rows(self, conn: Connection, keys: list[RecordKey], exclude: int | None) -> list[tuple]:
        """The candidate lookup in two or three statements (SQLite, in-process, has no use for the
        one-statement form; on PostgreSQL a test checks both find the same rows)."""
        by_key = {k.key: k for k in keys}
        # one round trip: each key's block, capped one past its limit (an oversized block shows
        # itself by reaching the cap and is then replaced by its finer block)
        found: set[int] = set()
        oversized = []
        for key, records in block_rows(conn, [(k.key, k.cap) for k in keys], "key").items():
            if len(records) + 1 > by_key[key].cap:
                if by_key[key].fine != 0:
                    oversized.append((by_key[key].fine, by_key[key].cap))
            else:
                found.update(records)
        if oversized:
            fine_cap = dict(oversized)
            for fine, records in block_rows(conn, oversized, "fine").items():
                if len(records) + 1 <= fine_cap[fine]:
                    found.update(records)
        found.discard(exclude)
        if not found:
            return []
        return [(record, golden, normalised, record in found)
                for record, golden, normalised in member_rows(conn, sorted(found))]

    def _new_golden(self, conn: Connection, founder: int, source: str, rid: str, now: dt.datetime,
                    founded: int | None = None) -> str:
        """A new golden record founded by record ``founder``; ``founded`` is how many it founded
        before (counted here when not known: a record new to the store has founded none)."""
        if founded is None:
            founded = conn.execute(_COUNT_FOUNDED, {"f": founder}).scalar_one()
        gid = golden_id_for(source, rid, founded)
        conn.execute(_INSERT_GOLDEN, dict(id=gid, status="active", replaced_by=None, attributes="{}", founder=founder,
                                          created_at=now, updated_at=now))
        return gid

    def _refresh_goldens(self, conn: Connection, ids: Iterable[str]) -> None:
        """Recompute survivorship of these golden records from their current members (read for
        up to ``REFRESH_CHUNK`` golden records per statement, written in one executemany)."""
        wanted = list(dict.fromkeys(ids))
        for start in range(0, len(wanted), REFRESH_CHUNK):
            chunk = wanted[start:start + REFRESH_CHUNK]
            members: dict[str, list[Member]] = {gid: [] for gid in chunk}
            for golden, source, rid, raw, normalised, version in golden_member_rows(conn, chunk):
                members[golden].append(Member(source, rid, load_values(raw), load_values(normalised), version))
            now = utcnow()
            conn.execute(_SET_ATTRIBUTES, [
                {"g": gid, "updated_at": now,
                 "attributes": _dumps(golden_attributes(ms, self.survivorship) if ms else {})}
                for gid, ms in members.items()])

    def _open_task(self, conn: Connection, kind: str, record: int | None, candidate: int | None, golden: str | None,
                   other: str | None, probability: float, rule: str, explanation: dict) -> int:
        if kind == "golden_golden":
            a, b = sorted([golden or "", other or ""])
            dup = conn.execute(select(RT.c.id).where(RT.c.kind == kind, RT.c.golden_id == a, RT.c.other_golden_id == b,
                                                     RT.c.status.in_(("open", "claimed")))).first()
            if dup is not None:
                return dup.id
            golden, other = a, b
        return conn.execute(insert(RT).values(kind=kind, record=record, candidate_record=candidate, golden_id=golden,
                                              other_golden_id=other, probability=float(probability),
                                              priority=float(probability), rule=rule[:200],
                                              explanation=_dumps(explanation), status="open",
                                              created_at=utcnow()).returning(RT.c.id)).scalar_one()

    def _open_choice_tasks(self, conn: Connection, pk: int, target: str, choice: Choice, members: list[dict],
                           scores: MemberScores | None, explanation: dict) -> int | None:
        """The review tasks an ingest decision opens: the record against the golden record it
        may belong to (returned), and one per other golden record it would also join (a
        possible duplicate pair). One-by-one and batched ingest both open them here."""
        task_id = None
        if choice.decision == Decision.REVIEW:
            best = members[choice.best_member]
            task_id = self._open_task(conn, "record_golden", pk, best["pk"], choice.golden_id, None,
                                      choice.probability, explanation.get("rule", ""), explanation)
        for other in choice.also_linked:
            mem = members[other.best_member]
            self._open_task(conn, "golden_golden", pk, mem["pk"], target, other.golden_id, other.probability,
                            "record matches two golden records", scores.explanation(other.best_member))
        return task_id

    def _event(self, conn: Connection, kind: str, actor: str, reason: str = "", golden_id: str | None = None,
               other_golden_id: str | None = None, record: int | None = None, detail: dict | None = None) -> None:
        conn.execute(_INSERT_EVENT, _event_row(kind, actor, reason, golden_id, other_golden_id, record, detail))

    def _current_result(self, conn: Connection, pk: int, source: str, rid: str, decision: str) -> IngestResult:
        link = conn.execute(select(LI).where(LI.c.record == pk)).first()
        if link is None:
            raise StoreError("stored record has no golden record")  # cannot happen: written together
        return IngestResult(source, rid, link.golden_id, decision, link.probability, json.loads(link.explanation),
                            None, link.model_version)

    # ----------------------------------------------------------------------------- match
    def match(self, record: Mapping[str, object], limit: int = 10) -> list[MatchCandidate]:
        """Golden records ranked against ``record``, best first, without storing anything."""
        if limit < 1:
            raise InputError("limit must be at least 1", column="limit")
        if not isinstance(record, Mapping):
            raise InputError("a record must be a mapping of field names to values")
        raw = canonical_raw({ID_COLUMN: "query", **{k: v for k, v in record.items() if k != ID_COLUMN}})
        m = self.matcher
        norm = m.normalise(raw)
        keys = m.keys(norm)

        def read() -> list[dict]:
            with self._tx(write=False, snapshot=False) as conn:
                return self._candidate_members(conn, keys, exclude=None)
        members = with_retries(read)
        if not members:
            return []
        scores = m.score(norm, [x["norm"] for x in members])
        choice = m.choose(scores, [x["golden"] for x in members])
        out = []
        for g in choice.ranked:
            if g.probability < MIN_MATCH_PROBABILITY and g.decision == Decision.DISTINCT:
                continue
            out.append(MatchCandidate(g.golden_id, g.probability, OUTCOME[g.decision], MATCH_GRADE[g.decision],
                                      scores.explanation(g.best_member)))
        return out[:limit]

    # ----------------------------------------------------------------------------- reads
    def resolve_id(self, golden_id: str) -> str:
        """The active golden id a (possibly merged-away) id now means."""
        with self._tx(write=False) as conn:
            return self._follow(conn, golden_id)

    def _follow(self, conn: Connection, golden_id: str) -> str:
        seen = set()
        gid = golden_id
        while True:
            row = conn.execute(select(GO.c.status, GO.c.replaced_by).where(GO.c.id == gid)).first()
            if row is None:
                raise NotFound(f"no golden record {golden_id!r}")
            if row.status == "active" or row.replaced_by is None or gid in seen:
                return gid
            seen.add(gid)
            gid = row.replaced_by

    def golden(self, golden_id: str) -> GoldenRecord:
        """A golden record (following merges to the survivor), with members and merged-away ids."""
        with self._tx(write=False) as conn:
            gid = self._follow(conn, golden_id)
            row = conn.execute(select(GO).where(GO.c.id == gid)).one()
            members = [dict(source=r.source, record_id=r.record_id, state=r.state, probability=r.probability,
                            model_version=r.model_version, linked_by=r.actor, linked_at=r.linked_at.isoformat())
                       for r in conn.execute(select(SR.c.source, SR.c.record_id, LI.c.state, LI.c.probability,
                                                    LI.c.model_version, LI.c.actor, LI.c.linked_at)
                                             .join(LI, LI.c.record == SR.c.id).where(LI.c.golden_id == gid)
                                             .order_by(SR.c.source, SR.c.record_id))]
            replaced = self._replaced_ids(conn, gid)
        return GoldenRecord(gid, row.status, json.loads(row.attributes), members, replaced, golden_id)

    def _replaced_ids(self, conn: Connection, gid: str) -> list[str]:
        out, frontier = [], [gid]
        while frontier:
            found = list(conn.execute(select(GO.c.id).where(GO.c.replaced_by.in_(frontier))).scalars())
            out.extend(found)
            frontier = found
        return sorted(out)

    def cross_references(self, golden_id: str) -> list[tuple[str, str]]:
        """Every (source, record_id) of the person: what an IHE PIX query answers."""
        return [(m["source"], m["record_id"]) for m in self.golden(golden_id).members]

    def golden_of(self, source: str, record_id: str) -> str:
        """The golden id a source record belongs to."""
        with self._tx(write=False) as conn:
            gid = conn.execute(select(LI.c.golden_id).join(SR, SR.c.id == LI.c.record)
                               .where(SR.c.source == source, SR.c.record_id == record_id)).scalar_one_or_none()
        if gid is None:
            raise NotFound(f"no stored record {record_id!r} from source {source!r}")
        return gid

    def knows_source(self, source: str) -> bool:
        """Whether any stored record came from ``source`` (an identifier domain of this MPI)."""
        with self._tx(write=False) as conn:
            return conn.execute(select(SR.c.id).where(SR.c.source == source).limit(1)).first() is not None

    def history(self, golden_id: str) -> list[dict]:
        """Every event that touched this golden record or the ids merged into it, oldest first."""
        with self._tx(write=False) as conn:
            gid = self._follow(conn, golden_id)
            ids = [gid, *self._replaced_ids(conn, gid)]
            if golden_id not in ids:
                ids.append(golden_id)
            rows = conn.execute(select(EV, SR.c.source, SR.c.record_id).outerjoin(SR, SR.c.id == EV.c.record)
                                .where(EV.c.golden_id.in_(ids) | EV.c.other_golden_id.in_(ids))
                                .order_by(EV.c.id)).all()
        return [dict(id=r.id, at=r.at.isoformat(), kind=r.kind, actor=r.actor, reason=r.reason,
                     golden_id=r.golden_id, other_golden_id=r.other_golden_id,
                     record=None if r.record is None else {"source": r.source, "record_id": r.record_id},
                     detail=json.loads(r.detail)) for r in rows]

    # ----------------------------------------------------------------------------- steward actions
    def merge(self, golden_a: str, golden_b: str, actor: str, reason: str = "") -> str:
        """Merge ``golden_b`` into ``golden_a`` (the survivor); returns the survivor's id. The
        merged-away id keeps resolving to the survivor. Undo with :meth:`unmerge`."""
        _need_actor(actor)

        def work() -> str:
            with self._tx() as conn:
                return self._merge_in(conn, golden_a, golden_b, actor, reason)

        return with_retries(work)

    def _merge_in(self, conn: Connection, golden_a: str, golden_b: str, actor: str, reason: str) -> str:
        a, b = self._follow(conn, golden_a), self._follow(conn, golden_b)
        if a == b:
            raise Conflict("these golden records are already one person")
        status = self._lock_goldens(conn, [a, b])
        if any(status.get(g, ("gone",))[0] != "active" for g in (a, b)):
            raise Retry("golden record changed meanwhile")
        moved = [dict(r._mapping) for r in conn.execute(select(LI).where(LI.c.golden_id == b))]
        closed = [{"id": r.id, "status": r.status} for r in conn.execute(select(RT.c.id, RT.c.status).where(
            RT.c.status.in_(("open", "claimed")),
            ((RT.c.golden_id == a) & (RT.c.other_golden_id == b)) |
            ((RT.c.golden_id == b) & (RT.c.other_golden_id == a))))]
        tasks = [t["id"] for t in closed]
        now = utcnow()
        conn.execute(update(LI).where(LI.c.golden_id == b).values(golden_id=a, state="manual", actor=actor,
                                                                  linked_at=now))
        conn.execute(update(GO).where(GO.c.id == b).values(status="merged", replaced_by=a, updated_at=now))
        if tasks:
            conn.execute(update(RT).where(RT.c.id.in_(tasks)).values(status="obsolete"))
        self._refresh_goldens(conn, [a])
        self._event(conn, "merge", actor, reason, golden_id=a, other_golden_id=b,
                    detail={"moved_links": [_link_snapshot(x) for x in moved], "closed_tasks": closed})
        return a

    def unmerge(self, golden_id: str, actor: str, reason: str = "") -> str:
        """Undo the merge that retired ``golden_id``: it becomes active again with exactly the links
        it had (state, probability, explanation, model, actor, time), and the survivor gets its
        fields back. Records moved elsewhere since are left where they are. Returns ``golden_id``."""
        _need_actor(actor)

        def work() -> str:
            with self._tx() as conn:
                row = conn.execute(select(GO.c.status, GO.c.replaced_by).where(GO.c.id == golden_id)).first()
                if row is None:
                    raise NotFound(f"no golden record {golden_id!r}")
                if row.status != "merged":
                    raise Conflict("this golden record was not merged away; to take a record out of a golden "
                                   "record use split")
                ev = conn.execute(select(EV).where(EV.c.kind == "merge", EV.c.other_golden_id == golden_id)
                                  .order_by(EV.c.id.desc())).first()
                undone = conn.execute(select(func.max(EV.c.id)).where(EV.c.kind == "unmerge",
                                                                     EV.c.golden_id == golden_id)).scalar()
                if ev is None or (undone is not None and undone > ev.id):
                    raise Conflict("this golden record was retired when its only record moved, not by a merge; "
                                   "split the record out instead")
                survivor = ev.golden_id
                self._lock_goldens(conn, [golden_id, survivor])
                detail = json.loads(ev.detail)
                restored = []
                for snap in detail.get("moved_links", []):
                    res = conn.execute(update(LI).where(LI.c.record == snap["record"], LI.c.golden_id == survivor)
                                       .values(golden_id=golden_id, state=snap["state"],
                                               probability=snap["probability"], explanation=snap["explanation"],
                                               model_version=snap["model_version"], actor=snap["actor"],
                                               linked_at=dt.datetime.fromisoformat(snap["linked_at"])))
                    if res.rowcount:
                        restored.append(snap["record"])
                if not restored:  # reactivating it would leave an active golden record without records
                    raise Conflict("every record of this golden record has moved since the merge; nothing to undo")
                conn.execute(update(GO).where(GO.c.id == golden_id).values(status="active", replaced_by=None,
                                                                           updated_at=utcnow()))
                if not conn.execute(select(LI.c.record).where(LI.c.golden_id == survivor).limit(1)).first():
                    # the survivor's own records moved away since: retired like any golden left empty
                    conn.execute(update(GO).where(GO.c.id == survivor)
                                 .values(status="merged", replaced_by=golden_id, updated_at=utcnow()))
                for task in detail.get("closed_tasks", []):  # back to open or claimed, as they were
                    conn.execute(update(RT).where(RT.c.id == task["id"], RT.c.status == "obsolete")
                                 .values(status=task["status"]))
                self._refresh_goldens(conn, [golden_id, survivor])
                self._event(conn, "unmerge", actor, reason, golden_id=golden_id, other_golden_id=survivor,
                            detail={"merge_event": ev.id, "restored_records": restored})
                return golden_id

        return with_retries(work)

    def split(self, source: str, record_id: str, actor: str, reason: str = "") -> str:
        """Take one record out of its golden record into a new one of its own (a manual link that
        automatic re-matching never overrides). Returns the new golden id."""
        _need_actor(actor)

        def work() -> str:
            with self._tx() as conn:
                self._lock(conn, [_lock_id(f"{source}\x1f{record_id}")])  # no ingest of it meanwhile
                pk = conn.execute(select(SR.c.id).where(SR.c.source == source, SR.c.record_id == record_id)).scalar()
                if pk is None:
                    raise NotFound(f"no stored record {record_id!r} from source {source!r}")
                link = conn.execute(select(LI).where(LI.c.record == pk)).one()
                status = self._lock_goldens(conn, [link.golden_id])
                if status.get(link.golden_id, ("gone",))[0] != "active" or conn.execute(
                        select(LI.c.golden_id).where(LI.c.record == pk)).scalar_one() != link.golden_id:
                    raise Retry("the record's golden record changed meanwhile")
                others = list(conn.execute(select(LI.c.record).where(LI.c.golden_id == link.golden_id,
                                                                      LI.c.record != pk)).scalars())
                if not others:
                    raise Conflict("the record is already alone in its golden record")
                now = utcnow()
                new = self._new_golden(conn, pk, source, record_id, now)
                conn.execute(update(LI).where(LI.c.record == pk).values(golden_id=new, state="manual", actor=actor,
                                                                        linked_at=now))
                conn.execute(insert(ML), [dict(record_a=pk, record_b=o, same=False, actor=actor, reason=reason,
                                               created_at=now) for o in others[:MAX_MEMBERS_SCORED]])
                self._refresh_goldens(conn, [link.golden_id, new])
                self._event(conn, "split", actor, reason, golden_id=new, other_golden_id=link.golden_id, record=pk,
                            detail={"previous_link": _link_snapshot(dict(link._mapping))})
                return new

        return with_retries(work)

    # ----------------------------------------------------------------------------- review
    def review_tasks(self, status: str = "open", limit: int = 100) -> list[dict]:
        """Review tasks, highest priority first."""
        with self._tx(write=False) as conn:
            q = select(RT).order_by(RT.c.priority.desc(), RT.c.id).limit(limit)
            if status != "all":
                q = q.where(RT.c.status == status)
            return [_task_dict(r) for r in conn.execute(q)]

    def review_task(self, task_id: int) -> dict:
        with self._tx(write=False) as conn:
            row = conn.execute(select(RT).where(RT.c.id == task_id)).first()
        if row is None:
            raise NotFound(f"no review task {task_id}")
        return _task_dict(row)

    def review_pair(self, task_id: int) -> dict:
        """A review task with what a steward compares: the record and the candidate record (their
        source ids and current raw demographics) and the golden records involved."""
        task = self.review_task(task_id)
        with self._tx(write=False) as conn:
            def record(pk: int | None) -> dict | None:
                if pk is None:
                    return None
                row = conn.execute(select(SR.c.source, SR.c.record_id, RV.c.raw, RV.c.version)
                                   .join(RV, (RV.c.record == SR.c.id) & (RV.c.version == SR.c.current_version))
                                   .where(SR.c.id == pk)).first()
                if row is None:
                    return None
                gid = conn.execute(select(LI.c.golden_id).where(LI.c.record == pk)).scalar_one_or_none()
                raw = {k: v for k, v in json.loads(row.raw).items() if k not in (ID_COLUMN, SOURCE_COLUMN)}
                return {"source": row.source, "record_id": row.record_id, "version": row.version,
                        "golden_id": gid, "fields": raw}

            return {"task": task, "record": record(task["record"]), "candidate": record(task["candidate_record"])}

    def claim(self, task_id: int, actor: str) -> dict:
        """Claim an open task for ``actor`` (so two stewards do not decide the same pair)."""
        _need_actor(actor)

        def work() -> dict:
            with self._tx() as conn:
                res = conn.execute(update(RT).where(RT.c.id == task_id, RT.c.status == "open")
                                   .values(status="claimed", claimed_by=actor))
                if res.rowcount == 0:
                    row = conn.execute(select(RT.c.status, RT.c.claimed_by).where(RT.c.id == task_id)).first()
                    if row is None:
                        raise NotFound(f"no review task {task_id}")
                    if not (row.status == "claimed" and row.claimed_by == actor):
                        raise Conflict(f"review task {task_id} is {row.status}")
                self._event(conn, "claim", actor, detail={"task": task_id})
                return _task_dict(conn.execute(select(RT).where(RT.c.id == task_id)).one())

        return with_retries(work)

    def decide(self, task_id: int, decision: str | bool, actor: str, reason: str = "") -> dict:
        """Record a steward's decision on a review task: ``same`` links the record into the golden
        record (or merges the two golden records); ``different`` makes the record's current link
        manual, so automatic re-matching never moves it. Both are stored as labels the model can
        learn from (matching does not consult labels yet). Returns the decided task."""
        _need_actor(actor)
        same = decision is True or decision == "same"
        if not same and decision not in (False, "different"):
            raise InputError("decision must be 'same' or 'different'", column="decision")

        def work() -> dict:
            with self._tx() as conn:
                task = conn.execute(select(RT).where(RT.c.id == task_id)).first()
                if task is None:
                    raise NotFound(f"no review task {task_id}")
                if task.status not in ("open", "claimed"):
                    raise Conflict(f"review task {task_id} is already {task.status}")
                if task.status == "claimed" and task.claimed_by != actor:
                    raise Conflict(f"review task {task_id} is claimed by another steward")
                now = utcnow()
                outcome = {}
                if task.kind == "record_golden":
                    ident = conn.execute(select(SR.c.source, SR.c.record_id).where(SR.c.id == task.record)).one()
                    self._lock(conn, [_lock_id(f"{ident.source}\x1f{ident.record_id}")])  # no ingest of it meanwhile
                    rec_golden = conn.execute(select(LI.c.golden_id).where(LI.c.record == task.record)).scalar_one()
                    target = self._follow(conn, task.golden_id)
                    if not same and rec_golden == target:
                        raise Conflict("the record has joined that golden record since the task was opened; "
                                       "use split to take it out")
                    if same and rec_golden != target:
                        status = self._lock_goldens(conn, [rec_golden, target])
                        if any(status.get(g, ("gone",))[0] != "active" for g in (rec_golden, target)):
                            raise Retry("golden record changed meanwhile")
                        prev = conn.execute(select(LI).where(LI.c.record == task.record)).one()
                        conn.execute(update(LI).where(LI.c.record == task.record)
                                     .values(golden_id=target, state="manual", actor=actor, linked_at=now))
                        left = conn.execute(select(func.count()).select_from(LI)
                                            .where(LI.c.golden_id == rec_golden)).scalar_one()
                        if left == 0:
                            conn.execute(update(GO).where(GO.c.id == rec_golden)
                                         .values(status="merged", replaced_by=target, updated_at=now))
                        self._refresh_goldens(conn, [target, rec_golden])
                        outcome = {"linked_to": target, "previous_link": _link_snapshot(dict(prev._mapping))}
                    else:
                        conn.execute(update(LI).where(LI.c.record == task.record)
                                     .values(state="manual", actor=actor, linked_at=now))
                        outcome = {"kept_in": rec_golden}
                    event_golden, event_other = target, rec_golden
                else:
                    a, b = self._follow(conn, task.golden_id), self._follow(conn, task.other_golden_id)
                    if not same and a == b:
                        raise Conflict("these golden records have been merged since the task was opened; "
                                       "use unmerge or split to separate them")
                    event_golden, event_other = a, b
                    outcome = {"golden_ids": [a, b]}
                    if same and a != b:  # the merge lands with the decision, or neither does
                        self._merge_in(conn, a, b, actor, reason or f"review task {task_id}")
                conn.execute(update(RT).where(RT.c.id == task_id).values(
                    status="decided", decision="same" if same else "different", decided_by=actor, decided_at=now,
                    reason=reason))
                if task.record is not None and task.candidate_record is not None:
                    conn.execute(insert(ML).values(record_a=task.record, record_b=task.candidate_record, same=same,
                                                   actor=actor, reason=reason, task_id=task_id, created_at=now))
                self._event(conn, "decide", actor, reason, golden_id=event_golden, other_golden_id=event_other,
                            record=task.record, detail={"task": task_id, "decision": "same" if same else "different",
                                                        **outcome})
                return task.kind, event_golden, event_other

        with_retries(work)
        return self.review_task(task_id)

    def labels(self) -> pd.DataFrame:
        """Stewards' decisions as labelled record pairs (record_id_l, record_id_r, same), the input
        :func:`mpi.fit_supervised` learns from."""
        with self._tx(write=False) as conn:
            a, b = SR.alias("a"), SR.alias("b")
            rows = conn.execute(select(a.c.record_id.label("record_id_l"), b.c.record_id.label("record_id_r"),
                                       ML.c.same, ML.c.actor, ML.c.created_at)
                                .join(a, a.c.id == ML.c.record_a).join(b, b.c.id == ML.c.record_b)
                                .order_by(ML.c.id)).all()
        return pd.DataFrame(rows, columns=["record_id_l", "record_id_r", "same", "actor", "created_at"])

    # ----------------------------------------------------------------------------- export
    def export(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The current state in the batch contract: (record_id, cluster_id) for every stored
        record, and the open review pairs (record_id_l, record_id_r, match_probability)."""
        with self._tx(write=False) as conn:
            clusters = pd.DataFrame(conn.execute(select(SR.c.record_id, LI.c.golden_id)
                                                 .join(LI, LI.c.record == SR.c.id).order_by(SR.c.id)).all(),
                                    columns=["record_id", "cluster_id"])
            a, b = SR.alias("a"), SR.alias("b")
            la, lb = LI.alias("la"), LI.alias("lb")
            rows = conn.execute(select(a.c.record_id, b.c.record_id, RT.c.probability)
                                .join(a, a.c.id == RT.c.record).join(b, b.c.id == RT.c.candidate_record)
                                .join(la, la.c.record == a.c.id).join(lb, lb.c.record == b.c.id)
                                .where(RT.c.status.in_(("open", "claimed")), la.c.golden_id != lb.c.golden_id)).all()
        review = pd.DataFrame([(min(x, y), max(x, y), round(p, 6)) for x, y, p in rows],
                              columns=["record_id_l", "record_id_r", "match_probability"])
        review = review.drop_duplicates(["record_id_l", "record_id_r"]).sort_values(["record_id_l", "record_id_r"])
        return clusters, review.reset_index(drop=True)

    def counts(self) -> dict[str, int]:
        """Sizes of the store (records, versions, active golden records, open review tasks, events)."""
        with self._tx(write=False) as conn:
            def n(q) -> int:  # type: ignore[no-untyped-def]
                return int(conn.execute(q).scalar_one())
            return {"records": n(select(func.count()).select_from(SR)),
                    "versions": n(select(func.count()).select_from(RV)),
                    "golden_records": n(select(func.count()).select_from(GO).where(GO.c.status == "active")),
                    "open_review_tasks": n(select(func.count()).select_from(RT)
                                           .where(RT.c.status.in_(("open", "claimed")))),
                    "events": n(select(func.count()).select_from(EV))}


# Every member of the golden records of some records (in no order: callers sort), with the
# ids as one array parameter: one fixed statement text however many ids (prepared once on
# PostgreSQL; a batch reads thousands at a time)
_MEMBERS_OF = ("SELECT l.record, l.golden_id, s.normalised FROM link l JOIN source_record s ON s.id = l.record "
               "WHERE l.golden_id IN (SELECT golden_id FROM link WHERE record IN ({ids}))")
_PG_MEMBERS_SQL = _MEMBERS_OF.format(ids="SELECT unnest(CAST(:ids AS bigint[]))")
_SQLITE_MEMBERS_SQL = _MEMBERS_OF.format(ids="SELECT value FROM json_each(:ids)")
# PostgreSQL: any number of blocks in one statement with array parameters
_PG_BLOCKS_SQL = {column: f"SELECT q.k, b.record FROM unnest(CAST(:ks AS bigint[]), CAST(:cs AS integer[])) "
                          f"AS q(k, c) CROSS JOIN LATERAL (SELECT record FROM block_key WHERE {column} = q.k "
                          f"LIMIT q.c) AS b" for column in ("key", "fine")}
_BLOCKS_SQL: dict[tuple[str, int], str] = {}
BLOCK_CHUNK = 100  # keys per SQLite block query (SQLite allows 500 terms in one compound SELECT)
# PostgreSQL: the whole candidate lookup in one statement with array parameters (one round trip,
# one query text the driver prepares once): each key's block to its cap, the finer block of every
# key whose block reaches the cap, the records of blocks under their caps, and every member of
# their golden records, marked when found in a block (unordered: _members_of sorts).
_PG_CANDIDATES = """
WITH q AS (SELECT * FROM unnest(CAST(:ks AS bigint[]), CAST(:fs AS bigint[]), CAST(:cs AS integer[])) AS q(k, f, c)),
coarse AS (SELECT q.k, b.record FROM q CROSS JOIN LATERAL
           (SELECT record FROM block_key WHERE key = q.k LIMIT q.c) AS b),
sizes AS (SELECT q.k, q.f, q.c, count(coarse.record) AS n FROM q LEFT JOIN coarse ON coarse.k = q.k
          GROUP BY q.k, q.f, q.c),
fine AS (SELECT s.f, s.c, b.record FROM sizes AS s CROSS JOIN LATERAL
         (SELECT record FROM block_key WHERE fine = s.f LIMIT s.c) AS b WHERE s.n + 1 > s.c AND s.f <> 0),
found AS (SELECT coarse.record FROM coarse JOIN sizes ON sizes.k = coarse.k WHERE sizes.n + 1 <= sizes.c
          UNION
          SELECT fine.record FROM fine JOIN (SELECT f, count(*) AS n FROM fine GROUP BY f) AS fs ON fs.f = fine.f
          WHERE fs.n + 1 <= fine.c),
hits AS (SELECT record FROM found WHERE record <> :ex)
SELECT l.record, l.golden_id, s.normalised, l.record IN (SELECT record FROM hits) AS hit
FROM link AS l JOIN source_record AS s ON s.id = l.record
WHERE l.golden_id IN (SELECT golden_id FROM link WHERE record IN (SELECT record FROM hits))"""


def _pg_candidate_rows(conn: Connection, keys: list[RecordKey], exclude: int | None) -> list[tuple]:
    """(record, golden id, normalised JSON, found in a block) of the candidate golden records'
    members, as the stepwise lookup finds them (the same caps and finer-key fallback)."""
    params = {"ks": pg_int_array(k.key for k in keys), "fs": pg_int_array(k.fine for k in keys),
              "cs": pg_int_array(k.cap for k in keys),
              "ex": -1 if exclude is None else exclude}
    return driver_rows(conn, _PG_CANDIDATES, params)


def member_rows(conn: Connection, ids: list[int]) -> list[tuple]:
    """(record, golden id, normalised JSON) of every member of the golden records of ``ids``, in
    no particular order (the database saves a sort of wide rows; every caller orders by record)."""
    if is_sqlite(conn.engine):
        return driver_rows(conn, _SQLITE_MEMBERS_SQL, {"ids": json.dumps(ids)})
    return driver_rows(conn, _PG_MEMBERS_SQL, {"ids": pg_int_array(ids)})


# The current version of every member of some golden records (survivorship's input)
_GOLDENS_MEMBERS = ("SELECT l.golden_id, s.source, s.record_id, v.raw, v.normalised, v.id FROM link l "
                    "JOIN source_record s ON s.id = l.record "
                    "JOIN record_version v ON v.record = s.id AND v.version = s.current_version "
                    "WHERE l.golden_id IN ({ids})")
_PG_GOLDENS_MEMBERS_SQL = _GOLDENS_MEMBERS.format(ids="SELECT unnest(CAST(:g AS text[]))")
_SQLITE_GOLDENS_MEMBERS_SQL = _GOLDENS_MEMBERS.format(ids="SELECT value FROM json_each(:g)")


def golden_member_rows(conn: Connection, golden_ids: list[str]) -> list[tuple]:
    """(golden id, source, record_id, raw JSON, normalised JSON, version row id) of every
    current member of these golden records, in no particular order."""
    if is_sqlite(conn.engine):
        return driver_rows(conn, _SQLITE_GOLDENS_MEMBERS_SQL, {"g": json.dumps(golden_ids)})
    return driver_rows(conn, _PG_GOLDENS_MEMBERS_SQL, {"g": golden_ids})


def _members_of(rows: Iterable[tuple], exclude: int | None) -> list[dict]:
    """Candidate members from (record, golden id, normalised JSON, found in a block) rows: per
    golden record its newest ``MAX_MEMBERS_SCORED`` members plus every one found in a block,
    ordered by record (scoring order independent of the database's row order)."""
    by_golden: dict[str, list[tuple]] = {}
    for row in rows:
        by_golden.setdefault(row[1], []).append(row)
    out = []
    for golden, members in by_golden.items():
        n = 0
        for record, _, normalised, found in sorted(members, key=lambda r: -r[0]):
            if record == exclude or (n >= MAX_MEMBERS_SCORED and not found):
                continue
            n += 1
            out.append({"pk": record, "golden": golden, "norm": load_values(normalised)})
    out.sort(key=lambda x: x["pk"])
    return out


# Blocking keys, the most numerous rows an ingest writes (about ten per record): PostgreSQL takes
# them as three arrays in one statement, SQLite row by row in the driver's own loop
_PG_INSERT_KEYS = ("INSERT INTO block_key (key, record, fine) SELECT * FROM "
                   "unnest(CAST(:ks AS bigint[]), CAST(:rs AS integer[]), CAST(:fs AS bigint[]))")
_SQLITE_INSERT_KEY = "INSERT INTO block_key (key, record, fine) VALUES (?, ?, ?)"


def insert_keys(conn: Connection, rows: Sequence[tuple[int, int, int]]) -> None:
    """Store ``(key, record, fine)`` blocking-key rows: one-by-one and batched ingest both write here."""
    if not rows:
        return
    if is_sqlite(conn.engine):
        driver_executemany(conn, _SQLITE_INSERT_KEY, rows)
    else:
        driver_execute(conn, _PG_INSERT_KEYS, {"ks": pg_int_array(r[0] for r in rows),
                                               "rs": pg_int_array(r[1] for r in rows),
                                               "fs": pg_int_array(r[2] for r in rows)})


def block_rows(conn: Connection, keys: Sequence[tuple[int, int]], column: str) -> dict[int, list[int]]:
    """Stored records under each ``(key, cap)`` (``column`` = "key" or "fine"), at most ``cap``
    per key; a key with no records is left out. Every match, ingest and batch reads its blocks here:
    plain SQL built once per shape (an expression tree would cost more than the query)."""
    out: dict[int, list[int]] = {}
    if not keys:
        return out
    if is_sqlite(conn.engine):
        rows: list[tuple] = []
        for start in range(0, len(keys), BLOCK_CHUNK):
            chunk = keys[start:start + BLOCK_CHUNK]
            params = {}
            for i, (key, cap) in enumerate(chunk):
                params[f"k{i}"], params[f"c{i}"] = key, cap
            rows += driver_rows(conn, _blocks_sql(column, len(chunk)), params)
    else:
        rows = driver_rows(conn, _PG_BLOCKS_SQL[column], {"ks": pg_int_array(k for k, _ in keys),
                                                          "cs": pg_int_array(c for _, c in keys)})
    for k, record in rows:
        out.setdefault(k, []).append(record)
    return out


def _blocks_sql(column: str, n: int) -> str:
    """``SELECT key, record`` for n keys, each block limited: one UNION ALL of n small index scans."""
    if (column, n) not in _BLOCKS_SQL:
        parts = [f"SELECT * FROM (SELECT {column} AS k, record FROM block_key WHERE {column} = :k{i} LIMIT :c{i}) "
                 f"AS b{i}" for i in range(n)]
        _BLOCKS_SQL[(column, n)] = " UNION ALL ".join(parts)
    return _BLOCKS_SQL[(column, n)]


@dataclass
class _Deferred:
    """Writes of an ingest transaction that nothing later in it reads (record versions, events,
    golden fields): done once per transaction in bulk, before commit, so a batch of a hundred
    records costs three statements for them instead of three hundred, with the same result."""

    versions: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    goldens: dict[str, None] = field(default_factory=dict)  # ordered set of golden ids to refresh


def _event_row(kind: str, actor: str, reason: str = "", golden_id: str | None = None,
               other_golden_id: str | None = None, record: int | None = None, detail: dict | None = None) -> dict:
    return dict(at=utcnow(), kind=kind, actor=actor, reason=reason, golden_id=golden_id,
                other_golden_id=other_golden_id, record=record, detail=_dumps(detail or {}))


def _need_actor(actor: str) -> None:
    """Every change names who made it: a non-empty string of at most 200 printable characters."""
    if not isinstance(actor, str) or not actor.strip():
        raise InputError("a change needs the actor who makes it (a non-empty string)", column="actor")
    if len(actor) > 200 or any(ord(ch) < 32 for ch in actor):
        raise InputError("actor must be at most 200 characters without control characters", column="actor")


def _link_snapshot(link: Mapping) -> dict:
    return {"record": link["record"], "golden_id": link["golden_id"], "state": link["state"],
            "probability": link["probability"], "explanation": link["explanation"],
            "model_version": link["model_version"], "actor": link["actor"],
            "linked_at": link["linked_at"].isoformat()}


def _task_dict(r) -> dict:  # type: ignore[no-untyped-def]
    return {"id": r.id, "kind": r.kind, "golden_id": r.golden_id, "other_golden_id": r.other_golden_id,
            "record": r.record, "candidate_record": r.candidate_record, "probability": r.probability,
            "priority": r.priority, "rule": r.rule, "explanation": json.loads(r.explanation), "status": r.status,
            "claimed_by": r.claimed_by, "decision": r.decision, "decided_by": r.decided_by, "reason": r.reason,
            "created_at": r.created_at.isoformat() if r.created_at else None,
            "decided_at": r.decided_at.isoformat() if r.decided_at else None}
