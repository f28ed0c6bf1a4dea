"""The HTTP service end to end, on SQLite and on PostgreSQL: the real app (``create_app``) over a
real store holding example records, called through a TestClient with one token per role.

Expected answers come from the store itself (``MasterPatientIndex.golden_of``, ``golden``,
``review_tasks``) or from examples/truth.csv, never from ids written into the tests.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import text

from api_support import running_api
from mpi.fhir import GOLDEN_SYSTEM, MATCH_GRADE_URL, SSN_SYSTEM
from mpi.service import MasterPatientIndex
from mpi.tokens import TokenStore
from store_support import example_records, example_truth, person_of

LOADED = 300  # example records in the store of each test (the file's first rows)
DEMOGRAPHIC_KEYS = ("name", "birthDate", "address", "telecom", "gender")


# ----------------------------------------------------------------------------- helpers
def fields(row: dict) -> dict:
    """An example row as an API record: the non-empty fields."""
    return {k: v for k, v in row.items() if v != ""}


def loaded_rows(n: int = LOADED) -> list[dict]:
    return example_records().head(n).to_dict("records")


def unseen_pair(n: int = LOADED) -> tuple[dict, dict]:
    """Two records of one person (by truth.csv) of whom none of the first ``n`` rows is a record,
    the person having no hard-case category (twins, Jr/Sr, ...): the first such in file order."""
    person = person_of()
    category = dict(zip(example_truth()["record_id"], example_truth()["category"]))
    loaded_people = {person[r["record_id"]] for r in loaded_rows(n)}
    by_person: dict[str, list[dict]] = {}
    for row in example_records().iloc[n:].to_dict("records"):
        by_person.setdefault(person[row["record_id"]], []).append(row)
    for pid, rows in by_person.items():
        if pid not in loaded_people and len(rows) >= 2 and all(category[r["record_id"]] == "" for r in rows):
            return rows[0], rows[1]
    raise AssertionError("the example file has no such person")


def complete(row: dict) -> bool:
    return all(row[k] for k in ("first_name", "last_name", "dob", "ssn", "phone", "street", "city", "zip")) \
        and row["ssn"].isdigit() and len(row["ssn"]) == 9


def stored_person(n: int = LOADED) -> list[dict]:
    """The loaded records of the first person (file order) with at least two loaded records,
    the first of them complete (every field a FHIR Patient carries)."""
    person = person_of()
    by_person: dict[str, list[dict]] = {}
    for row in loaded_rows(n):
        by_person.setdefault(person[row["record_id"]], []).append(row)
    for rows in by_person.values():
        if len(rows) >= 2 and complete(rows[0]):
            return rows
    raise AssertionError("no loaded person with two records")


def normalised(store: MasterPatientIndex, source: str, record_id: str) -> dict:
    with store.engine.connect() as conn:
        found = conn.execute(text("SELECT normalised FROM source_record WHERE source = :s AND record_id = :r"),
                             {"s": source, "r": record_id}).scalar_one()
    return json.loads(found)


def patient_of(row: dict, store: MasterPatientIndex) -> dict:
    """A FHIR Patient carrying a stored record's fields (the birth date and sex as the store
    understood them, in FHIR's spelling)."""
    norm = normalised(store, row["source"], row["record_id"])
    patient = {"resourceType": "Patient",
               "name": [{"use": "official", "family": row["last_name"],
                         "given": [g for g in (row["first_name"], row["middle_name"]) if g]}],
               "birthDate": norm["dob"],
               "identifier": [{"system": "urn:oid:2.16.840.1.113883.4.1", "value": "ignored"},
                              {"system": SSN_SYSTEM, "value": row["ssn"]}],
               "telecom": [{"system": "phone", "value": row["phone"], "use": "home"}],
               "address": [{"use": "home", "line": [row["street"]], "city": row["city"], "state": row["state"],
                            "postalCode": row["zip"]}]}
    if norm["sex"] in ("M", "F"):
        patient["gender"] = {"M": "male", "F": "female"}[norm["sex"]]
    return patient


def match_params(patient: object, **more: dict) -> dict:
    parameter = [{"name": "resource", "resource": patient}]
    parameter += [{"name": name, **value} for name, value in more.items()]
    return {"resourceType": "Parameters", "parameter": parameter}


def grade(entry: dict) -> str:
    (ext,) = [e for e in entry["search"]["extension"] if e["url"] == MATCH_GRADE_URL]
    return ext["valueCode"]


def matches(bundle: dict) -> list[dict]:
    return [e for e in bundle["entry"] if e["search"]["mode"] == "match"]


