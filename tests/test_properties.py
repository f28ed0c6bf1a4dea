"""Hypothesis properties of the batch pipeline (mpi.pipeline.resolve_frame).

Generated record sets are families of near-duplicate records (typos, reformatted dates and
phones, dropped fields) of people with unrelated names. The model is fixed (fitted once on
FEBRL 3) so the properties test resolution, not unsupervised fitting on a handful of records.

Properties: clusters partition the records; the row order does not matter; exact copies of a
record always end up together (so the other properties are not vacuous); and look-alikes embedded
in the set -- twins, Jr/Sr, mother and newborn -- never share a cluster.
"""
from __future__ import annotations

import datetime as dt
import os

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from febrl_support import febrl3
from mpi.blocking import candidate_pairs
from mpi.compare.table import RecordTable
from mpi.model.fellegi_sunter import FellegiSunterModel
from mpi.normalise.frame import normalise_frame
from mpi.pipeline import compute_gamma, resolve_frame
from mpi.records import validate_records

# Deterministic and quick by default; MPI_PROPERTY_EXAMPLES=500 explores with fresh random examples.
_EXPLORE = int(os.environ.get("MPI_PROPERTY_EXAMPLES", "0") or 0)
# Shrinking a failure of the whole pipeline can take minutes, so it only runs when exploring.
PROPERTY_SETTINGS = settings(max_examples=_EXPLORE or 25, deadline=None, derandomize=not _EXPLORE, database=None,
                             phases=list(Phase) if _EXPLORE else [Phase.explicit, Phase.generate],
                             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                    HealthCheck.filter_too_much])

# Names chosen to be unrelated: no shared nickname family, no common prefix, far apart in spelling.
FIRST_NAMES = ["Abigail", "Bartholomew", "Cordelia", "Desmond", "Evangeline", "Fitzgerald", "Gwendolyn",
               "Horatio", "Isadora", "Jebediah", "Lucinda", "Montgomery", "Octavia", "Percival", "Rosalind",
               "Sebastian", "Theodora", "Ulysses", "Wilhelmina", "Xavier"]
FAMILY_SURNAMES = ["Abernathy", "Blackwood", "Castellano", "Dunleavy", "Esterhazy", "Fairweather", "Gallagher",
                   "Hollingsworth", "Ingersoll", "Jablonski"]
# look-alikes get their own surnames so no generated family can bridge them
LOOKALIKE_SURNAMES = ["Kowalczyk", "Lindqvist", "Mbeki", "Nakamura", "Oyelaran", "Pemberton"]
TWIN_NAMES = [("Jessica", "Brandon"), ("Olivia", "Nathaniel"), ("Madison", "Gregory"), ("Samantha", "Dominic"),
              ("Priya", "Meredith"), ("Kevin", "Lorraine"), ("Harold", "Imogen"), ("Victor", "Beatrice")]
STREETS = ["Main Street", "Oak Avenue", "Maple Drive", "Cedar Lane", "Elm Road", "Birch Court", "Willow Way",
           "Chestnut Boulevard"]
ABBREVIATED = {"Street": "St", "Avenue": "Ave", "Drive": "Dr", "Lane": "Ln", "Road": "Rd", "Court": "Ct",
               "Way": "Way", "Boulevard": "Blvd"}
PLACES = [("Springfield", "IL", "62704"), ("Dayton", "OH", "45402"), ("Eugene", "OR", "97401"),
          ("Tucson", "AZ", "85701"), ("Albany", "NY", "12207"), ("Macon", "GA", "31201")]
NEWBORN_FIRST = ["Baby Girl", "BABY BOY", "Baby", "Infant", "BG", "Newborn"]


# --- building blocks --------------------------------------------------------------------------

ssns = st.builds(lambda a, g, s: f"{a:03d}-{g:02d}-{s:04d}", st.integers(1, 665).filter(lambda a: a != 123),
                 st.integers(1, 99), st.integers(1, 9999))
phones = st.builds(lambda a, e, n: f"{a}-{e}-{n:04d}", st.integers(201, 989), st.integers(201, 989),
                   st.integers(0, 9999)).filter(lambda p: p[4:7] != "555")


def dates(lo: int, hi: int):
    return st.dates(dt.date(lo, 1, 1), dt.date(hi, 12, 31))


