"""`mpi load` killed with SIGKILL in the middle, then run again, ends where an uninterrupted load
ends: the same partition of records into golden records, every record exactly once, the same
review pairs, one version per record. On SQLite and on PostgreSQL.

The file is the first 1,000 records of examples/records.csv loaded in batches of 25, so the kill
lands after a dozen committed batches with one batch open; the test checks both (some rows
stored, whole batches only, not all). A bigger file would only make the test slower (loading runs
at ~100-150 records a second on a busy two-core machine): what is exercised is a transaction cut
off half way and a rerun over a partly loaded store, which 40 batches exercise as well as 400.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, inspect, text

from mpi.records import read_records_csv
from mpi.store.database import database_url
from store_invariants import partition, pg_factory, store_violations  # noqa: F401 - pg_factory is a fixture

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "records.csv"
N_RECORDS = 1000
BATCH = 25
KILL_AT = 0.3  # kill once this share of the records is stored


def mpi(*args: str) -> list[str]:
    return [sys.executable, "-m", "mpi.cli", *args]


def stored(engine) -> int:
    with engine.connect() as conn:
        if not inspect(conn).has_table("source_record"):
            return 0
        return int(conn.execute(text("SELECT count(*) FROM source_record")).scalar_one())


@pytest.fixture(scope="module")
def records_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("crash") / "records.csv"
    read_records_csv(EXAMPLES).iloc[:N_RECORDS].to_csv(path, index=False)
    return path


def load(url: str, records: Path) -> subprocess.Popen:
    return subprocess.Popen(mpi("load", str(records), "--db", url, "--batch-size", str(BATCH), "--quiet"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> None:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err


def export(url: str, directory: Path, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    clusters, review = directory / f"{name}.csv", directory / f"{name}-review.csv"
    done = subprocess.run(mpi("export", "--db", url, "--output", str(clusters), "--review-output", str(review)),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return (pd.read_csv(clusters, dtype=str, keep_default_na=False),
            pd.read_csv(review, dtype=str, keep_default_na=False))


@pytest.fixture(params=["sqlite", "postgresql"])
def two_stores(request, tmp_path, pg_factory):
    """Two fresh empty stores of one backend: (crashed, reference)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crashed.db'}", f"sqlite:///{tmp_path / 'reference.db'}"
    return pg_factory(), pg_factory()


def test_killed_load_rerun_equals_uninterrupted_load(two_stores, records_csv, tmp_path):
    crashed, reference = two_stores
    ids = set(read_records_csv(records_csv)["record_id"])
    n = len(ids)

    reference_load = load(reference, records_csv)  # runs alongside; it only shares the machine
    victim = load(crashed, records_csv)
    engine = create_engine(database_url(crashed))
    try:
        deadline = time.monotonic() + 240
        while stored(engine) < KILL_AT * n:
            assert victim.poll() is None, "the load finished before it could be killed: " + victim.stderr.read()
            assert time.monotonic() < deadline, "the load never got going"
            time.sleep(0.05)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(30)
        assert victim.returncode == -signal.SIGKILL
        at_kill = stored(engine)
    finally:
        engine.dispose()
    assert KILL_AT * n <= at_kill < n  # killed in the middle: some batches committed, not all
    assert at_kill % BATCH == 0  # whole batches only: the open one was rolled back
    assert store_violations(crashed) == []  # what was committed is consistent on its own

    finish(load(crashed, records_csv))  # the same command again, to the end
    finish(reference_load)

    clusters, review = export(crashed, tmp_path, "crashed")
    ref_clusters, ref_review = export(reference, tmp_path, "reference")
    assert len(clusters) == n and set(clusters["record_id"]) == ids  # every record exactly once
    assert partition(clusters) == partition(ref_clusters)
    pd.testing.assert_frame_equal(review, ref_review)
    assert store_violations(crashed, ids) == []  # incl. one version and one ingest event per record
    assert store_violations(reference, ids) == []
