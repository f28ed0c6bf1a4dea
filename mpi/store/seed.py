"""Seeding an empty store from a batch resolution (``mpi.resolve``).

A hospital moving to a real-time MPI usually starts from a backlog of millions of records. The
batch engine resolves those in minutes (global clustering, the population-level passes); this
writes its result into an empty store in large multi-row inserts, so real-time ingest can start
from there. It is a different path from ``mpi load`` (which ingests record by record, so its
result equals one-by-one ingestion): a seeded store holds the batch clusters, and its history says
so (one ``seed`` event per golden record).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import numpy as np
from sqlalchemy import func, insert, select

from ..blocking.keys import frame_keys
from ..pipeline import Resolution
from ..population import PopulationStats
from ..records import CANONICAL_COLUMNS
from .database import Conflict
from .schema import BlockKey, Event, Golden, Link, RecordVersion, ReviewTask, SourceRecord, utcnow

CHUNK = 20_000


def seed_from_resolution(mpi, raw, resolution: Resolution, actor: str = "system",
                         progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Write ``resolution`` (of the validated records ``raw``, same order) into the empty store
    ``mpi`` (a :class:`mpi.service.MasterPatientIndex`), with its model. Returns row counts."""
    from ..service import _dumps, content_hash
    from ..survivorship import Member, golden_attributes

    with mpi._tx(write=False) as conn:
        if conn.execute(select(func.count()).select_from(SourceRecord.__table__)).scalar_one():
            raise Conflict("seeding needs an empty store; use `mpi load` to add records to one that has some")
    norm = resolution.records
    stats = PopulationStats.from_normalised(norm, resolution.lookalikes)
    version = mpi.register_model(resolution.model, stats, resolution.thresholds, origin="batch resolution (seed)")
    now = utcnow()
    n = len(norm)
    raws = raw[list(CANONICAL_COLUMNS)].to_dict("records")
    norm_rows = norm.to_dict("records")
    keys = frame_keys(norm)
    labels = resolution.clusters["cluster_id"].to_numpy()
    ids = norm["record_id"].to_numpy()
    position = {rid: i for i, rid in enumerate(ids)}
    founder = {c: position[c] for c in np.unique(labels)}
    golden_id = {c: "G" + hashlib.blake2b(f"{norm_rows[i]['source']}\x1f{ids[i]}\x1f0".encode(),
                                          digest_size=8).hexdigest() for c, i in founder.items()}
    members: dict[str, list[int]] = {}
    for i, c in enumerate(labels):
        members.setdefault(c, []).append(i)

    def chunks(rows_fn, total):
        for start in range(0, total, CHUNK):
            yield rows_fn(start, min(start + CHUNK, total))

    written = {"records": n, "golden_records": len(founder), "block_keys": 0, "review_tasks": len(resolution.review)}
    with mpi._tx() as conn:
        for rows in chunks(lambda a, b: [dict(id=i + 1, source=norm_rows[i]["source"], record_id=ids[i],
                                              current_version=1, content_hash=content_hash(raws[i]),
                                              normalised=_dumps(norm_rows[i]), created_at=now, updated_at=now)
                                         for i in range(a, b)], n):
            conn.execute(insert(SourceRecord.__table__), rows)
        for rows in chunks(lambda a, b: [dict(record=i + 1, version=1, content_hash=content_hash(raws[i]),
                                              raw=_dumps(raws[i]), normalised=_dumps(norm_rows[i]), received_at=now,
                                              actor=actor) for i in range(a, b)], n):
            conn.execute(insert(RecordVersion.__table__), rows)
            if progress:
                progress(rows[-1]["record"], n)
        block_rows = [dict(key=k.key, record=i + 1, fine=k.fine) for i in range(n) for k in keys[i]]
        written["block_keys"] = len(block_rows)
        for start in range(0, len(block_rows), CHUNK):
            conn.execute(insert(BlockKey.__table__), block_rows[start:start + CHUNK])
        del block_rows
        golden_rows, event_rows = [], []
        for c, idx in members.items():
            attrs = golden_attributes([Member(norm_rows[i]["source"], ids[i], raws[i], norm_rows[i], i + 1)
                                       for i in idx], mpi.survivorship)
            golden_rows.append(dict(id=golden_id[c], status="active", replaced_by=None, attributes=_dumps(attrs),
                                    founder=founder[c] + 1, created_at=now, updated_at=now))
            event_rows.append(dict(at=now, kind="seed", actor=actor, reason="", golden_id=golden_id[c],
                                   other_golden_id=None, record=None,
                                   detail=_dumps({"records": len(idx), "model_version": version})))
        for start in range(0, len(golden_rows), CHUNK):
            conn.execute(insert(Golden.__table__), golden_rows[start:start + CHUNK])
            conn.execute(insert(Event.__table__), event_rows[start:start + CHUNK])
        for rows in chunks(lambda a, b: [dict(record=i + 1, golden_id=golden_id[labels[i]], state="auto",
                                              probability=1.0, explanation="{}", model_version=version, actor=actor,
                                              linked_at=now) for i in range(a, b)], n):
            conn.execute(insert(Link.__table__), rows)
        review_rows = []
        for r in resolution.review.itertuples(index=False):
            a, b = position[r.record_id_l], position[r.record_id_r]
            review_rows.append(dict(kind="record_golden", record=a + 1, candidate_record=b + 1,
                                    golden_id=golden_id[labels[b]], other_golden_id=None,
                                    probability=float(r.match_probability), priority=float(r.match_probability),
                                    rule="", explanation=json.dumps({}), status="open", created_at=now))
        for start in range(0, len(review_rows), CHUNK):
            conn.execute(insert(ReviewTask.__table__), review_rows[start:start + CHUNK])
    if mpi._is_pg():  # sequences must continue after the explicit record ids
        with mpi._tx() as conn:
            conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('source_record', 'id'), "
                                 "(SELECT MAX(id) FROM source_record))")
    mpi.analyze()  # planner statistics for the new rows (see MasterPatientIndex.analyze)
    return written
