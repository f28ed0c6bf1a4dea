"""The real-time path's one-record building blocks agree with the batch path, record by record.

- ``normalise_record(raw)`` equals that record's row of ``normalise_frame`` (same day order and
  shared placeholders), on every record of examples/records.csv and FEBRL 4 and on generated junk;
- ``record_keys(normalised)`` equals that record's ``frame_keys`` row, and each rule's one-record
  key equals its vectorised key; the batch candidate pairs are the ones the DataFrame rules this
  release replaced gave (written out below as the reference);
- ``RecordTable.from_records`` gives the arrays, gammas, weights and decisions of
  ``RecordTable.from_frame`` for the same records and population.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from febrl_support import febrl4
from mpi.blocking.candidates import candidate_pairs
from mpi.blocking.keys import frame_keys, record_keys
from mpi.blocking.rules import RULES, BlockingRule
from mpi.compare.comparisons import gamma_matrix
from mpi.compare.table import TEXT_COLUMNS, RecordTable
from mpi.decision import Thresholds, decide
from mpi.normalise.frame import NORMALISED_ORDER, normalise_frame
from mpi.normalise.record import normalise_record
from mpi.parallel import threads_per_task
from mpi.pipeline import resolve_frame
from mpi.population import PopulationStats
from mpi.records import MATCH_FIELDS, read_records_csv, validate_records

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "records.csv"


@pytest.fixture(scope="module", params=["examples", "febrl4"])
def dataset(request) -> pd.DataFrame:
    return read_records_csv(EXAMPLES) if request.param == "examples" else validate_records(febrl4()[0])


@pytest.fixture(scope="module")
def model():
    return resolve_frame(read_records_csv(EXAMPLES)).model


def _rows(frame: pd.DataFrame) -> list[dict]:
    return frame.to_dict("records")


def _assert_same_record(got: dict, want: dict) -> None:
    assert list(got) == ["record_id", "source", *NORMALISED_ORDER, "quality_flags"]
    assert got == want
    for col, value in got.items():
        if col in ("dob_year", "dob_month", "dob_day"):
            assert type(value) is int, col
        elif col in ("newborn", "ssn_valid"):
            assert type(value) is bool, col
        else:
            assert type(value) is str, col


# --------------------------------------------------------------------------------------------
# normalise_record == the frame's row
# --------------------------------------------------------------------------------------------

def test_normalise_record_equals_frame_rows(dataset):
    norm = normalise_frame(dataset)
    stats = PopulationStats.from_normalised(norm)
    for raw, want in zip(_rows(dataset), _rows(norm)):
        _assert_same_record(normalise_record(raw, stats.day_order.get(raw["source"]), stats.shared), want)


def test_normalise_record_with_given_order_and_shared_identifiers(dataset):
    """A day order other than the inferred one, and placeholders that do occur in the data."""
    sources = dataset["source"].unique()
    first = normalise_frame(dataset)
    shared = {c: frozenset(first[c][first[c] != ""].value_counts().index[:3]) for c in ("ssn", "phone", "email")}
    assert shared["ssn"], "the data set should have SSNs to blank"
    norm = normalise_frame(dataset, {s: "dmy" for s in sources}, shared)
    assert (norm["quality_flags"].str.contains("ssn_shared_placeholder")).any()
    for raw, want in zip(_rows(dataset), _rows(norm)):
        _assert_same_record(normalise_record(raw, "dmy", shared), want)


def test_normalise_record_defaults_like_validate_records():
    got = normalise_record({"record_id": "  r1 ", "first_name": "Ann"})
    assert got["record_id"] == "r1" and got["source"] == "default" and got["first"] == "ann"
    assert got["dob_year"] == -1 and got["ssn_valid"] is False and got["street"] == ""
    assert normalise_record({"record_id": 7, "source": "  "})["record_id"] == "7"


# Raw values a feed may send: missing markers, numbers, booleans, bytes, control characters, text
# around the overlong-field limit (200), and realistic values so the parsers' paths are taken.
_REALISTIC = st.sampled_from([
    "John", "Mary Ann", "O'Brien", "Garcia-Lopez", "Baby Girl", "John Doe", "Jr", "III", "Unknown", "N/A",
    "03/04/1980", "1980-03-04", "13/04/1980", "04131980", "Jan 5 1971", "1900-01-01", "123-45-6789",
    "078-05-1120", "212-55-0199", "***-**-1234", "1234", "555-123-4567", "(212) 555-0199 x12", "a.b@example.org", "x@y.com",
    "12 Main Street Apt 4", "PO Box 5", "Saint Paul", "N.Y.", "California", "02139-1234", "F", "male", "2", " "])
_JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**20, max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True), st.binary(max_size=8), _REALISTIC,
    st.text(max_size=30), st.text(alphabet=st.characters(max_codepoint=0x3f), max_size=30),
    st.text(alphabet="\x00\x1f\x1e\t\n\r;|#@ -/.aZ09", max_size=30), st.text(min_size=195, max_size=210))
# half the time a value _SHARED lists as a placeholder
_IDENTIFIER = st.booleans().flatmap(
    lambda placeholder: st.sampled_from(["212-55-0199", "(212) 555-0199", "X@Y.com"]) if placeholder else _JUNK)
_RAW = st.fixed_dictionaries(
    {"record_id": st.one_of(st.text(min_size=1, max_size=8).filter(lambda s: s.strip()), st.integers(0, 10**6)),
     "ssn": _IDENTIFIER, "phone": _IDENTIFIER, "email": _IDENTIFIER},
    optional={"source": st.one_of(st.none(), st.sampled_from(["a", " b ", ""]), st.integers(0, 3)),
              **{f: _JUNK for f in MATCH_FIELDS if f not in ("ssn", "phone", "email")}})
_SHARED = {"ssn": frozenset({"212550199"}), "phone": frozenset({"2125550199"}), "email": frozenset({"x@y.com"})}
JUNK_SETTINGS = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                         suppress_health_check=[HealthCheck.too_slow])


@JUNK_SETTINGS
@given(raw=_RAW, order=st.sampled_from([None, "mdy", "dmy"]), use_shared=st.booleans())
def test_normalise_record_equals_frame_on_junk(raw, order, use_shared):
    shared = _SHARED if use_shared else None
    frame = validate_records(pd.DataFrame([raw]))
    norm = normalise_frame(frame, {frame["source"].iloc[0]: order}, shared or {})
    got = normalise_record(raw, order, shared)
    _assert_same_record(got, _rows(norm)[0])
    assert record_keys(got) == frame_keys(norm)[0]


@settings(JUNK_SETTINGS, max_examples=100)
@given(raws=st.lists(_RAW, min_size=2, max_size=6, unique_by=lambda r: str(r["record_id"]).strip()))
def test_normalise_record_equals_frame_rows_on_junk_batches(raws):
    """Several junk records in one frame: each row still equals its record alone."""
    # each record made text alone: in one DataFrame pandas would infer a column type across the
    # records (an int beside a float or a missing value becomes "0.0"), a quirk of DataFrame input
    frame = pd.concat([validate_records(pd.DataFrame([r])) for r in raws], ignore_index=True)
    norm = normalise_frame(frame, {s: "mdy" for s in frame["source"].unique()}, _SHARED)
    keys = frame_keys(norm)
    for i, (raw, want) in enumerate(zip(raws, _rows(norm))):
        got = normalise_record(raw, "mdy", _SHARED)
        _assert_same_record(got, want)
        assert record_keys(got) == keys[i]


def test_frame_keeps_values_apart_that_differ_after_a_nul():
    """pandas' string hash table stops at a NUL; the frame must still parse "" and "\\x00" apart."""
    raws = [{"record_id": "1", "dob": "", "first_name": "Ann"}, {"record_id": "2", "dob": "\x00", "first_name": "Ann\x00x"},
            {"record_id": "3", "dob": "1980-03-04\x00", "first_name": "Ann"}]
    norm = normalise_frame(validate_records(pd.DataFrame(raws)), {"default": None}, {})
    for raw, want in zip(raws, _rows(norm)):
        _assert_same_record(normalise_record(raw, None, {}), want)
    assert list(norm["quality_flags"])[:2] == ["", "dob_unparseable"]


