"""Smoke tests for benchmarks/generate.py (synthetic multi-source patient records)."""
from __future__ import annotations

import datetime as dt
import importlib.util
import re
import sys
import unicodedata
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("mpi_bench_generate", ROOT / "benchmarks" / "generate.py")
gen = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = gen          # dataclasses look the module up while it loads
_spec.loader.exec_module(gen)

CONTRACT = ["record_id", "source", "first_name", "middle_name", "last_name", "suffix", "dob", "sex",
            "ssn", "phone", "email", "street", "city", "state", "zip"]
N = 2000


@pytest.fixture(scope="module")
def sim():
    return gen.simulate(N, seed=11, n_sources=5)


def _fold(s: str) -> str:
    s = unicodedata.normalize("NFKD", s)
    return "".join(c for c in s if not unicodedata.combining(c)).strip().upper()


_MON = {m: i + 1 for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG",
                                        "SEP", "OCT", "NOV", "DEC"])}


def _parse_dob(s: str) -> str:
    """Independent parser for the US-style formats the generator writes; '' when unknown."""
    s = s.strip()
    for pat, order in ((r"(\d{4})-(\d{2})-(\d{2})( 00:00:00)?", "ymd"), (r"(\d{1,2})/(\d{1,2})/(\d{4})", "mdy"),
                       (r"(\d{4})(\d{2})(\d{2})", "ymd8"), (r"(\d{2})(\d{2})(\d{4})", "mdy"),
                       (r"([A-Za-z]{3}) (\d{1,2}) (\d{4})", "mon")):
        m = re.fullmatch(pat, s)
        if not m:
            continue
        g = m.groups()
        try:
            if order in ("ymd", "ymd8"):
                y, mo, d = int(g[0]), int(g[1]), int(g[2])
                if order == "ymd8" and not 1900 <= y <= 2030:
                    continue
            elif order == "mdy":
                mo, d, y = int(g[0]), int(g[1]), int(g[2])
            else:
                mo, d, y = _MON[g[0].upper()], int(g[1]), int(g[2])
            return dt.date(y, mo, d).isoformat()
        except (ValueError, KeyError):
            continue
    return ""


def test_contract_columns_exact_count_and_unique_ids(sim):
    rec, truth = sim.records, sim.truth
    assert list(rec.columns) == CONTRACT
    assert list(truth.columns) == ["record_id", "person_id", "category"]
    assert len(rec) == N and len(truth) == N
    assert rec["record_id"].is_unique
    assert list(truth["record_id"]) == list(rec["record_id"])
    assert not rec.isna().any().any() and not truth.isna().any().any()
    assert all(isinstance(v, str) for v in rec.to_numpy().ravel())
    # ids carry the source, and the source column is filled
    assert (rec["record_id"].str.split(":").str[0] == rec["source"]).all()
    assert rec["source"].nunique() == 5
    # persons have 1-4 records, and rows are shuffled (a person's records are not all adjacent)
    sizes = truth.groupby("person_id").size()
    assert sizes.min() >= 1 and sizes.max() <= 4
    multi = truth[truth["person_id"].map(sizes) > 1]
    pos = multi.reset_index().groupby("person_id")["index"].agg(lambda x: x.max() - x.min())
    assert pos.median() > 10


@pytest.mark.parametrize("n,k", [(1, 1), (37, 3), (503, 10)])
def test_exact_record_count_and_sources(n, k):
    rec, truth = gen.generate(n, seed=3, n_sources=k)
    assert len(rec) == n and len(truth) == n
    assert rec["source"].nunique() <= k
    if n > 300:
        assert rec["source"].nunique() == k


def test_every_category_present(sim):
    truth = sim.truth
    cats = set(truth["category"]) - {""}
    assert cats == set(gen.CATEGORIES)
    persons = truth[truth["category"] != ""].groupby("category")["person_id"].nunique()
    assert (persons >= 2).all(), persons
    assert (truth["category"] == "").any()
    # a person's records all carry the person's category
    assert (truth.groupby("person_id")["category"].nunique() == 1).all()


