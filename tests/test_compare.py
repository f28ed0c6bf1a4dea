"""Table-driven tests of the comparison levels in mpi.compare.comparisons.

Each case builds raw canonical records, runs them through the real contract check, normaliser and
RecordTable, and asserts the level a pair lands on, by the level's label. String-similarity
bands are double-checked with jellyfish's independent Jaro-Winkler so each case really sits in
the band it claims to test.
"""
from __future__ import annotations

import jellyfish
import numpy as np
import pandas as pd
import pytest

from mpi.compare.comparisons import COMPARISONS, gamma_matrix
from mpi.compare.table import RecordTable
from mpi.normalise.frame import normalise_frame
from mpi.records import validate_records

BASE = dict(source="ehr", first_name="William", middle_name="Henry", last_name="Garcia", suffix="",
            dob="1980-05-17", sex="M", ssn="123-45-6788", phone="212-867-5309", email="wgarcia@gmail.com",
            street="12 Main Street Apt 4", city="Springfield", state="IL", zip="62704")

# unrelated people, to surround a pair in a bigger table
FILLER = [
    dict(first_name="Zelda", last_name="Quist", dob="1961-02-03", ssn="234-56-7891", phone="718-555-0101",
         email="zq@yahoo.com", street="9 Elm Road", city="Dayton", state="OH", zip="45402", middle_name="",
         sex="F"),
    dict(first_name="Yusuf", last_name="Okafor", dob="1999-09-09", ssn="345-67-8912", phone="305-555-0199",
         email="yo@aol.com", street="400 Pine Ave", city="Miami", state="FL", zip="33101", middle_name="K",
         sex="M"),
    dict(first_name="Xiu", last_name="Chen", dob="1975-12-12", ssn="456-78-9123", phone="415-555-0142",
         email="xc@hotmail.com", street="77 Bay St", city="Oakland", state="CA", zip="94601", middle_name="",
         sex="F"),
    dict(first_name="Garcia", last_name="Lopez", dob="1950-01-01", ssn="", phone="", email="",
         street="", city="", state="", zip="", middle_name="", sex=""),
    dict(first_name="Hank", last_name="William", dob="1940-07-04", ssn="", phone="", email="",
         street="", city="", state="", zip="", middle_name="", sex=""),
]


def make_table(rows: list[dict]) -> RecordTable:
    frame = pd.DataFrame([{**BASE, "record_id": f"r{i}", **row} for i, row in enumerate(rows)])
    return RecordTable.from_frame(normalise_frame(validate_records(frame)))


def level(comparison: str, label: str) -> int:
    comp = next(c for c in COMPARISONS if c.name == comparison)
    return comp.levels.index(label)


def pair_gammas(left: dict, right: dict, filler: list[dict] | None = None) -> tuple[dict, bool]:
    """Gamma of every comparison for one pair (left, right), optionally inside a bigger table."""
    rows = list(filler or []) + [left, right]
    table = make_table(rows)
    a, b = np.array([len(rows) - 2]), np.array([len(rows) - 1])
    gamma, swap = gamma_matrix(table, a, b)
    return {c.name: int(gamma[0, k]) for k, c in enumerate(COMPARISONS)}, bool(swap[0])


def jw(a: str, b: str) -> float:
    return jellyfish.jaro_winkler_similarity(a, b)


