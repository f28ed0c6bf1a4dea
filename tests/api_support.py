"""Shared helpers for the HTTP service tests: a store with the example model and records, one
token per role, and a TestClient over ``create_app`` (the real app, the real store)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

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
