"""Shared helpers for the store tests: the example files, one model learned from them (learned
once per test session, registered into every fresh store) and whole-store snapshots read with SQL.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import pandas as pd
from sqlalchemy import text

from mpi.model.fellegi_sunter import FellegiSunterModel
from mpi.normalise.frame import normalise_frame
from mpi.pipeline import learn_population
from mpi.population import PopulationStats
from mpi.records import read_records_csv
from mpi.service import MasterPatientIndex

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
RECORDS_CSV = EXAMPLES / "records.csv"
TRUTH_CSV = EXAMPLES / "truth.csv"


@functools.cache
def example_records() -> pd.DataFrame:
    return read_records_csv(RECORDS_CSV)


@functools.cache
def example_truth() -> pd.DataFrame:
    return pd.read_csv(TRUTH_CSV, dtype=str, keep_default_na=False)


@functools.cache
def person_of() -> dict[str, str]:
    truth = example_truth()
    return dict(zip(truth["record_id"], truth["person_id"]))


def fit_model(records: pd.DataFrame, seed: int = 0) -> FellegiSunterModel:
    """A model learned without labels from these records, as ``MasterPatientIndex.learn_model``
    learns it."""
    return learn_population(normalise_frame(records), seed)[0]


@functools.cache
def learned() -> tuple[FellegiSunterModel, PopulationStats]:
    """The model and population statistics ``MasterPatientIndex.learn_model`` would store for the
    example file."""
    norm = normalise_frame(example_records())
    model, lookalikes = learn_population(norm)
    return model, PopulationStats.from_normalised(norm, lookalikes)


def open_store(url: str, **options) -> MasterPatientIndex:
    """A store at ``url`` with the example model active."""
    store = MasterPatientIndex(url, **options)
    if not store.has_model():
        model, stats = learned()
        store.register_model(model, stats, origin="examples")
    return store


def rows(frame: pd.DataFrame) -> list[dict]:
    return frame.to_dict("records")


def records_of(person_ids: set[str]) -> pd.DataFrame:
    """Example records of these persons, in file order."""
    recs = example_records()
    return recs[recs["record_id"].map(person_of()).isin(person_ids)]


def table_rows(store: MasterPatientIndex, table: str, order: str = "1") -> list[tuple]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY {order}"))]


def table_count(store: MasterPatientIndex, table: str) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def link_state(store: MasterPatientIndex) -> dict[tuple[str, str], tuple]:
    """(source, record_id) -> (golden id, state, probability, explanation, model, actor) of every link."""
    with store.engine.connect() as conn:
        found = conn.execute(text(
            "SELECT s.source, s.record_id, l.golden_id, l.state, l.probability, l.explanation, l.model_version, "
            "l.actor FROM link l JOIN source_record s ON s.id = l.record"))
        return {(r[0], r[1]): (r[2], r[3], r[4], json.loads(r[5]), r[6], r[7]) for r in found}


def golden_state(store: MasterPatientIndex) -> dict[str, tuple[str, str | None, dict]]:
    """golden id -> (status, replaced_by, attributes) for every golden row."""
    with store.engine.connect() as conn:
        found = conn.execute(text("SELECT id, status, replaced_by, attributes FROM golden"))
        return {r[0]: (r[1], r[2], json.loads(r[3])) for r in found}


def task_state(store: MasterPatientIndex) -> dict[int, str]:
    """review task id -> status."""
    with store.engine.connect() as conn:
        return dict(conn.execute(text("SELECT id, status FROM review_task")).all())


def partition(clusters: pd.DataFrame) -> set[frozenset[str]]:
    """The clusters of an export as a set of record-id sets (independent of the ids' spelling)."""
    return {frozenset(g["record_id"]) for _, g in clusters.groupby("cluster_id")}


def pair_f1(clusters: pd.DataFrame, truth: pd.DataFrame) -> float:
    """Pairwise F1 of a clustering against truth, from contingency counts."""
    joined = clusters.merge(truth[["record_id", "person_id"]], on="record_id", validate="one_to_one")

    def pairs(sizes: pd.Series) -> int:
        return int((sizes * (sizes - 1) // 2).sum())

    tp = pairs(joined.groupby(["cluster_id", "person_id"]).size())
    predicted = pairs(joined.groupby("cluster_id").size())
    true = pairs(joined.groupby("person_id").size())
    precision = tp / predicted if predicted else 1.0
    recall = tp / true if true else 1.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0
