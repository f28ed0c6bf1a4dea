"""The persistent MPI through its facade (``MasterPatientIndex``), on SQLite and on PostgreSQL.

Records come from examples/records.csv; which records belong together, and which persons are
twins or a junior and a senior, is read from examples/truth.csv and the data, never hard-coded.
Store contents are checked with SQL on the tables, not only through the facade that wrote them.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

import mpi
from mpi.normalise.frame import normalise_frame
from mpi.service import MasterPatientIndex
from mpi.store.database import MIGRATIONS, Conflict, NotFound
from mpi.survivorship import SurvivorshipPolicy
from store_support import (example_records, example_truth, golden_state, learned, link_state, open_store,
                           person_of, records_of, rows, table_count, task_state)

TABLES = ("source_record", "record_version", "golden", "link", "block_key", "review_task", "match_label", "event",
          "model_version")
HARD_CATEGORIES = ("twin", "jr_sr", "newborn")


@pytest.fixture
def store(database_url):
    s = open_store(database_url)
    yield s
    s.close()


def snapshot(store: MasterPatientIndex) -> dict:
    """Everything a change could touch: row counts, links, golden rows and the export."""
    clusters, review = store.export()
    return {"counts": {t: table_count(store, t) for t in TABLES}, "links": link_state(store),
            "goldens": golden_state(store), "clusters": clusters.to_dict("records"),
            "review": review.to_dict("records"), "tasks": task_state(store)}


def persons(category: str = "", min_records: int = 2) -> list[str]:
    truth = example_truth()
    sizes = truth.groupby("person_id").size()
    cats = truth.groupby("person_id")["category"].first()
    return sorted(p for p in sizes.index if sizes[p] >= min_records and cats[p] == category)


def hard_persons() -> set[str]:
    truth = example_truth()
    return set(truth.loc[truth["category"].isin(HARD_CATEGORIES), "person_id"])


def load_hard(store: MasterPatientIndex) -> pd.DataFrame:
    recs = records_of(hard_persons())
    store.ingest_frame(recs)
    return recs


def record_key(store: MasterPatientIndex, pk: int) -> tuple[str, str]:
    with store.engine.connect() as conn:
        row = conn.execute(text("SELECT source, record_id FROM source_record WHERE id = :pk"), {"pk": pk}).one()
    return row[0], row[1]


def raw_of(store: MasterPatientIndex, source: str, record_id: str) -> dict:
    recs = example_records()
    row = recs[(recs["record_id"] == record_id) & (recs["source"] == source)]
    assert len(row) == 1
    return row.iloc[0].to_dict()


def changed(record: dict) -> dict:
    """The same record with new contact details (a changed version, still the same person)."""
    digits = "".join(ch for ch in str(record.get("phone", "")) if ch.isdigit())
    phone = "614555" + ("0000" + str((int(digits[-4:]) + 1) % 10000 if digits else 1))[-4:]
    return {**record, "phone": phone, "email": f"new.{record['record_id'].split(':')[-1]}@mailhost.net"}


def new_person(record_id: str, source: str = "test") -> dict:
    """A record unlike anyone in the examples (no shared name, date, identifier or address)."""
    return {"record_id": record_id, "source": source, "first_name": "Quillon", "last_name": "Vantresca",
            "dob": "1903-02-11", "sex": "M", "ssn": "899-01-4455", "phone": "907-555-0123",
            "street": "1 Tundra Way", "city": "Nome", "state": "AK", "zip": "99762"}


# ------------------------------------------------------------------------------------- models

def test_a_store_without_a_model_refuses_to_ingest_and_stores_nothing(database_url):
    with MasterPatientIndex(database_url) as s:
        assert not s.has_model()
        with pytest.raises(mpi.NotFittedError, match="no model"):
            s.ingest(rows(example_records().head(1))[0])
        assert table_count(s, "source_record") == 0 and table_count(s, "event") == 0


def test_learn_model_stores_one_active_model_and_keeps_it(database_url):
    recs = example_records()
    with MasterPatientIndex(database_url) as s:
        version = s.learn_model(recs.head(600), origin="first")
        assert s.has_model() and s.model_version == version
        again = s.learn_model(recs.tail(600), origin="second")  # a store keeps the model it has
        assert again == version
        with s.engine.connect() as conn:
            active = conn.execute(text("SELECT id FROM model_version WHERE active = :t"), {"t": True}).all()
        assert [r[0] for r in active] == [version]
        result = s.ingest(rows(recs.head(1))[0])
        assert result.model_version == version


def test_register_model_switches_the_active_model(database_url):
    from store_support import fit_model
    model, stats = learned()
    other = fit_model(example_records().head(600))  # different data, different parameters
    with MasterPatientIndex(database_url) as s:
        first = s.register_model(model, stats, origin="a")
        second = s.register_model(other, stats, origin="b")
        assert second != first and s.model_version == second
        assert s.ingest(rows(example_records().head(1))[0]).model_version == second
        assert s.register_model(model, stats, origin="again") == first  # the same model is not stored twice
        with s.engine.connect() as conn:
            stored = dict(conn.execute(text("SELECT id, active FROM model_version")).all())
        assert {k: bool(v) for k, v in stored.items()} == {first: True, second: False}
        assert s.model_version == first


# ------------------------------------------------------------------------------------- ingest

def test_first_record_is_new_and_alone(store):
    record = rows(example_records().head(1))[0]
    before = store.counts()
    result = store.ingest(record, actor="feed")
    assert result.decision == "new"
    assert (result.source, result.record_id) == (record["source"], record["record_id"])
    after = store.counts()
    assert after["records"] == before["records"] + 1
    assert after["versions"] == before["versions"] + 1
    assert after["golden_records"] == before["golden_records"] + 1
    g = store.golden(result.golden_id)
    assert g.status == "active"
    assert [(m["source"], m["record_id"]) for m in g.members] == [(record["source"], record["record_id"])]
    assert store.golden_of(record["source"], record["record_id"]) == result.golden_id


def test_records_of_one_person_auto_link_into_one_golden(store):
    people = persons("", 3)[:25]
    recs = records_of(set(people))
    golden_of_person: dict[str, str] = {}
    auto, later = 0, 0
    for record in rows(recs):
        person = person_of()[record["record_id"]]
        result = store.ingest(record)
        if person not in golden_of_person:
            golden_of_person[person] = result.golden_id
            continue
        later += 1
        if result.decision == "auto_link":
            auto += 1
            # an auto-link joins the golden record the person already has, never someone else's
            assert result.golden_id == golden_of_person[person]
            assert result.probability >= 0.95
            assert result.explanation["fields"]
    assert later >= 40
    assert auto / later >= 0.9
    # the clustering is exactly the persons wherever auto-links happened: no golden mixes persons
    clusters, _ = store.export()
    mixed = clusters.assign(person=clusters["record_id"].map(person_of())).groupby("cluster_id")["person"].nunique()
    assert (mixed == 1).all()


def test_reingest_of_identical_data_changes_nothing(store):
    people = persons("", 2)[:5]
    recs = rows(records_of(set(people)))
    for r in recs:
        store.ingest(r)
    before = snapshot(store)
    for r in recs:
        again = store.ingest(dict(r))
        assert again.decision == "unchanged"
        # it reports the stored link
        golden, _, probability, *_ = before["links"][(r["source"], r["record_id"])]
        assert (again.golden_id, again.probability) == (golden, probability)
    # None and a missing optional field mean the same as an empty string
    r = recs[0]
    sparse = {k: (None if v == "" else v) for k, v in r.items()}
    assert store.ingest(sparse).decision == "unchanged"
    assert snapshot(store) == before


def test_changed_demographics_make_a_version_and_move_the_record(store):
    a_person, b_person = persons("", 2)[:2]
    a = rows(records_of({a_person}))
    b = rows(records_of({b_person}))[0]
    ga = store.ingest(a[0]).golden_id
    gb = store.ingest(b).golden_id
    assert ga != gb
    versions = store.counts()["versions"]

    # B's system now sends A's demographics under B's id: a new version, re-evaluated into A
    as_a = {**{k: v for k, v in a[0].items() if k not in ("record_id", "source")},
            "record_id": b["record_id"], "source": b["source"]}
    moved = store.ingest(as_a)
    assert moved.decision == "auto_link" and moved.golden_id == ga
    assert store.counts()["versions"] == versions + 1
    assert store.golden_of(b["source"], b["record_id"]) == ga
    # its old golden record had no other member: retired, and its id now means A's
    assert store.resolve_id(gb) == ga
    assert store.golden(gb).id == ga
    with store.engine.connect() as conn:
        n_versions = conn.execute(text("SELECT COUNT(*) FROM record_version v JOIN source_record s ON s.id = v.record "
                                       "WHERE s.source = :s AND s.record_id = :r"),
                                  {"s": b["source"], "r": b["record_id"]}).scalar_one()
    assert n_versions == 2

    # and back to B's own demographics: out of A's golden record into a golden record of its own
    back = store.ingest(b)
    assert back.decision == "new"
    assert back.golden_id not in (ga, gb)  # a retired id is never reused
    assert [m["record_id"] for m in store.golden(ga).members] == [a[0]["record_id"]]
    kinds = [e["kind"] for e in store.history(back.golden_id)]
    assert kinds[-1] == "update"


def test_a_split_record_stays_apart_when_its_data_changes(store):
    person = persons("", 3)[0]
    recs = rows(records_of({person}))
    results = [store.ingest(r) for r in recs]
    assert results[1].decision == "auto_link"
    g = results[0].golden_id
    target = recs[1]
    alone = store.split(target["source"], target["record_id"], actor="steward", reason="two people")
    assert alone != g
    assert store.golden_of(target["source"], target["record_id"]) == alone
    assert link_state(store)[(target["source"], target["record_id"])][1] == "manual"
    versions = store.counts()["versions"]

    update = changed(target)
    result = store.ingest(update)
    assert result.decision == "manual" and result.golden_id == alone
    assert store.counts()["versions"] == versions + 1
    attrs = store.golden(alone).attributes
    assert attrs["email"]["value"] == update["email"]
    assert (attrs["email"]["source"], attrs["email"]["record_id"]) == (target["source"], target["record_id"])
    # the split left a label: these records are different people
    labels = store.labels()
    ours = labels[labels["record_id_l"] == target["record_id"]]
    assert len(ours) == len(recs) - 1 and not ours["same"].any()


def _look_alike_pairs() -> list[tuple[str, str, str]]:
    """(kind, person a, person b): twins share a surname and a birth date; a junior and a senior
    share a first name and a surname (found in the data among persons truth marks so)."""
    recs = example_records()
    norm = normalise_frame(recs)
    norm["person"] = recs["record_id"].map(person_of()).to_numpy()
    norm["category"] = norm["person"].map(example_truth().groupby("person_id")["category"].first())
    pairs = []
    for kind, keys in (("twin", ["last", "dob"]), ("jr_sr", ["first", "last"])):
        group = norm[(norm["category"] == kind) & (norm[keys[1]] != "")]
        for _, g in group.groupby(keys):
            ps = sorted(set(g["person"]))
            pairs.extend((kind, ps[i], ps[j]) for i in range(len(ps)) for j in range(i + 1, len(ps)))
    return sorted(set(pairs))


def test_twins_and_junior_senior_pairs_never_auto_link(store):
    pairs = _look_alike_pairs()
    kinds = {k for k, _, _ in pairs}
    assert kinds == {"twin", "jr_sr"} and len(pairs) >= 10
    partners: dict[str, set[str]] = {}
    for _, a, b in pairs:
        partners.setdefault(a, set()).add(b)
        partners.setdefault(b, set()).add(a)
    persons_in: dict[str, set[str]] = {}
    for record in rows(records_of(set(partners))):
        person = person_of()[record["record_id"]]
        result = store.ingest(record)
        if result.decision == "auto_link":
            assert not persons_in.get(result.golden_id, set()) & partners[person], \
                f"{record['record_id']} auto-linked to its look-alike"
        persons_in.setdefault(result.golden_id, set()).add(person)
    clusters, _ = store.export()
    for _, members in clusters.groupby("cluster_id"):
        in_golden = {person_of()[r] for r in members["record_id"]}
        for p in in_golden:
            assert not in_golden & partners[p], "a golden record holds a pair of look-alikes"


# ------------------------------------------------------------------------------------- steward actions

def _two_people(store: MasterPatientIndex) -> tuple[str, str, list[dict], list[dict]]:
    a_person, b_person = persons("", 3)[:2]
    a, b = rows(records_of({a_person})), rows(records_of({b_person}))
    ga = [store.ingest(r, actor="feed") for r in a][0].golden_id
    gb = [store.ingest(r, actor="feed") for r in b][0].golden_id
    assert ga != gb
    assert {m["record_id"] for m in store.golden(ga).members} == {r["record_id"] for r in a}
    return ga, gb, a, b


def test_merge_redirects_the_merged_away_id(store):
    ga, gb, a, b = _two_people(store)
    golden_rows = table_count(store, "golden")
    survivor = store.merge(ga, gb, actor="steward", reason="same person")
    assert survivor == ga
    merged = store.golden(gb)
    assert merged.id == ga and merged.requested_id == gb and merged.status == "active"
    assert gb in merged.replaced_ids
    assert store.resolve_id(gb) == ga
    assert set(store.cross_references(gb)) == {(r["source"], r["record_id"]) for r in a + b}
    for r in b:
        assert store.golden_of(r["source"], r["record_id"]) == ga
    assert store.counts()["golden_records"] == 1
    assert table_count(store, "golden") == golden_rows  # the retired row is kept, never deleted
    with store.engine.connect() as conn:
        status = conn.execute(text("SELECT status, replaced_by FROM golden WHERE id = :g"), {"g": gb}).one()
    assert tuple(status) == ("merged", ga)
    # the survivor's fields come from all members now
    attrs = store.golden(ga).attributes
    assert {(v["source"], v["record_id"]) for v in attrs.values()} <= {(r["source"], r["record_id"]) for r in a + b}
    # merging into a retired id, or the survivor with its own retired id, is one person already
    with pytest.raises(Conflict):
        store.merge(gb, ga, actor="steward")
    # new people never get the retired id
    fresh = [store.ingest(new_person(f"n{i}"), actor="feed").golden_id for i in range(3)]
    assert gb not in fresh and ga not in fresh


def test_merge_then_unmerge_restores_links_and_fields(store):
    load_hard(store)
    tasks = [t for t in store.review_tasks(limit=1000) if t["kind"] == "golden_golden"]
    assert tasks, "the examples' look-alikes leave a possible-duplicate task"
    links = link_state(store)
    by_golden: dict[str, list] = {}
    for key, value in links.items():
        by_golden.setdefault(value[0], []).append(value)
    # a pair of golden records with an open task between them, and a pair with several members each
    pairs = [(store.resolve_id(tasks[0]["golden_id"]), store.resolve_id(tasks[0]["other_golden_id"]))]
    big = sorted((g for g, ls in by_golden.items() if len(ls) >= 3 and any(x[1] == "auto" for x in ls)))
    pairs.append((big[0], big[1]))
    for a, b in pairs:
        before = snapshot(store)
        with store.engine.connect() as conn:
            linked_at = dict(conn.execute(text("SELECT record, linked_at FROM link")).all())
        store.merge(a, b, actor="steward", reason="looks the same")
        during = snapshot(store)
        assert during["links"] != before["links"] and during["goldens"][b][0] == "merged"
        if pairs.index((a, b)) == 0:
            assert during["counts"] == before["counts"] | {"event": before["counts"]["event"] + 1}
            assert len(during["review"]) < len(before["review"]) or not before["review"]
        store.unmerge(b, actor="steward", reason="they were not")
        after = snapshot(store)
        assert after["links"] == before["links"]
        assert after["goldens"] == before["goldens"]
        assert after["clusters"] == before["clusters"]
        assert after["review"] == before["review"]
        assert after["tasks"] == before["tasks"]
        with store.engine.connect() as conn:
            assert dict(conn.execute(text("SELECT record, linked_at FROM link")).all()) == linked_at


def _active_goldens_without_records(store: MasterPatientIndex) -> int:
    with store.engine.connect() as conn:
        return conn.execute(text("SELECT COUNT(*) FROM golden g WHERE g.status = 'active' AND NOT EXISTS "
                                 "(SELECT 1 FROM link l WHERE l.golden_id = g.id)")).scalar_one()


def test_unmerge_after_the_survivors_own_records_moved_retires_the_empty_survivor(store):
    a0, b0 = new_person("a0", "east"), rows(example_records().head(1))[0]
    ga, gb = store.ingest(a0).golden_id, store.ingest(b0).golden_id
    store.merge(ga, gb, actor="steward")
    # a0 changes to someone else: it leaves the survivor, where only B's record is left
    moved = store.ingest({**a0, "first_name": "Ottoline", "dob": "1950-12-30", "ssn": "", "phone": ""})
    assert moved.golden_id not in (ga, gb)
    store.unmerge(gb, actor="steward")
    assert store.golden_of(b0["source"], b0["record_id"]) == gb
    assert _active_goldens_without_records(store) == 0
    assert store.resolve_id(ga) == gb  # where the records it last held went


def test_unmerge_when_every_record_moved_since_is_a_conflict(store):
    ga, gb, _, b = _two_people(store)
    store.merge(ga, gb, actor="steward")
    for r in b:
        store.split(r["source"], r["record_id"], actor="steward")
    before = snapshot(store)
    with pytest.raises(Conflict):
        store.unmerge(gb, actor="steward")
    assert snapshot(store) == before
    assert _active_goldens_without_records(store) == 0


def test_unmerge_does_not_undo_a_retirement_that_came_after_it(store):
    a0, b0 = new_person("a0", "east"), rows(example_records().head(1))[0]
    ga, gb = store.ingest(a0).golden_id, store.ingest(b0).golden_id
    store.merge(ga, gb, actor="steward")
    store.unmerge(gb, actor="steward")
    # B's system now sends A's demographics: the record moves to A and B is retired by that move
    assert store.ingest({**a0, "record_id": b0["record_id"], "source": b0["source"]}).golden_id == ga
    assert store.resolve_id(gb) == ga
    before = snapshot(store)
    with pytest.raises(Conflict):
        store.unmerge(gb, actor="steward")
    assert snapshot(store) == before


def test_history_lists_events_in_order_with_actor_and_reason(store):
    ga, gb, a, b = _two_people(store)
    store.merge(ga, gb, actor="alice", reason="phone call confirmed")
    store.unmerge(gb, actor="bob", reason="different mothers' names")
    history = store.history(ga)
    kinds = [e["kind"] for e in history]
    assert kinds == ["ingest"] * len(a) + ["merge", "unmerge"]
    assert [e["id"] for e in history] == sorted(e["id"] for e in history)
    ats = [dt.datetime.fromisoformat(e["at"]) for e in history]
    assert ats == sorted(ats)
    assert {e["actor"] for e in history[:len(a)]} == {"feed"}
    assert [e["record"]["record_id"] for e in history[:len(a)]] == [r["record_id"] for r in a]
    merge, unmerge = history[-2:]
    assert (merge["actor"], merge["reason"], merge["golden_id"], merge["other_golden_id"]) == \
        ("alice", "phone call confirmed", ga, gb)
    assert (unmerge["actor"], unmerge["reason"], unmerge["golden_id"], unmerge["other_golden_id"]) == \
        ("bob", "different mothers' names", gb, ga)
    assert [e["kind"] for e in store.history(gb)] == ["ingest"] * len(b) + ["merge", "unmerge"]


# ------------------------------------------------------------------------------------- review

def _task(store: MasterPatientIndex, kind: str = "record_golden") -> dict:
    tasks = [t for t in store.review_tasks(limit=1000) if t["kind"] == kind]
    assert tasks, f"loading the look-alike persons leaves {kind} review tasks"
    return tasks[0]


def test_decide_same_links_the_record_and_keeps_the_link(store):
    load_hard(store)
    task = _task(store)
    source, rid = record_key(store, task["record"])
    candidate = record_key(store, task["candidate_record"])
    assert store.golden_of(source, rid) != store.resolve_id(task["golden_id"])
    claimed = store.claim(task["id"], actor="carol")
    assert claimed["status"] == "claimed" and claimed["claimed_by"] == "carol"
    with pytest.raises(Conflict):
        store.decide(task["id"], "same", actor="dave")  # claimed by someone else
    decided = store.decide(task["id"], "same", actor="carol", reason="same SSN on the insurance card")
    assert (decided["status"], decided["decision"], decided["decided_by"]) == ("decided", "same", "carol")
    target = store.resolve_id(task["golden_id"])
    assert store.golden_of(source, rid) == target
    assert store.golden_of(*candidate) == target
    assert link_state(store)[(source, rid)][1:2] == ("manual",)
    labels = store.labels()
    last = labels.iloc[-1]
    assert (last["record_id_l"], last["record_id_r"], bool(last["same"]), last["actor"]) == \
        (rid, candidate[1], True, "carol")
    assert task["id"] not in [t["id"] for t in store.review_tasks()]
    with pytest.raises(Conflict):
        store.decide(task["id"], "different", actor="carol")
    # the steward's link holds when the record comes back with changed data
    result = store.ingest(changed(raw_of(store, source, rid)))
    assert result.decision == "manual" and result.golden_id == target
    history = store.history(target)
    decide_events = [e for e in history if e["kind"] == "decide"]
    assert decide_events and decide_events[-1]["actor"] == "carol"
    assert decide_events[-1]["reason"] == "same SSN on the insurance card"


def test_decide_different_keeps_them_apart(store):
    load_hard(store)
    task = _task(store)
    source, rid = record_key(store, task["record"])
    candidate = record_key(store, task["candidate_record"])
    own = store.golden_of(source, rid)
    with pytest.raises(mpi.InputError, match="decision"):
        store.decide(task["id"], "maybe", actor="erin")
    assert store.review_task(task["id"])["status"] == "open"
    store.decide(task["id"], "different", actor="erin", reason="twins")
    assert store.golden_of(source, rid) == own != store.golden_of(*candidate)
    labels = store.labels()
    last = labels.iloc[-1]
    assert (last["record_id_l"], last["record_id_r"], bool(last["same"]), last["actor"]) == \
        (rid, candidate[1], False, "erin")
    # re-sending the record, changed or not, does not undo the decision
    assert store.ingest(raw_of(store, source, rid)).decision == "unchanged"
    result = store.ingest(changed(raw_of(store, source, rid)))
    assert result.decision == "manual" and result.golden_id == own


def test_decide_same_on_a_duplicate_pair_merges_the_golden_records(store):
    load_hard(store)
    task = _task(store, "golden_golden")
    a, b = store.resolve_id(task["golden_id"]), store.resolve_id(task["other_golden_id"])
    assert a != b
    members = set(store.cross_references(a)) | set(store.cross_references(b))
    goldens = store.counts()["golden_records"]
    store.decide(task["id"], "same", actor="frank")
    assert store.resolve_id(a) == store.resolve_id(b)
    assert set(store.cross_references(a)) == members
    assert store.counts()["golden_records"] == goldens - 1


def test_deciding_different_after_the_pair_was_merged_is_a_conflict(store):
    load_hard(store)
    for kind in ("record_golden", "golden_golden"):
        task = _task(store, kind)
        target = store.resolve_id(task["golden_id"])
        other = (store.resolve_id(task["other_golden_id"]) if kind == "golden_golden"
                 else store.golden_of(*record_key(store, task["record"])))
        if kind == "golden_golden":  # through a third golden record (a direct merge closes the task)
            third = next(g for g in sorted(set(store.export()[0]["cluster_id"])) if g not in (target, other))
            store.merge(third, other, actor="steward")
            other = third
        store.merge(target, other, actor="steward", reason="merged before the task was decided")
        assert store.review_task(task["id"])["status"] == "open"
        before = snapshot(store)
        with pytest.raises(Conflict):
            store.decide(task["id"], "different", actor="steward")
        assert snapshot(store) == before
        assert store.decide(task["id"], "same", actor="steward")["status"] == "decided"
        assert store.resolve_id(target) == store.resolve_id(other)


# ------------------------------------------------------------------------------------- reads

def test_cross_references_and_golden_of(store):
    people = persons("", 3)[:4]
    recs = rows(records_of(set(people)))
    for r in recs:
        store.ingest(r)
    for person in people:
        mine = [(r["source"], r["record_id"]) for r in recs if person_of()[r["record_id"]] == person]
        goldens = {store.golden_of(*key) for key in mine}
        assert len(goldens) == 1
        (g,) = goldens
        assert sorted(store.cross_references(g)) == sorted(mine)


def test_match_ranks_the_persons_golden_first_and_stores_nothing(store):
    people = persons("", 3)[:40]
    recs = records_of(set(people))
    # hold back each person's last record, store the rest
    held = recs.groupby(recs["record_id"].map(person_of()), sort=False).tail(1)
    stored = recs.drop(held.index)
    store.ingest_frame(stored)
    before = snapshot(store)
    golden_of_person = {person_of()[r["record_id"]]: store.golden_of(r["source"], r["record_id"])
                        for r in rows(stored)}
    hits = 0
    for r in rows(held):
        query = {k: v for k, v in r.items() if k != "record_id"}
        ranked = store.match(query, limit=5)
        assert len(ranked) <= 5
        assert [c.probability for c in ranked] == sorted((c.probability for c in ranked), reverse=True)
        if ranked and ranked[0].golden_id == golden_of_person[person_of()[r["record_id"]]]:
            hits += 1
    assert hits / len(held) >= 0.9
    # a stored record finds its own golden record first
    for r in rows(stored)[:30]:
        ranked = store.match(r)
        assert ranked and ranked[0].golden_id == store.golden_of(r["source"], r["record_id"])
        assert ranked[0].decision == "auto_link"
    assert store.match(new_person("nobody")) == []
    assert snapshot(store) == before


# ------------------------------------------------------------------------------------- survivorship

PERSON = {"last_name": "Okonkwo", "dob": "1971-08-14", "sex": "F", "ssn": "512-44-8391", "city": "Dayton",
          "state": "OH", "zip": "45402"}
MEMBERS = [  # oldest first
    {"record_id": "reg-1", "source": "registration", "first_name": "Rosalind", "phone": "937-555-0101",
     "street": "12 Elm St"},
    {"record_id": "lab-1", "source": "lab", "first_name": "Rosalind", "middle_name": "J", "phone": "(937) 555-0101",
     "street": "40 Oak Ave", "email": "rj@mailhost.net"},
    {"record_id": "cl-1", "source": "clinic", "first_name": "ROSALIND", "phone": "937.555.0199",
     "street": "7 Pine Rd"},
]


@pytest.fixture
def policy_store(database_url):
    policy = SurvivorshipPolicy(default="most_recent",
                                fields={"phone": "most_frequent", "street": "trusted_source",
                                        "first_name": "most_complete"},
                                source_rank=("registration", "lab", "clinic"))
    s = open_store(database_url, survivorship=policy)
    yield s
    s.close()


def _digits(v: str) -> str:
    return "".join(ch for ch in v if ch.isdigit())


def test_survivorship_rules_with_provenance(policy_store):
    s = policy_store
    results = [s.ingest({**PERSON, **m}) for m in MEMBERS]
    assert [r.decision for r in results] == ["new", "auto_link", "auto_link"]
    attrs = s.golden(results[0].golden_id).attributes
    newest, by_id = MEMBERS[-1], {m["record_id"]: m for m in MEMBERS}

    def origin(name: str) -> str:
        assert attrs[name]["source"] == by_id[attrs[name]["record_id"]]["source"]
        return attrs[name]["record_id"]

    # most_recent (the default): the newest member with a value
    assert attrs["city"]["rule"] == "most_recent" and origin("city") == newest["record_id"]
    # most_frequent: the phone two systems agree on (formats differ), from the newer of the two
    assert attrs["phone"]["rule"] == "most_frequent"
    assert _digits(attrs["phone"]["value"]) == _digits(MEMBERS[0]["phone"]) and origin("phone") == "lab-1"
    # trusted_source: the registration system's street although it is the oldest
    assert attrs["street"] == {"value": "12 Elm St", "source": "registration", "record_id": "reg-1",
                               "rule": "trusted_source"}
    # most_complete: the member with the most fields filled in
    assert origin("first_name") == "lab-1" and attrs["first_name"]["value"] == "Rosalind"
    # a field only one member has comes from it, whatever the rule
    assert (attrs["email"]["value"], origin("email")) == ("rj@mailhost.net", "lab-1")
    assert "suffix" not in attrs


def test_default_policy_takes_the_newest_values(store):
    results = [store.ingest({**PERSON, **m}) for m in MEMBERS]
    attrs = store.golden(results[0].golden_id).attributes
    assert {attrs[f]["record_id"] for f in ("phone", "street", "first_name", "city")} == {"cl-1"}
    assert attrs["first_name"]["value"] == "ROSALIND"
    # a new version of an old member makes it the newest
    store.ingest({**PERSON, **MEMBERS[0], "street": "99 Birch Blvd"})
    attrs = store.golden(results[0].golden_id).attributes
    assert attrs["street"] == {"value": "99 Birch Blvd", "source": "registration", "record_id": "reg-1",
                               "rule": "most_recent"}


# ------------------------------------------------------------------------------------- errors

BAD_RECORDS = [
    ({"first_name": "Ann", "last_name": "Lee"}, "record_id"),
    ({"record_id": "   ", "first_name": "Ann"}, "record_id"),
    ({"record_id": None, "first_name": "Ann"}, "record_id"),
    ({"record_id": "x" * 201}, "record_id"),
    ({"record_id": "r1", "source": "s" * 201}, "source"),
    ("record_id=r1", None),
    (["r1", "Ann"], None),
]


def test_bad_input_raises_input_error_and_stores_nothing(store):
    store.ingest(rows(example_records().head(1))[0])
    before = snapshot(store)
    for bad, column in BAD_RECORDS:
        with pytest.raises(mpi.InputError) as info:
            store.ingest(bad)
        if column is not None:
            assert info.value.column == column and repr(column) in str(info.value)
        else:
            assert "mapping" in str(info.value)
    assert snapshot(store) == before


def test_bad_frames_store_nothing(store):
    recs = example_records().head(20)
    before = snapshot(store)
    with pytest.raises(mpi.InputError, match="record_id"):
        store.ingest_frame(recs.drop(columns=["record_id"]))
    blank_last = recs.copy()
    blank_last.loc[blank_last.index[-1], "record_id"] = " "
    with pytest.raises(mpi.InputError) as info:
        store.ingest_frame(blank_last, batch_size=5)  # nineteen good rows first: still nothing stored
    assert info.value.column == "record_id" and info.value.row == 20
    assert snapshot(store) == before


def test_contradictory_or_anonymous_steward_actions_change_nothing(store):
    ga, gb, a, _ = _two_people(store)
    single = store.ingest(new_person("loner"))
    before = snapshot(store)
    with pytest.raises(Conflict):
        store.merge(ga, ga, actor="steward")
    with pytest.raises(Conflict):
        store.unmerge(ga, actor="steward")  # never merged away
    with pytest.raises(Conflict):
        store.split(single.source, single.record_id, actor="steward")  # alone already
    for actor in ("", "  "):
        with pytest.raises(mpi.InputError, match="actor"):
            store.merge(ga, gb, actor=actor)
        with pytest.raises(mpi.InputError, match="actor"):
            store.split(a[0]["source"], a[0]["record_id"], actor=actor)
    assert snapshot(store) == before


def test_unknown_ids_raise_not_found(store):
    record = rows(example_records().head(1))[0]
    g = store.ingest(record).golden_id
    before = snapshot(store)
    missing = "G" + "0" * 16
    for call in (lambda: store.golden(missing), lambda: store.resolve_id(missing), lambda: store.history(missing),
                 lambda: store.cross_references(missing), lambda: store.merge(g, missing, actor="s"),
                 lambda: store.merge(missing, g, actor="s"), lambda: store.unmerge(missing, actor="s"),
                 lambda: store.split(record["source"], "no-such-record", actor="s"),
                 lambda: store.golden_of("no-such-source", record["record_id"]),
                 lambda: store.decide(987654, "same", actor="s"), lambda: store.claim(987654, actor="s"),
                 lambda: store.review_task(987654)):
        with pytest.raises(NotFound):
            call()
    assert snapshot(store) == before
    assert issubclass(NotFound, mpi.MPIError) and issubclass(Conflict, mpi.MPIError)


# ------------------------------------------------------------------------------------- migrations

def _head() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


def test_a_fresh_database_is_migrated_to_head(database_url):
    with MasterPatientIndex(database_url) as s:
        with s.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == _head()
            names = set(inspect(conn).get_table_names())
        assert set(SQLModel.metadata.tables) <= names
        assert set(TABLES) <= names
        # the migrated columns are the ones the tables declare
        with s.engine.connect() as conn:
            insp = inspect(conn)
            for name, table in SQLModel.metadata.tables.items():
                assert {c["name"] for c in insp.get_columns(name)} == set(table.columns.keys()), name


def test_opening_an_existing_store_again_keeps_everything(database_url):
    record = rows(example_records().head(1))[0]
    with open_store(database_url) as s:
        g = s.ingest(record).golden_id
        version = s.model_version
    for _ in range(2):
        with MasterPatientIndex(database_url) as s:
            assert s.model_version == version
            assert s.golden_of(record["source"], record["record_id"]) == g
            assert s.ingest(record).decision == "unchanged"
            with s.engine.connect() as conn:
                assert conn.execute(text("SELECT COUNT(*) FROM alembic_version")).scalar_one() == 1
                assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == _head()


def test_postgresql_candidate_lookup_reads_link_through_covering_indexes(database_url):
    """Migration 0003: the lookup's two steps through ``link`` (record -> golden id, golden id ->
    members) can be answered from indexes alone, so a store larger than the buffer cache does
    not read ``link``'s rows on every match."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL indexes (SQLite reads through the rowid)")
    with MasterPatientIndex(database_url) as s, s.engine.connect() as conn:
        for setting in ("enable_seqscan", "enable_bitmapscan"):  # a tiny table would be scanned whole
            conn.exec_driver_sql(f"SET {setting} = off")
        plan = "\n".join(r[0] for r in conn.exec_driver_sql(
            "EXPLAIN SELECT l.record, l.golden_id FROM link l WHERE l.golden_id IN "
            "(SELECT golden_id FROM link WHERE record = ANY('{1,2,3}'::bigint[]))"))
    assert "Index Only Scan using ix_link_record_golden" in plan
    assert "Index Only Scan using ix_link_golden_id" in plan