def token_id(token: str) -> str:
    return token.split("_")[1]


def count_rows(store: MasterPatientIndex, table: str, where: str = "1=1") -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table} WHERE {where}")).scalar_one())


def golden_ids(golden: dict) -> set[tuple[str, str]]:
    return {(i["system"], i["value"]) for i in golden["identifier"]}


def member_ids(store: MasterPatientIndex, golden_id: str) -> set[tuple[str, str]]:
    return {(m["source"], m["record_id"]) for m in store.golden(golden_id).members}


# ----------------------------------------------------------------------------- POST /records
def test_ingest_links_a_second_record_of_a_person_and_a_resend_changes_nothing(database_url):
    first, second = unseen_pair()
    with running_api(database_url) as api, MasterPatientIndex(database_url) as store:
        h = api.auth("integration")
        r = api.client.post("/records", json=fields(first), headers=h)
        assert r.status_code == 200, r.text
        new = r.json()
        assert new["decision"] == "new"
        assert (new["source"], new["record_id"]) == (first["source"], first["record_id"])
        assert new["golden_id"] == store.golden_of(first["source"], first["record_id"])
        assert new["model_version"] == store.model_version

        r = api.client.post("/records", json=fields(second), headers=h)
        assert r.status_code == 200, r.text
        linked = r.json()
        assert linked["decision"] == "auto_link"
        assert linked["golden_id"] == new["golden_id"] == store.golden_of(second["source"], second["record_id"])
        assert linked["probability"] >= store.matcher.thresholds.auto_link
        assert linked["review_task_id"] is None
        explained = linked["explanation"]["fields"]
        assert {"first_name", "last_name", "dob"} <= set(explained)
        assert all({"level", "match_weight"} <= set(v) for v in explained.values())
        assert explained["last_name"]["match_weight"] > 0
        assert member_ids(store, new["golden_id"]) == {(first["source"], first["record_id"]),
                                                        (second["source"], second["record_id"])}

        versions = count_rows(store, "record_version")
        events = count_rows(store, "event")
        r = api.client.post("/records", json=fields(second), headers=h)
        assert r.status_code == 200
        again = r.json()
        assert again["decision"] == "unchanged"
        assert again["golden_id"] == linked["golden_id"]
        assert again["probability"] == pytest.approx(linked["probability"])
        assert (count_rows(store, "record_version"), count_rows(store, "event")) == (versions, events)


