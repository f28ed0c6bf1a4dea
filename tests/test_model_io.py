"""Model files: a trained model survives save/load exactly; bad files fail with ModelError."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from febrl_support import febrl3
from mpi.blocking import candidate_pairs
from mpi.compare.table import RecordTable
from mpi.errors import ModelError, NotFittedError
from mpi.model.fellegi_sunter import FellegiSunterModel
from mpi.model.serialise import load_model, save_model
from mpi.normalise.frame import normalise_frame
from mpi.pipeline import compute_gamma, resolve_frame
from mpi.records import validate_records


@pytest.fixture(scope="module")
def trained():
    records = febrl3()[0]
    norm = normalise_frame(validate_records(records))
    table = RecordTable.from_frame(norm)
    cand = candidate_pairs(norm)
    gamma, swapped = compute_gamma(table, cand.left, cand.right)
    model = FellegiSunterModel(u_sample_pairs=100_000, seed=0).fit(table, cand.left, cand.right, gamma)
    return model, table, cand, gamma, swapped, records


@pytest.fixture(scope="module")
def model_file(trained, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.json"
    version = save_model(trained[0], path, {"auto_link": 0.99, "review": 0.7})
    return path, version


def test_the_trained_model_learned_something(trained):
    """Guard: a degenerate model (all weights 0) would make the round-trip tests vacuous."""
    model = trained[0]
    names = [c.name for c in model.comparisons]
    dob = model.weights_[names.index("dob")]
    assert dob[-1] > 5 and dob[0] < -1  # exact date of birth is strong evidence, disagreement against


def test_round_trip_gives_identical_parameters(trained, model_file):
    model = trained[0]
    loaded = load_model(model_file[0])
    assert len(loaded.weights_) == len(model.weights_)
    for a, b in zip(model.weights_, loaded.weights_):
        assert np.array_equal(a, b)
    for a, b in zip(model.m_ + model.u_, loaded.m_ + loaded.u_):
        assert np.array_equal(a, b)
    assert loaded.prior_ == model.prior_
    assert loaded.u_exact_random_ == model.u_exact_random_


def test_round_trip_gives_identical_scores(trained, model_file):
    model, table, cand, gamma, swapped, _ = trained
    loaded = load_model(model_file[0])
    a = model.score(table, cand.left, cand.right, gamma, swapped)
    b = loaded.score(table, cand.left, cand.right, gamma, swapped)
    assert len(a) > 1000
    assert np.array_equal(a.match_weight, b.match_weight)
    assert np.array_equal(a.contributions, b.contributions)


def test_round_trip_gives_identical_clusters(trained, model_file):
    model, records = trained[0], trained[5].head(1500)
    loaded = load_model(model_file[0])
    a = resolve_frame(records, model=model).clusters
    b = resolve_frame(records, model=loaded).clusters
    assert a["cluster_id"].nunique() < len(a)  # some records did merge
    pd.testing.assert_frame_equal(a, b)


def test_model_version_is_a_content_hash(trained, model_file, tmp_path):
    path, version = model_file
    assert load_model(path).model_version_ == version
    again = save_model(trained[0], tmp_path / "again.json", {"auto_link": 0.99, "review": 0.7})
    assert again == version  # same content, same version, whatever the time of saving
    other = save_model(trained[0], tmp_path / "other.json", {"auto_link": 0.95, "review": 0.7})
    assert other != version
    assert not list(tmp_path.glob("*.tmp"))  # the atomic write left nothing behind


def _rewrite(src, dst, change) -> None:
    data = json.loads(src.read_text())
    change(data)
    dst.write_text(json.dumps(data))


def test_unknown_format_version_says_retrain(model_file, tmp_path):
    bad = tmp_path / "v99.json"
    _rewrite(model_file[0], bad, lambda d: d.update(format_version=99))
    with pytest.raises(ModelError) as err:
        load_model(bad)
    message = str(err.value)
    assert "retrain" in message.lower()
    assert "99" in message
    assert "mpi train" in message  # tells how


@pytest.mark.parametrize("content", [b"{not json", b"", b"\xff\xfe\x00garbage", b'{"format": "mpi-fellegi-sunter"',
                                     b"[1, 2, 3]", b'"a string"', b"null", b'{"format": "something-else"}'],
                         ids=["broken", "empty", "binary", "truncated", "list", "string", "null", "other-format"])
def test_garbage_raises_model_error(tmp_path, content):
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    with pytest.raises(ModelError):
        load_model(bad)


def test_missing_file_raises_model_error(tmp_path):
    with pytest.raises(ModelError):
        load_model(tmp_path / "nope.json")


def _drop_a_level(d):
    d["comparisons"][0]["levels"].pop()


def _zero_probability(d):
    d["comparisons"][0]["levels"][0]["m_probability"] = 0.0


def _drop_comparison(d):
    d["comparisons"] = [c for c in d["comparisons"] if c["name"] != "dob"]


@pytest.mark.parametrize("change", [_drop_a_level, _zero_probability, _drop_comparison,
                                    lambda d: d.update(prior=1.5), lambda d: d.update(prior=0),
                                    lambda d: d.pop("format")],
                         ids=["missing-level", "zero-probability", "missing-comparison", "prior>1", "prior=0",
                              "no-format"])
def test_inconsistent_model_raises_model_error(model_file, tmp_path, change):
    bad = tmp_path / "bad.json"
    _rewrite(model_file[0], bad, change)
    with pytest.raises(ModelError):
        load_model(bad)


def test_saving_an_unfitted_model_fails(tmp_path):
    with pytest.raises(NotFittedError):
        save_model(FellegiSunterModel(), tmp_path / "m.json")
    assert not list(tmp_path.iterdir())
