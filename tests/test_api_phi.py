"""No demographic value leaves the service except where a person is allowed to read it.

A canary string goes in as the value of demographic fields through every route that takes
demographics (ingest, batch, match, FHIR $match in several shapes), on good and on bad paths:
wrong types, unknown fields, strings over the limit, malformed JSON, bodies over the size limit,
wrong content types, refused roles and tokens, invalid FHIR elements, a batch with one bad item.
Every response (body and headers), every log record at DEBUG (root and our loggers), everything
written to the process's stdout/stderr and the audit log are then searched for the canary
(case-insensitively: normalisers change case). The only answer that may carry it is a steward's
successful read of stored demographics, and this test never asks for one.

Then the same kind of traffic goes to a real ``mpi serve`` process, whose stdout/stderr are searched.
"""
from __future__ import annotations

import json
import logging
import subprocess

import httpx
from sqlalchemy import text

from api_support import free_port, mpi_command, running_api, stop_server, wait_healthy
from mpi.service import MasterPatientIndex
from mpi.tokens import TokenStore
from store_support import example_records, open_store

CANARY = "Zqxcanary7781"
SSN_SYSTEM = "http://hl7.org/fhir/sid/us-ssn"
LOGGERS = ("", "api", "api.access", "mpi", "sqlalchemy", "sqlalchemy.engine", "sqlalchemy.pool", "uvicorn",
           "uvicorn.error", "fastapi", "starlette", "httpx", "alembic")


def leaks(blob: str | bytes) -> bool:
    if isinstance(blob, bytes):
        blob = blob.decode("utf-8", "replace")
    return CANARY.lower() in blob.lower()


def person(tag: str = "") -> dict[str, str]:
    """Demographics in which every field holds the canary (plus a tag, so records differ)."""
    return {"first_name": f"{CANARY}{tag}", "middle_name": CANARY, "last_name": f"{CANARY}son", "suffix": CANARY,
            "dob": f"1990-02-03 {CANARY}", "sex": CANARY, "ssn": f"123-45-{CANARY}", "phone": f"555 {CANARY}",
            "email": f"{CANARY}@example.org", "street": f"1 {CANARY} Street", "city": CANARY, "state": CANARY,
            "zip": CANARY}


def clean_person() -> dict[str, str]:
    """A plausible person whose first name is the canary and whose other fields are valid, so
    the canary travels through normalisation, blocking and scoring as a real name does."""
    return {"first_name": CANARY, "last_name": "Quandtberg", "dob": "1971-09-14", "sex": "F", "ssn": "219-09-9999",
            "phone": "(617) 555-0142", "email": f"{CANARY.lower()}@example.org", "street": "41 Larkspur Lane",
            "city": "Medford", "state": "MA", "zip": "02155"}


def fhir_patient(first: str = CANARY) -> dict:
    return {"resourceType": "Patient",
            "name": [{"use": "official", "family": f"{CANARY}son", "given": [first, CANARY], "suffix": [CANARY]}],
            "birthDate": "1990-02-03", "gender": "female",
            "identifier": [{"system": SSN_SYSTEM, "value": f"123-45-{CANARY}"}, {"system": "ehr", "value": "x1"}],
            "telecom": [{"system": "phone", "value": f"555 {CANARY}", "use": "mobile"},
                        {"system": "email", "value": f"{CANARY}@example.org"}],
            "address": [{"use": "home", "line": [f"1 {CANARY} Street", CANARY], "city": CANARY, "state": CANARY,
                         "postalCode": CANARY}]}


