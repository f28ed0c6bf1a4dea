"""Who may call what over HTTP: the README's route x role table against the app's OpenAPI
document and against real requests (no token, bad tokens, each role), plus the size and rate
limits and bodies that are not what a route takes.

The app is the real one (``create_app``) over a real store; authentication must come before
anything else looks at the request (content type, JSON parsing, body validation), so an
anonymous caller learns nothing but 401 -- with one deliberate exception: a body whose declared
Content-Length is over the limit is refused with 413 before it is read (see
``test_oversized_body_is_refused_before_it_is_read``).
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy import text, update

from api_support import ROLES, running_api
from mpi.service import MasterPatientIndex
from mpi.store.schema import ApiToken
from mpi.tokens import TokenStore
from store_support import example_records, table_count

README = Path(__file__).resolve().parents[1] / "README.md"
_ROW = re.compile(r"^\|\s*`(GET|POST|PUT|PATCH|DELETE) (\S+)`\s*\|(.*)\|\s*$")
PUBLIC = "public"
BAD_TOKENS = {
    "garbage": "Bearer garbage",
    "well-formed but unknown": "Bearer mpi_000000000000_" + "A" * 43,
    "empty": "Bearer ",
    "very long": "Bearer mpi_" + "x" * 5000,
    "basic scheme": "Basic dXNlcjpwYXNzd29yZA==",
    "no scheme": "mpi_000000000000_abc",
}


def readme_table() -> dict[tuple[str, str], frozenset[str]]:
    """(method, path) -> the roles the README's table allows ({"public"} for routes without a token)."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("## The HTTP service"))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    section = lines[start:end]
    header = next(line for line in section if re.match(r"^\|\s*route\s*\|", line))
    columns = [c.strip() for c in header.strip("|").split("|")][1:]
    assert sorted(columns) == sorted(ROLES), columns
    table: dict[tuple[str, str], frozenset[str]] = {}
    for line in section:
        m = _ROW.match(line)
        if not m:
            continue
        cells = [c.strip() for c in m.group(3).split("|")]
        assert len(cells) == len(columns), line
        assert set(cells) <= {"yes", "no", PUBLIC}, line
        key = (m.group(1), m.group(2))
        assert key not in table, f"{key} is listed twice"
        if PUBLIC in cells:
            assert set(cells) == {PUBLIC}, line
            table[key] = frozenset({PUBLIC})
        else:
            table[key] = frozenset(role for role, cell in zip(columns, cells) if cell == "yes")
    assert len(table) >= 20, "the README's route table was not found"
    return table


def openapi_operations(doc: dict) -> dict[tuple[str, str], dict]:
    return {(method.upper(), path): op for path, ops in doc["paths"].items() for method, op in ops.items()
            if method in ("get", "post", "put", "patch", "delete")}


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('security') / 'mpi.db'}"
    with running_api(url, records=200) as running:
        yield running


def test_readme_table_parser_reads_the_roles():
    table = readme_table()
    assert table[("POST", "/records")] == {"integration"}
    assert table[("GET", "/model")] == {"integration", "steward", "admin"}
    assert table[("GET", "/health")] == {PUBLIC}
    assert table[("DELETE", "/tokens/{token_id}")] == {"admin"}


def test_every_operation_is_in_the_readme_table_and_back(api):
    response = api.client.get("/openapi.json")  # no token
    assert response.status_code == 200
    operations = openapi_operations(response.json())
    table = readme_table()
    assert set(operations) - set(table) == set(), "routes the README's table does not list"
    assert set(table) - set(operations) == set(), "routes in the README's table the app does not have"
    for key, op in operations.items():
        # the document says which routes need the bearer token, as the table does
        assert bool(op.get("security")) == (table[key] != {PUBLIC}), key


def _store_ids(url: str) -> dict[str, str]:
    store = MasterPatientIndex(url)
    try:
        with store.engine.connect() as conn:
            golden = conn.execute(text("SELECT id FROM golden WHERE status = 'active' ORDER BY id")).first()[0]
            task = conn.execute(text("SELECT id FROM review_task ORDER BY id")).first()
            source, record_id = conn.execute(text("SELECT source, record_id FROM source_record ORDER BY id")).first()
    finally:
        store.close()
    return {"golden": golden, "task": str(task[0] if task else 1), "pix": f"{source}|{record_id}"}