# (comparison, left field values, right field values, expected level label or None for missing)
LEVEL_CASES = [
    # first name
    ("first_name", {"first_name": "William"}, {"first_name": "WILLIAM"}, "exact"),
    ("first_name", {"first_name": "José"}, {"first_name": "JOSE"}, "exact"),
    ("first_name", {"first_name": "Bill"}, {"first_name": "William"}, "nickname"),
    ("first_name", {"first_name": "Peggy"}, {"first_name": "Margaret"}, "nickname"),
    ("first_name", {"first_name": "Mary Ann"}, {"first_name": "Mary"}, "nickname"),  # same first given name
    ("first_name", {"first_name": "Michelle"}, {"first_name": "Michele"}, "JW>=0.92"),
    ("first_name", {"first_name": "Martha"}, {"first_name": "Marhta"}, "JW>=0.92"),
    ("first_name", {"first_name": "Rebecca"}, {"first_name": "Rebekah"}, "similar (JW>=0.85, phonetic or prefix)"),
    ("first_name", {"first_name": "Katelyn"}, {"first_name": "Caitlin"}, "similar (JW>=0.85, phonetic or prefix)"),
    ("first_name", {"first_name": "W"}, {"first_name": "William"}, "initial only"),
    ("first_name", {"first_name": "W."}, {"first_name": "William"}, "initial only"),
    ("first_name", {"first_name": "Henry", "middle_name": ""}, {"first_name": "William", "middle_name": "Henry"},
     "first is other's middle"),
    ("first_name", {"first_name": "William"}, {"first_name": "Xavier"}, "else"),
    ("first_name", {"first_name": "Sean"}, {"first_name": "Shawn"}, "else"),
    ("first_name", {"first_name": ""}, {"first_name": "William"}, None),
    ("first_name", {"first_name": "Unknown"}, {"first_name": "William"}, None),
    ("first_name", {"first_name": "Baby Boy"}, {"first_name": "William"}, None),
    # last name
    ("last_name", {"last_name": "Garcia"}, {"last_name": "GARCÍA"}, "exact"),
    ("last_name", {"last_name": "O'Brien"}, {"last_name": "OBRIEN"}, "exact"),
    ("last_name", {"last_name": "Garcia"}, {"last_name": "Garcai"}, "JW>=0.92"),
    ("last_name", {"last_name": "Smith"}, {"last_name": "Smyth"}, "similar (JW>=0.85 or phonetic)"),
    ("last_name", {"last_name": "Philips"}, {"last_name": "Fillips"}, "similar (JW>=0.85 or phonetic)"),
    ("last_name", {"last_name": "Garcia Lopez"}, {"last_name": "Lopez"}, "compound part shared"),
    ("last_name", {"last_name": "Lopez-Garcia"}, {"last_name": "Garcia-Martinez"}, "compound part shared"),
    ("last_name", {"last_name": "De La Cruz"}, {"last_name": "Cruz"}, "compound part shared"),
    ("last_name", {"last_name": "Garcia"}, {"last_name": "Lopez"}, "else"),
    ("last_name", {"last_name": "Garcia"}, {"last_name": ""}, None),
    ("last_name", {"last_name": "Garcia"}, {"last_name": "Doe"}, None),
    # middle name
    ("middle_name", {"middle_name": "Henry"}, {"middle_name": "HENRY"}, "exact"),
    ("middle_name", {"middle_name": "Henry"}, {"middle_name": "H"}, "initial agrees"),
    ("middle_name", {"middle_name": "Henry"}, {"middle_name": "James"}, "else"),
    ("middle_name", {"middle_name": "Henry"}, {"middle_name": ""}, None),
    # date of birth
    ("dob", {"dob": "1980-05-17"}, {"dob": "05/17/1980"}, "exact"),
    ("dob", {"dob": "1980-05-17"}, {"dob": "May 17 1980"}, "exact"),
    ("dob", {"dob": "1980-05-07"}, {"dob": "1980-07-05"}, "day and month swapped"),
    ("dob", {"dob": "1980-05-17"}, {"dob": "1980-05-18"}, "one digit off"),
    ("dob", {"dob": "1980-05-17"}, {"dob": "1980-08-17"}, "one digit off"),
    ("dob", {"dob": "1980-05-17"}, {"dob": "1908-05-17"}, "one digit off"),  # adjacent digits swapped
    ("dob", {"dob": "1980-05-17"}, {"dob": "1980-06-10"}, "within a month / year off by one"),
    ("dob", {"dob": "1980-05-17"}, {"dob": "1980-04-20"}, "within a month / year off by one"),
    ("dob", {"dob": "1980-12-20"}, {"dob": "1981-01-05"}, "within a month / year off by one"),
    ("dob", {"dob": "1980-05-17"}, {"dob": "1979-05-17"}, "within a month / year off by one"),
    ("dob", {"dob": "1980-05-17"}, {"dob": "1975-11-30"}, "else"),
    ("dob", {"dob": "1980-05-17"}, {"dob": ""}, None),
    ("dob", {"dob": "1980-05-17"}, {"dob": "1900-01-01"}, None),  # placeholder date
    ("dob", {"dob": "1980-05-17"}, {"dob": "03/04/1980"}, None),  # ambiguous without a hint
    # sex
    ("sex", {"sex": "M"}, {"sex": "male"}, "exact"),
    ("sex", {"sex": "M"}, {"sex": "F"}, "else"),
    ("sex", {"sex": "M"}, {"sex": "U"}, None),
    # SSN
    ("ssn", {"ssn": "123-45-6788"}, {"ssn": "123456788"}, "exact"),
    ("ssn", {"ssn": "123-45-6788"}, {"ssn": "***-**-6788"}, "last four agree"),
    ("ssn", {"ssn": "123-45-6788"}, {"ssn": "6788"}, "last four agree"),
    ("ssn", {"ssn": "***-**-6788"}, {"ssn": "XXX-XX-6788"}, "last four agree"),
    ("ssn", {"ssn": "123-45-6788"}, {"ssn": "123-45-6787"}, "one digit off"),
    ("ssn", {"ssn": "123-45-6788"}, {"ssn": "123-54-6788"}, "one digit off"),  # adjacent digits swapped
    ("ssn", {"ssn": "123-45-6788"}, {"ssn": "234-56-7891"}, "else"),
    ("ssn", {"ssn": "123-45-6788"}, {"ssn": "***-**-1111"}, "else"),
    ("ssn", {"ssn": "123-45-6788"}, {"ssn": ""}, None),
    ("ssn", {"ssn": "123-45-6788"}, {"ssn": "999-99-9999"}, None),
    # phone
    ("phone", {"phone": "212-867-5309"}, {"phone": "(212) 867-5309"}, "exact"),
    ("phone", {"phone": "212-867-5309"}, {"phone": "+1 212 867 5309 ext 4"}, "exact"),
    ("phone", {"phone": "212-867-5309"}, {"phone": "718-867-5309"}, "last seven digits"),
    ("phone", {"phone": "212-867-5309"}, {"phone": "867-5309"}, "last seven digits"),
    ("phone", {"phone": "212-867-5309"}, {"phone": "212-867-5310"}, "else"),
    ("phone", {"phone": "212-867-5309"}, {"phone": ""}, None),
    ("phone", {"phone": "212-867-5309"}, {"phone": "000-000-0000"}, None),
    # e-mail
    ("email", {"email": "wgarcia@gmail.com"}, {"email": "WGarcia@Gmail.com"}, "exact"),
    ("email", {"email": "wgarcia@gmail.com"}, {"email": "wgarcia@yahoo.com"}, "similar"),
    ("email", {"email": "wgarcia@gmail.com"}, {"email": "zzz@hotmail.com"}, "else"),
    ("email", {"email": "wgarcia@gmail.com"}, {"email": ""}, None),
    # street
    ("street", {"street": "12 Main Street Apt 4"}, {"street": "12 MAIN ST #4"}, "exact"),
    ("street", {"street": "12 Main Street Apt 4"}, {"street": "12 Main St Apt 7"}, "same house number and street"),
    ("street", {"street": "12 Main Street Apt 4"}, {"street": "12 Main St"}, "same house number and street"),
    ("street", {"street": "12 Main Street"}, {"street": "14 Main Street"}, "similar words"),
    ("street", {"street": "12 Main Street"}, {"street": "99 Elm Road"}, "else"),
    ("street", {"street": "12 Main Street Apt 4"}, {"street": ""}, None),
    ("street", {"street": "12 Main Street Apt 4"}, {"street": "Homeless"}, None),
    # city, zip, state
    ("city", {"city": "Saint Paul"}, {"city": "ST. PAUL"}, "exact"),
    ("city", {"city": "Springfield"}, {"city": "Springfeild"}, "JW>=0.88"),
    ("city", {"city": "Springfield"}, {"city": "Chicago"}, "else"),
    ("city", {"city": "Springfield"}, {"city": ""}, None),
    ("zip", {"zip": "62704"}, {"zip": "62704-1234"}, "exact"),
    ("zip", {"zip": "62704"}, {"zip": "62705"}, "one digit off"),
    ("zip", {"zip": "62704"}, {"zip": "90210"}, "else"),
    ("zip", {"zip": "62704"}, {"zip": ""}, None),
    ("state", {"state": "IL"}, {"state": "Illinois"}, "exact"),
    ("state", {"state": "IL"}, {"state": "WI"}, "else"),
    ("state", {"state": "IL"}, {"state": ""}, None),
]