def parameters(resource: object, *extra: dict) -> dict:
    return {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": resource}, *extra]}


GOOD_FHIR = {
    "full patient": parameters(fhir_patient()),
    "name as text only": parameters({"resourceType": "Patient", "name": [{"text": f"{CANARY} Q {CANARY}son"}],
                                     "birthDate": "1971-09-14"}),
    "several names and addresses": parameters({
        "resourceType": "Patient",
        "name": [{"use": "old", "family": CANARY}, {"use": "nickname", "given": [CANARY]},
                 {"use": "official", "family": f"{CANARY}son", "given": [CANARY]}],
        "address": [{"use": "old", "line": [CANARY]}, {"use": "work", "city": CANARY}, {"line": [CANARY]}],
        "telecom": [{"system": "phone", "value": CANARY, "use": "work"}, {"system": "phone", "value": CANARY}]}),
    "count and onlyCertainMatches": parameters(fhir_patient(), {"name": "count", "valueInteger": 3},
                                               {"name": "onlyCertainMatches", "valueBoolean": True}),
    "clean person": parameters({"resourceType": "Patient", "name": [{"family": "Quandtberg", "given": [CANARY]}],
                                "birthDate": "1971-09-14", "gender": "female",
                                "identifier": [{"system": SSN_SYSTEM, "value": "219-09-9999"}],
                                "telecom": [{"system": "phone", "value": "(617) 555-0142"}],
                                "address": [{"line": ["41 Larkspur Lane"], "city": "Medford", "state": "MA",
                                             "postalCode": "02155"}]}),
}

BAD_FHIR = {
    "name is a string": parameters({"resourceType": "Patient", "name": CANARY}),
    "given is a string": parameters({"resourceType": "Patient", "name": [{"given": CANARY}]}),
    "name use is a list": parameters({"resourceType": "Patient", "name": [{"use": [CANARY], "family": CANARY}]}),
    "telecom use is an object": parameters({"resourceType": "Patient",
                                            "telecom": [{"system": "phone", "value": CANARY, "use": {"x": CANARY}}]}),
    "an unused name is invalid": parameters({"resourceType": "Patient", "name": [
        {"use": "official", "family": CANARY}, {"use": "old", "family": 5, "given": [CANARY]}]}),
    "name element is a string": parameters({"resourceType": "Patient", "name": [CANARY]}),
    "family too long": parameters({"resourceType": "Patient", "name": [{"family": CANARY * 20}]}),
    "birthDate is a list": parameters({"resourceType": "Patient", "name": [{"family": CANARY}], "birthDate": [CANARY]}),
    "gender too long": parameters({"resourceType": "Patient", "gender": CANARY * 20}),
    "telecom value is an object": parameters({"resourceType": "Patient", "name": [{"family": CANARY}],
                                              "telecom": [{"system": "phone", "value": {"v": CANARY}}]}),
    "telecom is a string": parameters({"resourceType": "Patient", "telecom": CANARY}),
    "ssn is a number": parameters({"resourceType": "Patient", "name": [{"family": CANARY}],
                                   "identifier": [{"system": SSN_SYSTEM, "value": 123456789}]}),
    "identifier is a string": parameters({"resourceType": "Patient", "identifier": [CANARY]}),
    "address line is a string": parameters({"resourceType": "Patient", "address": [{"line": CANARY}]}),
    "postalCode too long": parameters({"resourceType": "Patient", "address": [{"postalCode": CANARY * 20}]}),
    "not a Patient": parameters({"resourceType": "Person", "name": [{"family": CANARY}]}),
    "resourceType is the canary": parameters({"resourceType": CANARY, "name": [{"family": CANARY}]}),
    "resource is a string": parameters(CANARY),
    "resource is a list": parameters([CANARY]),
    "unknown parameter with the canary": parameters(fhir_patient(), {"name": "valueString", "valueInteger": 1},
                                                    {"name": "x", "valueBoolean": True}),
    "parameter holds a valueString": parameters(fhir_patient(), {"name": "count", "valueString": CANARY}),
    "count is the canary": parameters(fhir_patient(), {"name": "count", "valueInteger": CANARY}),
    "count out of range": parameters(fhir_patient(), {"name": "count", "valueInteger": 10_000}),
    "resource twice": parameters(fhir_patient(), {"name": "resource", "resource": fhir_patient()}),
    "Parameters has an unknown element": {**parameters(fhir_patient()), "text": {"div": CANARY}},
    "Parameters id too long": {**parameters(fhir_patient()), "id": CANARY * 10},
    "Parameters resourceType is the canary": {**parameters(fhir_patient()), "resourceType": CANARY},
    "a Patient instead of Parameters": fhir_patient(),
    "parameter is an object": {"resourceType": "Parameters", "parameter": {"name": "resource", "resource": CANARY}},
    "too many parameters": {"resourceType": "Parameters",
                            "parameter": [{"name": "resource", "resource": fhir_patient()}] * 25},
}


class Traffic:
    """Sends requests through the app and keeps every answer for the leak check."""

    def __init__(self, api) -> None:
        self.api = api
        self.answers: list[tuple[str, httpx.Response]] = []

    def send(self, label: str, method: str, path: str, role: str | None = "integration", *,
             expect: int | tuple[int, ...] | None = None, headers: dict | None = None, **kwargs) -> httpx.Response:
        h = dict(headers or {})
        if role is not None:
            h.update(self.api.auth(role))
        r = self.api.client.request(method, path, headers=h, **kwargs)
        self.answers.append((label, r))
        assert r.status_code < 500, (label, r.status_code, r.text)
        if expect is not None:
            wanted = expect if isinstance(expect, tuple) else (expect,)
            assert r.status_code in wanted, (label, r.status_code, r.text)
        return r

    def leaked(self) -> list[str]:
        found = []
        for label, r in self.answers:
            if leaks(r.content):
                found.append(f"{label}: body {r.status_code} {r.text[:300]}")
            for name, value in r.headers.items():
                if leaks(name) or leaks(value):
                    found.append(f"{label}: header {name}")
        return found


def _chunks(payload: bytes, size: int = 4096):
    for i in range(0, len(payload), size):
        yield payload[i:i + size]


def error_paths(t: Traffic, golden_id: str) -> None:
    """Every refused request that carries the canary."""
    good = {"source": "phi", "record_id": "err-1", **person()}
    json_headers = {"content-type": "application/json"}
    # wrong types next to the canary
    t.send("wrong types", "POST", "/records", json={**good, "last_name": 5, "dob": [CANARY], "zip": {"z": CANARY}},
           expect=422)
    t.send("wrong type of an id", "POST", "/records", json={**good, "record_id": 7}, expect=422)
    # unknown fields holding the canary
    t.send("unknown field", "POST", "/records", json={**good, "nickname": CANARY, "mrn": [CANARY]}, expect=422)
    # strings over the limit that contain the canary
    t.send("over-long string", "POST", "/records", json={**good, "first_name": CANARY * 20}, expect=422)
    t.send("over-long id", "POST", "/records", json={**good, "record_id": CANARY * 20}, expect=422)
    t.send("control characters in an id", "POST", "/records", json={**good, "record_id": f"{CANARY}\n"}, expect=422)
    t.send("missing ids", "POST", "/records", json=person(), expect=422)
    # malformed JSON, not UTF-8, not an object, too deep
    raw = json.dumps(good).encode()
    t.send("malformed JSON", "POST", "/records", content=raw[:-20], headers=json_headers, expect=422)
    t.send("malformed JSON on FHIR", "POST", "/fhir/Patient/$match",
           content=json.dumps(parameters(fhir_patient())).encode()[:-5],
           headers={"content-type": "application/fhir+json"}, expect=422)
    t.send("not UTF-8", "POST", "/records", content=raw[:-2] + b'\xff"}', headers=json_headers, expect=(400, 422))
    t.send("JSON array", "POST", "/records", json=[good], expect=422)
    t.send("JSON string", "POST", "/records", json=CANARY, expect=422)
    t.send("too deep", "POST", "/match", content=b'{"record": ' + b"[" * 50_000 + f'"{CANARY}"'.encode()
           + b"]" * 50_000 + b"}", headers=json_headers, expect=(400, 422))
    # bodies over the size limit (1 MB by default), declared and streamed
    huge = json.dumps({**good, "first_name": CANARY * 90_000}).encode()
    assert len(huge) > 1_000_000
    t.send("body over the limit", "POST", "/records", content=huge, headers=json_headers, expect=413)
    t.send("streamed body over the limit", "POST", "/records", content=_chunks(huge), headers=json_headers, expect=413)
    t.send("streamed FHIR body over the limit", "POST", "/fhir/Patient/$match", expect=413,
           content=_chunks(json.dumps(parameters({"resourceType": "Patient", "name": [{"text": CANARY * 90_000}]}))
                           .encode()), headers={"content-type": "application/fhir+json"})
    # wrong content types
    t.send("text/plain", "POST", "/records", content=raw, headers={"content-type": "text/plain"}, expect=415)
    t.send("form data", "POST", "/records", data=good, expect=415)
    t.send("multipart", "POST", "/records", files={"f": ("r.json", raw, "application/json")}, expect=415)
    t.send("FHIR as text/plain", "POST", "/fhir/Patient/$match", content=json.dumps(parameters(fhir_patient())),
           headers={"content-type": "text/plain"}, expect=415)
    # tokens and roles that may not
    t.send("no token", "POST", "/records", role=None, json=good, expect=401)
    t.send("bad token", "POST", "/match", role=None, json={"record": person()},
           headers={"Authorization": f"Bearer mpi_{CANARY}"}, expect=401)
    t.send("steward may not ingest", "POST", "/records", role="steward", json=good, expect=403)
    t.send("steward may not batch", "POST", "/records:batch", role="steward", json={"records": [good]}, expect=403)
    t.send("admin may not match", "POST", "/match", role="admin", json={"record": person()}, expect=403)
    t.send("admin may not $match", "POST", "/fhir/Patient/$match", role="admin",
           json=parameters(fhir_patient()), expect=403)
    t.send("integration may not merge", "POST", f"/goldens/{golden_id}/merge", json={"other": golden_id,
           "reason": "x", "first_name": CANARY}, expect=403)
    # match: bad bodies
    t.send("match: record is a string", "POST", "/match", json={"record": CANARY}, expect=422)
    t.send("match: unknown field", "POST", "/match", json={"record": person(), "ssn": CANARY}, expect=422)
    t.send("match: count is the canary", "POST", "/match", json={"record": person(), "count": CANARY}, expect=422)
    t.send("match: over-long", "POST", "/match", json={"record": {**person(), "city": CANARY * 30}}, expect=422)
    # batch: one bad item fails the whole body (validation), or only its slot (the store refuses it)
    bad_item = {**good, "record_id": "err-2", "first_name": [CANARY]}
    t.send("batch with a wrongly typed item", "POST", "/records:batch", json={"records": [good, bad_item]}, expect=422)
    t.send("batch: not a list", "POST", "/records:batch", json={"records": CANARY}, expect=422)
    t.send("batch: empty", "POST", "/records:batch", json={"records": [], "note": CANARY}, expect=422)
    for label, body in BAD_FHIR.items():
        r = t.send(f"FHIR: {label}", "POST", "/fhir/Patient/$match", json=body, expect=422)
        assert r.json()["resourceType"] == "OperationOutcome", label


def good_paths(t: Traffic, store_url: str) -> None:
    """Requests that succeed with the canary: matches (before the canary is stored, so even a
    steward's answer cannot hold it), then ingests and an integration client's matches."""
    for role in ("integration", "steward"):
        r = t.send(f"match as {role}", "POST", "/match", role=role, json={"record": person(), "count": 5}, expect=200)
        r = t.send(f"match clean as {role}", "POST", "/match", role=role, json={"record": clean_person()}, expect=200)
        for label, body in GOOD_FHIR.items():
            r = t.send(f"FHIR {label} as {role}", "POST", "/fhir/Patient/$match", role=role, json=body, expect=200,
                       headers={"content-type": "application/fhir+json"})
            assert r.json()["resourceType"] == "Bundle"
    # now store the canary (integration client: ids, decisions and explanations come back, never values)
    r = t.send("ingest", "POST", "/records", json={"source": "phi", "record_id": "ok-1", **clean_person()}, expect=200)
    first = r.json()["golden_id"]
    t.send("ingest again (unchanged)", "POST", "/records",
           json={"source": "phi", "record_id": "ok-1", **clean_person()}, expect=200)
    r = t.send("ingest a second record", "POST", "/records", json={"source": "phi2", "record_id": "ok-1",
                                                                   **clean_person()}, expect=200)
    assert r.json()["golden_id"] == first  # the canary person was really matched on its values
    r = t.send("ingest all-canary", "POST", "/records", json={"source": "phi", "record_id": "ok-2", **person()},
               expect=200)
    items = [{"source": "phi", "record_id": "ok-3", **person("b")},
             {"source": "phi", "record_id": "   ", **person("c")},  # the store refuses a blank id: its slot fails
             {"source": "phi3", "record_id": "ok-1", **clean_person()}]
    r = t.send("batch with one bad item", "POST", "/records:batch", json={"records": items}, expect=200)
    out = r.json()
    assert out["ingested"] == 2 and out["failed"] == 1 and out["results"][1]["error"]["status"] == 422
    r = t.send("match stored canary", "POST", "/match", json={"record": clean_person()}, expect=200)
    assert r.json()["candidates"][0]["golden_id"] == first
    for label, body in GOOD_FHIR.items():
        t.send(f"FHIR {label} after ingest", "POST", "/fhir/Patient/$match", json=body, expect=200)
    r = t.send("PIX of the canary record", "GET", "/fhir/Patient/$ihe-pix", params={"sourceIdentifier": "phi|ok-1"},
               expect=200)
    assert {"phi2", "phi3"} <= {p["valueIdentifier"]["system"] for p in r.json()["parameter"]
                                if p["name"] == "targetIdentifier"}
    t.send("golden Patient as integration", "GET", f"/fhir/Patient/{first}", expect=200)
    # audit reads by an admin hold no values either
    t.send("audit log", "GET", "/audit", role="admin", params={"limit": 1000}, expect=200)
    # the canary really is stored (so the checks above could have found it)
    store = MasterPatientIndex(store_url)
    try:
        with store.engine.connect() as conn:
            stored = conn.execute(text("SELECT raw FROM record_version")).scalars().all()
    finally:
        store.close()
    assert any(leaks(str(v)) for v in stored)


def _all_log_text(caplog) -> str:
    parts = [caplog.text]
    for rec in caplog.records:
        parts.append(rec.getMessage())
        parts.append(repr(rec.args))
        parts.append(rec.exc_text or "")
        parts.append(repr(getattr(rec, "exc_info", None)))
        parts.append(repr({k: v for k, v in rec.__dict__.items() if k not in ("msg", "args")}))
    return "\n".join(parts)


def test_the_canary_never_leaves_in_process(database_url, caplog, capfd):
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
    with running_api(database_url, records=150) as api:
        t = Traffic(api)
        golden_id = t.send("a golden id", "POST", "/records", json={"source": "phi", "record_id": "plain",
                                                                    "first_name": "Ann", "last_name": "Lee"},
                           expect=200).json()["golden_id"]
        error_paths(t, golden_id)
        good_paths(t, database_url)
        leaked = t.leaked()
        assert leaked == []
        # nothing in the audit log (stored, not only what GET /audit shows)
        store = MasterPatientIndex(database_url)
        try:
            with store.engine.connect() as conn:
                audit = conn.execute(text("SELECT * FROM audit_event")).all()
        finally:
            store.close()
        assert len(audit) > 5
        assert not [row for row in audit if leaks(repr(tuple(row)))]
    logs = _all_log_text(caplog)
    captured = capfd.readouterr()
    # the logs are really captured: one access line per request, with the route template
    access = [r.getMessage() for r in caplog.records if r.name == "api.access"]
    assert len(access) >= len(t.answers)
    assert any(line.startswith("POST /fhir/Patient/$match 422 ") for line in access)
    assert any(line.startswith("POST /records 200 ") for line in access)
    assert not leaks(logs), [line for line in logs.splitlines() if leaks(line)][:5]
    assert not leaks(captured.out) and not leaks(captured.err)


# ----------------------------------------------------------------------------- a real server








def test_the_canary_never_reaches_a_real_servers_output(tmp_path):
    url = f"sqlite:///{tmp_path / 'mpi.db'}"
    store = open_store(url)
    try:
        store.ingest_frame(example_records().head(100))
        tokens = {role: TokenStore(store.engine).create(role, name=f"phi-{role}").token
                  for role in ("integration", "steward")}
    finally:
        store.close()
    port = free_port()
    out_path, err_path = tmp_path / "serve.out", tmp_path / "serve.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen([*mpi_command(), "serve", "--db", url, "--port", str(port), "--log-level", "debug"],
                                stdout=out, stderr=err, start_new_session=True, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc)
        with httpx.Client(base_url=base, timeout=30) as client:
            def send(method, path, role="integration", expect=None, **kwargs):
                headers = {**kwargs.pop("headers", {})}
                if role:
                    headers["Authorization"] = f"Bearer {tokens[role]}"
                r = client.request(method, path, headers=headers, **kwargs)
                assert not leaks(r.content) and not any(leaks(v) for v in r.headers.values()), (path, r.text)
                assert r.status_code < 500, (path, r.status_code, r.text)
                if expect is not None:
                    assert r.status_code == expect, (path, r.status_code, r.text)
                return r

            good = {"source": "phi", "record_id": "srv-1", **clean_person()}
            send("POST", "/match", json={"record": clean_person()}, role="steward", expect=200)
            send("POST", "/fhir/Patient/$match", json=GOOD_FHIR["full patient"], role="steward", expect=200)
            send("POST", "/records", json=good, expect=200)
            send("POST", "/records", json={**good, "record_id": "srv-2", **person()}, expect=200)
            send("POST", "/records:batch", json={"records": [{**good, "record_id": "srv-3"},
                                                              {**good, "record_id": " "}]}, expect=200)
            send("POST", "/match", json={"record": clean_person()}, expect=200)
            for body in GOOD_FHIR.values():
                send("POST", "/fhir/Patient/$match", json=body, expect=200)
            send("POST", "/records", json={**good, "dob": [CANARY]}, expect=422)
            send("POST", "/records", json={**good, "nickname": CANARY}, expect=422)
            send("POST", "/records", json={**good, "city": CANARY * 20}, expect=422)
            send("POST", "/records", content=json.dumps(good).encode()[:-9],
                 headers={"content-type": "application/json"}, expect=422)
            huge = json.dumps({**good, "street": CANARY * 90_000}).encode()
            send("POST", "/records", content=huge, headers={"content-type": "application/json"}, expect=413)
            send("POST", "/records", content=_chunks(huge), headers={"content-type": "application/json"}, expect=413)
            send("POST", "/records", content=json.dumps(good), headers={"content-type": "text/plain"}, expect=415)
            send("POST", "/records", json=good, role="steward", expect=403)
            send("POST", "/records", json=good, role=None, expect=401)
            for body in BAD_FHIR.values():
                send("POST", "/fhir/Patient/$match", json=body, expect=422)
    finally:
        stop_server(proc)
    output = out_path.read_bytes() + err_path.read_bytes()
    text_out = output.decode("utf-8", "replace")
    # the server did log (so the check below could fail): its access lines, with route templates
    assert "POST /records 200" in text_out and "POST /fhir/Patient/$match 422" in text_out, text_out[-2000:]
    assert not leaks(output), [line for line in text_out.splitlines() if leaks(line)][:5]


def test_an_unexpected_failure_answers_500_without_its_message(sqlite_database, caplog, capfd):
    """A bug that raises with a record's value in its message: the caller gets a plain 500 with
    the request id, the exception does not escape the app (where the server would log its
    traceback and message), and no log line carries the value."""
    from fastapi.testclient import TestClient

    from api import Settings, create_app

    caplog.set_level(logging.DEBUG)
    app = create_app(Settings(database_url=sqlite_database))

    @app.get("/explode")
    def explode() -> None:
        raise RuntimeError(f"could not parse {CANARY}")

    with TestClient(app, raise_server_exceptions=True) as client:  # an escaping exception would raise here
        response = client.get("/explode", headers={"X-Request-ID": "req-explode-1"})
    assert response.status_code == 500
    assert response.json()["request_id"] == "req-explode-1"
    assert CANARY not in response.text
    out, err = capfd.readouterr()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "req-explode-1" in logged and "RuntimeError" in logged  # the operator can find it
    assert CANARY not in logged + out + err
