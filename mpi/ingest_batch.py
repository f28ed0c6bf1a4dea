"""Batched ingest for ``MasterPatientIndex.ingest_frame``: one-by-one results at a batch's cost.

Ingesting a record one by one costs about a dozen statements (find it, insert it, read each key's
block, read the candidates' golden records, write keys, link, golden record, fields, event). A
batch of new records needs the same reads for every record, and what an earlier record of the
batch wrote is known here without asking the database: so the batch reads its stored candidates
in a few statements up front, keeps what its own records write in memory, and writes everything
in bulk at the end. Every record still sees exactly what it would see ingested alone, in file
order: the stored records plus the batch records before it, with block sizes counted over both
(a block's cap counts stored records, earlier batch records and this one), and golden records
with the members earlier batch records gave them.

Only batches of records that are all new or unchanged take this path. A batch that changes a
stored record, or that carries one record twice, goes through the one-by-one path unchanged (an
update re-reads and relocks the record's golden record, which a bulk read cannot stand in for).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import Connection, insert

from .blocking.keys import RecordKey
from .compare.table import RecordTable
from .decision import Decision
from .realtime import MAX_MEMBERS_SCORED
from .records import ID_COLUMN, SOURCE_COLUMN
from .store.database import Retry
from .store.schema import load_values, utcnow

log = logging.getLogger(__name__)



@dataclass
class NewRecord:
    """One record of the batch that is not stored yet."""

    position: int  # in the batch
    raw: dict
    norm: dict
    keys: list[RecordKey]
    content_hash: str
    pk: int = 0
    norm_json: str = ""


@dataclass
class BatchView:
    """What a record of the batch sees: stored blocks and golden records read once, plus what the
    batch's earlier records wrote (kept here, in order)."""

    stored_blocks: dict[int, list[int]]  # coarse key -> stored records (at most the key's cap)
    stored_fine: dict[int, list[int]]  # fine key -> stored rows' records (at most the cap)
    golden_of: dict[int, str]  # record -> golden id (stored candidates and batch records)
    stored_members: dict[str, list[int]]  # stored golden -> its stored members
    normalised: dict[int, dict]  # record -> normalised values, as read back from their stored JSON
    batch_blocks: dict[int, list[int]] = field(default_factory=dict)
    batch_fine: dict[int, list[int]] = field(default_factory=dict)
    batch_members: dict[str, list[int]] = field(default_factory=dict)

    def candidates(self, keys: list[RecordKey], exclude: int) -> set[int]:
        """The records ``_candidate_members`` finds under these keys (same caps, same fallback)."""
        found: set[int] = set()
        oversized = []
        for k in keys:
            block = self.stored_blocks.get(k.key, [])
            earlier = self.batch_blocks.get(k.key, [])
            if len(block) + len(earlier) + 1 > k.cap:
                if k.fine != 0:
                    oversized.append((k.fine, k.cap))
            else:
                found.update(block)
                found.update(earlier)
        for fine, cap in dict(oversized).items():
            rows = self.stored_fine.get(fine, []) + self.batch_fine.get(fine, [])
            if len(rows) + 1 <= cap:
                found.update(rows)
        found.discard(exclude)
        return found

    def members(self, found: set[int], exclude: int) -> list[dict]:
        """The found records' golden records with their members, as ``_candidate_members`` lists
        them: per golden record the newest ``MAX_MEMBERS_SCORED`` plus every found one, by pk."""
        out = []
        for gid in {self.golden_of[r] for r in found}:
            if gid not in self.stored_members and gid not in self.batch_members:
                raise KeyError(gid)  # cannot happen: every golden reached was read up front
            ordered = sorted(self.stored_members.get(gid, []) + self.batch_members.get(gid, []), reverse=True)
            n = 0
            normalised = self.normalised
            for r in ordered:
                if r == exclude or (n >= MAX_MEMBERS_SCORED and r not in found):
                    continue
                n += 1
                out.append({"pk": r, "golden": gid, "norm": normalised[r]})
        out.sort(key=lambda x: x["pk"])
        return out

    def add(self, rec: NewRecord, golden_id: str) -> None:
        """Record what ingesting ``rec`` wrote: its keys, its link and its values (as stored JSON,
        which is what a later record reads back when ingested one by one)."""
        for k in rec.keys:
            self.batch_blocks.setdefault(k.key, []).append(rec.pk)
            if k.fine != 0:
                self.batch_fine.setdefault(k.fine, []).append(rec.pk)
        self.golden_of[rec.pk] = golden_id
        self.batch_members.setdefault(golden_id, []).append(rec.pk)
        self.normalised[rec.pk] = load_values(rec.norm_json)


