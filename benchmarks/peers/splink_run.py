#!/usr/bin/env python3
"""Peer baseline: an unsupervised Splink 5 (DuckDB) deduplication of a canonical records CSV.

  python benchmarks/peers/splink_run.py RECORDS.csv --output CLUSTERS.csv [--review-output REVIEW.csv]

This is meant to be what an ordinary Splink user would write after reading the tutorials, not a
tuned model: light cleaning, the library's ready-made comparisons, u from random sampling, m from
expectation maximisation over a few blocking rules, then connected components at a fixed
probability. It writes the same files as `mpi resolve` (see ../shared/CONTRACT.md):

  CLUSTERS.csv  record_id,cluster_id   every input record once; unpaired records are singletons
  REVIEW.csv    record_id_l,record_id_r,match_probability
                pairs scored in [--review-from, --threshold) whose records did not end up in
                the same cluster (pairs already joined through other links are not "waiting")

Columns that are empty in (almost) every record are left out of the model, since Splink cannot
learn parameters for a comparison that never has data.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile

import pandas as pd

NAME_COLS = ["first_name", "middle_name", "last_name"]
TEXT_COLS = ["first_name", "middle_name", "last_name", "sex", "email", "street", "city", "state", "zip"]
# a column must be filled in at least this share of the records to be used for comparisons/blocking
MIN_FILL = 0.01


def parse_dob(raw: pd.Series) -> pd.Series:
    """Turn the usual date spellings into ISO yyyy-mm-dd; anything unparseable becomes missing."""
    s = raw.fillna("").astype(str).str.strip()
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    # 8 digits: yyyymmdd first; mmddyyyy fails there because its 5th-6th digits are a century (> 12)
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%Y%m%d", "%m%d%Y", "%d.%m.%Y", "%b %d %Y", "%B %d %Y", "%Y/%m/%d"):
        todo = out.isna() & (s != "")
        if not todo.any():
            break
        out[todo] = pd.to_datetime(s[todo], format=fmt, errors="coerce")
    ok = out.notna() & (out.dt.year >= 1880) & (out.dt.year <= 2030)
    iso = out.dt.strftime("%Y-%m-%d")
    return iso.where(ok, None)


def clean(df: pd.DataFrame) -> pd.DataFrame:
    """Light, generic cleaning: lower-case and strip text, digits only for ssn/phone, ISO dates."""
    out = pd.DataFrame({"record_id": df["record_id"].astype(str)})
    for c in TEXT_COLS:
        if c in df:
            v = df[c].fillna("").astype(str).str.strip().str.lower().str.replace(r"\s+", " ", regex=True)
            out[c] = v.where(v != "", None)
    for c in ("ssn", "phone"):
        if c in df:
            v = df[c].fillna("").astype(str).str.replace(r"\D", "", regex=True)
            if c == "phone":  # drop a leading US country code so +1 555... and (555)... agree
                v = v.where(~((v.str.len() == 11) & v.str.startswith("1")), v.str[1:])
            out[c] = v.where(v != "", None)
    if "dob" in df:
        out["dob"] = parse_dob(df["dob"])
    return out


def filled(df: pd.DataFrame, col: str) -> bool:
    return col in df and df[col].notna().mean() >= MIN_FILL


def build_settings(df: pd.DataFrame):
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    comparisons = []
    for c in ("first_name", "last_name"):
        if filled(df, c):
            comparisons.append(cl.NameComparison(c).configure(term_frequency_adjustments=True))
    if filled(df, "dob"):
        comparisons.append(cl.DateOfBirthComparison("dob", input_is_string=True, datetime_format="%Y-%m-%d"))
    if filled(df, "ssn"):
        comparisons.append(cl.LevenshteinAtThresholds("ssn", [1, 2]))
    if filled(df, "phone"):
        comparisons.append(cl.LevenshteinAtThresholds("phone", [1]))
    if filled(df, "email"):
        comparisons.append(cl.EmailComparison("email"))
    if filled(df, "street"):
        comparisons.append(cl.JaroWinklerAtThresholds("street", [0.9, 0.7]))
    if filled(df, "city"):
        comparisons.append(cl.JaroWinklerAtThresholds("city", [0.9]).configure(term_frequency_adjustments=True))
    if filled(df, "zip"):
        comparisons.append(cl.LevenshteinAtThresholds("zip", [1]))

    candidates = [("first_name", "last_name"), ("dob",), ("ssn",), ("zip", "last_name"), ("phone",), ("email",)]
    rules = [block_on(*cols) for cols in candidates if all(filled(df, c) for c in cols)]

    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=rules,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    return settings


def train(linker, df: pd.DataFrame) -> None:
    from splink import block_on

    # prior: how many pairs would near-certain rules find, assuming they find ~70% of the matches
    deterministic = []
    if all(filled(df, c) for c in ("first_name", "last_name", "dob")):
        deterministic.append(block_on("first_name", "last_name", "dob"))
    if all(filled(df, c) for c in ("ssn", "dob")):
        deterministic.append(block_on("ssn", "dob"))
    if deterministic:
        linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)

    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)

    # m by EM: each session cannot estimate the comparisons its own blocking rule uses, so use
    # two or three rules on different columns
    em_rules = []
    if all(filled(df, c) for c in ("first_name", "last_name")):
        em_rules.append(block_on("first_name", "last_name"))
    if filled(df, "dob"):
        em_rules.append(block_on("dob"))
    if filled(df, "ssn"):
        em_rules.append(block_on("ssn"))
    for rule in em_rules[:3]:
        linker.training.estimate_parameters_using_expectation_maximisation(rule, estimate_without_term_frequencies=True)


def write_atomic(frame: pd.DataFrame, path: str) -> None:
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".csv")
    os.close(fd)
    try:
        frame.to_csv(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("records")
    ap.add_argument("--output", required=True)
    ap.add_argument("--review-output")
    ap.add_argument("--threshold", type=float, default=0.95, help="cluster at this match probability")
    ap.add_argument("--review-from", type=float, default=0.5, help="lowest probability kept for review")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)

    from splink import DuckDBAPI, Linker

    raw = pd.read_csv(a.records, dtype=str, keep_default_na=False)
    if "record_id" not in raw or raw["record_id"].duplicated().any() or (raw["record_id"] == "").any():
        print("splink_run: record_id column missing, empty or not unique", file=sys.stderr)
        return 2
    df = clean(raw)

    db_api = DuckDBAPI()
    table = db_api.register(df, dataset_display_name="records")
    linker = Linker(table, build_settings(df), log_level=logging.WARNING if a.quiet else logging.INFO)
    train(linker, df)

    predictions = linker.inference.predict(threshold_match_probability=a.review_from)
    clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=a.threshold)

    clusters = clustered.as_pandas_dataframe()[["record_id", "cluster_id"]].astype(str)
    # every input record exactly once, in input order; anything Splink left out is a singleton
    cluster_of = dict(zip(clusters["record_id"], clusters["cluster_id"]))
    out = pd.DataFrame({"record_id": df["record_id"]})
    out["cluster_id"] = [cluster_of.get(r, r) for r in out["record_id"]]

    review = None
    if a.review_output:
        pairs = predictions.as_pandas_dataframe()[["record_id_l", "record_id_r", "match_probability"]]
        pairs = pairs.astype({"record_id_l": str, "record_id_r": str})
        band = pairs[(pairs["match_probability"] >= a.review_from) & (pairs["match_probability"] < a.threshold)]
        apart = band["record_id_l"].map(cluster_of) != band["record_id_r"].map(cluster_of)
        review = band[apart].sort_values("match_probability", ascending=False)

    write_atomic(out, a.output)
    if review is not None:
        write_atomic(review, a.review_output)
    n_clusters = out["cluster_id"].nunique()
    print(f"splink_run: {len(out)} records -> {n_clusters} clusters"
          + (f", {len(review)} review pairs" if review is not None else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