def test_ingest_refuses_bad_bodies_naming_the_field_and_stores_nothing(database_url):
    first, _ = unseen_pair()
    with running_api(database_url, records=50) as api, MasterPatientIndex(database_url) as store:
        h = api.auth("integration")
        before = store.counts()
        secret = "Zqxjv-not-echoed"
        cases = [({**fields(first), "favourite_colour": secret}, 422, "body.favourite_colour"),
                 ({**fields(first), "last_name": 12345}, 422, "body.last_name"),
                 ({**fields(first), "record_id": "ab\x07" + secret}, 422, "body.record_id"),
                 ({k: v for k, v in fields(first).items() if k != "source"}, 422, "body.source")]
        for body, status, field in cases:
            r = api.client.post("/records", json=body, headers=h)
            assert r.status_code == status, (field, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            problem = r.json()
            assert field in [e["field"] for e in problem["errors"]]
            assert secret not in r.text and "12345" not in r.text
            assert problem["request_id"] == r.headers["x-request-id"]
        r = api.client.post("/records", content=b"source=a&record_id=b",
                            headers={**h, "content-type": "application/x-www-form-urlencoded"})
        assert r.status_code == 415
        r = api.client.post("/records", json={**fields(first), "street": "x" * 2_000_000}, headers=h)
        assert r.status_code == 413
        assert store.counts() == before


def test_ingest_needs_an_integration_token(database_url):
    first, _ = unseen_pair()
    with running_api(database_url, records=20) as api, MasterPatientIndex(database_url) as store:
        assert api.client.post("/records", json=fields(first)).status_code == 401
        bad = {"Authorization": "Bearer mpi_000000000000_" + "x" * 43}
        assert api.client.post("/records", json=fields(first), headers=bad).status_code == 401
        for role in ("steward", "admin"):
            assert api.client.post("/records", json=fields(first), headers=api.auth(role)).status_code == 403
        with pytest.raises(Exception, match="no stored record"):
            store.golden_of(first["source"], first["record_id"])


# ----------------------------------------------------------------------------- POST /records:batch
def test_batch_reports_a_failed_record_in_its_slot_and_stores_the_others(database_url):
    first, second = unseen_pair()
    with running_api(database_url, max_batch=3) as api, MasterPatientIndex(database_url) as store:
        h = api.auth("integration")
        blank_id = {**fields(first), "record_id": "   ", "source": "batch_test"}
        r = api.client.post("/records:batch", json={"records": [fields(first), blank_id, fields(second)]}, headers=h)
        assert r.status_code == 200, r.text
        out = r.json()
        assert (out["ingested"], out["failed"]) == (2, 1)
        assert [item["index"] for item in out["results"]] == [0, 1, 2]
        bad = out["results"][1]
        assert bad["result"] is None
        assert bad["error"]["field"] == "records.1.record_id" and bad["error"]["status"] == 422
        good = [out["results"][0]["result"], out["results"][2]["result"]]
        assert [g["decision"] for g in good] == ["new", "auto_link"]
        for row, res in zip((first, second), good):
            assert store.golden_of(row["source"], row["record_id"]) == res["golden_id"]
        assert not store.knows_source("batch_test")


def test_a_schema_error_in_a_batch_refuses_the_whole_batch(database_url):
    """A record that breaks the request schema (here a control character in record_id) makes the
    request invalid: 422 naming the record's field, and none of the batch is stored."""
    first, second = unseen_pair()
    with running_api(database_url, records=50) as api, MasterPatientIndex(database_url) as store:
        before = store.counts()
        bad = {**fields(second), "record_id": "bad\x01id"}
        r = api.client.post("/records:batch", json={"records": [fields(first), bad]}, headers=api.auth("integration"))
        assert r.status_code == 422
        assert [e["field"] for e in r.json()["errors"]] == ["body.records.1.record_id"]
        assert store.counts() == before


def test_batch_over_the_limit_is_refused_whole(database_url):
    rows = example_records().iloc[LOADED:LOADED + 4].to_dict("records")
    with running_api(database_url, records=LOADED, max_batch=3) as api, MasterPatientIndex(database_url) as store:
        before = store.counts()
        r = api.client.post("/records:batch", json={"records": [fields(x) for x in rows]},
                            headers=api.auth("integration"))
        assert r.status_code == 413
        assert "3" in r.json()["detail"]
        assert store.counts() == before
        r = api.client.post("/records:batch", json={"records": [fields(x) for x in rows[:3]]},
                            headers=api.auth("integration"))
        assert r.status_code == 200 and r.json()["ingested"] == 3
        assert store.counts()["records"] == before["records"] + 3


# ----------------------------------------------------------------------------- FHIR $match
def test_fhir_match_ranks_golden_patients_and_finds_the_person(database_url):
    rows = stored_person()
    with running_api(database_url) as api, MasterPatientIndex(database_url) as store:
        expected = store.golden_of(rows[0]["source"], rows[0]["record_id"])
        body = match_params(patient_of(rows[0], store))
        for role in ("integration", "steward"):
            r = api.client.post("/fhir/Patient/$match", json=body, headers=api.auth(role))
            assert r.status_code == 200, r.text
            assert r.headers["content-type"].startswith("application/fhir+json")
            bundle = r.json()
            assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "searchset")
            found = matches(bundle)
            assert found and bundle["total"] == len(found)
            scores = [e["search"]["score"] for e in found]
            assert scores == sorted(scores, reverse=True)
            assert all(0 < s <= 1 for s in scores)
            assert all(grade(e) in ("certain", "probable", "possible") for e in found)
            top = found[0]
            assert top["resource"]["resourceType"] == "Patient"
            assert top["resource"]["id"] == expected and top["fullUrl"].endswith(f"/fhir/Patient/{expected}")
            assert grade(top) == "certain"
            assert (GOLDEN_SYSTEM, expected) in golden_ids(top["resource"])
            if role == "integration":
                for e in found:
                    assert not set(DEMOGRAPHIC_KEYS) & set(e["resource"]), e["resource"]
                    assert {i["system"] for i in e["resource"]["identifier"]} == {GOLDEN_SYSTEM}
            else:
                res = top["resource"]
                assert res["name"][0]["family"].lower() == rows[0]["last_name"].lower()
                assert res["birthDate"] == normalised(store, rows[0]["source"], rows[0]["record_id"])["dob"]
                assert res["address"] and res["telecom"]
                assert member_ids(store, expected) <= golden_ids(res)
                assert len(member_ids(store, expected)) >= 2