@st.composite
def people(draw, surnames=FAMILY_SURNAMES, first_names=FIRST_NAMES, born=(1935, 2004)):
    city, state, zip_ = draw(st.sampled_from(PLACES))
    return {
        "first_name": draw(st.sampled_from(first_names)), "last_name": draw(st.sampled_from(surnames)),
        "middle_name": draw(st.sampled_from(["", "A", "James", "Marie"])),
        "dob": draw(dates(*born)).isoformat(), "sex": draw(st.sampled_from(["M", "F"])), "ssn": draw(ssns),
        "phone": draw(phones), "email": "",
        "street": f"{draw(st.integers(1, 9999))} {draw(st.sampled_from(STREETS))}",
        "city": city, "state": state, "zip": zip_, "suffix": "",
    }


@st.composite
def typo(draw, word: str) -> str:
    """One keying error: substitute, delete or transpose a character (never the first letter)."""
    if len(word) < 4:
        return word
    i = draw(st.integers(1, len(word) - 2))
    kind = draw(st.sampled_from(["substitute", "delete", "transpose"]))
    if kind == "substitute":
        c = draw(st.sampled_from("aeioulnrst").filter(lambda c: c != word[i].lower()))
        return word[:i] + c + word[i + 1:]
    if kind == "delete":
        return word[:i] + word[i + 1:]
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def reformat_date(iso: str, style: int) -> str:
    y, m, d = iso.split("-")
    return [iso, f"{m}/{d}/{y}", f"{y}{m}{d}", dt.date(int(y), int(m), int(d)).strftime("%b %d %Y")][style]


def reformat_phone(phone: str, style: int) -> str:
    a, e, n = phone.split("-")
    return [phone, f"({a}) {e}-{n}", f"+1{a}{e}{n}", f"{a}.{e}.{n}"][style]


def abbreviate(street: str) -> str:
    number, name, kind = street.split(" ")
    return f"{number} {name.upper()} {ABBREVIATED[kind]}."


@st.composite
def variants(draw, person: dict) -> dict:
    """A near-duplicate record of ``person``: a few of the errors real sources make."""
    r = dict(person)
    edits = draw(st.lists(st.sampled_from(["typo_first", "typo_last", "dob_format", "phone_format", "drop_ssn",
                                           "mask_ssn", "drop_phone", "upper", "street_abbrev", "drop_middle"]),
                          max_size=3, unique=True))
    for e in edits:
        if e == "typo_first":
            r["first_name"] = draw(typo(r["first_name"]))
        elif e == "typo_last":
            r["last_name"] = draw(typo(r["last_name"]))
        elif e == "dob_format":
            r["dob"] = reformat_date(r["dob"], draw(st.integers(1, 3)))
        elif e == "phone_format" and r["phone"]:
            r["phone"] = reformat_phone(r["phone"], draw(st.integers(1, 3)))
        elif e == "drop_ssn":
            r["ssn"] = ""
        elif e == "mask_ssn":
            r["ssn"] = "***-**-" + r["ssn"][-4:] if r["ssn"] else ""
        elif e == "drop_phone":
            r["phone"] = ""
        elif e == "upper":
            r["first_name"], r["last_name"] = r["first_name"].upper(), r["last_name"].upper()
        elif e == "street_abbrev":
            r["street"] = abbreviate(person["street"])
        elif e == "drop_middle":
            r["middle_name"] = ""
        # first/last swapped is left out: it makes clusters depend on row order (a known bug, see
        # test_row_order_with_swapped_names below); add it back when that test passes
    return r


@st.composite
def families(draw, min_people: int = 2, max_people: int = 6) -> list[dict]:
    """Records of several people, each with one to three near-duplicate records."""
    out = []
    for p in range(draw(st.integers(min_people, max_people))):
        person = draw(people())
        copies = [person] + [draw(variants(person)) for _ in range(draw(st.integers(0, 2)))]
        for k, rec in enumerate(copies):
            out.append({"record_id": f"p{p}-r{k}", "person": f"p{p}", **rec})
    return out


