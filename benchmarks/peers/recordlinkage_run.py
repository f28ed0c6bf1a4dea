#!/usr/bin/env python3
"""Peer baseline: an unsupervised Python Record Linkage Toolkit (recordlinkage) deduplication.

  python benchmarks/peers/recordlinkage_run.py RECORDS.csv --output CLUSTERS.csv [--review-output REVIEW.csv]

The textbook recordlinkage recipe, as an ordinary user of the toolkit would apply it: candidate
pairs from the union of a few blocking keys, a comparison vector of Jaro-Winkler agreements
(names, street, city) and exact agreements (dob, ssn, zip, phone, email), the unsupervised ECM
(Fellegi-Sunter by expectation/conditional maximisation) classifier, and connected components
of the predicted links as clusters. Same output files as `mpi resolve` (../shared/CONTRACT.md).

The ECM classifier makes a binary decision (match probability >= --threshold, 0.5 by default);
REVIEW.csv holds the pairs in [--review-from, --threshold), which is empty unless --review-from
is set lower than the threshold (the toolkit has no notion of a review band of its own).
Same light cleaning as the Splink peer; columns that are (almost) always empty are left out.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from splink_run import MIN_FILL, clean, write_atomic  # noqa: E402  (shared light cleaning)

JW_COLS = ["first_name", "last_name", "street", "city"]
EXACT_COLS = ["dob", "ssn", "zip", "phone", "email"]
BLOCK_KEYS = [("first_name", "last_name"), ("dob",), ("ssn",), ("zip", "last_name")]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("records")
    ap.add_argument("--output", required=True)
    ap.add_argument("--review-output")
    ap.add_argument("--threshold", type=float, default=0.5, help="link pairs with ECM probability >= this")
    ap.add_argument("--review-from", type=float, default=None, help="lowest probability kept for review")
    ap.add_argument("--jw", type=float, default=0.85, help="Jaro-Winkler agreement threshold")
    a = ap.parse_args(argv)

    import recordlinkage as rl
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    raw = pd.read_csv(a.records, dtype=str, keep_default_na=False)
    if "record_id" not in raw or raw["record_id"].duplicated().any() or (raw["record_id"] == "").any():
        print("recordlinkage_run: record_id column missing, empty or not unique", file=sys.stderr)
        return 2
    df = clean(raw).reset_index(drop=True)
    have = {c for c in df.columns if c != "record_id" and df[c].notna().mean() >= MIN_FILL}

    indexer = rl.Index()
    for keys in BLOCK_KEYS:
        if all(k in have for k in keys):
            indexer.block(list(keys))
    pairs = indexer.index(df)
    print(f"recordlinkage_run: {len(pairs)} candidate pairs", file=sys.stderr)

    compare = rl.Compare()
    for c in JW_COLS:
        if c in have:
            compare.string(c, c, method="jarowinkler", threshold=a.jw, label=c)
    for c in EXACT_COLS:
        if c in have:
            compare.exact(c, c, label=c)
    features = compare.compute(pairs, df)

    links = pd.MultiIndex.from_arrays([[], []])
    prob = pd.Series(dtype=float)
    if len(features):
        # a feature that never varies carries no information and makes the EM degenerate
        features = features.loc[:, features.nunique() > 1]
        ecm = rl.ECMClassifier()
        ecm.fit(features)
        prob = pd.Series(np.asarray(ecm.prob(features)), index=features.index)
        links = prob.index[prob.to_numpy() >= a.threshold]

    n = len(df)
    left = links.get_level_values(0).to_numpy(dtype=np.int64) if len(links) else np.zeros(0, np.int64)
    right = links.get_level_values(1).to_numpy(dtype=np.int64) if len(links) else np.zeros(0, np.int64)
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    # name each cluster after its first record
    first = pd.Series(np.arange(n)).groupby(label).transform("min").to_numpy()
    out = pd.DataFrame({"record_id": df["record_id"], "cluster_id": df["record_id"].to_numpy()[first]})

    review = None
    if a.review_output:
        lo = a.threshold if a.review_from is None else a.review_from
        band = prob[(prob >= lo) & (prob < a.threshold)]
        il = band.index.get_level_values(0).to_numpy(dtype=np.int64) if len(band) else np.zeros(0, np.int64)
        ir = band.index.get_level_values(1).to_numpy(dtype=np.int64) if len(band) else np.zeros(0, np.int64)
        apart = label[il] != label[ir]
        review = pd.DataFrame({"record_id_l": df["record_id"].to_numpy()[il[apart]],
                               "record_id_r": df["record_id"].to_numpy()[ir[apart]],
                               "match_probability": band.to_numpy()[apart]})
        review = review.sort_values("match_probability", ascending=False)

    write_atomic(out, a.output)
    if review is not None:
        write_atomic(review, a.review_output)
    print(f"recordlinkage_run: {n} records -> {out['cluster_id'].nunique()} clusters, {len(links)} links"
          + (f", {len(review)} review pairs" if review is not None else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
