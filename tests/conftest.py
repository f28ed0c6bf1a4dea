"""Shared fixtures: fresh stores on SQLite and on the machine's PostgreSQL.

PostgreSQL is a real server (127.0.0.1:5432, trust auth; `.ci/run` starts it). Each test gets its
own database, created here and dropped afterwards, so tests never see each other's rows.
"""
from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get("MPI_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def pg_database():
    """A fresh, empty PostgreSQL database URL (dropped after the test)."""
    name = f"mpi_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield _pg_url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_database(tmp_path):
    """A fresh SQLite file URL."""
    return f"sqlite:///{tmp_path / 'mpi.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """Each store test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mpi.db'}"
    else:
        yield request.getfixturevalue("pg_database")
