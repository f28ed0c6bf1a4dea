"""SQLite write-ahead-log checkpoints run in a background thread, not inside the writer's commits
(mpi.store.checkpoint): the thread does them while the store stays open, stops with the store,
ends when the process stops writing and starts again with the next write."""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from mpi.store import checkpoint, database
from store_support import example_records, open_store


def _wait_for(condition, seconds: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _checkpointer(store):  # type: ignore[no-untyped-def]
    return database._CHECKPOINTERS[store.engine]


def test_committed_pages_reach_the_database_file_while_the_store_stays_open(sqlite_database):
    store = open_store(sqlite_database)
    path = Path(store.engine.url.database)
    try:
        store.ingest_frame(example_records().iloc[:300])
        # a few hundred records log far fewer pages than the writer's own automatic checkpoint
        # waits for, and the store is not closed (closing checkpoints): only the background
        # thread can have copied the new pages into the database file
        wal = Path(f"{path}-wal").stat().st_size
        assert wal < checkpoint.BACKSTOP_PAGES * 4096
        # every committed page gets into the file: a reader of the file alone sees the records
        assert _wait_for(lambda: _records_in_file_alone(path) == store.counts()["records"])
    finally:
        store.close()


def _records_in_file_alone(path: Path) -> int:
    """Records a copy of the database file without its log holds (what a checkpoint has moved)."""
    copy = path.with_name("file-alone.db")
    copy.write_bytes(path.read_bytes())
    try:
        with sqlite3.connect(copy) as conn:
            return conn.execute("SELECT count(*) FROM source_record").fetchone()[0]
    except sqlite3.DatabaseError:  # copied halfway through a checkpoint: look again
        return -1
    finally:
        copy.unlink()


def test_thread_stops_with_the_store(sqlite_database):
    store = open_store(sqlite_database)
    store.ingest_frame(example_records().iloc[:20])
    thread = _checkpointer(store)._thread
    assert thread is not None and thread.is_alive()
    store.close()
    assert not thread.is_alive()


def test_thread_ends_when_idle_and_starts_again_with_the_next_write(sqlite_database, monkeypatch):
    monkeypatch.setattr(checkpoint, "IDLE_S", 0.2)
    store = open_store(sqlite_database)
    try:
        records = example_records()
        store.ingest_frame(records.iloc[:20])
        first = _checkpointer(store)._thread
        assert first is not None
        assert _wait_for(lambda: not first.is_alive(), 5)
        store.ingest_frame(records.iloc[20:40])
        second = _checkpointer(store)._thread
        assert second is not None and second is not first and second.is_alive()
        path = Path(store.engine.url.database)
        assert _wait_for(lambda: _records_in_file_alone(path) == store.counts()["records"])
    finally:
        store.close()


def test_forked_child_writes_even_if_the_parent_held_the_checkpointer_lock(tmp_path):
    """A process forked while the parent's checkpointer held its lock (a moment in every idle
    check) must not inherit it locked: the child's first write would hang forever."""
    import os
    import signal

    from sqlalchemy import text

    engine = database.make_engine(f"sqlite:///{tmp_path / 'fork.db'}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
        held = database._CHECKPOINTERS[engine]._guard
        held.acquire()
        try:
            pid = os.fork()
            if pid == 0:  # the child: write, and exit 0 only if its own checkpointer thread runs
                try:
                    engine.dispose(close=False)
                    with engine.begin() as conn:
                        conn.execute(text("INSERT INTO t VALUES (1)"))
                    thread = database._CHECKPOINTERS[engine]._thread
                    os._exit(0 if thread is not None and thread.is_alive() else 3)
                except BaseException:
                    os._exit(4)
        finally:
            held.release()
        deadline = time.monotonic() + 30
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise AssertionError("the forked child hung on the checkpointer's lock")
            time.sleep(0.05)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        database.close_engine(engine)
