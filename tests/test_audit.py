"""The audit log, on SQLite and on PostgreSQL: every change made over HTTP and every steward read
of demographics leaves one hash-chained event (who, role, what, target, why, outcome, request id)
committed with the change, and ``AuditLog.verify`` finds the ways a DBA could tamper with it.
"""
from __future__ import annotations

import json

import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from api_support import running_api
from mpi.audit import GENESIS, AuditEntry, AuditLog, _at_text, _digest
from mpi.fhir import SSN_SYSTEM
from mpi.service import MasterPatientIndex
from mpi.store.schema import AuditEvent
from mpi.tokens import TokenStore
from store_support import example_records, person_of

LOADED = 300
AE = AuditEvent.__table__
FIELDS = ("at", "actor", "role", "action", "target", "reason", "outcome", "request_id", "detail", "prev_hash", "hash")


def fields(row: dict) -> dict:
    return {k: v for k, v in row.items() if v != ""}


def token_id(token: str) -> str:
    return token.split("_")[1]


def actor(api, role: str) -> str:  # type: ignore[no-untyped-def]
    return f"test-{role} ({token_id(api.tokens[role])})"


def loaded_person() -> list[dict]:
    """Loaded records of the first person with two of them among the loaded rows."""
    person = person_of()
    by_person: dict[str, list[dict]] = {}
    for row in example_records().head(LOADED).to_dict("records"):
        by_person.setdefault(person[row["record_id"]], []).append(row)
    return next(rows for rows in by_person.values() if len(rows) >= 2 and rows[0]["dob"] and rows[0]["last_name"])


def store_events(store: MasterPatientIndex) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM event")).scalar_one())