def _requests_for(method: str, path: str, op: dict, ids: dict[str, str]) -> list[dict]:
    """Requests to one operation: path parameters of a record that exists and of one that does
    not; with a body, an empty object, malformed JSON, a JSON array and a text body."""
    variants = []
    for exists in (True, False):
        filled = path.replace("{golden_id}", ids["golden"] if exists else "Gdoesnotexist00")
        filled = filled.replace("{task_id}", ids["task"] if exists else "999999")
        filled = filled.replace("{token_id}", "ffffffffffff")  # never revoke a live token here
        params = {"sourceIdentifier": ids["pix"]} if path.endswith("$ihe-pix") else None
        assert "{" not in filled, f"a path parameter of {path} is not filled in"
        if "requestBody" in op:
            ctype = "application/fhir+json" if path.startswith("/fhir") else "application/json"
            for body in (b"{}", b'{"first_name": ', b"[]"):
                variants.append({"method": method, "url": filled, "params": params, "content": body,
                                 "headers": {"content-type": ctype}})
            variants.append({"method": method, "url": filled, "params": params, "content": b"hello",
                             "headers": {"content-type": "text/plain"}})
        else:
            variants.append({"method": method, "url": filled, "params": params, "headers": {}})
    return variants


def _send(api, request: dict, authorization: str | None):
    headers = dict(request["headers"])
    if authorization is not None:
        headers["Authorization"] = authorization
    return api.client.request(request["method"], request["url"], params=request.get("params"),
                              content=request.get("content"), headers=headers)


def test_every_route_enforces_the_readme_roles(api):
    """For each operation: no token and bad tokens get 401 (with WWW-Authenticate), a role the
    table does not allow gets 403, an allowed role gets neither -- whatever the body or the
    path parameters, so a refusal does not depend on what the request carries."""
    table = readme_table()
    ids = _store_ids(api.url)
    operations = openapi_operations(api.client.get("/openapi.json").json())
    checked = 0
    for (method, path), op in sorted(operations.items()):
        allowed = table[(method, path)]
        for request in _requests_for(method, path, op, ids):
            label = f"{method} {request['url']} {request.get('content')!r}"
            if allowed == {PUBLIC}:
                for authorization in [None, *BAD_TOKENS.values(), *(f"Bearer {t}" for t in api.tokens.values())]:
                    r = _send(api, request, authorization)
                    assert r.status_code == 200, (label, authorization, r.status_code, r.text)
                    checked += 1
                continue
            r = _send(api, request, None)
            assert r.status_code == 401, (label, "no token", r.status_code, r.text)
            assert r.headers.get("www-authenticate", "").startswith("Bearer"), (label, r.headers)
            for name, authorization in BAD_TOKENS.items():
                r = _send(api, request, authorization)
                assert r.status_code == 401, (label, name, r.status_code, r.text)
                assert r.headers.get("www-authenticate", "").startswith("Bearer"), (label, name, r.headers)
            for role in ROLES:
                r = _send(api, request, f"Bearer {api.tokens[role]}")
                if role in allowed:
                    assert r.status_code not in (401, 403), (label, role, r.status_code, r.text)
                    assert r.status_code < 500, (label, role, r.status_code, r.text)
                else:
                    assert r.status_code == 403, (label, role, r.status_code, r.text)
                    assert "www-authenticate" not in r.headers
                checked += 1
    assert checked > 100


def test_openapi_and_health_need_no_token(api):
    r = api.client.get("/openapi.json")
    assert r.status_code == 200 and r.json()["paths"]
    r = api.client.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_unauthenticated_requests_learn_nothing_about_the_body(api):
    """Without a token the answer is 401 whatever the body: invalid fields, malformed JSON, a
    non-JSON content type, a form -- auth is checked before the body is parsed or validated."""
    bodies = [
        {"json": {"first_name": 5, "unknown": "x"}},
        {"content": b'{"source": "a", ', "headers": {"content-type": "application/json"}},
        {"content": b"\xff\xfe not utf-8", "headers": {"content-type": "application/json"}},
        {"content": b"first_name=Ann", "headers": {"content-type": "text/plain"}},
        {"data": {"first_name": "Ann"}},
        {"files": {"f": ("a.csv", b"first_name\nAnn\n", "text/csv")}},
    ]
    for body in bodies:
        r = api.client.post("/records", **body)
        assert r.status_code == 401, (body, r.status_code, r.text)
        r = api.client.post("/fhir/Patient/$match", **body)
        assert r.status_code == 401, (body, r.status_code, r.text)
        assert r.json()["resourceType"] == "OperationOutcome"
        # a disallowed role is refused before the body is looked at, too
        steward = {k: v for k, v in body.items() if k != "headers"}
        r = api.client.post("/records", headers={**body.get("headers", {}), **api.auth("steward")}, **steward)
        assert r.status_code == 403, (body, r.status_code, r.text)


