"""Shared helpers for the HTTP service tests: a store with the example model and records, one
token per role, and a TestClient over ``create_app`` (the real app, the real store)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from mpi.tokens import TokenStore

from store_support import example_records, open_store

ROLES = ("integration", "steward", "admin")


@dataclass
class Api:
    client: TestClient
    url: str
    tokens: dict[str, str]  # role -> bearer token

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@contextmanager
def running_api(url: str, records: int = 300, **settings: object) -> Iterator[Api]:
    """The app over a store at ``url`` holding the first ``records`` example records (loaded
    through the persistent path), with a live token for each role."""
    store = open_store(url)
    try:
        if records:
            store.ingest_frame(example_records().head(records))
        tokens = {role: TokenStore(store.engine).create(role, name=f"test-{role}").token for role in ROLES}
    finally:
        store.close()
    app = create_app(Settings(database_url=url, **settings))  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, url, tokens)


# ----------------------------------------------------------------------------- a real `mpi serve`
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mpi_command() -> list[str]:
    """The installed ``mpi`` script of this interpreter's environment (or the module behind it)."""
    script = Path(sys.executable).parent / "mpi"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from mpi.cli import main; sys.exit(main())"]


def wait_healthy(base: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Until ``GET /health`` answers ok (fails if the server exits or never gets there)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "mpi serve exited before it was healthy"
        try:
            r = httpx.get(f"{base}/health", timeout=2)
            if r.status_code == 200 and r.json()["status"] == "ok":
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("mpi serve did not become healthy")


def stop_server(proc: subprocess.Popen) -> None:
    """SIGINT (uvicorn shuts its workers down), then SIGKILL to the server's process group
    (start it with start_new_session=True)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
