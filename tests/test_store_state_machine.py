"""A Hypothesis state machine over the persistent store, on SQLite and on PostgreSQL.

Steps: ingest example records (first sends, re-sends, changed versions, a record taking over
another's demographics), merge, merge-then-unmerge, unmerge of an earlier merge, split, and
steward decisions on real review tasks. After every step the tables are checked with SQL: every
stored record sits in exactly one active golden record, no active golden record is empty, no
golden row ever disappears and a retired id only comes back by undoing its merge.
"""
from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition, rule,
                                 run_state_machine_as_test)
from sqlalchemy import text

from mpi.service import MasterPatientIndex
from mpi.store.database import Conflict
from store_support import (example_truth, golden_state, link_state, open_store, person_of, records_of, rows,
                           table_count, task_state)

# rows deleted between examples, children first (the model stays: it is learned once)
RESET_ORDER = ("match_label", "review_task", "event", "block_key", "link", "record_version", "source_record",
               "golden")
TABLES = RESET_ORDER


@functools.cache
def _pool() -> tuple[dict, ...]:
    """Records of the look-alike persons (twins, juniors/seniors, newborns) that leave review tasks
    when loaded (found by loading them all into a scratch store), plus a few ordinary persons."""
    truth = example_truth()
    hard = set(truth.loc[truth["category"].isin(("twin", "jr_sr", "newborn")), "person_id"])
    with tempfile.TemporaryDirectory() as tmp:
        scratch = open_store(f"sqlite:///{Path(tmp) / 'scratch.db'}")
        scratch.ingest_frame(records_of(hard))
        with scratch.engine.connect() as conn:
            involved = set(conn.execute(text(
                "SELECT s.record_id FROM review_task t JOIN source_record s "
                "ON s.id = t.record OR s.id = t.candidate_record")).scalars())
        scratch.close()
    chosen = {person_of()[r] for r in involved}
    assert len(chosen) >= 4, "the look-alikes in the examples leave review tasks"
    sizes = truth.groupby("person_id").size()
    chosen.update(sorted(p for p in set(truth.loc[truth["category"] == "", "person_id"]) if sizes[p] >= 3)[:3])
    return tuple(rows(records_of(chosen)))


def variant(record: dict, kind: int, other: dict) -> dict:
    """A changed version of ``record``: new phone, new email, moved house, no SSN, or another
    pool record's demographics under this record's id."""
    if kind == 0:
        return {**record, "phone": "937-555-" + str(1000 + sum(map(ord, record["record_id"])) % 9000)}
    if kind == 1:
        return {**record, "email": record["record_id"].replace(":", ".") + "@mailhost.net"}
    if kind == 2:
        return {**record, "street": "4410 Larkspur Ln", "city": "Kettering", "state": "OH", "zip": "45429"}
    if kind == 3:
        return {**record, "ssn": ""}
    return {**other, "record_id": record["record_id"], "source": record["source"]}


def reset(store: MasterPatientIndex) -> None:
    with store.engine.begin() as conn:
        for table in RESET_ORDER:
            conn.execute(text(f"DELETE FROM {table}"))


def state(store: MasterPatientIndex) -> dict:
    clusters, review = store.export()
    return {"clusters": clusters.to_dict("records"), "review": review.to_dict("records"),
            "links": link_state(store), "goldens": golden_state(store), "tasks": task_state(store),
            "counts": {t: table_count(store, t) for t in TABLES if t != "event"}}