def test_revoked_and_expired_tokens_are_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'mpi.db'}"
    with running_api(url, records=20) as api:
        store = MasterPatientIndex(url)
        try:
            tokens = TokenStore(store.engine)
            revoked = tokens.create("integration", name="to-revoke")
            tokens.revoke(revoked.principal.token_id)
            expired = tokens.create("steward", name="expired")
            with store.engine.begin() as conn:
                conn.execute(update(ApiToken.__table__).where(ApiToken.__table__.c.id == expired.principal.token_id)
                             .values(expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)))
            live = tokens.create("integration", name="live")
        finally:
            store.close()
        probe = {"record": {"first_name": "Ann", "last_name": "Lee"}}
        for issued in (revoked, expired):
            r = api.client.post("/match", json=probe, headers={"Authorization": f"Bearer {issued.token}"})
            assert r.status_code == 401, r.text
            assert "invalid_token" in r.headers["www-authenticate"]
        # a live token works (and is now cached) until an admin revokes it over HTTP: then at once
        live_auth = {"Authorization": f"Bearer {live.token}"}
        assert api.client.post("/match", json=probe, headers=live_auth).status_code == 200
        r = api.client.delete(f"/tokens/{live.principal.token_id}", headers=api.auth("admin"))
        assert r.status_code == 204, r.text
        r = api.client.post("/match", json=probe, headers=live_auth)
        assert r.status_code == 401, r.text
        # the refusals and the revocation left no record behind and are not an error
        assert api.client.get("/health").json()["status"] == "ok"


# ----------------------------------------------------------------------------------- limits
def _count(url: str, table: str = "source_record") -> int:
    store = MasterPatientIndex(url)
    try:
        return table_count(store, table)
    finally:
        store.close()


def test_match_rate_limit_per_token(tmp_path):
    url = f"sqlite:///{tmp_path / 'mpi.db'}"
    with running_api(url, records=50, match_rate_per_minute=60, match_burst=3) as api:
        probe = {"record": {"first_name": "Ann", "last_name": "Lee", "dob": "1990-02-03"}}
        for _ in range(3):
            r = api.client.post("/match", json=probe, headers=api.auth("integration"))
            assert r.status_code == 200, r.text
        r = api.client.post("/match", json=probe, headers=api.auth("integration"))
        assert r.status_code == 429, r.text
        retry = int(r.headers["retry-after"])
        assert 1 <= retry <= 2  # one request a second refills the bucket
        assert r.headers["content-type"].startswith("application/problem+json")
        # the FHIR route shares the token's bucket and answers an OperationOutcome
        fhir = {"resourceType": "Parameters", "parameter": [
            {"name": "resource", "resource": {"resourceType": "Patient", "name": [{"family": "Lee"}]}}]}
        r = api.client.post("/fhir/Patient/$match", json=fhir, headers=api.auth("integration"))
        assert r.status_code == 429 and "retry-after" in r.headers
        assert r.json()["resourceType"] == "OperationOutcome"
        # another token has its own bucket
        r = api.client.post("/match", json=probe, headers=api.auth("steward"))
        assert r.status_code == 200, r.text
        # ingest is not a match route: not limited
        rec = {"source": "ratetest", "record_id": "1", "first_name": "Ann", "last_name": "Lee"}
        assert api.client.post("/records", json=rec, headers=api.auth("integration")).status_code == 200


def _chunks(payload: bytes, size: int = 256):
    for i in range(0, len(payload), size):
        yield payload[i:i + size]


def test_oversized_body_is_refused_before_it_is_read(tmp_path):
    """413 over max_body_bytes, declared (Content-Length) or streamed (chunked): nothing is
    stored. A declared size over the limit is refused before authentication on purpose -- the
    body is never read, and the answer says nothing but the limit."""
    url = f"sqlite:///{tmp_path / 'mpi.db'}"
    with running_api(url, records=20, max_body_bytes=1000) as api:
        before = _count(url)
        big = {"source": "big", "record_id": "1", "first_name": "Ann", "last_name": "Lee", "street": "x" * 150,
               "city": "y" * 150, "state": "z" * 150, "email": "e" * 150, "phone": "1" * 150, "zip": "2" * 150,
               "middle_name": "m" * 150}
        payload = __import__("json").dumps(big).encode()
        assert len(payload) > 1000
        headers = {**api.auth("integration"), "content-type": "application/json"}
        r = api.client.post("/records", content=payload, headers=headers)
        assert r.status_code == 413, r.text
        assert "1000" in r.json()["detail"]
        r = api.client.post("/records", content=_chunks(payload), headers=headers)
        assert "content-length" not in r.request.headers and r.request.headers["transfer-encoding"] == "chunked"
        assert r.status_code == 413, r.text
        r = api.client.post("/records:batch", content=_chunks(b'{"records": [' + b",".join([payload] * 3) + b"]}"),
                            headers=headers)
        assert r.status_code == 413, r.text
        r = api.client.post("/records", content=payload, headers={"content-type": "application/json"})
        assert r.status_code == 413, r.text
        # a body just under the limit still goes through, streamed or not
        small = {"source": "small", "record_id": "1", "first_name": "Ann", "last_name": "Lee"}
        small_payload = __import__("json").dumps(small).encode()
        assert api.client.post("/records", content=small_payload, headers=headers).status_code == 200
        small["record_id"] = "2"
        small_payload = __import__("json").dumps(small).encode()
        assert api.client.post("/records", content=_chunks(small_payload, 8), headers=headers).status_code == 200
        assert _count(url) == before + 2