def read_blocks(conn: Connection, caps: dict[int, int], column: str) -> dict[int, list[int]]:
    """Stored records under each key (``column`` = "key" or "fine"), at most its cap per key."""
    from .service import block_rows

    return {k: [] for k in caps} | block_rows(conn, sorted(caps.items()), column)


def read_view(conn: Connection, records: Sequence[NewRecord]) -> BatchView:
    """Everything stored that the batch's records can reach, in a few statements: each key's
    block (to its cap), the finer blocks an oversized key may fall back to, and the golden records
    (with all their members) of every stored record those blocks hold."""
    from .service import member_rows

    caps: dict[int, int] = {}
    in_batch: dict[int, int] = {}
    for rec in records:
        for k in rec.keys:
            caps[k.key] = k.cap
            in_batch[k.key] = in_batch.get(k.key, 0) + 1
    blocks = read_blocks(conn, caps, "key")
    # a coarse block can only overflow for some record if its stored part plus the batch's
    # records under it pass the cap: only those records may need their finer block
    fine_caps = {k.fine: k.cap for rec in records for k in rec.keys
                 if k.fine != 0 and len(blocks[k.key]) + in_batch[k.key] > k.cap}
    fine = read_blocks(conn, fine_caps, "fine")
    reach = {r for key, rs in blocks.items() if len(rs) < caps[key] for r in rs}
    reach.update(r for f, rs in fine.items() if len(rs) < fine_caps[f] for r in rs)
    golden_of: dict[int, str] = {}
    members: dict[str, list[int]] = {}
    normalised: dict[int, dict] = {}
    for record, gid, norm in member_rows(conn, sorted(reach)) if reach else []:
        if record not in golden_of:
            golden_of[record] = gid
            members.setdefault(gid, []).append(record)
            normalised[record] = load_values(norm)
    return BatchView(blocks, fine, golden_of, members, normalised)


class BatchScorer:
    """Scores a batch's records against their candidates in one vectorised pass.

    Scoring a pair depends on the two records alone (:meth:`Matcher.pairwise`), so before the
    batch is ingested the pairs each record will most likely meet are scored together: its stored
    candidates as they stand, and the batch records before it that share a key with it. When a
    record's candidates turn out to include a pair not scored ahead (an earlier batch record
    brought its golden record's other members in), that record is scored on its own, exactly as
    one-by-one ingest scores it. The population passes always run per record, over its own
    neighbourhood (:meth:`Matcher.neighbourhood`).
    """

    def __init__(self, mpi, rows: dict[object, dict], pairs: list[tuple[object, int]]) -> None:  # type: ignore[no-untyped-def]
        self.mpi = mpi
        self.position = {key: i for i, key in enumerate(rows)}
        self.table = RecordTable.from_records(list(rows.values()), mpi.matcher.stats) if rows else None
        self.index = {pair: k for k, pair in enumerate(pairs)}
        self.scored = None
        if pairs and self.table is not None:
            left = np.array([self.position[q] for q, _ in pairs], dtype=np.int64)
            right = np.array([self.position[m] for _, m in pairs], dtype=np.int64)
            self.scored = mpi.matcher.pairwise(self.table, left, right)
        self.fallbacks = 0

    @classmethod
    def prepare(cls, mpi, view: BatchView, records: Sequence[NewRecord]) -> "BatchScorer":  # type: ignore[no-untyped-def]
        stored_json = {rec.pk: rec.norm_json for rec in records}
        rows: dict[object, dict] = {}
        pairs: list[tuple[object, int]] = []
        earlier: dict[tuple[str, int], list[int]] = {}  # ("key" | "fine", value) -> batch records so far
        for rec in records:
            query = ("query", rec.pk)
            rows[query] = rec.norm
            likely = [m["pk"] for m in view.members(view.candidates(rec.keys, rec.pk), rec.pk)]
            shared = [("key", k.key) for k in rec.keys] + [("fine", k.fine) for k in rec.keys if k.fine != 0]
            likely += [pk for block in shared for pk in earlier.get(block, [])]
            for block in shared:
                earlier.setdefault(block, []).append(rec.pk)
            for pk in dict.fromkeys(likely):
                if pk not in rows:
                    rows[pk] = load_values(stored_json[pk]) if pk in stored_json else view.normalised[pk]
                pairs.append((query, pk))
        return cls(mpi, rows, pairs)

    def choose(self, rec: NewRecord, members: list[dict]):  # type: ignore[no-untyped-def]
        """``mpi._choose`` for this record and these members, from the pairs scored ahead."""
        if not members:
            return self.mpi._choose(rec.norm, members)
        idx = [self.index.get((("query", rec.pk), m["pk"])) for m in members]
        if self.scored is None or any(i is None for i in idx):
            self.fallbacks += 1
            return self.mpi._choose(rec.norm, members)
        m = self.mpi.matcher
        scores = m.neighbourhood(self.table, self.scored.take(np.array(idx, dtype=np.int64)))
        return m.choose(scores, [x["golden"] for x in members]), scores