# --------------------------------------------------------------------------------------------
# blocking keys
# --------------------------------------------------------------------------------------------

def test_record_keys_equal_frame_keys(dataset):
    norm = normalise_frame(dataset)
    stats = PopulationStats.from_normalised(norm)
    want = frame_keys(norm)
    assert sum(map(len, want)) > len(norm)  # most records have several keys
    for i, raw in enumerate(_rows(dataset)):
        assert record_keys(normalise_record(raw, stats.day_order.get(raw["source"]), stats.shared)) == want[i]


def test_each_rule_part_agrees_vectorised_and_on_one_record(dataset):
    norm = normalise_frame(dataset)
    rows = _rows(norm)
    for rule in RULES:
        for part in (rule.key, rule.refine):
            if part is not None:
                assert part.frame(norm).tolist() == [part.value(r) for r in rows], (rule.name, part.label)


def _reference_rules() -> tuple[BlockingRule, ...]:
    """The DataFrame-only rule definitions the named key parts replaced (kept as the reference
    the batch pairs must still equal)."""
    def join(*parts):
        out = parts[0].astype(str)
        missing = out == ""
        for p in parts[1:]:
            p = p.astype(str)
            missing |= p == ""
            out = out + "|" + p
        return out.where(~missing, "")

    def dob(f):
        lo = np.minimum(f["dob_month"], f["dob_day"]).astype(str).str.zfill(2)
        hi = np.maximum(f["dob_month"], f["dob_day"]).astype(str).str.zfill(2)
        return (f["dob_year"].astype(str) + lo + hi).where(f["dob"] != "", "")

    def names(f):
        a, b = f["first_phonetic"], f["last_phonetic"]
        return join(a.where(a <= b, b), b.where(a <= b, a))

    def ini(s):
        return s.str[:1]

    return (
        BlockingRule("ssn", lambda f: f["ssn"].where(f["ssn"].str.len() >= 5, ""),
                     refine=lambda f: ini(f["last_phonetic"])),
        BlockingRule("ssn_last4+first_initial", lambda f: join(f["ssn_last4"], ini(f["first_token"])),
                     refine=lambda f: f["dob_year"].astype(str)),
        BlockingRule("dob+last_initial", lambda f: join(dob(f), ini(f["last"])), refine=lambda f: f["first_phonetic"]),
        BlockingRule("first+last_phonetic", names, refine=lambda f: f["dob_year"].astype(str)),
        BlockingRule("phone", lambda f: f["phone"], refine=lambda f: ini(f["first_token"])),
        BlockingRule("email", lambda f: f["email"], refine=lambda f: ini(f["first_token"])),
        BlockingRule("address+first_initial",
                     lambda f: join(f["house_number"], f["street_name"].str[:4], ini(f["first_token"])),
                     refine=lambda f: f["zip"], max_block=25),
        BlockingRule("last_phonetic+first_initial", lambda f: join(f["last_phonetic"], ini(f["first_token"])),
                     refine=lambda f: ini(f["middle"]) + f["zip"].str[:3], max_block=10),
        BlockingRule("first_token+middle_initial+last_initial",
                     lambda f: join(f["first_token"], ini(f["middle"]), ini(f["last"])),
                     refine=lambda f: f["zip"], max_block=20),
        BlockingRule("last_phonetic+middle_initial", lambda f: join(f["last_phonetic"], ini(f["middle"])),
                     refine=lambda f: ini(f["first_token"]), max_block=30),
        BlockingRule("dob", dob, refine=lambda f: ini(f["first_token"]), max_block=8),
        BlockingRule("street+last_initial", lambda f: join(f["street"], ini(f["last"])),
                     refine=lambda f: ini(f["first_token"]), max_block=25),
    )


