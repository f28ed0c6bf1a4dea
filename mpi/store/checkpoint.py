"""SQLite WAL checkpoints off the writer's path.

Left to itself, SQLite checkpoints inside the commit that takes the write-ahead log past 1,000
pages: that commit copies every logged page back into the database file and waits for two
fsyncs. Ingest into a large store dirties pages all over its indexes (a batch of 200 new records
into a 1M-record store logs about 4,700 pages of scattered index leaves, 19 MB), so with the
default every such commit waited a fifth of a second or more: a fifth of the batch's time.

Here one background thread per process and database file does the checkpoints instead, while the
writer goes on with its next records. It runs a PASSIVE checkpoint (which never waits for or
blocks a reader or writer) a few times a second while the process writes, and ends when the
process has written nothing for a while. Nothing about durability changes: a commit is in the
log, as before (``synchronous=NORMAL``); a checkpoint only moves logged pages into the database
file. The writer's own automatic checkpoint stays on at a higher mark (``BACKSTOP_PAGES``), so
the log stays bounded even if the thread cannot keep up.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from weakref import WeakSet

log = logging.getLogger(__name__)

BACKSTOP_PAGES = 20_000  # the writer checkpoints itself past this many logged pages (80 MB)
INTERVAL_S = 0.05  # between checkpoints while the process writes
IDLE_S = 5.0  # the thread ends this long after the process's last write transaction began
_LIVE: "WeakSet[Checkpointer]" = WeakSet()


class Checkpointer:
    """Background PASSIVE checkpoints of one SQLite database file for this process."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        self._last_write = 0.0
        self._stopped = threading.Event()
        _LIVE.add(self)

    def _forked(self) -> None:
        """In a forked child: the parent's thread is not there, and its lock may have been held
        at the moment of the fork; start afresh (the next write starts the child's own thread)."""
        self._guard = threading.Lock()
        self._thread = None

    def writing(self) -> None:
        """A write transaction begins: make sure the thread runs (started lazily: a forked child
        has none until it writes, see :meth:`_forked`)."""
        self._last_write = time.monotonic()
        thread = self._thread
        if thread is not None and thread.is_alive():
            return
        with self._guard:
            if self._stopped.is_set():
                return
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="mpi-sqlite-checkpoint", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """End the thread (the store is closing); the last connection's close checkpoints the rest."""
        with self._guard:
            self._stopped.set()
            thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout=30)

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, timeout=1, check_same_thread=False)
        except sqlite3.Error as exc:
            log.warning("background checkpoints not started (%s); the writer checkpoints itself",
                        type(exc).__name__)
            return
        try:
            while not self._stopped.wait(INTERVAL_S):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # e.g. another connection is checkpointing: next time
                    log.debug("background checkpoint skipped: %s", type(exc).__name__)
                with self._guard:
                    if time.monotonic() - self._last_write > IDLE_S:
                        self._thread = None  # the next write transaction starts a new thread
                        return
        finally:
            conn.close()


def _after_fork_in_child() -> None:
    for checkpointer in list(_LIVE):
        checkpointer._forked()


os.register_at_fork(after_in_child=_after_fork_in_child)
