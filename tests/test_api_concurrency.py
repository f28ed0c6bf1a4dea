"""Simultaneous ingests over HTTP against a real ``mpi serve``: sixteen clients send records of
the same new person at the same moment (different sources and record ids). However the requests
interleave -- one worker's thread pool on SQLite, two worker processes on PostgreSQL -- the
person must end up as exactly one golden record holding all sixteen records, with no server
error and no 'database is locked' anywhere.
"""
from __future__ import annotations

import os
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from api_support import free_port, mpi_command, stop_server, wait_healthy
from mpi.service import MasterPatientIndex
from mpi.tokens import TokenStore
from store_support import example_records, open_store

CLIENTS = 16
# a person the example file does not hold
NEW_PERSON = {"first_name": "Thaddeus", "middle_name": "Ignatius", "last_name": "Quillfeather-Oyelaran",
              "dob": "1958-11-23", "sex": "M", "ssn": "538-71-2046", "phone": "(503) 555-0187",
              "email": "t.quillfeather@example.net", "street": "7720 Windward Bluff Rd", "city": "Astoria",
              "state": "OR", "zip": "97103"}










@pytest.fixture(params=[("sqlite", 1), ("postgresql", 2)], ids=["sqlite-1-worker", "postgresql-2-workers"])
def served(request, tmp_path):
    """(base url, store url, integration token, server output path) of a running ``mpi serve``."""
    backend, workers = request.param
    url = f"sqlite:///{tmp_path / 'mpi.db'}" if backend == "sqlite" else request.getfixturevalue("pg_database")
    store = open_store(url)
    try:
        store.ingest_frame(example_records().head(300))
        token = TokenStore(store.engine).create("integration", name="concurrency").token
        # the person really is new: nothing in the store is even a possible match
        assert store.match(NEW_PERSON) == []
    finally:
        store.close()
    port = free_port()
    output = tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPI_")}
    with open(output, "wb") as log:
        proc = subprocess.Popen([*mpi_command(), "serve", "--db", url, "--port", str(port), "--workers", str(workers)],
                                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, proc)
        if workers > 1:  # every worker is up (each answers health), not only the first
            time.sleep(1.0)
        yield base, url, token, output
    finally:
        stop_server(proc)


def test_simultaneous_ingests_of_one_new_person_make_one_golden_record(served):
    base, url, token, output = served
    barrier = threading.Barrier(CLIENTS)
    records = [{"source": f"clinic-{i:02d}", "record_id": f"conc-{i:02d}", **NEW_PERSON} for i in range(CLIENTS)]

    def send(record: dict) -> httpx.Response:
        with httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {token}"}) as client:
            client.get("/health")  # connect before the barrier, so the posts leave together
            barrier.wait(timeout=60)
            return client.post("/records", json=record)

    with ThreadPoolExecutor(CLIENTS) as pool:
        responses = list(pool.map(send, records))

    log = output.read_text(encoding="utf-8", errors="replace")
    bodies = [r.text for r in responses]
    assert [r.status_code for r in responses] == [200] * CLIENTS, bodies
    assert not any("database is locked" in b.lower() for b in bodies)
    assert "database is locked" not in log.lower() and "Traceback" not in log, log[-3000:]
    answers = [r.json() for r in responses]
    goldens = {a["golden_id"] for a in answers}
    assert len(goldens) == 1, answers
    # one request created the person, every other one was linked to it
    assert sorted(a["decision"] for a in answers) == ["auto_link"] * (CLIENTS - 1) + ["new"], answers

    # the store agrees: one golden record holds exactly the sixteen records
    with MasterPatientIndex(url) as store:
        stored = {store.golden_of(r["source"], r["record_id"]) for r in records}
        assert stored == goldens
        golden = store.golden(goldens.pop())
        assert golden.status == "active"
        assert sorted((m["source"], m["record_id"]) for m in golden.members) == \
            sorted((r["source"], r["record_id"]) for r in records)