def test_batch_over_the_limit_is_413(tmp_path):
    url = f"sqlite:///{tmp_path / 'mpi.db'}"
    with running_api(url, records=20, max_batch=3) as api:
        before = _count(url)
        records = [{"source": "b", "record_id": str(i), "last_name": "Lee"} for i in range(4)]
        r = api.client.post("/records:batch", json={"records": records}, headers=api.auth("integration"))
        assert r.status_code == 413, r.text
        assert _count(url) == before


BAD_BODIES = {
    "malformed JSON": {"content": b'{"source": "x", "record_id": ', "headers": {"content-type": "application/json"}},
    "not UTF-8": {"content": b'{"source": "\xff\xfe"}', "headers": {"content-type": "application/json"}},
    "JSON array": {"json": [{"source": "x", "record_id": "1"}]},
    "JSON string": {"json": "source=x"},
    "JSON null": {"content": b"null", "headers": {"content-type": "application/json"}},
    "deeply nested": {"content": b"[" * 100_000 + b"]" * 100_000, "headers": {"content-type": "application/json"}},
    "huge string": {"json": {"source": "x", "record_id": "1", "first_name": "A" * 500_000}},
    "huge id": {"json": {"source": "x", "record_id": "1" * 100_000}},
    "control characters in an id": {"json": {"source": "x\n", "record_id": "1\x00"}},
    "wrong types": {"json": {"source": "x", "record_id": 1, "first_name": ["Ann"], "dob": 19900203}},
    "unknown field": {"json": {"source": "x", "record_id": "1", "nationality": "x"}},
    "text/plain": {"content": b'{"source": "x", "record_id": "1"}', "headers": {"content-type": "text/plain"}},
    "no content type": {"content": b'{"source": "x", "record_id": "1"}', "headers": {"content-type": ""}},
    "form data": {"data": {"source": "x", "record_id": "1"}},
    "multipart": {"files": {"source": ("a.txt", b"x", "text/plain")}},
}


@pytest.mark.parametrize("name", sorted(BAD_BODIES))
def test_bad_bodies_are_4xx_and_store_nothing(api, name):
    body = BAD_BODIES[name]
    headers = {**api.auth("integration"), **body.get("headers", {})}
    if headers.get("content-type") == "":
        del headers["content-type"]
    kwargs = {k: v for k, v in body.items() if k != "headers"}
    before = _count(api.url), _count(api.url, "audit_event")
    for path in ("/records", "/records:batch", "/match", "/fhir/Patient/$match"):
        r = api.client.post(path, headers=headers, **kwargs)
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text)
        if path.startswith("/fhir"):
            assert r.json()["resourceType"] == "OperationOutcome"
        else:
            assert r.headers["content-type"].startswith("application/problem+json"), r.headers
            assert r.json()["status"] == r.status_code
    if name in ("text/plain", "form data", "multipart", "no content type"):
        assert api.client.post("/records", headers=headers, **kwargs).status_code == 415
    after = _count(api.url), _count(api.url, "audit_event")
    # refused before the store was touched: no record, and no audited attempt either
    assert after == before


def test_records_are_stored_when_the_body_is_good(api):
    """The counterpart of the refusals above: the same route stores a good record (so the
    'nothing stored' assertions can fail)."""
    before = _count(api.url)
    rec = {"source": "goodbody", "record_id": "1", "first_name": "Ann", "last_name": "Lee"}
    r = api.client.post("/records", json=rec, headers=api.auth("integration"))
    assert r.status_code == 200, r.text
    assert _count(api.url) == before + 1
    assert len(example_records()) > 200