def test_fhir_match_count_and_only_certain_matches(database_url):
    with running_api(database_url) as api, MasterPatientIndex(database_url) as store:
        h = api.auth("integration")

        def match(patient: dict, **more: dict) -> list[dict]:
            r = api.client.post("/fhir/Patient/$match", json=match_params(patient, **more), headers=h)
            assert r.status_code == 200, r.text
            return matches(r.json())

        # a family name and an address: several household members answer, none certainly
        several = None
        for row in loaded_rows():
            weak = {"resourceType": "Patient", "name": [{"family": row["last_name"]}],
                    "address": [{"line": [row["street"]], "postalCode": row["zip"]}]}
            if row["last_name"] and row["street"] and len(match(weak)) >= 2:
                several = weak
                break
        assert several is not None, "no household in the loaded records"
        ranked = match(several)
        one = match(several, count={"valueInteger": 1})
        assert [e["resource"]["id"] for e in one] == [ranked[0]["resource"]["id"]]
        assert len(match(several, count={"valueInteger": 2})) == 2
        assert all(grade(e) != "certain" for e in ranked)
        assert match(several, onlyCertainMatches={"valueBoolean": True}) == []

        rows = stored_person()
        full = patient_of(rows[0], store)
        certain = match(full, onlyCertainMatches={"valueBoolean": True})
        assert len(certain) == 1 and grade(certain[0]) == "certain"
        assert certain[0]["resource"]["id"] == store.golden_of(rows[0]["source"], rows[0]["record_id"])


INVALID_MATCH = [
    ("wrong Parameters type", lambda p: {**match_params(p), "resourceType": "Bundle"}, "body.resourceType"),
    ("resource not a Patient", lambda p: match_params({**p, "resourceType": "Practitioner"}), "resource.resourceType"),
    ("name not a list", lambda p: match_params({**p, "name": {"family": p["name"][0]["family"]}}), "Patient.name"),
    ("given not strings", lambda p: match_params({**p, "name": [{"family": "Zqxjv", "given": [{"x": "Zqxjv"}]}]}),
     "Patient.name[0].given[0]"),
    ("telecom entry not an object", lambda p: match_params({**p, "telecom": ["Zqxjv"]}), "Patient.telecom[0]"),
    ("no resource parameter", lambda p: {"resourceType": "Parameters",
                                         "parameter": [{"name": "count", "valueInteger": 3}]}, "Parameters.parameter"),
    ("unknown parameter", lambda p: match_params(p, limit={"valueInteger": 3}), "Parameters.parameter[1].name"),
    ("count out of range", lambda p: match_params(p, count={"valueInteger": 0}), "Parameters.parameter[1].valueInteger"),
    ("resource given twice", lambda p: {"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": p}, {"name": "resource", "resource": p}]}, "Parameters.parameter[1].name"),
]


def test_invalid_fhir_is_an_operation_outcome_naming_the_element(database_url):
    rows = stored_person()
    with running_api(database_url) as api, MasterPatientIndex(database_url) as store:
        patient = patient_of(rows[0], store)
        before = store.counts()
        for label, build, where in INVALID_MATCH:
            r = api.client.post("/fhir/Patient/$match", json=build(patient), headers=api.auth("integration"))
            assert 400 <= r.status_code < 500, (label, r.status_code)
            assert r.headers["content-type"].startswith("application/fhir+json"), label
            outcome = r.json()
            assert outcome["resourceType"] == "OperationOutcome", label
            issue = outcome["issue"][0]
            assert issue["severity"] == "error" and issue["code"] == "invalid", label
            assert issue["expression"][0] == where, (label, issue)
            assert "Zqxjv" not in r.text and rows[0]["ssn"] not in r.text, label
        assert store.counts() == before


