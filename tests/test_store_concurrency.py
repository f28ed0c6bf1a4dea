"""Several writers on one store at once: real processes and threads, real PostgreSQL and SQLite.

What must hold however the writers interleave: every record stored once and in exactly one active
golden record, no orphans, no empty golden records, no exception reaching a caller (deadlocks,
serialization failures, unique clashes and busy files are retried inside the store), and no
duplicate golden records a sequential load would not make.

The exactness argument for the last point: with the key locks, any two ingests that can see each
other (they share a blocking key) run one after the other, so a concurrent load is equivalent to a
sequential load in *some* order. The store's row ids record that order (a record's row is
inserted after its locks are granted; a second copy of a stored record inserts nothing), so
loading the same records one by one in row-id order into a fresh store must give exactly the
same partition and the same review pairs. On SQLite writers are serialised outright, and the
same comparison holds.

The negative control: with ``lock_keys=False`` and the test hook ``_before_write`` sleeping
between reading candidates and writing, writers that ingest records of the same new person at
the same moment each create a golden record. The same race with the locks gives one.
"""
from __future__ import annotations

import multiprocessing as mp
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from mpi.records import read_records_csv
from mpi.service import MasterPatientIndex
from mpi.store.database import database_url as resolve_url
from store_invariants import (link_pk_enforced, partition, pg_factory, split_persons,  # noqa: F401 - fixture
                              store_violations)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# Writers are real processes with their own connections. They come from a fork server (a clean
# process started once, which imports the library up front) rather than plain spawn: a spawned
# child spends ~2 s of CPU importing pandas, scikit-learn and the library, and eight of them per
# test would dominate the suite's time on a two-core machine. Nothing is inherited from pytest's
# process (no connections, no threads), as with spawn. (Python 3.11's fork server ignores the
# parent's sys.path, so it preloads installed modules; the children import this module.)
SPAWN = mp.get_context("forkserver")
SPAWN.set_forkserver_preload(["pandas", "sqlalchemy", "pytest", "mpi", "mpi.service", "mpi.store.database"])
N_RECORDS = 800  # the first rows of examples/records.csv (a few seconds of sequential loading)
THREAD_RECORDS = 400
PROCESS_RECORDS = 400
FRESH_RECORDS = 300
BATCH = 20
ORDER_SPREAD = 2  # file order and 5 random orders of these records: 589 golden records, 9 split persons in each


# ---------------------------------------------------------------------------------- workers
# Top-level functions: spawned children import this module to find them.

def _load_worker(url: str, csv_path: str, rows: list[int], batch_size: int, barrier, errors) -> None:
    """Load the given rows of the file, in the given order, with ingest_frame."""
    try:
        frame = read_records_csv(csv_path).iloc[rows].reset_index(drop=True)
        with MasterPatientIndex(url) as mpi:
            mpi.matcher  # the registered model, loaded before the start
            barrier.wait(120)
            mpi.ingest_frame(frame, batch_size=batch_size)
    except BaseException:  # noqa: BLE001 - everything goes back to the test
        errors.put(traceback.format_exc())
        raise


def _same_person_worker(url: str, records: list[list[dict]], lock_keys: bool, sleep: float, barrier,
                        errors, results) -> None:
    """For each round, wait for every worker, then ingest this worker's record of that round's person."""
    try:
        with MasterPatientIndex(url, lock_keys=lock_keys) as mpi:
            mpi.matcher
            if sleep:
                mpi._before_write = lambda: time.sleep(sleep)
            for rec in records:
                barrier.wait(120)
                r = mpi.ingest(rec)
                results.put((rec["record_id"], r.golden_id, r.decision))
    except BaseException:  # noqa: BLE001
        errors.put(traceback.format_exc())
        raise


def _run_processes(target, args_per_process: list[tuple], errors, timeout: float = 180) -> None:
    procs = [SPAWN.Process(target=target, args=args) for args in args_per_process]
    for p in procs:
        p.start()
    deadline = time.monotonic() + timeout
    for p in procs:
        p.join(max(1.0, deadline - time.monotonic()))
    alive = [p for p in procs if p.is_alive()]
    for p in alive:
        p.kill()
        p.join()
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    assert not alive, f"{len(alive)} writer processes hung"
    assert not failures, "an exception reached a writer:\n" + "\n".join(failures)
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]


# ---------------------------------------------------------------------------------- helpers

@pytest.fixture(scope="module")
def examples_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("records") / "records.csv"
    read_records_csv(EXAMPLES / "records.csv").iloc[:N_RECORDS].to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def examples_frame(examples_csv) -> pd.DataFrame:
    return read_records_csv(examples_csv)


def overlapping_shards(n: int) -> list[list[int]]:
    """Four shards covering every row at least twice: two run forwards and two backwards over
    overlapping 60% windows, so writers meet on the same records and on the same people."""
    lo, hi = list(range(0, int(n * 0.6))), list(range(int(n * 0.4), n))
    return [lo, hi, lo[::-1], hi[::-1]]