# ----------------------------------------------------------------------------- what is audited
def test_every_change_and_every_steward_read_is_audited(database_url):
    rows = loaded_person()
    unseen = example_records().iloc[LOADED:LOADED + 3].to_dict("records")
    with running_api(database_url) as api, MasterPatientIndex(database_url) as store:
        log = AuditLog(store.engine)
        start = log.verify().head_seq

        def call(method: str, path: str, role: str, rid: str, **kw: object):  # type: ignore[no-untyped-def]
            r = api.client.request(method, path, headers={**api.auth(role), "X-Request-ID": rid}, **kw)
            assert r.headers["x-request-id"] == rid
            return r

        def events(rid: str) -> list[dict]:
            return [e for e in log.events(start, 1000) if e["request_id"] == rid]

        def one(rid: str, role: str, action: str, target: str, reason: str = "") -> dict:
            found = events(rid)
            assert len(found) == 1, (rid, found)
            e = found[0]
            assert (e["actor"], e["role"], e["action"], e["target"], e["reason"], e["outcome"]) == \
                (actor(api, role), role, action, target, reason, "ok"), e
            return e

        # ingest, one and a batch
        rec = fields(unseen[0])
        assert call("POST", "/records", "integration", "req-ingest", json=rec).status_code == 200
        one("req-ingest", "integration", "ingest", f"record {rec['source']}/{rec['record_id']}")
        batch = [fields(r) for r in unseen[1:3]]
        assert call("POST", "/records:batch", "integration", "req-batch", json={"records": batch}).status_code == 200
        assert sorted(e["target"] for e in events("req-batch")) == sorted(
            f"record {r['source']}/{r['record_id']}" for r in batch)
        assert all(e["outcome"] == "ok" and e["action"] == "ingest" for e in events("req-batch"))

        # merge and unmerge
        a = store.golden_of(rows[0]["source"], rows[0]["record_id"])
        b = store.golden_of(rec["source"], rec["record_id"])
        assert a != b
        r = call("POST", f"/goldens/{a}/merge", "steward", "req-merge", json={"other": b, "reason": "merge reason"})
        assert r.status_code == 200
        one("req-merge", "steward", "merge", f"golden {a} <- {b}", "merge reason")
        r = call("POST", f"/goldens/{b}/unmerge", "steward", "req-unmerge", json={"reason": "unmerge reason"})
        assert r.status_code == 200
        one("req-unmerge", "steward", "unmerge", f"golden {b}", "unmerge reason")

        # the review queue
        task = store.review_tasks()[0]
        assert call("POST", f"/review-tasks/{task['id']}/claim", "steward", "req-claim").status_code == 200
        one("req-claim", "steward", "claim", f"task {task['id']}")
        r = call("POST", f"/review-tasks/{task['id']}/decide", "steward", "req-decide",
                 json={"decision": "different", "reason": "decide reason"})
        assert r.status_code == 200
        one("req-decide", "steward", "decide", f"task {task['id']}", "decide reason")

        # split
        r = call("POST", "/records:split", "steward", "req-split",
                 json={"source": rows[1]["source"], "record_id": rows[1]["record_id"], "reason": "split reason"})
        assert r.status_code == 200
        one("req-split", "steward", "split", f"record {rows[1]['source']}/{rows[1]['record_id']}", "split reason")

        # tokens
        made = call("POST", "/tokens", "admin", "req-token", json={"role": "integration", "name": "engine 2"}).json()
        e = one("req-token", "admin", "create token", "role integration")
        assert e["detail"]["token"] == made["id"]
        assert call("DELETE", f"/tokens/{made['id']}", "admin", "req-revoke").status_code == 204
        one("req-revoke", "admin", "revoke token", f"token {made['id']}")

        # a steward's reads of demographics
        assert call("GET", f"/goldens/{a}", "steward", "req-golden").status_code == 200
        one("req-golden", "steward", "read golden", f"golden {a}")
        assert call("GET", f"/goldens/{a}/history", "steward", "req-history").status_code == 200
        one("req-history", "steward", "read history", f"golden {a}")
        assert call("GET", f"/fhir/Patient/{a}", "steward", "req-patient").status_code == 200
        one("req-patient", "steward", "read golden", f"golden {a}")
        query = {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": {
            "resourceType": "Patient", "name": [{"family": rows[0]["last_name"], "given": [rows[0]["first_name"]]}],
            "identifier": [{"system": SSN_SYSTEM, "value": rows[0]["ssn"]}]}}]}
        r = call("POST", "/fhir/Patient/$match", "steward", "req-match", json=query)
        assert r.status_code == 200 and r.json()["entry"]
        e = one("req-match", "steward", "match with demographics", f"{len(r.json()['entry'])} golden records")
        assert e["detail"]["golden_ids"] == [x["resource"]["id"] for x in r.json()["entry"]]
        pix = {"sourceIdentifier": f"{rows[0]['source']}|{rows[0]['record_id']}"}
        assert call("GET", "/fhir/Patient/$ihe-pix", "steward", "req-pix", params=pix).status_code == 200
        one("req-pix", "steward", "pix", f"record {rows[0]['source']}/{rows[0]['record_id']}")

        # an integration client's lookups carry no demographics and are not audited
        assert call("POST", "/fhir/Patient/$match", "integration", "req-int-match", json=query).status_code == 200
        assert call("GET", "/fhir/Patient/$ihe-pix", "integration", "req-int-pix", params=pix).status_code == 200
        assert call("GET", f"/fhir/Patient/{a}", "integration", "req-int-patient").status_code == 200
        assert events("req-int-match") == events("req-int-pix") == events("req-int-patient") == []

        # events hold ids, never the demographic values that went through
        dumped = json.dumps(log.events(0, 10_000)).lower()
        for row in [*unseen, *rows]:
            for key in ("last_name", "ssn", "phone", "street", "dob"):
                if len(row[key]) >= 4:
                    assert row[key].lower() not in dumped, key
        assert log.verify().ok