# ----------------------------------------------------------------------------- PIXm
def test_pix_lists_the_persons_other_identifiers(database_url):
    rows = stored_person()
    with running_api(database_url) as api, MasterPatientIndex(database_url) as store:
        source, rid = rows[0]["source"], rows[0]["record_id"]
        golden = store.golden_of(source, rid)
        others = member_ids(store, golden) - {(source, rid)}
        assert others, "the person's records are linked in the store"
        h = api.auth("integration")

        def pix(**params: object) -> object:
            return api.client.get("/fhir/Patient/$ihe-pix", params=params, headers=h)

        r = pix(sourceIdentifier=f"{source}|{rid}")
        assert r.status_code == 200, r.text
        params = r.json()
        assert params["resourceType"] == "Parameters"
        targets = [(p["valueIdentifier"]["system"], p["valueIdentifier"]["value"])
                   for p in params["parameter"] if p["name"] == "targetIdentifier"]
        assert sorted(targets) == sorted(others | {(GOLDEN_SYSTEM, golden)})
        (ref,) = [p["valueReference"]["reference"] for p in params["parameter"] if p["name"] == "targetId"]
        assert ref.endswith(f"/Patient/{golden}")

        only_golden = pix(sourceIdentifier=f"{source}|{rid}", targetSystem=GOLDEN_SYSTEM).json()
        assert [p["valueIdentifier"] for p in only_golden["parameter"] if p["name"] == "targetIdentifier"] == \
            [{"system": GOLDEN_SYSTEM, "value": golden}]
        other_source = sorted(others)[0][0]
        filtered = pix(sourceIdentifier=f"{source}|{rid}", targetSystem=other_source).json()
        got = {(p["valueIdentifier"]["system"], p["valueIdentifier"]["value"])
               for p in filtered["parameter"] if p["name"] == "targetIdentifier"}
        assert got == {o for o in others if o[0] == other_source}

        by_golden = pix(sourceIdentifier=f"{GOLDEN_SYSTEM}|{golden}").json()
        got = {(p["valueIdentifier"]["system"], p["valueIdentifier"]["value"])
               for p in by_golden["parameter"] if p["name"] == "targetIdentifier"}
        assert got == member_ids(store, golden)

        unknown = pix(sourceIdentifier=f"{source}|{rid}-no-such-record")
        assert unknown.status_code == 404 and unknown.json()["resourceType"] == "OperationOutcome"
        assert pix(sourceIdentifier=f"no-such-source|{rid}").status_code == 404
        assert pix(sourceIdentifier=f"{source}|{rid}", targetSystem="urn:no-such-domain").status_code == 403
        for malformed in (f"{source}{rid}", f"|{rid}", f"{source}|"):
            r = pix(sourceIdentifier=malformed)
            assert r.status_code == 422, malformed
            assert r.json()["issue"][0]["expression"][0].endswith("sourceIdentifier")
        assert api.client.get("/fhir/Patient/$ihe-pix", params={"sourceIdentifier": f"{source}|{rid}"},
                              headers=api.auth("admin")).status_code == 403


# ----------------------------------------------------------------------------- merge / unmerge / Patient read
def two_people(store: MasterPatientIndex) -> tuple[str, str]:
    """Golden ids of two different persons: the stored person with several records, and the
    first loaded record of another person the store keeps apart from them."""
    rows = stored_person()
    a = store.golden_of(rows[0]["source"], rows[0]["record_id"])
    person = person_of()
    for row in loaded_rows():
        b = store.golden_of(row["source"], row["record_id"])
        if person[row["record_id"]] != person[rows[0]["record_id"]] and b != a:
            return a, b
    raise AssertionError("one golden record only")


