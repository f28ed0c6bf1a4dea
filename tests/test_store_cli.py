"""`mpi load` and `mpi export` on the example file, on SQLite and on PostgreSQL.

The whole example file is loaded once per backend (module-scoped); the other tests use smaller
slices of it. Accuracy is compared with `mpi resolve` on the same file, pairwise F1 computed
here from examples/truth.csv.
"""
from __future__ import annotations

import uuid
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, inspect, text

from conftest import PG_ADMIN_URL
from mpi.cli import main
from store_support import (RECORDS_CSV, example_records, example_truth, open_store, pair_f1, partition,
                           person_of, records_of, rows)

BACKENDS = ("sqlite", "postgresql")


def stored_rows(url: str) -> int:
    """Source records in the store at ``url`` (0 when it has no tables at all)."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("source_record"):
                return 0
            return int(conn.execute(text("SELECT COUNT(*) FROM source_record")).scalar_one())
    finally:
        engine.dispose()


def export(url: str, directory: Path, name: str) -> tuple[bytes, bytes]:
    clusters, review = directory / f"{name}.csv", directory / f"{name}-review.csv"
    assert main(["export", "--db", url, "--output", str(clusters), "--review-output", str(review)]) == 0
    return clusters.read_bytes(), review.read_bytes()


def read_clusters(data: bytes) -> pd.DataFrame:
    from io import BytesIO
    return pd.read_csv(BytesIO(data), dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def full_loads(tmp_path_factory):
    """The example file loaded by `mpi load` into a fresh SQLite file and a fresh PostgreSQL
    database: backend -> (url, clusters CSV bytes, review CSV bytes, counts)."""
    directory = tmp_path_factory.mktemp("full")
    name = f"mpi_cli_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    urls = {"sqlite": f"sqlite:///{directory / 'mpi.db'}", "postgresql": PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name}
    out = {}
    try:
        for backend, url in urls.items():
            assert main(["load", str(RECORDS_CSV), "--db", url, "--quiet"]) == 0
            clusters, review = export(url, directory, backend)
            with open_store(url) as s:
                counts = s.counts()
            out[backend] = (url, clusters, review, counts)
        yield out
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def resolved_f1(tmp_path_factory) -> float:
    out = tmp_path_factory.mktemp("resolve") / "clusters.csv"
    assert main(["resolve", str(RECORDS_CSV), "--output", str(out), "--quiet"]) == 0
    return pair_f1(pd.read_csv(out, dtype=str, keep_default_na=False), example_truth())


@pytest.mark.parametrize("backend", BACKENDS)
def test_export_lists_every_record_exactly_once(full_loads, backend):
    _, data, review_data, counts = full_loads[backend]
    clusters = read_clusters(data)
    assert list(clusters.columns) == ["record_id", "cluster_id"]
    assert sorted(clusters["record_id"]) == sorted(example_records()["record_id"])
    assert not clusters["record_id"].duplicated().any()
    assert clusters["cluster_id"].nunique() == counts["golden_records"]
    assert counts["records"] == counts["versions"] == len(example_records())
    review = read_clusters(review_data)
    assert list(review.columns) == ["record_id_l", "record_id_r", "match_probability"]
    # a review pair is two records the store keeps apart, each of them stored
    cluster = dict(zip(clusters["record_id"], clusters["cluster_id"]))
    assert all(cluster[a] != cluster[b] for a, b in zip(review["record_id_l"], review["record_id_r"]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_loaded_store_is_as_accurate_as_resolve(full_loads, resolved_f1, backend):
    f1 = pair_f1(read_clusters(full_loads[backend][1]), example_truth())
    assert abs(f1 - resolved_f1) <= 0.01, (f1, resolved_f1)
    assert f1 >= 0.9


def test_both_backends_store_the_same_golden_records(full_loads):
    assert full_loads["sqlite"][1] == full_loads["postgresql"][1]
    assert full_loads["sqlite"][3] == full_loads["postgresql"][3]


@pytest.mark.parametrize("backend", BACKENDS)
def test_loading_the_same_file_again_changes_nothing(full_loads, backend, tmp_path, capsys):
    url, clusters, review, counts = full_loads[backend]
    assert main(["load", str(RECORDS_CSV), "--db", url, "--quiet"]) == 0
    assert f"{len(example_records())} unchanged" in capsys.readouterr().err
    assert export(url, tmp_path, "again") == (clusters, review)
    with open_store(url) as s:
        assert s.counts() == counts


def _slice() -> pd.DataFrame:
    """A few hundred example records, in file order: the look-alike persons and others."""
    truth = example_truth()
    hard = set(truth.loc[truth["category"].isin(("twin", "jr_sr", "newborn", "placeholder_ssn")), "person_id"])
    others = sorted(set(truth["person_id"]) - hard)[:60]
    return records_of(hard | set(others))


def test_bulk_load_equals_one_by_one_ingest(database_url, tmp_path):
    recs = _slice()
    assert len(recs) >= 300
    path = tmp_path / "slice.csv"
    recs.to_csv(path, index=False)
    bulk_url = database_url
    with open_store(bulk_url):  # the example model, so both stores score with the same one
        pass
    assert main(["load", str(path), "--db", bulk_url, "--quiet", "--batch-size", "37"]) == 0
    single_url = f"sqlite:///{tmp_path / 'single.db'}"
    decisions = {}
    with open_store(single_url) as s:
        for r in rows(recs):
            decisions[r["record_id"]] = s.ingest(r).decision
        single_clusters, single_review = s.export()
    with open_store(bulk_url) as s:
        bulk_clusters, bulk_review = s.export()
    assert partition(bulk_clusters) == partition(single_clusters)
    assert bulk_review.equals(single_review)
    # the slice exercises real linking: records of one person joined, look-alikes sent to review
    assert {"new", "auto_link", "review"} <= set(decisions.values())
    assert len(partition(single_clusters)) < len(recs)
    assert len({person_of()[r] for r in recs["record_id"]}) <= len(partition(single_clusters)) + 15


def test_db_defaults_to_the_environment_then_mpi_db_here(database_url, tmp_path, monkeypatch):
    recs = example_records().head(40)
    path = tmp_path / "small.csv"
    recs.to_csv(path, index=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("MPI_DATABASE_URL", database_url)
    assert main(["load", str(path), "--quiet"]) == 0
    assert stored_rows(database_url) == len(recs)
    assert not (work / "mpi.db").exists()
    assert main(["export", "--output", "from-env.csv"]) == 0
    assert len(pd.read_csv(work / "from-env.csv")) == len(recs)

    monkeypatch.delenv("MPI_DATABASE_URL")
    assert main(["load", str(path), "--quiet"]) == 0
    assert (work / "mpi.db").exists()
    assert stored_rows(f"sqlite:///{work / 'mpi.db'}") == len(recs)
    assert stored_rows(database_url) == len(recs)  # the environment's store was not touched again
    assert main(["export", "--output", "here.csv"]) == 0
    assert (work / "here.csv").read_bytes() == (work / "from-env.csv").read_bytes()


def _blank_id_last() -> str:
    """Three good records, then one without a record_id."""
    frame = example_records().head(4).copy()
    frame.loc[frame.index[-1], "record_id"] = ""
    return frame.to_csv(index=False)


@pytest.mark.parametrize("content, names", [
    ("", None),
    (",".join(example_records().columns) + "\n", None),
    ("source,first_name,last_name\nehr,Ann,Lee\n", "record_id"),
    (_blank_id_last(), "record_id"),
])
def test_bad_input_exits_non_zero_with_one_line_and_stores_nothing(database_url, tmp_path, capsys, content, names):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    code = main(["load", str(path), "--db", database_url, "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0
    assert len(err) == 1 and err[0].startswith("mpi: error:")
    if names:
        assert names in err[0]
    assert stored_rows(database_url) == 0
