"""Look-alike families measured from the data: FEBRL (whole fields re-keyed, no twins, no
families) shows none, and the same data with twins, parents or spouses added to it shows them,
keeps its look-alike rules and keeps those people apart."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from febrl_support import febrl3, febrl4
from mpi.compare.table import RecordTable
from mpi.decision import RULE_TWIN, Decision, decide
from mpi.lookalikes import ALL_PRESENT, Lookalikes, measure
from mpi.normalise.frame import normalise_frame
from mpi.pipeline import compute_gamma, learn_population, measure_lookalikes, resolve_frame
from mpi.population import PopulationStats
from mpi.records import validate_records
from mpi.service import MasterPatientIndex


def _lookalikes(records: pd.DataFrame) -> Lookalikes:
    return measure_lookalikes(normalise_frame(validate_records(records)))


@pytest.fixture(scope="module")
def febrl() -> tuple[pd.DataFrame, pd.Series]:
    return febrl3()


def _relatives(records: pd.DataFrame, person: pd.Series, kind: str, n: int, seed: int = 5) -> pd.DataFrame:
    """One new person per chosen FEBRL person, at the same address with the same surname: a twin
    (same birth date), a parent (born 28 years earlier) or a spouse (born two years apart); each
    with another first name and an SSN of their own."""
    rng = np.random.default_rng(seed)
    firsts = records.loc[records["first_name"] != "", "first_name"].unique()
    complete = (records[["first_name", "last_name", "dob", "ssn", "street"]] != "").all(axis=1)
    complete &= records["dob"].str.fullmatch(r"(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d)")
    chosen = rng.choice(np.flatnonzero(complete.to_numpy()), n, replace=False)
    rows = []
    for k, i in enumerate(chosen):
        base = records.iloc[i].to_dict()
        year = int(base["dob"][:4])
        dob = {"twin": base["dob"], "parent": f"{year - 28}{base['dob'][4:]}",
               "spouse": f"{year + 2}{base['dob'][4:6]}15"}[kind]
        first = rng.choice(firsts)
        while first == base["first_name"]:
            first = rng.choice(firsts)
        rows.append({**base, "record_id": f"{kind}:{k}", "first_name": first, "dob": dob,
                     "ssn": str(rng.integers(1_000_000, 9_999_999))})
    return pd.DataFrame(rows, index=[f"{kind}:{k}" for k in range(n)]).assign(
        relative_of=person.iloc[chosen].to_numpy())


def test_febrl_shows_no_lookalikes(febrl):
    for records, _ in (febrl, febrl4()):
        norm = normalise_frame(validate_records(records))
        assert measure_lookalikes(norm) == Lookalikes(twin=False, generation=False, household=False)


def test_evidence_counts_on_febrl(febrl):
    """The errors-only expectation explains FEBRL's pattern pairs: they are true duplicates."""
    records, person = febrl
    norm = normalise_frame(validate_records(records))
    res = resolve_frame(records)
    ids = res.records["record_id"].to_numpy()
    pid = person.to_numpy()[pd.Index(records["record_id"]).get_indexer(ids)]
    p = res.candidates
    table = RecordTable.from_frame(norm)
    gamma, _ = compute_gamma(table, p.left, p.right)
    evidence = measure(table, p.left, p.right, gamma)
    for family, ev in evidence.items():
        assert ev.witnesses >= 30, family
        assert ev.observed <= ev.expected + np.sqrt(ev.expected), family
    # the measurement's input is FEBRL's own candidates, most of which are true duplicates
    assert (pid[p.left] == pid[p.right]).mean() > 0.5