def test_merge_read_and_unmerge_of_golden_patients(database_url):
    with running_api(database_url) as api, MasterPatientIndex(database_url) as store:
        a, b = two_people(store)
        a_members, b_members = member_ids(store, a), member_ids(store, b)
        steward, integration = api.auth("steward"), api.auth("integration")

        before = api.client.get(f"/fhir/Patient/{b}", headers=integration).json()
        assert before["active"] is True and "link" not in before
        assert golden_ids(before) == {(GOLDEN_SYSTEM, b)} | b_members
        assert not set(DEMOGRAPHIC_KEYS) & set(before)

        r = api.client.post(f"/goldens/{a}/merge", json={"other": b}, headers=steward)
        assert r.status_code == 422 and "body.reason" in [e["field"] for e in r.json()["errors"]]
        r = api.client.post(f"/goldens/{a}/merge", json={"other": a, "reason": "same"}, headers=steward)
        assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
        assert api.client.post(f"/goldens/{a}/merge", json={"other": b, "reason": "x"},
                               headers=integration).status_code == 403
        assert store.resolve_id(b) == b and member_ids(store, a) == a_members

        r = api.client.post(f"/goldens/{a}/merge", json={"other": b, "reason": "same person, checked ID"},
                            headers=steward)
        assert r.status_code == 200, r.text
        assert r.json() == {"golden_id": a}
        assert store.resolve_id(b) == a

        for headers in (integration, steward):
            gone = api.client.get(f"/fhir/Patient/{b}", headers=headers)
            assert gone.status_code == 200
            gone = gone.json()
            assert gone["id"] == b and gone["active"] is False
            assert gone["link"] == [{"other": {"reference": f"Patient/{a}"}, "type": "replaced-by"}]
        survivor = api.client.get(f"/fhir/Patient/{a}", headers=steward).json()
        assert survivor["active"] is True
        assert golden_ids(survivor) >= {(GOLDEN_SYSTEM, a)} | a_members | b_members
        assert "name" in survivor and "birthDate" in survivor

        g = api.client.get(f"/goldens/{b}", headers=steward)
        assert g.status_code == 200
        g = g.json()
        assert (g["id"], g["requested_id"], g["status"]) == (a, b, "active")
        assert {(m["source"], m["record_id"]) for m in g["members"]} == a_members | b_members
        assert g["replaced_ids"] == [b]
        assert api.client.get(f"/goldens/{a}", headers=integration).status_code == 403

        r = api.client.post(f"/goldens/{b}/unmerge", json={"reason": "two people after all"}, headers=steward)
        assert r.status_code == 200, r.text
        assert r.json() == {"golden_id": b}
        back = api.client.get(f"/fhir/Patient/{b}", headers=integration).json()
        assert back["active"] is True and "link" not in back
        assert golden_ids(back) == {(GOLDEN_SYSTEM, b)} | b_members
        assert member_ids(store, a) == a_members
        assert api.client.post(f"/goldens/{a}/unmerge", json={"reason": "x"}, headers=steward).status_code == 409

        history = api.client.get(f"/goldens/{b}/history", headers=steward)
        assert history.status_code == 200
        kinds = [(e["kind"], e["reason"]) for e in history.json()]
        assert ("merge", "same person, checked ID") in kinds and ("unmerge", "two people after all") in kinds
        assert kinds.index(("merge", "same person, checked ID")) < kinds.index(("unmerge", "two people after all"))
        merge_event = next(e for e in history.json() if e["kind"] == "merge")
        assert (merge_event["golden_id"], merge_event["other_golden_id"]) == (a, b)
        assert merge_event["actor"].startswith("test-steward (")

        assert api.client.get("/fhir/Patient/Gno-such-golden", headers=integration).status_code == 404
        assert api.client.get("/goldens/Gno-such-golden", headers=steward).status_code == 404


# ----------------------------------------------------------------------------- review queue and split
def record_ident(store: MasterPatientIndex, pk: int) -> tuple[str, str]:
    with store.engine.connect() as conn:
        return tuple(conn.execute(text("SELECT source, record_id FROM source_record WHERE id = :i"), {"i": pk}).one())


def test_review_queue_claim_and_decide(database_url):
    with running_api(database_url) as api, MasterPatientIndex(database_url) as store:
        steward = api.auth("steward")
        other = {"Authorization": f"Bearer {TokenStore(store.engine).create('steward', 'second steward').token}"}
        listed = api.client.get("/review-tasks", headers=steward)
        assert listed.status_code == 200
        tasks = listed.json()
        assert [t["id"] for t in tasks] == [t["id"] for t in store.review_tasks()]
        assert len(tasks) >= 2, "the loaded records leave at least two pairs for review"
        assert all(t["status"] == "open" for t in tasks)
        priorities = [t["priority"] for t in tasks]
        assert priorities == sorted(priorities, reverse=True)
        assert api.client.get("/review-tasks", headers=api.auth("integration")).status_code == 403

        first = next(t for t in tasks if t["kind"] == "record_golden")
        second = next(t for t in tasks if t["id"] != first["id"])
        ident = record_ident(store, first["record"])
        target = store.resolve_id(first["golden_id"])
        assert store.golden_of(*ident) != target, "a record held for review sits in a golden record of its own"
        r = api.client.post(f"/review-tasks/{first['id']}/claim", headers=steward)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "claimed"
        assert r.json()["claimed_by"] == f"test-steward ({token_id(api.tokens['steward'])})"
        assert api.client.post(f"/review-tasks/{first['id']}/claim", headers=other).status_code == 409
        r = api.client.post(f"/review-tasks/{first['id']}/decide", json={"decision": "same", "reason": "r"},
                            headers=other)
        assert r.status_code == 409
        assert store.review_task(first["id"])["status"] == "claimed"
        assert [t["id"] for t in api.client.get("/review-tasks", params={"status": "claimed"},
                                                headers=steward).json()] == [first["id"]]

        r = api.client.post(f"/review-tasks/{first['id']}/decide", json={"decision": "maybe", "reason": "r"},
                            headers=steward)
        assert r.status_code == 422
        r = api.client.post(f"/review-tasks/{first['id']}/decide", json={"decision": "same"}, headers=steward)
        assert r.status_code == 422
        r = api.client.post(f"/review-tasks/{first['id']}/decide",
                            json={"decision": "same", "reason": "same person per chart"}, headers=steward)
        assert r.status_code == 200, r.text
        decided = r.json()
        assert (decided["status"], decided["decision"], decided["reason"]) == ("decided", "same",
                                                                               "same person per chart")
        assert store.golden_of(*ident) == target
        assert api.client.post(f"/review-tasks/{first['id']}/decide", json={"decision": "same", "reason": "r"},
                               headers=steward).status_code == 409

        # the second task, decided different by the other steward without claiming it first
        ident = record_ident(store, second["record"])
        kept = store.golden_of(*ident)
        r = api.client.post(f"/review-tasks/{second['id']}/decide",
                            json={"decision": "different", "reason": "different mothers' names"}, headers=other)
        assert r.status_code == 200, r.text
        assert r.json()["decided_by"] == f"second steward ({token_id(other['Authorization'][7:])})"
        assert store.golden_of(*ident) == kept
        assert store.golden(kept).members and any(
            (m["source"], m["record_id"]) == ident and m["state"] == "manual" for m in store.golden(kept).members)
        labels = store.labels()
        assert len(labels) == 2 and sorted(labels["same"].tolist()) == [False, True]
        assert api.client.get("/review-tasks/999999", headers=steward).status_code == 404