def formatting_variant(record: dict, style: int) -> dict:
    """The same record as another source would format it: no information changes (so the date
    style is never the ambiguous MM/DD/YYYY, which without a source hint is rightly read as missing)."""
    assert style in (2, 3)
    r = dict(record)
    r["dob"] = reformat_date(record["dob"], style) if record["dob"] else ""
    r["phone"] = reformat_phone(record["phone"], style) if record["phone"] else ""
    r["first_name"], r["last_name"] = record["first_name"].upper(), record["last_name"].upper()
    return r


def frame(records: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{k: v for k, v in r.items() if k != "person"} for r in records])


def clusters_of(result) -> set[frozenset[str]]:
    return {frozenset(g) for _, g in result.clusters.groupby("cluster_id")["record_id"]}


def cluster_map(result) -> dict[str, str]:
    return dict(zip(result.clusters["record_id"], result.clusters["cluster_id"]))


# --- the model --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def model() -> FellegiSunterModel:
    records = febrl3()[0]
    norm = normalise_frame(validate_records(records))
    table = RecordTable.from_frame(norm)
    cand = candidate_pairs(norm)
    gamma, _ = compute_gamma(table, cand.left, cand.right)
    return FellegiSunterModel(u_sample_pairs=100_000, seed=0).fit(table, cand.left, cand.right, gamma)


# --- properties -------------------------------------------------------------------------------

@PROPERTY_SETTINGS
@given(records=families(1, 7))
def test_clusters_partition_the_records(model, records):
    result = resolve_frame(frame(records), model=model)
    ids = [r["record_id"] for r in records]
    out = result.clusters
    assert sorted(out["record_id"]) == sorted(ids)  # every record exactly once
    groups = out.groupby("cluster_id")["record_id"].apply(set)
    for cid, members in groups.items():
        assert cid in members  # a cluster is named after one of its own records
    assert sum(len(m) for m in groups) == len(ids)


@PROPERTY_SETTINGS
@given(records=families(2, 6), data=st.data())
def test_row_order_does_not_change_clusters(model, records, data):
    order = data.draw(st.permutations(range(len(records))), label="row order")
    assume(list(order) != list(range(len(records))))
    a = resolve_frame(frame(records), model=model)
    b = resolve_frame(frame([records[i] for i in order]), model=model)
    assert clusters_of(a) == clusters_of(b)


@PROPERTY_SETTINGS
@given(records=families(2, 6), data=st.data())
def test_exact_copies_are_always_together(model, records, data):
    """A record and its byte-for-byte copy from a second feed are one person."""
    original = data.draw(st.sampled_from(records), label="copied record")
    copy = {**original, "record_id": "copy-of-" + original["record_id"], "source": "second-feed"}
    result = resolve_frame(frame(records + [copy]), model=model)
    where = cluster_map(result)
    assert where[copy["record_id"]] == where[original["record_id"]]


def check_apart(model, records: list[dict], a: list[dict], b: list[dict], b_links: bool = True) -> None:
    """Records of look-alike A and look-alike B (each with a reformatted copy) never share a cluster,
    while each look-alike's own copy does join it (for B only when ``b_links``: two newborn records are
    held for review by design, since newborn twins look exactly like that)."""
    a = a + [{**formatting_variant(a[0], 2), "record_id": a[0]["record_id"] + "-fmt"}]
    b = b + [{**formatting_variant(b[0], 3), "record_id": b[0]["record_id"] + "-fmt"}]
    result = resolve_frame(frame(records + a + b), model=model)
    where = cluster_map(result)
    clusters_a = {where[r["record_id"]] for r in a}
    clusters_b = {where[r["record_id"]] for r in b}
    assert not clusters_a & clusters_b, "look-alikes merged"
    # not vacuous: the same person in two formats is linked
    assert len(clusters_a) == 1
    assert len(clusters_b) == 1 or not b_links


def _one_char_apart(x: str, y: str) -> bool:
    return len(x) == len(y) and sum(c != d for c, d in zip(x, y)) == 1


def _one_keystroke_apart(x: str, y: str) -> bool:
    """One character substituted, or two adjacent characters swapped."""
    if len(x) != len(y):
        return False
    diff = [i for i, (c, d) in enumerate(zip(x, y)) if c != d]
    return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and x[diff[0]] == y[diff[1]]
                              and x[diff[1]] == y[diff[0]])