def test_refused_changes_are_audited_and_leave_no_ok_event(database_url):
    with running_api(database_url) as api, MasterPatientIndex(database_url) as store:
        log = AuditLog(store.engine)
        steward = api.auth("steward")
        rows = loaded_person()
        a = store.golden_of(rows[0]["source"], rows[0]["record_id"])
        changes_before, audited_before = store_events(store), log.verify().events

        def send(path: str, rid: str, body: dict, status: int, outcome: str) -> None:
            r = api.client.post(path, json=body, headers={**steward, "X-Request-ID": rid})
            assert r.status_code == status, r.text
            found = [e for e in log.events(0, 10_000) if e["request_id"] == rid]
            assert [e["outcome"] for e in found] == [outcome], found
            assert found[0]["actor"] == actor(api, "steward")

        send(f"/goldens/{a}/merge", "req-unknown", {"other": "Gnosuchgolden", "reason": "r"}, 404, "refused: NotFound")
        send(f"/goldens/{a}/merge", "req-self", {"other": a, "reason": "r"}, 409, "refused: Conflict")
        send(f"/goldens/{a}/unmerge", "req-active", {"reason": "r"}, 409, "refused: Conflict")
        send("/review-tasks/999999/claim", "req-task", {}, 404, "refused: NotFound")
        # three refusals and one missing task: four audit events, and not one change in the store
        assert log.verify().events == audited_before + 4
        assert store_events(store) == changes_before
        assert store.resolve_id(a) == a

        other = TokenStore(store.engine).create("steward", "second").token
        task = store.review_tasks()[0]
        assert api.client.post(f"/review-tasks/{task['id']}/claim", headers=steward).status_code == 200
        r = api.client.post(f"/review-tasks/{task['id']}/claim",
                            headers={"Authorization": f"Bearer {other}", "X-Request-ID": "req-taken"})
        assert r.status_code == 409
        (taken,) = [e for e in log.events(0, 10_000) if e["request_id"] == "req-taken"]
        assert (taken["action"], taken["outcome"], taken["actor"]) == ("claim", "refused: Conflict",
                                                                       f"second ({token_id(other)})")
        assert log.verify().ok


def _block_audit_appends(engine: Engine) -> None:
    """Make every append to the audit log fail, as a full disk or a broken permission would."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("CREATE TRIGGER audit_blocked BEFORE INSERT ON audit_event "
                              "BEGIN SELECT RAISE(ABORT, 'audit log unavailable'); END"))
        else:
            conn.execute(text("CREATE FUNCTION audit_blocked() RETURNS trigger AS $$ BEGIN "
                              "RAISE EXCEPTION 'audit log unavailable'; END $$ LANGUAGE plpgsql"))
            conn.execute(text("CREATE TRIGGER audit_blocked BEFORE INSERT ON audit_event "
                              "FOR EACH ROW EXECUTE FUNCTION audit_blocked()"))


def test_no_audit_event_no_change_and_no_data(database_url):
    """The change and its event commit in one transaction: when the event cannot be written the
    change is not made, and a steward's read answers no demographics."""
    rows = loaded_person()
    unseen = fields(example_records().iloc[LOADED].to_dict())
    with running_api(database_url) as api, MasterPatientIndex(database_url) as store:
        a = store.golden_of(rows[0]["source"], rows[0]["record_id"])
        someone_else = next(x for x in example_records().head(LOADED).to_dict("records")
                            if store.golden_of(x["source"], x["record_id"]) != a)
        b = store.golden_of(someone_else["source"], someone_else["record_id"])
        before = (store.counts(), store_events(store), AuditLog(store.engine).verify())
        _block_audit_appends(store.engine)

        r = api.client.post("/records", json=unseen, headers=api.auth("integration"))
        assert r.status_code == 500 and "internal error" in r.json()["detail"]
        r = api.client.post(f"/goldens/{a}/merge", json={"other": b, "reason": "r"}, headers=api.auth("steward"))
        assert r.status_code == 500
        r = api.client.post("/records:split", headers=api.auth("steward"),
                            json={"source": rows[1]["source"], "record_id": rows[1]["record_id"], "reason": "r"})
        assert r.status_code == 500
        for path in (f"/goldens/{a}", f"/fhir/Patient/{a}"):
            r = api.client.get(path, headers=api.auth("steward"))
            assert r.status_code == 500
            assert rows[0]["last_name"].lower() not in r.text.lower()

        assert (store.counts(), store_events(store), AuditLog(store.engine).verify()) == before
        assert store.resolve_id(b) == b
        assert store.golden_of(rows[1]["source"], rows[1]["record_id"]) == a