def test_batch_candidate_pairs_unchanged(dataset):
    norm = normalise_frame(dataset)
    reference = _reference_rules()
    assert [r.name for r in reference] == [r.name for r in RULES]
    assert [r.max_block for r in reference] == [r.max_block for r in RULES]
    got, want = candidate_pairs(norm), candidate_pairs(norm, rules=reference)
    assert np.array_equal(got.codes, want.codes)
    assert [(s.pairs, s.new_pairs, s.oversized_blocks, s.records_in_dropped_blocks) for s in got.stats] == \
        [(s.pairs, s.new_pairs, s.oversized_blocks, s.records_in_dropped_blocks) for s in want.stats]
    for rule, ref in zip(RULES, reference):
        assert rule.key(norm).tolist() == ref.key(norm).tolist(), rule.name
        assert rule.refine(norm).astype(str).tolist() == ref.refine(norm).astype(str).tolist(), rule.name


# --------------------------------------------------------------------------------------------
# small record tables
# --------------------------------------------------------------------------------------------

def _groups(norm: pd.DataFrame, n_groups: int = 40, size: int = 41) -> list[np.ndarray]:
    """A query record and its candidate pairs' partners (plus random others to fill)."""
    cand = candidate_pairs(norm)
    rng = np.random.default_rng(7)
    groups = []
    for q in rng.choice(len(norm), n_groups, replace=False):
        partners = np.r_[cand.right[cand.left == q], cand.left[cand.right == q]]
        fill = rng.choice(len(norm), size, replace=False)
        members = pd.unique(np.r_[q, partners, fill])[:size]
        groups.append(np.asarray(members, dtype=np.int64))
    return groups