@st.composite
def twins(draw):
    base = draw(people(surnames=LOOKALIKE_SURNAMES, born=(1950, 2010)))
    name_a, name_b = draw(st.sampled_from(TWIN_NAMES))
    # SSNs one keystroke apart are covered by test_twins_with_ssns_one_keystroke_apart (a known bug)
    ssn_b = draw(ssns.filter(lambda s: s != base["ssn"] and not _one_keystroke_apart(s, base["ssn"])))
    sex_b = draw(st.sampled_from(["M", "F"]))
    a = {**base, "record_id": "twin-a", "first_name": name_a}
    b = {**base, "record_id": "twin-b", "first_name": name_b, "ssn": ssn_b, "sex": sex_b,
         "middle_name": draw(st.sampled_from(["", "Lee", base["middle_name"]]))}
    return a, b


@PROPERTY_SETTINGS
@given(records=families(1, 5), pair=twins())
def test_twins_are_never_merged(model, records, pair):
    a, b = pair
    check_apart(model, records, [a], [b])


@st.composite
def junior_senior(draw):
    senior = draw(people(surnames=LOOKALIKE_SURNAMES, born=(1930, 1975)))
    senior["sex"] = "M"
    gap = draw(st.integers(25, 45))
    born = dt.date.fromisoformat(senior["dob"])
    junior_dob = draw(dates(born.year + gap, born.year + gap))
    junior = {**senior, "dob": junior_dob.isoformat(), "ssn": draw(st.one_of(st.just(""), ssns)),
              "middle_name": draw(st.sampled_from(["", senior["middle_name"]]))}
    how = draw(st.sampled_from(["suffix-both", "suffix-junior-only", "suffix-in-last-name", "dob-only",
                                "suffix-both-no-dob"]))
    if how == "suffix-both":
        senior["suffix"], junior["suffix"] = "Sr", "Jr"
    elif how == "suffix-junior-only":
        junior["suffix"] = draw(st.sampled_from(["Jr", "JR.", "II"]))
    elif how == "suffix-in-last-name":
        senior["last_name"] += " Sr"
        junior["last_name"] += " Jr"
    elif how == "suffix-both-no-dob":
        senior["suffix"], junior["suffix"] = "Sr.", "Jr."
        senior["dob"] = junior["dob"] = ""
    # generation-gap birth dates one keystroke apart (1950-05-17 / 1980-05-17) are covered by
    # test_father_and_son_born_on_the_same_day_one_digit_apart below (a known bug)
    assume(not _one_char_apart(senior["dob"], junior["dob"]))
    senior["ssn"] = draw(st.one_of(st.just(""), ssns.filter(lambda s: s != junior["ssn"])))
    return {**senior, "record_id": "senior"}, {**junior, "record_id": "junior"}


@PROPERTY_SETTINGS
@given(records=families(1, 5), pair=junior_senior())
def test_junior_and_senior_are_never_merged(model, records, pair):
    senior, junior = pair
    check_apart(model, records, [senior], [junior])


@st.composite
def mother_and_newborn(draw):
    mother = draw(people(surnames=LOOKALIKE_SURNAMES, born=(1975, 2003)))
    mother["sex"] = "F"
    born = dt.date.fromisoformat(mother["dob"])
    baby_dob = draw(dates(max(born.year + 16, 2019), 2023))
    baby = {**mother, "first_name": draw(st.sampled_from(NEWBORN_FIRST)), "middle_name": "",
            "dob": baby_dob.isoformat(), "sex": draw(st.sampled_from(["F", "M", ""])), "ssn": ""}
    return {**mother, "record_id": "mother"}, {**baby, "record_id": "newborn"}


@PROPERTY_SETTINGS
@given(records=families(1, 5), pair=mother_and_newborn())
def test_mother_and_newborn_are_never_merged(model, records, pair):
    mother, baby = pair
    check_apart(model, records, [mother], [baby], b_links=False)


# --- known bugs, kept out of the strategies above -----------------------------------------------

@pytest.mark.parametrize("ssn_a, ssn_b", [("412-73-5518", "412-73-5578"), ("412-73-5518", "412-73-5581")],
                         ids=["one-digit", "two-digits-swapped"])