def test_deterministic_for_a_seed(tmp_path):
    a_rec, a_truth = gen.generate(N, seed=5)
    b_rec, b_truth = gen.generate(N, seed=5)
    pd.testing.assert_frame_equal(a_rec, b_rec)
    pd.testing.assert_frame_equal(a_truth, b_truth)
    c_rec, _ = gen.generate(N, seed=6)
    assert not a_rec.equals(c_rec)
    gen.write(str(tmp_path / "a"), a_rec, a_truth)
    gen.write(str(tmp_path / "b"), b_rec, b_truth)
    for name in ("records.csv", "truth.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_twins_share_dob_and_surname_but_not_first_name(sim):
    people = sim.people.set_index("person_id")
    twins = people[people["category"] == "twin"]
    assert len(twins) >= 4
    other = people.loc[twins["lookalike_id"]]
    assert (other["category"] == "twin").all()
    assert (twins["dob"].to_numpy() == other["dob"].to_numpy()).all()
    assert (twins["last_name"].to_numpy() == other["last_name"].to_numpy()).all()
    assert (twins["household_id"].to_numpy() == other["household_id"].to_numpy()).all()
    assert (twins["first_name"].to_numpy() != other["first_name"].to_numpy()).all()
    assert (twins["ssn"].to_numpy() != other["ssn"].to_numpy()).all()

    # the same holds in the written records (after formatting and noise), for most pairs
    rec = sim.records.merge(sim.truth, on="record_id")
    rec = rec[rec["category"] == "twin"].copy()
    rec["iso"] = rec["dob"].map(_parse_dob)
    rec["last"] = rec["last_name"].map(_fold)
    rec["first"] = rec["first_name"].map(_fold)
    true_dob = rec["person_id"].map(people["dob"])
    assert (rec["iso"] == true_dob).mean() > 0.9
    mode = rec.groupby("person_id")[["iso", "last", "first"]].agg(lambda x: x.value_counts().index[0])
    pairs = [(p, q) for p, q in zip(twins.index, twins["lookalike_id"]) if p < q and p in mode.index and q in mode.index]
    assert len(pairs) >= 2
    same_dob = sum(mode.at[p, "iso"] == mode.at[q, "iso"] for p, q in pairs) / len(pairs)
    same_last = sum(mode.at[p, "last"] == mode.at[q, "last"] for p, q in pairs) / len(pairs)
    diff_first = sum(mode.at[p, "first"] != mode.at[q, "first"] for p, q in pairs) / len(pairs)
    assert same_dob >= 0.8 and same_last >= 0.8 and diff_first >= 0.9


def test_other_hard_cases(sim):
    people = sim.people.set_index("person_id")
    rec = sim.records.merge(sim.truth, on="record_id")
    # jr/sr: same names, 20-40 years apart
    sons = people[people["role"] == "son"]
    fathers = people.loc[sons["lookalike_id"]]
    assert len(sons) >= 2
    for col in ("first_name", "middle_name", "last_name"):
        assert (sons[col].to_numpy() == fathers[col].to_numpy()).all()
    gap = (pd.to_datetime(sons["dob"]).to_numpy() - pd.to_datetime(fathers["dob"]).to_numpy()) / pd.Timedelta(days=365.25)
    assert ((gap >= 19.9) & (gap <= 40.1)).all()
    # newborn: the first record of a baby has a placeholder first name and no SSN
    babies = rec[(rec["person_id"].map(people["role"]) == "newborn")]
    placeholder = babies["first_name"].str.strip().str.upper().str.match(r"^(BABY|INFANT|GIRL|BOY|BG|BB)\b")
    assert placeholder.sum() >= len(babies["person_id"].unique()) * 0.8
    assert (babies.loc[placeholder, "ssn"] == "").mean() > 0.9
    # placeholder SSNs only in that category
    digits = rec["ssn"].str.replace(r"\D", "", regex=True)
    ph = digits.isin(gen.PLACEHOLDER_SSNS) | rec["ssn"].str.fullmatch(r"[*X]{3}-[*X]{2}-(9999|0000|6789|1111|8888)")
    assert (rec.loc[digits.isin(gen.PLACEHOLDER_SSNS), "category"] == "placeholder_ssn").all()
    assert ph[rec["category"] == "placeholder_ssn"].mean() > 0.5
    # name change: the surname in the earlier records differs from the later one
    nc = people[people["category"] == "name_change"]
    assert (nc["previous_last_name"] != nc["last_name"]).all() and (nc["n_records"] >= 2).all()
    ncr = rec[rec["category"] == "name_change"]
    n_surnames = ncr.groupby("person_id")["last_name"].agg(lambda x: x.map(_fold).nunique())
    assert (n_surnames >= 2).mean() > 0.7
    # move: addresses differ between a mover's records
    mv = rec[rec["category"] == "move"]
    n_zip_street = mv.groupby("person_id")["street"].agg(lambda x: x[x != ""].map(lambda s: s.upper()[:6]).nunique())
    assert (n_zip_street >= 2).mean() > 0.5


def test_csv_round_trip(sim, tmp_path):
    out = tmp_path / "out"
    assert gen.main([str(out), "--records", "300", "--seed", "2", "--sources", "4"]) == 0
    rec, truth = gen.generate(300, seed=2, n_sources=4)
    back = pd.read_csv(out / "records.csv", dtype=str, keep_default_na=False, encoding="utf-8")
    back_t = pd.read_csv(out / "truth.csv", dtype=str, keep_default_na=False, encoding="utf-8")
    pd.testing.assert_frame_equal(back, rec)
    pd.testing.assert_frame_equal(back_t, truth)
    # the bigger in-process set round-trips too (accents, apostrophes, leading-zero zips survive)
    gen.write(str(tmp_path / "big"), sim.records, sim.truth)
    back = pd.read_csv(tmp_path / "big" / "records.csv", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(back, sim.records)
    assert back["first_name"].str.contains(r"[^\x00-\x7f]").any()