def test_split_takes_a_record_out_of_its_golden_record(database_url):
    rows = stored_person()
    with running_api(database_url) as api, MasterPatientIndex(database_url) as store:
        steward = api.auth("steward")
        source, rid = rows[1]["source"], rows[1]["record_id"]
        old = store.golden_of(source, rid)
        old_members = member_ids(store, old)
        assert len(old_members) >= 2
        body = {"source": source, "record_id": rid}
        assert api.client.post("/records:split", json=body, headers=steward).status_code == 422
        assert api.client.post("/records:split", json={**body, "reason": "r"},
                               headers=api.auth("integration")).status_code == 403
        r = api.client.post("/records:split", json={**body, "reason": "different person, wrong chart"}, headers=steward)
        assert r.status_code == 200, r.text
        new = r.json()["golden_id"]
        assert new != old
        assert store.golden_of(source, rid) == new
        assert member_ids(store, new) == {(source, rid)}
        assert member_ids(store, old) == old_members - {(source, rid)}
        # alone now: splitting again is refused; re-sending the record keeps the steward's choice
        assert api.client.post("/records:split", json={**body, "reason": "again"}, headers=steward).status_code == 409
        changed = {**fields(rows[1]), "city": "Springfield"}
        r = api.client.post("/records", json=changed, headers=api.auth("integration"))
        assert r.status_code == 200 and (r.json()["decision"], r.json()["golden_id"]) == ("manual", new)
        r = api.client.post("/records:split", json={"source": source, "record_id": rid + "-none", "reason": "r"},
                            headers=steward)
        assert r.status_code == 404


# ----------------------------------------------------------------------------- tokens
def test_admin_creates_lists_and_revokes_tokens(database_url):
    with running_api(database_url, records=20) as api, MasterPatientIndex(database_url) as store:
        admin = api.auth("admin")
        r = api.client.post("/tokens", json={"role": "steward", "name": "new steward", "days": 7}, headers=admin)
        assert r.status_code == 201, r.text
        made = r.json()
        assert made["token"].startswith("mpi_") and made["role"] == "steward" and made["name"] == "new steward"
        assert token_id(made["token"]) == made["id"]
        expires = dt.datetime.fromisoformat(made["expires_at"])
        assert dt.timedelta(days=6) < expires - dt.datetime.now(dt.timezone.utc) <= dt.timedelta(days=7)
        principal = TokenStore(store.engine).authenticate(made["token"])
        assert principal is not None and principal.role.value == "steward"
        fresh = {"Authorization": f"Bearer {made['token']}"}
        assert api.client.get("/review-tasks", headers=fresh).status_code == 200
        assert api.client.post("/tokens", json={"role": "admin", "name": "x"}, headers=fresh).status_code == 403
        assert api.client.post("/tokens", json={"role": "root", "name": "x"}, headers=admin).status_code == 422

        listed = api.client.get("/tokens", headers=admin)
        assert listed.status_code == 200
        with store.engine.connect() as conn:
            hashes = [h for (h,) in conn.execute(text("SELECT token_hash FROM api_token"))]
        assert len(hashes) == len(listed.json()) == 4
        for secret in [made["token"], *api.tokens.values(), *hashes]:
            assert secret not in listed.text
            assert secret.split("_", 2)[-1] not in listed.text
        mine = next(t for t in listed.json() if t["id"] == made["id"])
        assert mine["live"] is True and mine["revoked_at"] is None
        assert set(mine) == {"id", "role", "name", "created_at", "expires_at", "revoked_at", "live"}

        assert api.client.delete(f"/tokens/{made['id']}", headers=admin).status_code == 204
        denied = api.client.get("/review-tasks", headers=fresh)
        assert denied.status_code == 401 and denied.headers["www-authenticate"].startswith("Bearer")
        mine = next(t for t in api.client.get("/tokens", headers=admin).json() if t["id"] == made["id"])
        assert mine["live"] is False and mine["revoked_at"] is not None
        assert api.client.delete("/tokens/nosuchtoken", headers=admin).status_code == 404
        assert api.client.get("/tokens", headers=api.auth("steward")).status_code == 403