# ----------------------------------------------------------------------------- the chain and its guards
def filled_log(url: str, n: int = 6) -> tuple[MasterPatientIndex, AuditLog]:
    store = MasterPatientIndex(url)
    log = AuditLog(store.engine)
    for i in range(n):
        log.record(AuditEntry(actor=f"steward {i}", role="steward", action="merge", target=f"golden G{i}",
                              reason=f"reason {i}", request_id=f"req-{i}", detail={"n": i}))
    return store, log


def drop_guards(engine: Engine) -> None:
    """What a DBA (or an attacker with the owner's password) can do: drop the append-only triggers."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_event_no_update"))
            conn.execute(text("DROP TRIGGER audit_event_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER audit_event_no_update ON audit_event"))


def row(engine: Engine, seq: int) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(select(AE).where(AE.c.seq == seq)).one()._mapping)


def set_row(conn, seq: int, values: dict) -> None:  # type: ignore[no-untyped-def]
    conn.execute(update(AE).where(AE.c.seq == seq).values(**values))


def test_an_untouched_log_verifies_and_its_head_is_the_last_event(database_url):
    store, log = filled_log(database_url)
    with store:
        report = log.verify()
        assert report.ok and report.problem == "" and report.at_seq is None
        assert (report.events, report.head_seq) == (6, 6)
        assert report.head_hash == row(store.engine, 6)["hash"] != GENESIS
        assert row(store.engine, 1)["prev_hash"] == GENESIS
        assert all(row(store.engine, s)["prev_hash"] == row(store.engine, s - 1)["hash"] for s in range(2, 7))
        assert [e["seq"] for e in log.events(2, 3)] == [3, 4, 5]


def test_the_triggers_refuse_update_and_delete(database_url):
    store, log = filled_log(database_url)
    with store:
        original = row(store.engine, 3)
        statements = ["UPDATE audit_event SET reason = 'rewritten' WHERE seq = 3",
                      "DELETE FROM audit_event WHERE seq = 3", "DELETE FROM audit_event"]
        if store.engine.dialect.name == "postgresql":
            statements.append("TRUNCATE audit_event")
        for statement in statements:
            with pytest.raises(DBAPIError, match="append-only"):
                with store.engine.begin() as conn:
                    conn.execute(text(statement))
        assert row(store.engine, 3) == original
        assert log.verify().ok and log.verify().events == 6


def _alter(conn, engine) -> None:  # type: ignore[no-untyped-def]
    set_row(conn, 3, {"reason": "a better reason"})


def _alter_detail(conn, engine) -> None:  # type: ignore[no-untyped-def]
    set_row(conn, 3, {"detail": json.dumps({"n": 99})})


def _delete_middle(conn, engine) -> None:  # type: ignore[no-untyped-def]
    conn.execute(text("DELETE FROM audit_event WHERE seq = 3"))


def _delete_last(conn, engine) -> None:  # type: ignore[no-untyped-def]
    conn.execute(text("DELETE FROM audit_event WHERE seq = 6"))


def _swap(conn, engine) -> None:  # type: ignore[no-untyped-def]
    two, three = row(engine, 2), row(engine, 3)
    set_row(conn, 2, {k: three[k] for k in FIELDS})
    set_row(conn, 3, {k: two[k] for k in FIELDS})


TAMPERING = [  # (what was done, where verify must point, words of its finding)
    (_alter, 3, "altered"),
    (_alter_detail, 3, "altered"),
    (_delete_middle, 3, "missing"),
    (_delete_last, 6, "head"),
    (_swap, 2, "reordered"),
]


@pytest.mark.parametrize("tamper,at_seq,words", TAMPERING, ids=[t[0].__name__.strip("_") for t in TAMPERING])
def test_verify_finds_tampering_once_the_triggers_are_gone(database_url, tamper, at_seq, words):
    store, log = filled_log(database_url)
    with store:
        drop_guards(store.engine)
        assert log.verify().ok
        with store.engine.begin() as conn:
            tamper(conn, store.engine)
        report = log.verify()
        assert not report.ok
        assert report.at_seq == at_seq
        assert words in report.problem


def _rewrite(engine: Engine, keep: list[int], reason: str) -> None:
    """Rewrite the whole log consistently, as someone who knows the hashing would: the events
    ``keep`` (renumbered from 1), the reason of each replaced, every hash and the head recomputed."""
    kept = [row(engine, s) for s in keep]
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event"))
        prev = GENESIS
        for seq, r in enumerate(kept, 1):
            r = {**r, "seq": seq, "reason": reason, "prev_hash": prev}
            r["hash"] = _digest(seq, _at_text(r["at"]), r, prev)
            conn.execute(insert(AE).values(**r))
            prev = r["hash"]
        conn.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": len(kept), "h": prev})


@pytest.mark.parametrize("keep,words", [([1, 2, 3, 4, 5, 6], "match the anchor"), ([1, 2, 4, 5], "gone")],
                         ids=["rewritten", "shortened"])
def test_a_whole_log_rewrite_is_caught_only_by_the_anchor(database_url, keep, words):
    store, log = filled_log(database_url)
    with store:
        before = log.verify()
        anchor = (before.head_seq, before.head_hash)
        log.record(AuditEntry(actor="steward", role="steward", action="claim", target="task 1"))
        assert log.verify(anchor=anchor).ok  # a log that grew still holds its anchor
        drop_guards(store.engine)
        _rewrite(store.engine, keep, "nothing to see")
        assert log.verify().ok, "a consistent rewrite passes the chain check"
        assert all(e["reason"] == "nothing to see" for e in log.events(0, 100))
        report = log.verify(anchor=anchor)
        assert not report.ok and words in report.problem


def test_cutting_the_end_and_the_head_is_caught_only_by_the_anchor(database_url):
    store, log = filled_log(database_url)
    with store:
        anchor = (log.verify().head_seq, log.verify().head_hash)
        drop_guards(store.engine)
        fifth = row(store.engine, 5)
        with store.engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_event WHERE seq = 6"))
            conn.execute(text("UPDATE audit_head SET seq = 5, hash = :h"), {"h": fifth["hash"]})
        assert log.verify().ok
        report = log.verify(anchor=anchor)
        assert not report.ok and "gone" in report.problem


def test_admins_verify_and_read_the_log_over_http(database_url):
    with running_api(database_url, records=0) as api, MasterPatientIndex(database_url) as store:
        admin = {**api.auth("admin"), "X-Request-ID": "req-audit-read"}
        r = api.client.post("/tokens", json={"role": "steward", "name": "n"}, headers=api.auth("admin"))
        assert r.status_code == 201
        listed = api.client.get("/audit", headers=admin)
        assert listed.status_code == 200
        assert [e["action"] for e in listed.json()] == ["create token"]
        first = listed.json()[0]
        assert first["hash"] == row(store.engine, first["seq"])["hash"]
        read = [e for e in AuditLog(store.engine).events() if e["request_id"] == "req-audit-read"]
        assert [(e["action"], e["actor"]) for e in read] == [("read audit", actor(api, "admin"))]
        assert api.client.get("/audit", headers=api.auth("steward")).status_code == 403

        ok = api.client.get("/audit/verify", headers=api.auth("admin")).json()
        assert ok["ok"] is True and ok["events"] == ok["head_seq"] == 2
        drop_guards(store.engine)
        with store.engine.begin() as conn:
            set_row(conn, 1, {"target": "role admin"})
        bad = api.client.get("/audit/verify", headers=api.auth("admin")).json()
        assert (bad["ok"], bad["at_seq"]) == (False, 1) and "altered" in bad["problem"]