def commit_order(url: str) -> list[str]:
    """Record ids in the order their rows were inserted (the serial order of a concurrent load)."""
    engine = create_engine(resolve_url(url))
    try:
        with engine.connect() as conn:
            return [r[0] for r in conn.execute(text("SELECT record_id FROM source_record ORDER BY id"))]
    finally:
        engine.dispose()


def learned(url: str, frame: pd.DataFrame) -> MasterPatientIndex:
    mpi = MasterPatientIndex(url)
    mpi.learn_model(frame, origin="test")
    return mpi


def fresh_sequential(url: str, model_frame: pd.DataFrame, frame: pd.DataFrame | None = None,
                     order: list[str] | None = None) -> tuple:
    """Load ``frame`` (default: ``model_frame``; in ``order`` of record ids if given) into the
    empty store at ``url`` with the model learned from ``model_frame``, one writer, and return
    (export, model version)."""
    frame = model_frame if frame is None else frame
    with learned(url, model_frame) as mpi:
        data = frame if order is None else frame.set_index("record_id").loc[order].reset_index()
        mpi.ingest_frame(data, batch_size=BATCH)
        return mpi.export(), mpi.model_version


def assert_same_as_serial_load(url: str, model_frame: pd.DataFrame, frame: pd.DataFrame,
                               fresh_url: str) -> pd.DataFrame:
    """The store at ``url`` holds exactly what one writer makes loading ``frame`` in the order
    the concurrent writers committed its records: same partition, same review pairs."""
    with MasterPatientIndex(url) as mpi:
        clusters, review = mpi.export()
        version = mpi.model_version
    (serial_clusters, serial_review), serial_version = fresh_sequential(fresh_url, model_frame, frame,
                                                                        commit_order(url))
    assert serial_version == version  # learning is deterministic: the same model scores both
    assert partition(clusters) == partition(serial_clusters)
    pd.testing.assert_frame_equal(review, serial_review)
    return clusters


# ---------------------------------------------------------------------------------- tests

def test_overlapping_shards_from_four_processes_on_postgresql(pg_factory, examples_csv, examples_frame):
    url = pg_factory()
    learned(url, examples_frame).close()
    shards = overlapping_shards(len(examples_frame))
    errors = SPAWN.Queue()
    barrier = SPAWN.Barrier(len(shards))
    _run_processes(_load_worker, [(url, str(examples_csv), rows, BATCH, barrier, errors) for rows in shards], errors)

    assert store_violations(url, set(examples_frame["record_id"])) == []
    assert link_pk_enforced(url)
    clusters = assert_same_as_serial_load(url, examples_frame, examples_frame, pg_factory())

    # and no more duplicate golden records than loading the file in file order, up to the
    # effect of order itself (measured on this file: ORDER_SPREAD)
    (file_clusters, _), _ = fresh_sequential(pg_factory(), examples_frame)
    truth = pd.read_csv(EXAMPLES / "truth.csv", dtype=str)
    assert split_persons(clusters, truth) <= split_persons(file_clusters, truth) + ORDER_SPREAD
    assert clusters["cluster_id"].nunique() <= file_clusters["cluster_id"].nunique() + ORDER_SPREAD


def test_sqlite_eight_threads_sharing_one_index(sqlite_database, examples_frame):
    """Eight threads of one process, one MasterPatientIndex: four load overlapping shards with
    ingest_frame, four ingest overlapping shards record by record. Nothing raises, in particular
    no "database is locked"."""
    frame = examples_frame.iloc[:THREAD_RECORDS]
    shards = overlapping_shards(len(frame))
    errors: list[str] = []
    barrier = threading.Barrier(8)
    with learned(sqlite_database, examples_frame) as mpi:
        def by_frame(rows: list[int]) -> None:
            try:
                barrier.wait(60)
                mpi.ingest_frame(frame.iloc[rows], batch_size=BATCH)
            except BaseException:  # noqa: BLE001
                errors.append(traceback.format_exc())

        def one_by_one(rows: list[int]) -> None:
            try:
                barrier.wait(60)
                for rec in frame.iloc[rows].to_dict("records"):
                    mpi.ingest(rec)
            except BaseException:  # noqa: BLE001
                errors.append(traceback.format_exc())

        threads = [threading.Thread(target=fn, args=(rows,)) for fn in (by_frame, one_by_one) for rows in shards]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert store_violations(sqlite_database, set(frame["record_id"])) == []
    assert link_pk_enforced(sqlite_database)
    assert_same_as_serial_load(sqlite_database, examples_frame, frame,
                               sqlite_database.replace("mpi.db", "serial.db"))


