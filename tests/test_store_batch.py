"""Batched loading (``ingest_frame``) writes exactly what ingesting the records one by one writes.

``ingest_frame`` reads a batch's stored candidates up front and keeps what the batch's own
records write in memory (mpi.ingest_batch). These tests compare every row that matters, not only
the clusters: each link (golden id, state, probability, explanation), each golden record's fields,
each review task and each event, and the blocking keys. Block caps are shrunk to a few records so
that blocks overflow to their finer keys all the time, the path where counting stored records,
earlier batch records and the record itself has to be exactly right.
"""
from __future__ import annotations

import json
import logging
import re

import pandas as pd
import pytest
from sqlalchemy import text

import mpi.blocking.keys as keys_module
from mpi.ingest_batch import BatchScorer
from store_support import example_records, example_truth, golden_state, link_state, open_store, records_of, rows

TINY_CAP = 3


@pytest.fixture
def tiny_caps(monkeypatch):
    """Every rule's block cap lowered to TINY_CAP (for both paths: they share the key functions)."""
    original = keys_module._record_key

    def capped(r, rule, value, finer):  # type: ignore[no-untyped-def]
        key = original(r, rule, value, finer)
        return keys_module.RecordKey(key.rule, key.key, key.fine, min(key.cap, TINY_CAP))

    monkeypatch.setattr(keys_module, "_record_key", capped)


def _records() -> pd.DataFrame:
    """Look-alike persons (twins, Jr/Sr, newborns, shared SSNs) and others, in file order."""
    truth = example_truth()
    hard = set(truth.loc[truth["category"].isin(("twin", "jr_sr", "newborn", "placeholder_ssn")), "person_id"])
    others = sorted(set(truth["person_id"]) - hard)[:80]
    return records_of(hard | set(others)).reset_index(drop=True)


def _snapshot(store) -> dict:  # type: ignore[no-untyped-def]
    """Everything ingest wrote, with record pks replaced by (source, record_id)."""
    with store.engine.connect() as conn:
        ident = {pk: (s, r) for pk, s, r in conn.execute(text("SELECT id, source, record_id FROM source_record"))}
        tasks = sorted((t[0], ident.get(t[1]), ident.get(t[2]), t[3], t[4], round(t[5], 9), t[6], json.loads(t[7]),
                        t[8]) for t in conn.execute(text(
                            "SELECT kind, record, candidate_record, golden_id, other_golden_id, probability, rule, "
                            "explanation, status FROM review_task")))
        task_ids = {t[0]: i for i, t in enumerate(conn.execute(text("SELECT id FROM review_task ORDER BY id")))}
        events = []
        for kind, golden, other, record, detail in conn.execute(text(
                "SELECT kind, golden_id, other_golden_id, record, detail FROM event WHERE kind <> 'model' "
                "ORDER BY id")):
            d = json.loads(detail)
            if d.get("review_task") is not None:
                d["review_task"] = task_ids[d["review_task"]]
            events.append((kind, golden, other, ident.get(record), d))
        blocks = sorted((k, ident[r], f) for k, r, f in conn.execute(text("SELECT key, record, fine FROM block_key")))
        versions = sorted((ident[r], v, h, raw) for r, v, h, raw in conn.execute(text(
            "SELECT record, version, content_hash, raw FROM record_version")))
    return {"links": link_state(store), "goldens": golden_state(store), "tasks": tasks, "events": events,
            "blocks": blocks, "versions": versions}


def _one_by_one(url: str, frames: list[pd.DataFrame]) -> dict:
    with open_store(url) as store:
        for frame in frames:
            for r in rows(frame):
                store.ingest(r)
        return _snapshot(store)


def _batched(url: str, frames: list[pd.DataFrame], batch_size: int) -> tuple[dict, list[dict]]:
    with open_store(url) as store:
        counts = [store.ingest_frame(frame, batch_size=batch_size) for frame in frames]
        return _snapshot(store), counts


def _assert_same(batched: dict, single: dict) -> None:
    for part in ("links", "goldens", "tasks", "events", "blocks", "versions"):
        assert batched[part] == single[part], part


def _scored_on_their_own(caplog) -> tuple[int, int]:
    """(new records, records scored on their own) over the batches logged by mpi.ingest_batch."""
    found = [re.search(r"batch of (\d+) new records: (\d+) scored on their own", r.getMessage())
             for r in caplog.records if r.name == "mpi.ingest_batch"]
    return sum(int(m.group(1)) for m in found if m), sum(int(m.group(2)) for m in found if m)