@pytest.mark.parametrize("kind,family", [("twin", "twin"), ("parent", "generation"), ("spouse", "household")])
def test_added_relatives_are_detected_and_kept_apart(febrl, kind, family):
    records, person = febrl
    relatives = _relatives(records, person, kind, 60)
    data = pd.concat([records, relatives.drop(columns="relative_of")], ignore_index=True)
    found = _lookalikes(data)
    assert getattr(found, family), f"{kind}s added to FEBRL were not detected"
    clusters = resolve_frame(data).clusters.set_index("record_id")["cluster_id"]
    person_of = pd.Series(person.to_numpy(), index=records["record_id"])
    merged = 0
    for rid, relative_of in relatives["relative_of"].items():
        kin = person_of.index[person_of == relative_of]
        merged += int((clusters.loc[kin] == clusters.loc[rid]).any())
    assert merged == 0, f"{merged} added {kind}s were merged with their relative"


def test_too_few_pairs_keep_every_rule(febrl):
    records, _ = febrl
    assert _lookalikes(records.head(150)) == ALL_PRESENT


def test_an_absent_family_lifts_only_its_own_rules():
    rows = pd.DataFrame([
        {"record_id": "a", "first_name": "Jayden", "last_name": "Okafor", "dob": "2012-05-05", "sex": "M",
         "ssn": "601-22-3456", "street": "12 Main Street", "zip": "43215"},
        {"record_id": "b", "first_name": "Marcus", "last_name": "Okafor", "dob": "2012-05-05", "sex": "M",
         "ssn": "734-19-2088", "street": "12 Main Street", "zip": "43215"}])
    table = RecordTable.from_frame(normalise_frame(validate_records(rows)))
    scored = _score_one_pair(table)
    assert decide(scored, table).rule[0] == RULE_TWIN
    assert decide(scored, table, lookalikes=Lookalikes(twin=False)).rule[0] != RULE_TWIN
    assert decide(scored, table, lookalikes=Lookalikes(generation=False, household=False)).rule[0] == RULE_TWIN


def _score_one_pair(table: RecordTable):
    """Pair (0, 1) scored by a model learned on FEBRL 3 (any fitted model will do)."""
    records, _ = febrl3()
    model, _ = learn_population(normalise_frame(validate_records(records.head(2000))))
    return model.score(table, np.array([0]), np.array([1]))


def test_population_stats_carry_lookalikes(febrl):
    records, _ = febrl
    stats = PopulationStats.from_normalised(normalise_frame(validate_records(records)))
    assert stats.lookalikes == Lookalikes(twin=False, generation=False, household=False)
    again = PopulationStats.from_dict(stats.to_dict())
    assert again.lookalikes == stats.lookalikes
    saved_before = {k: v for k, v in stats.to_dict().items() if k != "lookalikes"}
    assert PopulationStats.from_dict(saved_before).lookalikes == ALL_PRESENT


def test_store_decides_with_the_lookalikes_of_its_model(febrl, tmp_path):
    """The store measures look-alikes on the file its model is learned from and ingests with
    them: a FEBRL duplicate that the twin rule would hold links as it does in batch."""
    records, person = febrl
    res = resolve_frame(records)
    p = res.pairs
    table = RecordTable.from_frame(res.records)
    guarded = decide(res.model.score(table, p.left, p.right), table)  # every rule on
    pid = person.to_numpy()[pd.Index(records["record_id"]).get_indexer(res.records["record_id"])]
    k = np.flatnonzero((guarded.rule == RULE_TWIN) & (p.decision == Decision.AUTO_LINK)
                       & (pid[p.left] == pid[p.right]))
    assert len(k), "FEBRL 3 should hold duplicates that the twin rule alone keeps apart"
    ids = res.records["record_id"].to_numpy()
    first, second = (records.set_index("record_id").loc[ids[x[k[0]]]].to_dict() for x in (p.left, p.right))
    with MasterPatientIndex(f"sqlite:///{tmp_path / 'mpi.db'}") as store:
        store.learn_model(records, origin="febrl3")
        assert store.matcher.stats.lookalikes == res.lookalikes == Lookalikes(False, False, False)
        a = store.ingest({**first, "record_id": ids[p.left[k[0]]]})
        b = store.ingest({**second, "record_id": ids[p.right[k[0]]]})
    assert b.decision == "auto_link" and b.golden_id == a.golden_id