def _case_id(case) -> str:
    comp, left, right, label = case
    return f"{comp}:{'|'.join(left.values())}~{'|'.join(right.values())}->{label}"


@pytest.mark.parametrize("comparison, left, right, label", LEVEL_CASES, ids=[_case_id(c) for c in LEVEL_CASES])
def test_comparison_level(comparison, left, right, label):
    expected = -1 if label is None else level(comparison, label)
    gammas, swap = pair_gammas(left, right)
    assert not swap
    assert gammas[comparison] == expected
    # the level never depends on which record is on the left
    assert pair_gammas(right, left)[0][comparison] == expected


@pytest.mark.parametrize("comparison, fields", [
    ("first_name", ["first_name"]), ("last_name", ["last_name"]), ("middle_name", ["middle_name"]),
    ("dob", ["dob"]), ("sex", ["sex"]), ("ssn", ["ssn"]), ("phone", ["phone"]), ("email", ["email"]),
    ("street", ["street"]), ("city", ["city"]), ("zip", ["zip"]), ("state", ["state"])])
def test_missing_on_either_side_is_minus_one(comparison, fields):
    blank = {f: "" for f in fields}
    assert pair_gammas(blank, {})[0][comparison] == -1
    assert pair_gammas({}, blank)[0][comparison] == -1
    assert pair_gammas(blank, blank)[0][comparison] == -1
    # and the same pair with both present is not missing
    assert pair_gammas({}, {})[0][comparison] == len(next(c for c in COMPARISONS if c.name == comparison).levels) - 1