def test_twins_with_ssns_one_keystroke_apart(model, ssn_a, ssn_b):
    base = dict(last_name="Kowalczyk", middle_name="", dob="2000-01-01", sex="F", phone="201-245-0000", email="",
                street="1 Main Street", city="Springfield", state="IL", zip="62704", suffix="")
    records = [{**base, "record_id": "twin-a", "first_name": "Jessica", "ssn": ssn_a},
               {**base, "record_id": "twin-b", "first_name": "Brandon", "ssn": ssn_b}]
    where = cluster_map(resolve_frame(frame(records), model=model))
    assert where["twin-a"] != where["twin-b"]


def test_father_and_son_born_on_the_same_day_one_digit_apart(model):
    base = dict(first_name="Robert", last_name="Kowalczyk", street="418 Birch Court", city="Dayton", state="OH",
                zip="45402", phone="937-262-0142", sex="M", ssn="", middle_name="", suffix="", email="")
    records = [{**base, "record_id": "father", "dob": "1950-05-17"},
               {**base, "record_id": "son", "dob": "1980-05-17"}]
    where = cluster_map(resolve_frame(frame(records), model=model))
    assert where["father"] != where["son"]


@pytest.mark.parametrize("n", [1, 2])
def test_records_without_candidate_pairs_resolve_to_singletons(model, n):
    people_ = [dict(first_name="Abigail", last_name="Abernathy", dob="1961-02-03", ssn="234-56-7891"),
               dict(first_name="Horatio", last_name="Quist", dob="1999-09-09", ssn="345-67-8912")][:n]
    records = [{"record_id": f"r{i}", **p} for i, p in enumerate(people_)]
    result = resolve_frame(frame(records), model=model)
    assert sorted(result.clusters["record_id"]) == sorted(result.clusters["cluster_id"]) == [r["record_id"]
                                                                                              for r in records]


SWAP_BASE = dict(middle_name="A", sex="F", email="", suffix="", city="Dayton", state="OH", zip="45402")
SWAPPED_PAIR = [
    dict(SWAP_BASE, record_id="x1", first_name="Montgomery", last_name="Jablonski", dob="2001-03-18",
         ssn="365-98-9998", phone="201-791-3368", street="142 Birch Court"),
    # the same person with first and last name swapped, a typo and a masked SSN
    dict(SWAP_BASE, record_id="x2", first_name="Jblonski", last_name="Montgomery", dob="2001-03-18",
         ssn="***-**-9998", phone="201-791-3368", street="142 Birch Court"),
]
BYSTANDERS = [  # two records sharing a first name: enough to shift the per-column codes
    dict(SWAP_BASE, record_id="y1", first_name="Desmond", last_name="Blackwood", dob="2004-06-15", sex="M",
         ssn="137-11-0001", phone="989-369-7356", street="137 Main Street", city="Macon", state="GA", zip="31201"),
    dict(SWAP_BASE, record_id="y2", first_name="Desmond", last_name="Blackwond", dob="2004-06-15", sex="M",
         ssn="", phone="989-369-7356", street="137 Main Street", city="Macon", state="GA", zip="31201"),
]


def test_row_order_with_swapped_names(model):
    first = clusters_of(resolve_frame(frame(SWAPPED_PAIR + BYSTANDERS), model=model))
    last = clusters_of(resolve_frame(frame(BYSTANDERS + SWAPPED_PAIR), model=model))
    assert first == last


TYPO_TRIO = [  # one person, three records: a typo in the surname, a typo in the first name
    dict(record_id="p0-r0", first_name="Fitzgerald", last_name="Dunleavy", dob="1983-11-11", ssn="556-56-0161",
         phone="628-517-0234"),
    dict(record_id="p0-r1", first_name="Fitzgerald", last_name="Dunleay", dob="Nov 11 1983", ssn="556-56-0161",
         phone="+16285170234"),
    dict(record_id="p0-r2", first_name="FITZGERLD", last_name="DUNLEAVY", dob="1983-11-11", ssn="***-**-0161",
         phone="628-517-0234"),
]


def test_row_order_with_typos_in_both_names(model):
    base = dict(middle_name="A", sex="M", street="292 Main Street", city="Albany", state="NY", zip="12207")
    records = [{**base, **r} for r in TYPO_TRIO]
    forward = clusters_of(resolve_frame(frame(records), model=model))
    backward = clusters_of(resolve_frame(frame(records[::-1]), model=model))
    assert forward == backward