def test_sqlite_four_mpi_load_processes(sqlite_database, examples_frame, tmp_path):
    """Four `mpi load` commands on overlapping shards of one file into one SQLite file at once."""
    frame = examples_frame.iloc[:PROCESS_RECORDS]
    learned(sqlite_database, examples_frame).close()
    paths = []
    for k, rows in enumerate(overlapping_shards(len(frame))):
        paths.append(tmp_path / f"shard{k}.csv")
        frame.iloc[rows].to_csv(paths[-1], index=False)
    procs = [subprocess.Popen([sys.executable, "-m", "mpi.cli", "load", str(p), "--db", sqlite_database,
                               "--batch-size", str(BATCH), "--quiet"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for p in paths]
    outs = [p.communicate(timeout=180) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert "locked" not in err.lower() and "error" not in err.lower(), err
    assert store_violations(sqlite_database, set(frame["record_id"])) == []
    assert_same_as_serial_load(sqlite_database, examples_frame, frame,
                               sqlite_database.replace("mpi.db", "serial.db"))


def test_loaders_starting_together_on_an_empty_store_share_one_schema_and_model(database_url, examples_frame,
                                                                               tmp_path):
    """Four `mpi load` commands started at once on a store with no tables and no model: they
    race to create the schema and to store the model they each learn; all succeed, one model is
    stored and every loader links with it."""
    frame = examples_frame.iloc[:FRESH_RECORDS]
    paths = []
    for k, rows in enumerate(overlapping_shards(len(frame))):
        paths.append(tmp_path / f"shard{k}.csv")
        frame.iloc[rows].to_csv(paths[-1], index=False)
    procs = [subprocess.Popen([sys.executable, "-m", "mpi.cli", "load", str(p), "--db", database_url,
                               "--batch-size", str(BATCH), "--quiet"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for p in paths]
    outs = [p.communicate(timeout=180) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
    engine = create_engine(resolve_url(database_url))
    try:
        with engine.connect() as conn:
            models = list(conn.execute(text("SELECT id, active FROM model_version")))
    finally:
        engine.dispose()
    assert len(models) == 1 and models[0].active
    assert all(f"(model {models[0].id})" in err for _, err in outs), [err for _, err in outs]
    assert store_violations(database_url, set(frame["record_id"])) == []


WRITERS = 8
ROUNDS = 3
RACE_SLEEP = 0.1  # seconds between reading candidates and writing: every writer reads before any commits


def race_same_person(url: str, frame: pd.DataFrame, lock_keys: bool) -> list[pd.DataFrame]:
    """ROUNDS times, WRITERS processes each ingest a record of one new person at the same moment
    (identical demographics, its own source and record id). Returns per round the writers'
    (record_id, golden_id, decision)."""
    people = frame[(frame["ssn"].str.len() > 0) & (frame["dob"].str.len() > 0)].iloc[:ROUNDS]
    assert len(people) == ROUNDS
    per_writer = [[{**person, "record_id": f"race{j}-w{k}", "source": f"site{k}"}
                   for j, person in enumerate(people.to_dict("records"))] for k in range(WRITERS)]
    errors, results = SPAWN.Queue(), SPAWN.Queue()
    barrier = SPAWN.Barrier(WRITERS)
    _run_processes(_same_person_worker, [(url, recs, lock_keys, RACE_SLEEP, barrier, errors, results)
                                         for recs in per_writer], errors)
    rows = [results.get(timeout=10) for _ in range(WRITERS * ROUNDS)]
    out = pd.DataFrame(rows, columns=["record_id", "golden_id", "decision"])
    out["round"] = out["record_id"].str.extract(r"race(\d+)-")[0].astype(int)
    return [g.drop(columns="round") for _, g in out.groupby("round")]


def test_without_key_locks_concurrent_writers_duplicate_a_new_person(pg_database, examples_frame):
    """The negative control: the race is real, so the next test's single golden record is the
    locks' doing and not luck."""
    with learned(pg_database, examples_frame) as mpi:
        rounds = race_same_person(pg_database, examples_frame, lock_keys=False)
        clusters, _ = mpi.export()
    duplicates = sum(r["golden_id"].nunique() - 1 for r in rounds)
    assert duplicates > 0
    assert clusters["cluster_id"].nunique() > ROUNDS  # the duplicates are stored, not just reported
    assert store_violations(pg_database) == []  # still no orphans: the damage is duplication only


def test_concurrent_writers_of_one_new_person_make_one_golden_record(database_url, examples_frame):
    with learned(database_url, examples_frame) as mpi:
        rounds = race_same_person(database_url, examples_frame, lock_keys=True)
        clusters, _ = mpi.export()
    for r in rounds:
        assert r["golden_id"].nunique() == 1, r
        assert sorted(r["decision"]) == ["auto_link"] * (WRITERS - 1) + ["new"]
    assert clusters["cluster_id"].nunique() == ROUNDS
    assert len(clusters) == WRITERS * ROUNDS
    assert store_violations(database_url) == []