@pytest.mark.parametrize("a, b, lo, hi", [
    ("michelle", "michele", 0.92, 1.0), ("martha", "marhta", 0.92, 1.0), ("rebecca", "rebekah", 0.85, 0.92),
    ("katelyn", "caitlin", 0.0, 0.85), ("garcia", "garcai", 0.92, 1.0), ("smith", "smyth", 0.85, 0.92),
    ("philips", "fillips", 0.0, 0.85), ("springfield", "springfeild", 0.88, 1.0)])
def test_similarity_band_preconditions(a, b, lo, hi):
    """The cases above sit in the Jaro-Winkler band they claim (independent implementation)."""
    assert lo <= jw(a, b) < hi


def test_dob_within_a_month_across_the_year_end():
    gammas, _ = pair_gammas({"dob": "1980-12-05"}, {"dob": "1981-01-03"})
    assert gammas["dob"] == level("dob", "within a month / year off by one")


# --- names written the other way round --------------------------------------------------------

SWAP_CASES = [
    # (left, right, expected first level, expected last level)
    ({"first_name": "Garcia", "last_name": "William"}, {}, "exact", "exact"),
    ({"first_name": "Garcai", "last_name": "William"}, {}, "JW>=0.92", "exact"),
    ({"first_name": "Garcia", "last_name": "Wiliam"}, {}, "exact", "JW>=0.92"),
]


@pytest.mark.parametrize("left, right, first, last", SWAP_CASES, ids=["exact", "typo-in-first", "typo-in-last"])
def test_swapped_names_detected_among_other_records(left, right, first, last):
    gammas, swap = pair_gammas(left, right, filler=FILLER)
    assert swap
    assert gammas["first_name"] == level("first_name", first)
    assert gammas["last_name"] == level("last_name", last)


@pytest.mark.parametrize("left, right, first, last", SWAP_CASES, ids=["exact", "typo-in-first", "typo-in-last"])
def test_swapped_names_detected_in_a_two_record_table(left, right, first, last):
    gammas, swap = pair_gammas(left, right)
    assert swap
    assert gammas["first_name"] == level("first_name", first)
    assert gammas["last_name"] == level("last_name", last)


def test_typos_in_both_names_are_not_a_swap():
    table = make_table([{"first_name": "Fitzgerald", "last_name": "Dunleavy"},
                        {"first_name": "Fitzgerald", "last_name": "Dunleay"},
                        {"first_name": "Fitzgerld", "last_name": "Dunleavy"}])
    gamma, swap = gamma_matrix(table, np.array([1]), np.array([2]))
    assert not swap[0]
    names = [c.name for c in COMPARISONS]
    assert gamma[0, names.index("first_name")] == level("first_name", "JW>=0.92")
    assert gamma[0, names.index("last_name")] == level("last_name", "JW>=0.92")