@dataclass
class BatchWrites:
    """Rows the batch writes at its end, in the order one-by-one ingest would have written them."""

    keys: list[tuple[int, int, int]] = field(default_factory=list)  # (key, record, fine)
    goldens: list[dict] = field(default_factory=list)
    links: list[dict] = field(default_factory=list)
    stored_targets: set[str] = field(default_factory=set)  # stored golden records joined: locked, checked


def ingest_new(mpi, conn: Connection, records: Sequence[NewRecord], actor: str, later) -> list:  # type: ignore[no-untyped-def]
    """Ingest records that are not stored yet (file order), as one-by-one ingest would; the
    caller holds the batch's locks and flushes ``later`` (versions, golden fields, events)."""
    from .service import OUTCOME, SR, IngestResult, _dumps, _event_row, golden_id_for

    if not records:
        return []
    now = utcnow()
    for r in records:
        r.norm_json = _dumps(r.norm)
    inserted = conn.execute(insert(SR).returning(SR.c.id, sort_by_parameter_order=True), [
        dict(source=r.raw[SOURCE_COLUMN], record_id=r.raw[ID_COLUMN], current_version=1,
             content_hash=r.content_hash, normalised=r.norm_json, created_at=now, updated_at=now)
        for r in records]).scalars().all()
    for rec, pk in zip(records, inserted):
        rec.pk = pk
    view = read_view(conn, records)
    scorer = BatchScorer.prepare(mpi, view, records)
    writes = BatchWrites()
    results = []
    for rec in records:
        source, rid, pk = rec.raw[SOURCE_COLUMN], rec.raw[ID_COLUMN], rec.pk
        later.versions.append(dict(record=pk, version=1, content_hash=rec.content_hash, raw=_dumps(rec.raw),
                                   normalised=rec.norm_json, received_at=now, actor=actor))
        members = view.members(view.candidates(rec.keys, pk), pk)
        writes.keys += [(k.key, pk, k.fine) for k in rec.keys]
        choice, scores = scorer.choose(rec, members)
        if mpi._before_write is not None:
            mpi._before_write()
        target = choice.golden_id if choice.decision == Decision.AUTO_LINK else None
        if target is not None and target not in view.batch_members:
            writes.stored_targets.add(target)
        explanation = scores.explanation(choice.best_member) if scores is not None and choice.best_member is not None \
            else {}
        if target is None:
            target = golden_id_for(source, rid, 0)  # a record new to the store has founded none
            writes.goldens.append(dict(id=target, status="active", replaced_by=None, attributes="{}", founder=pk,
                                       created_at=now, updated_at=now))
        state = "review" if choice.decision == Decision.REVIEW else "auto"
        writes.links.append(dict(record=pk, golden_id=target, state=state, probability=float(choice.probability),
                                 explanation=_dumps(explanation), model_version=mpi.model_version, actor=actor,
                                 linked_at=now))
        later.goldens[target] = None
        task_id = mpi._open_choice_tasks(conn, pk, target, choice, members, scores, explanation)
        decision = OUTCOME[choice.decision]
        later.events.append(_event_row(
            "ingest", actor, golden_id=target, record=pk,
            detail={"version": 1, "decision": decision, "probability": round(choice.probability, 6),
                    "model_version": mpi.model_version, "review_task": task_id, "previous_golden": None}))
        view.add(rec, target)
        results.append(IngestResult(source, rid, target, decision, float(choice.probability), explanation, task_id,
                                    mpi.model_version))
    _write(mpi, conn, writes)
    log.debug("batch of %d new records: %d scored on their own", len(records), scorer.fallbacks)
    return results


def _write(mpi, conn: Connection, writes: BatchWrites) -> None:  # type: ignore[no-untyped-def]
    """The batch's keys, golden records and links, in bulk; the stored golden records it joined
    are locked first and must still be active (else the whole batch is done again)."""
    from .service import _INSERT_GOLDEN, _INSERT_LINK, insert_keys

    insert_keys(conn, writes.keys)
    if writes.goldens:
        conn.execute(_INSERT_GOLDEN, writes.goldens)
    status = mpi._lock_goldens(conn, writes.stored_targets)
    if any(status.get(g, ("gone",))[0] != "active" for g in writes.stored_targets):
        raise Retry("a chosen golden record changed meanwhile")
    if writes.links:
        conn.execute(_INSERT_LINK, writes.links)
