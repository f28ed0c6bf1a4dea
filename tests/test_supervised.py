"""Supervised fitting from labelled pairs: learned on FEBRL 3, judged on FEBRL 4 (other people)."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import mpi
from febrl_support import febrl3, febrl4
from mpi.compare.table import RecordTable
from mpi.pipeline import compute_gamma


def test_supervised_model_generalises_and_round_trips(tmp_path):
    train, person = febrl3()
    person = person.to_numpy()
    norm = mpi.normalise_frame(mpi.validate_records(train))
    table = RecordTable.from_frame(norm)
    cand = mpi.candidate_pairs(norm)
    gamma, _ = compute_gamma(table, cand.left, cand.right)
    same = person[cand.left] == person[cand.right]
    model = mpi.fit_supervised(table, cand.left, cand.right, same, gamma, candidate_gamma=gamma)
    assert model.training_["method"].startswith("supervised")
    path = tmp_path / "model.json"
    mpi.save_model(model, path)
    loaded = mpi.load_model(path)
    a, b = cand.left[:500], cand.right[:500]
    assert np.allclose(model.score(table, a, b).match_weight, loaded.score(table, a, b).match_weight)

    records, truth = febrl4()
    truth = truth.to_numpy()
    result = mpi.resolve(records, model=loaded)
    cluster = result.clusters.set_index("record_id").loc[records["record_id"], "cluster_id"].to_numpy()
    joint = Counter(zip(cluster, truth))
    tp = sum(n * (n - 1) // 2 for n in joint.values())
    pred = sum(n * (n - 1) // 2 for n in Counter(cluster).values())
    true = sum(n * (n - 1) // 2 for n in Counter(truth).values())
    assert tp / pred >= 0.999
    assert tp / true >= 0.93


def test_labels_need_both_classes():
    train = febrl3()[0].head(200)
    norm = mpi.normalise_frame(mpi.validate_records(train))
    table = RecordTable.from_frame(norm)
    with pytest.raises(ValueError):
        mpi.fit_supervised(table, np.array([0, 1]), np.array([2, 3]), np.array([True, True]))