def test_driver_reads_fail_as_sqlalchemy_errors_without_their_values(database_url):
    """The hot reads bypass SQLAlchemy's statement layer (mpi.store.database.driver_rows): a failing
    one must still raise SQLAlchemy's error, which retries recognise, and carry no value."""
    from sqlalchemy.exc import DBAPIError

    from mpi.store.database import driver_rows
    with MasterPatientIndex(database_url) as s, s.engine.connect() as conn:
        assert driver_rows(conn, "SELECT :a + 1", {"a": 41}) == [(42,)]
        with pytest.raises(DBAPIError) as info:
            driver_rows(conn, "SELECT no_such_column FROM link WHERE record = :r", {"r": "canary-9137"})
    assert "canary-9137" not in str(info.value)


def test_a_write_after_a_match_is_still_one_transaction(database_url):
    """Match reads outside a transaction (on PostgreSQL its connection is switched to autocommit
    for the read): the pooled connection it hands back must be transactional again, or a later
    ingest that fails halfway would leave its first statements committed."""
    records = rows(example_records())
    with open_store(database_url) as s:
        s.ingest(records[0])
        for _ in range(3):
            assert s.match(records[0])
        before = s.counts()

        def fail() -> None:
            raise RuntimeError("the ingest fails after inserting its source record")
        s._before_write = fail
        with pytest.raises(RuntimeError):
            s.ingest(records[1])
        s._before_write = None
        assert s.counts() == before
        with pytest.raises(NotFound):
            s.golden_of(records[1]["source"], records[1]["record_id"])


