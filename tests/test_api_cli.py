"""The service's commands as an operator runs them (subprocesses): `mpi token create`,
`mpi audit verify` and `mpi serve`, on SQLite and on PostgreSQL."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import text

from mpi.audit import AuditEntry, AuditLog
from mpi.service import MasterPatientIndex
from mpi.tokens import TokenStore
from store_support import example_records, open_store

ROOT = Path(__file__).resolve().parents[1]


def mpi(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mpi.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def drop_guards(store: MasterPatientIndex) -> None:
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_event_no_update"))
        else:
            conn.execute(text("DROP TRIGGER audit_event_no_update ON audit_event"))


def test_token_create_prints_only_a_working_token(database_url):
    done = mpi("token", "create", "--role", "steward", "--name", "ops desk", "--db", database_url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mpi_") and done.stdout == lines[0] + "\n"
    token = lines[0]
    with MasterPatientIndex(database_url) as store:
        principal = TokenStore(store.engine).authenticate(token)
        assert principal is not None
        assert (principal.role.value, principal.name) == ("steward", "ops desk")
        assert TokenStore(store.engine).authenticate(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
        (event,) = AuditLog(store.engine).events()
        assert (event["action"], event["role"], event["detail"]["token"]) == ("create token", "operator",
                                                                              principal.token_id)
        assert event["actor"].startswith("cli:")

        bad = mpi("token", "create", "--role", "superuser", "--db", database_url)
        assert bad.returncode != 0 and bad.stdout == ""
        too_long = mpi("token", "create", "--role", "admin", "--name", "x" * 300, "--db", database_url)
        assert too_long.returncode != 0 and too_long.stdout == "" and "name" in too_long.stderr
        assert len(TokenStore(store.engine).list()) == 1

        listed = mpi("token", "list", "--db", database_url)
        assert listed.returncode == 0 and principal.token_id in listed.stdout
        assert token not in listed.stdout and token.split("_", 2)[2] not in listed.stdout
        assert mpi("token", "revoke", principal.token_id, "--db", database_url).returncode == 0
        assert TokenStore(store.engine).authenticate(token) is None
        assert mpi("token", "revoke", "nosuchtoken", "--db", database_url).returncode != 0


def test_audit_verify_exits_non_zero_on_a_tampered_log(database_url):
    with MasterPatientIndex(database_url) as store:
        log = AuditLog(store.engine)
        for name in ("a", "b", "c"):
            log.record(AuditEntry(actor=name, role="steward", action="merge", target=f"golden G{name}", reason="r"))
    clean = mpi("audit", "verify", "--db", database_url)
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.startswith("ok: 3 events, head 3:")
    head = clean.stdout.strip().rsplit(" ", 1)[1]
    seq, digest = head.split(":")
    with MasterPatientIndex(database_url) as store:
        assert (int(seq), digest) == (AuditLog(store.engine).verify().head_seq, AuditLog(store.engine).verify().head_hash)
        assert mpi("audit", "verify", "--anchor", head, "--db", database_url).returncode == 0
        wrong = f"{seq}:{'0' * 64}"
        refused = mpi("audit", "verify", "--anchor", wrong, "--db", database_url)
        assert refused.returncode == 1 and "anchor" in refused.stderr
        assert mpi("audit", "verify", "--anchor", "three:abc", "--db", database_url).returncode == 2

        drop_guards(store)
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE audit_event SET target = 'role admin' WHERE seq = 2"))
        tampered = mpi("audit", "verify", "--db", database_url)
        assert tampered.returncode == 1
        assert "TAMPERED at event 2" in tampered.stderr and "altered" in tampered.stderr
        assert tampered.stdout == ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_over_http(database_url):
    row = {k: v for k, v in example_records().iloc[0].to_dict().items() if v != ""}
    open_store(database_url).close()  # a store with a model, no records yet
    token = mpi("token", "create", "--role", "integration", "--db", database_url).stdout.strip()
    port = free_port()
    args = ["serve", "--db", database_url, "--port", str(port), "--log-level", "info"]
    if database_url.startswith("postgresql"):
        args += ["--workers", "2"]  # several processes, as on a PostgreSQL deployment
    server = subprocess.Popen([sys.executable, "-m", "mpi.cli", *args], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, server.communicate()[1]
            try:
                health = httpx.get(f"{base}/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "mpi serve did not start"
                time.sleep(0.3)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert health.json()["model_version"]
        doc = httpx.get(f"{base}/openapi.json", timeout=10)
        assert doc.status_code == 200
        assert {"/records", "/fhir/Patient/$match"} <= set(doc.json()["paths"])
        assert httpx.post(f"{base}/records", json=row, timeout=30).status_code == 401
        r = httpx.post(f"{base}/records", json=row, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert r.status_code == 200, r.text
        assert r.json()["decision"] == "new"
        with MasterPatientIndex(database_url) as store:
            assert store.golden_of(row["source"], row["record_id"]) == r.json()["golden_id"]
    finally:
        server.terminate()
        try:
            _, err = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            _, err = server.communicate()
    assert server.returncode is not None
    assert "POST /records 200" in err  # the access log: method, route template, status
    assert row["last_name"] not in err and row["record_id"] not in err  # the log carries no submitted value


def test_an_operators_load_and_seed_are_audited(tmp_path):
    """`mpi load` and `mpi seed` change patient data: the audit log names the operator, the
    action and the file, and its chain verifies."""
    sample = tmp_path / "sample.csv"
    example_records().head(120).to_csv(sample, index=False)
    for command in ("load", "seed"):
        url = f"sqlite:///{tmp_path / f'{command}.db'}"
        done = mpi(command, str(sample), "--db", url, "--quiet", timeout=300)
        assert done.returncode == 0, done.stderr
        store = MasterPatientIndex(url)
        try:
            events = AuditLog(store.engine).events(limit=1000)
            assert events, f"mpi {command} left no audit event"
            assert {(e["action"], e["target"], e["role"]) for e in events} == {(command, "file sample.csv", "operator")}
            assert all(e["actor"].startswith("cli:") and e["outcome"] == "ok" for e in events)
            assert AuditLog(store.engine).verify().ok
        finally:
            store.close()