class StoreMachine(RuleBasedStateMachine):
    store: MasterPatientIndex  # set per backend by the test
    pool: tuple[dict, ...] = ()  # the records steps draw from (set by the test)

    def __init__(self) -> None:
        super().__init__()
        reset(self.store)
        self.sent: dict[tuple[str, str], dict] = {}  # what the store was last sent per record
        self.versions = 0  # record versions the store must hold
        self.goldens: dict[str, str] = {}  # golden id -> status after the last step
        self.reactivated_by_unmerge: set[str] = set()

    # ------------------------------------------------------------------ helpers
    def active(self) -> list[str]:
        return sorted(g for g, s in self.goldens.items() if s == "active")

    def _send(self, record: dict) -> None:
        key = (record["source"], record["record_id"])
        links = link_state(self.store)
        before_link = links.get(key)
        known = set(self.goldens)
        if self.sent.get(key) == record:
            before = state(self.store)
            events = table_count(self.store, "event")
            result = self.store.ingest(record)
            assert result.decision == "unchanged"
            assert result.golden_id == before_link[0]
            assert state(self.store) == before, "re-sending identical data changed the store"
            assert table_count(self.store, "event") == events
            return
        result = self.store.ingest(record)
        self.sent[key] = record
        self.versions += 1
        if before_link is None:
            assert result.decision in ("new", "auto_link", "review")
        elif before_link[1] == "manual":
            # a steward's link survives re-matching
            assert result.decision == "manual" and result.golden_id == before_link[0]
        else:
            assert result.decision in ("new", "auto_link", "review")
        after = link_state(self.store)[key]
        assert after[0] == result.golden_id
        if result.golden_id in known:
            # an existing id: the golden the record joined or kept, never a retired one
            assert self.goldens[result.golden_id] == "active"
        if result.decision == "new" and (before_link is None or result.golden_id != before_link[0]):
            assert result.golden_id not in known, "a new golden record reused an id"

    # ------------------------------------------------------------------ rules
    @initialize(data=st.data())
    def load_some_persons(self, data) -> None:
        """Start empty, or from a bulk load (in file order) of the pool's persons but a few left out."""
        if data.draw(st.booleans()):
            return
        persons = sorted({person_of()[r["record_id"]] for r in self.pool})
        left_out = data.draw(st.sets(st.sampled_from(persons), max_size=len(persons) // 2))
        batch = [r for r in self.pool if person_of()[r["record_id"]] not in left_out]
        if batch:
            self.store.ingest_frame(pd.DataFrame(batch), batch_size=7)
        for r in batch:
            self.sent[(r["source"], r["record_id"])] = r
        self.versions += len(batch)

    @rule(data=st.data())
    def send_original(self, data) -> None:
        self._send(data.draw(st.sampled_from(self.pool)))

    @precondition(lambda self: bool(self.sent))
    @rule(data=st.data())
    def resend_current(self, data) -> None:
        key = data.draw(st.sampled_from(sorted(self.sent)))
        self._send(dict(self.sent[key]))

    @precondition(lambda self: bool(self.sent))
    @rule(data=st.data(), kind=st.integers(0, 4))
    def send_changed(self, data, kind: int) -> None:
        key = data.draw(st.sampled_from(sorted(self.sent)))
        other = data.draw(st.sampled_from(self.pool)) if kind == 4 else {}
        self._send(variant(self.sent[key], kind, other))

    @precondition(lambda self: len(self.active()) >= 2)
    @rule(data=st.data())
    def merge(self, data) -> None:
        a, b = data.draw(st.lists(st.sampled_from(self.active()), min_size=2, max_size=2, unique=True))
        members = set(self.store.cross_references(a)) | set(self.store.cross_references(b))
        assert self.store.merge(a, b, actor="steward", reason="state machine") == a
        assert self.store.resolve_id(b) == a
        assert set(self.store.cross_references(a)) == members

    @precondition(lambda self: len(self.active()) >= 2)
    @rule(data=st.data())
    def merge_then_unmerge(self, data) -> None:
        a, b = data.draw(st.lists(st.sampled_from(self.active()), min_size=2, max_size=2, unique=True))
        before = state(self.store)
        self.store.merge(a, b, actor="steward", reason="try")
        assert state(self.store)["goldens"][b][0] == "merged"
        self.store.unmerge(b, actor="steward", reason="undo")
        assert state(self.store) == before, "merge then unmerge did not restore the store"

    @precondition(lambda self: any(s == "merged" for s in self.goldens.values()))
    @rule(data=st.data())
    def unmerge(self, data) -> None:
        with self.store.engine.connect() as conn:
            merged = sorted(r[0] for r in conn.execute(text(
                "SELECT DISTINCT other_golden_id FROM event e JOIN golden g ON g.id = e.other_golden_id "
                "WHERE e.kind = 'merge' AND g.status = 'merged'")))
        if not merged:
            return
        b = data.draw(st.sampled_from(merged))
        before = state(self.store)
        try:
            self.store.unmerge(b, actor="steward", reason="undo an earlier merge")
        except Conflict:  # its records all moved since, or a later move retired it: nothing changes
            assert state(self.store) == before
            return
        self.reactivated_by_unmerge.add(b)
        assert self.store.resolve_id(b) == b
        assert self.store.cross_references(b)

    @precondition(lambda self: bool(self.sent))
    @rule(data=st.data())
    def split(self, data) -> None:
        key = data.draw(st.sampled_from(sorted(self.sent)))
        golden = self.store.golden_of(*key)
        members = self.store.cross_references(golden)
        if len(members) == 1:
            before = state(self.store)
            with pytest.raises(Conflict):
                self.store.split(*key, actor="steward")
            assert state(self.store) == before
            return
        new = self.store.split(*key, actor="steward", reason="two people")
        assert new not in self.goldens
        assert self.store.cross_references(new) == [key]
        assert set(self.store.cross_references(golden)) == set(members) - {key}
        assert link_state(self.store)[key][1] == "manual"

    @precondition(lambda self: self.store.counts()["open_review_tasks"] > 0)
    @rule(data=st.data(), same=st.booleans())
    def decide(self, data, same: bool) -> None:
        task = data.draw(st.sampled_from(self.store.review_tasks(limit=1000)))
        target = self.store.resolve_id(task["golden_id"])
        if task["kind"] == "golden_golden":
            key, other = None, self.store.resolve_id(task["other_golden_id"])
        else:
            with self.store.engine.connect() as conn:
                key = tuple(conn.execute(text("SELECT source, record_id FROM source_record WHERE id = :pk"),
                                         {"pk": task["record"]}).one())
            other = self.store.golden_of(*key)
        if other == target and not same:
            # merged meanwhile: "different" cannot keep apart what is one golden record now
            before = state(self.store)
            with pytest.raises(Conflict):
                self.store.decide(task["id"], "different", actor="steward")
            assert state(self.store) == before
            return
        self.store.decide(task["id"], "same" if same else "different", actor="steward", reason="state machine")
        assert self.store.review_task(task["id"])["status"] == "decided"
        if key is None:
            joined = self.store.resolve_id(task["golden_id"]) == self.store.resolve_id(task["other_golden_id"])
            assert joined == same
            return
        link = link_state(self.store)[key]
        assert link[1] == "manual"
        assert (link[0] == self.store.resolve_id(task["golden_id"])) == same

    # ------------------------------------------------------------------ invariants
    @invariant()
    def every_record_in_exactly_one_active_golden(self) -> None:
        with self.store.engine.connect() as conn:
            def n(sql: str) -> int:
                return int(conn.execute(text(sql)).scalar_one())
            assert n("SELECT COUNT(*) FROM source_record") == len(self.sent)
            assert n("SELECT COUNT(*) FROM source_record s LEFT JOIN link l ON l.record = s.id "
                     "WHERE l.record IS NULL") == 0, "a stored record without a golden record"
            assert n("SELECT COUNT(*) FROM (SELECT record FROM link GROUP BY record HAVING COUNT(*) > 1) x") == 0
            assert n("SELECT COUNT(*) FROM link l LEFT JOIN golden g ON g.id = l.golden_id "
                     "WHERE g.id IS NULL OR g.status <> 'active'") == 0, "a record linked to a retired golden"
            assert n("SELECT COUNT(*) FROM golden g WHERE g.status = 'active' AND NOT EXISTS "
                     "(SELECT 1 FROM link l WHERE l.golden_id = g.id)") == 0, "an active golden without records"
            assert n("SELECT COUNT(*) FROM record_version") == self.versions
        clusters, _ = self.store.export()
        assert sorted(clusters["record_id"]) == sorted(rid for _, rid in self.sent)

    @invariant()
    def golden_ids_are_never_lost_or_reused(self) -> None:
        now = {g: s for g, (s, _, _) in golden_state(self.store).items()}
        assert set(self.goldens) <= set(now), "a golden row disappeared"
        for g, status in self.goldens.items():
            if status == "merged" and now[g] == "active":
                assert g in self.reactivated_by_unmerge, f"retired golden {g} came back without an unmerge"
        for g, status in now.items():
            if status == "merged":
                assert self.store.golden(g).status == "active"  # the chain ends at an active golden
        self.goldens = now
        self.reactivated_by_unmerge = set()


@pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
def test_store_state_machine(database_url):
    store = open_store(database_url)
    try:
        machine = type("StoreMachineAt", (StoreMachine,), {"store": store, "pool": _pool()})
        run_state_machine_as_test(machine, settings=settings(
            max_examples=15, stateful_step_count=12, deadline=None, print_blob=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    finally:
        store.close()