def test_identical_names_are_not_a_swap():
    assert pair_gammas({}, {}, filler=FILLER)[1] is False
    assert pair_gammas({}, {})[1] is False


def test_a_person_called_by_a_repeated_name_is_not_a_swap():
    # "Lee Lee" vs "Lee Lee": first == last on both sides, nothing was swapped
    same = {"first_name": "Lee", "last_name": "Lee"}
    gammas, swap = pair_gammas(same, same, filler=FILLER)
    assert not swap
    assert gammas["first_name"] == level("first_name", "exact")


# --- one pair alone or among many -------------------------------------------------------------

BATCH_ROWS = [
    {}, {"first_name": "Bill"}, {"first_name": "Garcia", "last_name": "William"}, {"dob": "1980-07-05"},
    {"ssn": "***-**-6788", "phone": "718-867-5309"}, {"street": "12 Main St Apt 9", "first_name": "W"},
    {"last_name": "Garcia-Lopez", "dob": "1981-05-17"}, {"first_name": "", "ssn": ""},
    *FILLER,
]


def test_single_pair_scores_like_the_same_pair_in_a_batch():
    table = make_table(BATCH_ROWS)
    n = len(BATCH_ROWS)
    a, b = np.triu_indices(n, 1)
    batch, batch_swap = gamma_matrix(table, a, b)
    order = np.random.default_rng(0).permutation(len(a))
    shuffled, shuffled_swap = gamma_matrix(table, a[order], b[order])
    assert np.array_equal(shuffled, batch[order]) and np.array_equal(shuffled_swap, batch_swap[order])
    for k in range(len(a)):
        single, single_swap = gamma_matrix(table, a[k:k + 1], b[k:k + 1])
        assert np.array_equal(single[0], batch[k]), (a[k], b[k])
        assert single_swap[0] == batch_swap[k]


TABLE_INDEPENDENCE = [
    pytest.param({}, {"first_name": "Bill"}, id="nickname"),
    pytest.param({"dob": "1980-05-07"}, {"dob": "1980-07-05"}, id="dob-transposed"),
    pytest.param({"street": "12 Main St Apt 9"}, {}, id="same-building"),
    pytest.param({"ssn": "***-**-6788"}, {}, id="ssn-last4"),
    pytest.param({"first_name": "Garcia", "last_name": "William"}, {}, id="names-swapped"),
]


@pytest.mark.parametrize("left, right", TABLE_INDEPENDENCE)
def test_pair_gamma_does_not_depend_on_other_records_in_the_table(left, right):
    alone = pair_gammas(left, right)
    for k in range(len(FILLER) + 1):
        assert pair_gammas(left, right, filler=FILLER[:k]) == alone, f"with {k} other records"


# --------------------------------------------------------------------------------------------
# small inputs: the real-time path calls each scorer per pair instead of through cpdist
# --------------------------------------------------------------------------------------------

def _words(rng: np.random.Generator, n: int) -> np.ndarray:
    alphabet = list("abcdeé ")
    out = np.empty(n, dtype=object)
    out[:] = ["".join(rng.choice(alphabet, rng.integers(1, 9))) for _ in range(n)]
    return out


@pytest.mark.parametrize("name", ["jaro_winkler", "token_set_similarity", "one_edit_apart"])
def test_small_inputs_score_as_cpdist_does(name):
    from rapidfuzz import fuzz, process
    from rapidfuzz.distance import OSA, JaroWinkler

    from mpi.compare import similarity
    reference = {"jaro_winkler": lambda l, r: process.cpdist(l, r, scorer=JaroWinkler.normalized_similarity,
                                                             dtype=np.float32),
                 "token_set_similarity": lambda l, r: process.cpdist(l, r, scorer=fuzz.token_set_ratio,
                                                                     dtype=np.float32) / 100.0,
                 "one_edit_apart": lambda l, r: process.cpdist(l, r, scorer=OSA.distance, dtype=np.int32) == 1}
    rng = np.random.default_rng(7)
    for n in (1, 5, similarity.SMALL_INPUT - 1):  # all below the size where cpdist takes over
        left, right = _words(rng, n), _words(rng, n)
        right[: n // 3] = left[: n // 3]  # some identical pairs
        got = getattr(similarity, name)(left, right)
        want = reference[name](list(left), list(right))
        assert got.dtype == want.dtype and np.array_equal(got, want), (name, n)