@pytest.mark.parametrize("batch_size", [1, 23, 500])
def test_batched_load_writes_what_one_by_one_ingest_writes(database_url, tmp_path, tiny_caps, batch_size, caplog):
    caplog.set_level(logging.DEBUG, logger="mpi.ingest_batch")
    recs = _records()
    first, everything = recs.iloc[: len(recs) // 2], recs  # the second load: half stored already
    batched, counts = _batched(database_url, [first, everything], batch_size)
    new, on_their_own = _scored_on_their_own(caplog)
    assert new == len(recs) and on_their_own < new / 10  # the batch scorer's pairs did the work
    single = _one_by_one(f"sqlite:///{tmp_path / 'single.db'}", [first, everything])
    _assert_same(batched, single)
    assert counts[1]["unchanged"] == len(first)
    decisions = {e[4]["decision"] for e in single["events"]}
    assert {"new", "auto_link", "review"} <= decisions  # real linking, look-alikes sent to review


def test_records_scored_on_their_own_in_a_batch_equal_one_by_one(database_url, tmp_path, tiny_caps, caplog,
                                                                  monkeypatch):
    """A record whose candidates were not all scored ahead is scored on its own: with every
    third pair left out of the batch scorer, many records take that path, with the same result."""
    caplog.set_level(logging.DEBUG, logger="mpi.ingest_batch")
    original = BatchScorer.__init__

    def fewer(self, mpi, rows, pairs):  # type: ignore[no-untyped-def]
        original(self, mpi, rows, [p for k, p in enumerate(pairs) if k % 3])

    monkeypatch.setattr(BatchScorer, "__init__", fewer)
    recs = _records()
    batched, _ = _batched(database_url, [recs], 60)
    single = _one_by_one(f"sqlite:///{tmp_path / 'single.db'}", [recs])
    _assert_same(batched, single)
    new, on_their_own = _scored_on_their_own(caplog)
    assert new == len(recs) and new / 10 < on_their_own < new


def test_tiny_caps_make_blocks_overflow_to_finer_keys(tiny_caps):
    """The cap fixture bites: the slice has coarse blocks past the cap (else the tests above
    would not exercise the finer-key fallback)."""
    from mpi.blocking.keys import frame_keys
    from mpi.normalise.frame import normalise_frame

    keys = [k for ks in frame_keys(normalise_frame(_records())) for k in ks]
    assert all(k.cap <= TINY_CAP for k in keys)
    sizes = pd.Series([k.key for k in keys]).value_counts()
    assert (sizes > TINY_CAP).sum() >= 20
    assert any(k.fine != 0 for k in keys)


def test_a_batch_with_a_changed_record_equals_one_by_one(database_url, tmp_path, tiny_caps):
    """A record whose demographics changed takes the record-by-record path inside its batch."""
    recs = _records().head(120)
    changed = recs.iloc[[5, 60, 61]].copy()
    changed["phone"] = "555-010-" + changed["record_id"].str[-4:].str.zfill(4)
    rest = recs.iloc[:100].drop(index=changed.index)
    more = pd.concat([recs.iloc[100:], changed, rest], ignore_index=True)
    batched, _ = _batched(database_url, [recs.head(100), more], 40)
    single = _one_by_one(f"sqlite:///{tmp_path / 'single.db'}", [recs.head(100), more])
    _assert_same(batched, single)
    assert sum(1 for e in single["events"] if e[0] == "update") == 3


def test_postgresql_one_statement_candidate_lookup_equals_the_stepwise_one(pg_database, tiny_caps):
    """Match and ingest on PostgreSQL read candidates with one statement; it finds the same
    members (records, golden records, found-in-a-block marks) as the stepwise lookup, with blocks
    overflowing to finer keys everywhere (caps of 3), with and without an excluded record."""
    from mpi.service import _pg_candidate_rows

    recs = _records()
    with open_store(pg_database) as store:
        store.ingest_frame(recs.iloc[: len(recs) * 2 // 3], batch_size=50)
        m = store.matcher
        compared = overflowing = 0
        with store.engine.connect() as conn:
            pks = dict(conn.execute(text("SELECT record_id, id FROM source_record")).all())
            for r in rows(recs):
                keys = m.keys(m.normalise({**r, "source": r.get("source") or "default"}))
                for exclude in (None, pks.get(r["record_id"])):
                    one = sorted(_pg_candidate_rows(conn, keys, exclude))
                    stepwise = sorted(store._stepwise_candidate_rows(conn, keys, exclude))
                    assert one == stepwise
                    compared += bool(one)
            for k in {k for r in rows(recs) for k in m.keys(m.normalise(r))}:
                n = conn.execute(text("SELECT count(*) FROM block_key WHERE key = :k"), {"k": k.key}).scalar_one()
                overflowing += n + 1 > k.cap
    assert compared > len(recs) and overflowing > 20