def test_a_token_is_only_issued_with_a_name_its_changes_can_carry(database_url):
    """The token's name is the actor of its holder's changes; the store refuses actors over 200
    characters or with control characters, so such a name must be refused when the token is made
    (else the token authenticates but every change it makes fails)."""
    rows = example_records().iloc[LOADED:LOADED + 2].to_dict("records")
    with running_api(database_url, records=20) as api, MasterPatientIndex(database_url) as store:
        admin = api.auth("admin")
        r = api.client.post("/tokens", json={"role": "integration", "name": "n" * 185}, headers=admin)
        assert r.status_code == 201, r.text
        longest = {"Authorization": f"Bearer {r.json()['token']}"}
        assert api.client.post("/records", json=fields(rows[0]), headers=longest).status_code == 200
        for name in ("n" * 186, "line\nbreak", "tab\tname"):
            r = api.client.post("/tokens", json={"role": "integration", "name": name}, headers=admin)
            assert r.status_code == 422, (name, r.text)
            assert [e["field"].rsplit(".", 1)[-1] for e in r.json()["errors"]] == ["name"]
        assert len(TokenStore(store.engine).list()) == 4


def test_revoked_and_expired_tokens_are_refused(database_url):
    with running_api(database_url, records=20, token_cache_seconds=0) as api, \
            MasterPatientIndex(database_url) as store:
        tokens = TokenStore(store.engine)
        revoked = tokens.create("integration", "to revoke").token
        expiring = tokens.create("steward", "to expire").token
        never_used = tokens.create("steward", "expired before use").token
        for token in (revoked, expiring):
            assert api.client.get("/model", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
        with store.engine.begin() as conn:  # as a DBA would, past the API (and its token cache)
            conn.execute(text("UPDATE api_token SET revoked_at = :t WHERE id = :i"),
                         {"t": past, "i": token_id(revoked)})
            conn.execute(text("UPDATE api_token SET expires_at = :t WHERE id IN (:a, :b)"),
                         {"t": past, "a": token_id(expiring), "b": token_id(never_used)})
        for token in (revoked, expiring, never_used):
            r = api.client.get("/model", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 401, token_id(token)
        assert api.client.get("/model", headers=api.auth("steward")).status_code == 200


def test_match_routes_are_rate_limited_per_token(database_url):
    rows = stored_person()
    with running_api(database_url, match_rate_per_minute=1, match_burst=2) as api, \
            MasterPatientIndex(database_url) as store:
        body = match_params(patient_of(rows[0], store))
        h = api.auth("integration")
        assert [api.client.post("/fhir/Patient/$match", json=body, headers=h).status_code for _ in range(2)] == [200] * 2
        r = api.client.post("/fhir/Patient/$match", json=body, headers=h)
        assert r.status_code == 429 and r.json()["resourceType"] == "OperationOutcome"
        assert int(r.headers["retry-after"]) >= 1
        assert api.client.post("/match", json={"record": {"last_name": "x"}}, headers=h).status_code == 429
        # another token has its own bucket
        assert api.client.post("/fhir/Patient/$match", json=body, headers=api.auth("steward")).status_code == 200


def test_health_and_openapi_need_no_token(database_url):
    with running_api(database_url, records=0) as api:
        r = api.client.get("/health")
        assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["database"] == "ok"
        doc = api.client.get("/openapi.json").json()
        assert {"/records", "/records:batch", "/fhir/Patient/$match", "/fhir/Patient/$ihe-pix"} <= set(doc["paths"])
        assert api.client.get("/model").status_code == 401
