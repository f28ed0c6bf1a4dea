"""Checks on a store's tables shared by the concurrency and crash tests.

They read the tables with plain SQL (not through the facade under test), so a bug in the facade's
own reads cannot hide a bad state.
"""
from __future__ import annotations

import uuid

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from mpi.store.database import database_url


def _scalar(conn, sql: str) -> int:
    return int(conn.execute(text(sql)).scalar_one())


def store_violations(url: str, expected_ids: set[str] | None = None) -> list[str]:
    """Every broken invariant of the store at ``url`` (empty list: all hold).

    - every record stored once (unique (source, record_id); one version each, since every test
      loads each record with the same content) and, if given, exactly the expected ids;
    - every record in exactly one golden record, and that golden record active (no orphans);
    - no active golden record without members (a golden record with no person is a duplicate);
    - exactly one ingest event per record (no record ingested twice).
    """
    engine = create_engine(database_url(url))
    out = []
    try:
        with engine.connect() as conn:
            n_records = _scalar(conn, "SELECT count(*) FROM source_record")
            ids = [r[0] for r in conn.execute(text("SELECT record_id FROM source_record"))]
            if len(ids) != len(set(ids)):
                out.append(f"{len(ids) - len(set(ids))} record ids stored more than once")
            if expected_ids is not None and set(ids) != set(expected_ids):
                out.append(f"stored ids differ from the input: {len(set(expected_ids) - set(ids))} missing, "
                           f"{len(set(ids) - set(expected_ids))} unexpected")
            n = _scalar(conn, "SELECT count(*) FROM (SELECT record FROM record_version GROUP BY record "
                              "HAVING count(*) <> 1) x")
            if n:
                out.append(f"{n} records with more than one version")
            n = _scalar(conn, "SELECT count(*) FROM source_record s WHERE NOT EXISTS "
                              "(SELECT 1 FROM record_version v WHERE v.record = s.id)")
            if n:
                out.append(f"{n} records without a version")
            n = _scalar(conn, "SELECT count(*) FROM source_record s LEFT JOIN link l ON l.record = s.id "
                              "WHERE l.record IS NULL")
            if n:
                out.append(f"{n} orphan records (no link)")
            n_links = _scalar(conn, "SELECT count(*) FROM link")
            if n_links != n_records:
                out.append(f"{n_links} links for {n_records} records")
            n = _scalar(conn, "SELECT count(*) FROM link l LEFT JOIN golden g ON g.id = l.golden_id "
                              "WHERE g.id IS NULL OR g.status <> 'active'")
            if n:
                out.append(f"{n} records linked to a golden record that is not active")
            n = _scalar(conn, "SELECT count(*) FROM golden g WHERE g.status = 'active' AND NOT EXISTS "
                              "(SELECT 1 FROM link l WHERE l.golden_id = g.id)")
            if n:
                out.append(f"{n} active golden records without members")
            n = _scalar(conn, "SELECT count(*) FROM golden g WHERE g.status = 'merged' AND g.replaced_by IS NULL")
            if n:
                out.append(f"{n} merged golden records that point nowhere")
            per_record = _scalar(conn, "SELECT count(*) FROM (SELECT record FROM event WHERE kind = 'ingest' "
                                       "GROUP BY record HAVING count(*) <> 1) x")
            n_ingest = _scalar(conn, "SELECT count(DISTINCT record) FROM event WHERE kind = 'ingest'")
            if per_record or n_ingest != n_records:
                out.append(f"ingest events: {n_ingest} records have one, {per_record} have several, "
                           f"{n_records} records stored")
    finally:
        engine.dispose()
    return out


def link_pk_enforced(url: str) -> bool:
    """True when the database itself refuses a second link for a record (one record, one golden)."""
    from sqlalchemy.exc import IntegrityError

    engine = create_engine(database_url(url))
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT record, golden_id FROM link LIMIT 1")).first()
            other = conn.execute(text("SELECT id FROM golden WHERE id <> :g LIMIT 1"), {"g": row.golden_id}).scalar()
            try:
                conn.execute(text("INSERT INTO link (record, golden_id, state, probability, explanation, actor, "
                                  "linked_at) VALUES (:r, :g, 'auto', 1.0, '{}', 'test', CURRENT_TIMESTAMP)"),
                             {"r": row.record, "g": other})
            except IntegrityError:
                return True
            finally:
                conn.rollback()
            return False
    finally:
        engine.dispose()


def partition(clusters: pd.DataFrame) -> set[frozenset[str]]:
    """The clusters of an export as a set of record-id sets (independent of the ids' names)."""
    return {frozenset(g) for g in clusters.groupby("cluster_id")["record_id"].apply(list)}


def split_persons(clusters: pd.DataFrame, truth: pd.DataFrame) -> int:
    """Persons (by the truth file) whose records sit in more than one golden record."""
    merged = clusters.merge(truth, on="record_id", how="inner")
    return int((merged.groupby("person_id")["cluster_id"].nunique() > 1).sum())


@pytest.fixture
def pg_factory():
    """Fresh PostgreSQL databases on demand (dropped afterwards)."""
    from conftest import PG_ADMIN_URL, _pg_url

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    names: list[str] = []

    def make() -> str:
        name = f"mpi_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        names.append(name)
        return _pg_url(name)

    yield make
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