def test_postgresql_sessions_use_generic_plans_and_keep_the_urls_own_options(database_url):
    """Every PostgreSQL connection of a store plans prepared statements generically (see
    database.PG_SESSION_OPTIONS), and ``options`` given in the URL still reach the server."""
    if not database_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL session setting")
    from urllib.parse import quote

    from mpi.store.database import close_engine, make_engine
    sep = "&" if "?" in database_url else "?"
    engine = make_engine(database_url + sep + "options=" + quote("-c statement_timeout=12345"))
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW plan_cache_mode").scalar_one() == "force_generic_plan"
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar_one() == "12345ms"
    finally:
        close_engine(engine)


def test_a_connection_the_server_dropped_is_renewed_not_surfaced(database_url):
    """Pooled connections are not pinged before use; when the server has dropped one, match,
    ingest and token checks redo their work on a new connection instead of failing."""
    if not database_url.startswith("postgresql"):
        pytest.skip("a server that drops connections")
    from sqlalchemy import create_engine

    from mpi.tokens import TokenStore
    records = rows(example_records())
    with open_store(database_url) as s:
        tokens = TokenStore(s.engine)
        issued = tokens.create("integration", "t", created_by="test")
        s.ingest(records[0])
        assert s.match(records[0])
        admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            dropped = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                        "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
        admin.dispose()
        assert dropped >= 1
        assert s.match(records[0])[0].golden_id == s.golden_of(records[0]["source"], records[0]["record_id"])
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        assert s.ingest(records[1]).decision in ("new", "auto_link", "review")
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        assert tokens.authenticate(issued.token) is not None
        admin.dispose()