def test_from_records_equals_from_frame(dataset, model):
    norm = normalise_frame(dataset)
    stats = PopulationStats.from_normalised(norm)
    full = RecordTable.from_frame(norm)
    rows = _rows(norm)
    for members in _groups(norm):
        small = RecordTable.from_records([rows[i] for i in members], stats)
        ref = full.subset(members)
        assert list(small.record_id) == list(ref.record_id)
        for name in ("text", "numbers", "flags", "lengths", "term_frequency"):
            got, want = getattr(small, name), getattr(ref, name)
            assert got.keys() == want.keys(), name
            for col in want:
                assert got[col].dtype == want[col].dtype, (name, col)
                assert np.array_equal(got[col], want[col], equal_nan=want[col].dtype.kind == "f"), (name, col)
        assert small.population == ref.population
        assert list(small.first_family) == list(ref.first_family)
        assert small.codes.keys() == ref.codes.keys()
        for col, code in small.codes.items():  # equal code iff equal value, -1 iff missing
            same = code[:, None] == code[None, :]
            assert np.array_equal(same, ref.codes[col][:, None] == ref.codes[col][None, :]), col
            assert np.array_equal(code < 0, ref.codes[col] < 0), col
        # the query against every other member, and every pair among the members
        a, b = np.triu_indices(len(members), 1)
        g_small, s_small = gamma_matrix(small, a, b)
        g_full, s_full = gamma_matrix(full, members[a], members[b])
        assert np.array_equal(g_small, g_full) and np.array_equal(s_small, s_full)
        sc_small = model.score(small, a, b, g_small, s_small)
        sc_full = model.score(full, members[a], members[b], g_full, s_full)
        assert np.array_equal(sc_small.match_weight, sc_full.match_weight)
        d_small, d_full = decide(sc_small, small, Thresholds()), decide(sc_full, full, Thresholds())
        assert np.array_equal(d_small.decision, d_full.decision)
        assert np.array_equal(d_small.cannot_link, d_full.cannot_link)
        assert list(d_small.rule) == list(d_full.rule)


def test_from_records_text_columns_are_the_records_values():
    rows = [normalise_record({"record_id": str(i), "first_name": n, "dob": "1980-03-04", "phone": "555-123-4567"})
            for i, n in enumerate(["Ann", "Bob", "Ann", ""])]
    stats = PopulationStats(counts={"first": {"ann": 5}}, totals={"first": 10})
    t = RecordTable.from_records(rows, stats)
    assert set(t.text) == set(TEXT_COLUMNS)
    assert list(t.codes["first"][[0, 2]]) == [t.codes["first"][0]] * 2 and t.codes["first"][1] != t.codes["first"][0]
    assert t.codes["first"][3] == -1
    assert np.allclose(t.term_frequency["first"][:3], [0.5, 0.1, 0.5]) and np.isnan(t.term_frequency["first"][3])
    assert t.numbers["dob_days"][0] == (pd.Timestamp("1980-03-04") - pd.Timestamp("1970-01-01")).days


# --------------------------------------------------------------------------------------------
# threads
# --------------------------------------------------------------------------------------------

def test_small_inputs_use_one_thread(monkeypatch):
    monkeypatch.setenv("MPI_WORKERS", "8")
    assert threads_per_task(40) == 1 and threads_per_task(5_000) == 1
    assert threads_per_task(1_000_000) == 8 and threads_per_task() == 8


def test_scores_follow_weights_replaced_after_scoring():
    """The model caches its weights as one lookup table; replacing ``weights_`` (a model being
    re-fitted or trained on labels) must change the next scores, by exactly the change."""
    import copy
    result = resolve_frame(read_records_csv(EXAMPLES))
    model = copy.deepcopy(result.model)
    table = RecordTable.from_frame(result.records)
    a, b = np.arange(0, 40), np.arange(1, 41)
    before = model.score(table, a, b)
    dob = [c.name for c in model.comparisons].index("dob")
    for _ in range(3):  # new arrays, over and over: a freed array's id must not pass for an old one
        model.weights_ = [w + 1.0 if j == dob else w.copy() for j, w in enumerate(model.weights_)]
    after = model.score(table, a, b)
    present = before.gamma[:, dob] >= 0
    assert np.allclose(after.match_weight[present] - before.match_weight[present], 3.0, atol=1e-4)
    assert np.allclose(after.match_weight[~present], before.match_weight[~present])
