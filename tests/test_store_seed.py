"""Seeding an empty store from a batch resolution (`mpi seed` / `seed_from_resolution`)."""
from __future__ import annotations

import pytest

import mpi
from mpi.store.seed import seed_from_resolution

from store_support import example_records


def _partition(frame):
    groups = frame.groupby("cluster_id")["record_id"].apply(frozenset)
    return set(groups)


@pytest.fixture(scope="module")
def resolution():
    records = example_records()
    return records, mpi.resolve(records, validated=True)


def test_seeded_store_holds_the_batch_clusters_and_keeps_working(database_url, resolution):
    records, result = resolution
    with mpi.MasterPatientIndex(database_url) as store:
        written = seed_from_resolution(store, records, result)
        clusters, review = store.export()
        assert written["records"] == len(records) == len(clusters)
        assert _partition(clusters) == _partition(result.clusters)
        assert len(review) == len(result.review)
        # every golden id resolves, carries survivorship fields, and lists its members
        some = clusters["cluster_id"].value_counts().index[0]
        golden = store.golden(some)
        assert golden.id == some and len(golden.members) == int((clusters["cluster_id"] == some).sum())
        assert golden.attributes  # fields with provenance
        # real-time ingest continues from the seeded state: a re-send is unchanged, a new
        # record of a stored person joins that person's golden record
        row = records.iloc[0].to_dict()
        assert store.ingest(row).decision == "unchanged"
        copy = {**row, "record_id": row["record_id"] + "-again", "source": "seed_test"}
        outcome = store.ingest(copy)
        assert outcome.decision == "auto_link"
        assert outcome.golden_id == store.golden_of(row["source"], row["record_id"])
        assert store.counts()["records"] == len(records) + 1


def test_seeding_needs_an_empty_store(database_url, resolution):
    records, result = resolution
    with mpi.MasterPatientIndex(database_url) as store:
        seed_from_resolution(store, records, result)
        with pytest.raises(mpi.Conflict):
            seed_from_resolution(store, records, result)
