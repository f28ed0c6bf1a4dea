"""Pairwise decisions: two thresholds, then explicit rules for look-alikes.

A match weight alone cannot tell twins, a father and his Jr., or a mother and her newborn from
one person: they share surname, address, phone and sometimes a date of birth. The rules below
look at *which* fields agree and conflict, and either cap a pair at REVIEW or rule it DISTINCT.
A pair ruled DISTINCT by a rule is also a *cannot-link* constraint for clustering, so no chain
of other links can put the two records in one golden record.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from .compare.comparisons import COMPARISON_NAMES
from .compare.similarity import one_edit_apart
from .compare.table import RecordTable
from .lookalikes import ALL_PRESENT, GENERATION_GAP_YEARS, Lookalikes
from .model.fellegi_sunter import ScoredPairs


class Decision(IntEnum):
    DISTINCT = 0
    REVIEW = 1
    AUTO_LINK = 2


@dataclass(frozen=True)
class Thresholds:
    """Match-probability thresholds: at or above ``auto_link`` merge, at or above ``review`` ask."""

    auto_link: float = 0.95
    review: float = 0.70

    def __post_init__(self) -> None:
        if not 0.0 < self.review <= self.auto_link < 1.0:
            raise ValueError("thresholds must satisfy 0 < review <= auto_link < 1")


# Rule names, in the order they are checked; a pair reports the first that fired.
RULE_SUFFIX_CONFLICT = "suffix conflict (Jr/Sr)"
RULE_GENERATION_GAP = "birth years a generation apart"
RULE_TWIN = "same birth date, different first name (twins)"
RULE_NEWBORN = "newborn placeholder name without matching birth date"
RULE_SSN_CONFLICT = "conflicting valid SSNs"
RULE_SEX_CONFLICT = "conflicting sex"
RULE_HOUSEHOLD = "different first name, only household fields agree"
RULE_NO_PERSON_EVIDENCE = "no agreeing personal identifier (first name, birth date, SSN, e-mail)"
RULE_NAMES_ONLY = "names agree but no birth date, SSN or e-mail does"
RULE_BRIDGE = "matches two people who were ruled apart"
RULE_SIBLING = "different birth date and first name not the same (siblings)"
RULES = (RULE_BRIDGE, RULE_SUFFIX_CONFLICT, RULE_GENERATION_GAP, RULE_TWIN, RULE_NEWBORN, RULE_SSN_CONFLICT,
         RULE_SEX_CONFLICT, RULE_SIBLING, RULE_HOUSEHOLD, RULE_NO_PERSON_EVIDENCE)
_RULE_NAMES = np.array(["", *RULES, RULE_NAMES_ONLY], dtype=object)  # decide() codes rules by position here
_RULE_CODE = {name: code for code, name in enumerate(_RULE_NAMES.tolist()) if name}
# the rules that guard against each family of look-alikes measured by mpi.lookalikes
FAMILY_RULES = {"twin": (RULE_TWIN,), "generation": (RULE_GENERATION_GAP,), "household": (RULE_HOUSEHOLD,)}


@dataclass
class PairDecisions:
    """Per pair: the decision, whether clustering must keep the two apart, and the rule (or "")."""

    decision: np.ndarray  # int8 Decision
    cannot_link: np.ndarray  # bool
    rule: np.ndarray  # object: rule name or ""


def conflicting(cannot_link: np.ndarray, rule: np.ndarray) -> np.ndarray:
    """Pairs that count against putting two records in one golden record: ruled apart, or capped
    at review by a look-alike rule. A pair capped only for lack of evidence is no evidence of two
    people. Batch clustering and real-time ingest both count conflicts with this."""
    return cannot_link | ((rule != "") & (rule != RULE_NO_PERSON_EVIDENCE))


CONSECUTIVE_SSN_SPAN = 100  # twins' SSNs are issued one after the other, or nearly


def _ssn_conflict(table: RecordTable, a: np.ndarray, b: np.ndarray, ssn_gamma: np.ndarray) -> np.ndarray:
    """Two SSNs that cannot be one person's: both valid and far apart, or last four digits that
    differ where one side is masked (``***-**-1234``)."""
    both_valid = table.flags["ssn_valid"][a] & table.flags["ssn_valid"][b]
    la, lb = table.codes["ssn_last4"][a], table.codes["ssn_last4"][b]
    masked = (table.codes["ssn"][a] < 0) | (table.codes["ssn"][b] < 0)
    return (both_valid & (ssn_gamma == 0)) | (masked & (la >= 0) & (lb >= 0) & (la != lb))


def _ssn_mistyped(table: RecordTable, a: np.ndarray, b: np.ndarray, ssn_gamma: np.ndarray) -> np.ndarray:
    """SSNs one keystroke apart that are not (nearly) consecutive numbers: one SSN mistyped.

    Consecutive numbers are what twins get, so "one digit off" alone proves nothing; a
    substituted or swapped digit that moves the number by a hundred or more is a keying error.
    """
    out = np.zeros(len(a), dtype=bool)
    idx = np.flatnonzero(ssn_gamma == 1)
    if len(idx):
        sa = table.text["ssn"][a[idx]]
        sb = table.text["ssn"][b[idx]]
        diff = np.abs(np.array([int(x) - int(y) for x, y in zip(sa, sb)], dtype=np.int64))
        out[idx] = diff >= CONSECUTIVE_SSN_SPAN
    return out


TYPO_FREQUENCY_RATIO = 0.1  # a misspelling is at most this common relative to the name it misspells
TYPO_MAX_COUNT = 3  # ... and this rare in absolute terms (a real name recurs in a population)


def _twin_evidence(scored: ScoredPairs, table: RecordTable, g: dict[str, np.ndarray],
                   suspect: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For same-birth-date pairs whose first names differ: evidence of one person, of two.

    One person: the first names are a misspelling of each other (one edit apart, and one of
    them is rare next to the other in this population: twins are given two real names), a
    nickname with an agreeing middle initial, agreeing SSN last four, or the same e-mail.
    Two people: conflicting sex, conflicting middle initials, or two full SSNs far apart.
    """
    n = len(scored)
    same_person = np.zeros(n, dtype=bool)
    two_people = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(suspect)
    if len(idx) == 0:
        return same_person, two_people
    a, b = scored.left[idx], scored.right[idx]
    fa, fb = table.text["first"][a], table.text["first"][b]
    both = (fa != "") & (fb != "")
    close = np.zeros(len(idx), dtype=bool)
    if both.any():
        close[both] = one_edit_apart(fa[both], fb[both])
    count_a, count_b = table.value_count("first", a), table.value_count("first", b)
    rarer, commoner = np.minimum(count_a, count_b), np.maximum(count_a, count_b)
    with np.errstate(invalid="ignore", divide="ignore"):
        typo = both & close & (rarer <= TYPO_MAX_COUNT) & (rarer <= TYPO_FREQUENCY_RATIO * commoner)
    gi = {k: v[idx] for k, v in g.items()}
    nickname_and_middle = (gi["first_name"] == 5) & (gi["middle_name"] >= 1)
    ssn_far = _ssn_conflict(table, a, b, gi["ssn"])
    two_people[idx] = (gi["sex"] == 0) | (gi["middle_name"] == 0) | ssn_far
    same_person[idx] = (typo | nickname_and_middle | (gi["ssn"] >= 2)) & ~two_people[idx]
    return same_person, two_people


def decide(scored: ScoredPairs, table: RecordTable, thresholds: Thresholds = Thresholds(),
           lookalikes: Lookalikes = ALL_PRESENT) -> PairDecisions:
    """Apply thresholds, then the look-alike rules, to every scored pair.

    ``lookalikes`` says which families of look-alikes the population holds (see
    :mod:`mpi.lookalikes`); a family's rules apply only where it may be present, which is
    everywhere unless the data showed otherwise."""
    n = len(scored)
    a, b = scored.left, scored.right
    g = {name: scored.gamma[:, k] for k, name in enumerate(COMPARISON_NAMES)}
    p = scored.match_probability
    decision = np.where(p >= thresholds.auto_link, Decision.AUTO_LINK,
                        np.where(p >= thresholds.review, Decision.REVIEW, Decision.DISTINCT)).astype(np.int8)
    cannot = np.zeros(n, dtype=bool)
    rule = np.zeros(n, dtype=np.int8)  # index into _RULE_NAMES; 0 = no rule yet

    absent = {name for family, names in FAMILY_RULES.items() if not getattr(lookalikes, family) for name in names}

    def apply(mask: np.ndarray, name: str, cap: Decision, hard: bool) -> None:
        if name in absent:
            return
        hit = mask & (rule == 0)
        if not hit.any():
            return
        if hard:
            cannot[hit] = True
        rule[hit] = _RULE_CODE[name]
        np.minimum(decision, np.int8(cap), out=decision, where=hit)

    sfx_a, sfx_b = table.text["suffix"][a], table.text["suffix"][b]
    suffix_conflict = (sfx_a != "") & (sfx_b != "") & (sfx_a != sfx_b)
    ya, yb = table.numbers["dob_year"][a], table.numbers["dob_year"][b]
    # 1950 and 1980 are one keystroke apart, and a generation apart: the gap decides, not the edit
    gap = (g["dob"] >= 0) & (g["dob"] <= 2) & (np.abs(ya - yb) >= GENERATION_GAP_YEARS)
    first_conflict = g["first_name"] == 0
    first_weak = (g["first_name"] >= 1) & (g["first_name"] <= 3)  # similar-looking but not the same name
    dob_same = g["dob"] >= 3
    ssn_same = (g["ssn"] == 3) | _ssn_mistyped(table, a, b, g["ssn"])
    ssn_conflict = _ssn_conflict(table, a, b, g["ssn"])
    sex_conflict = g["sex"] == 0
    dob_conflict = g["dob"] == 0
    newborn = table.flags["newborn"][a] | table.flags["newborn"][b]

    person_support = (g["first_name"] >= 4) | (g["dob"] >= 2) | (g["ssn"] >= 1) | (g["email"] == 2)
    strong_person = (g["first_name"] >= 4) | (g["dob"] >= 3) | (g["ssn"] >= 2) | (g["email"] == 2)
    # hard rules first: each makes a cannot-link
    apply(suffix_conflict, RULE_SUFFIX_CONFLICT, Decision.DISTINCT, hard=True)
    suffix_one_side = (sfx_a != "") != (sfx_b != "")
    # Parent and child share name and address but never an SSN: an exact SSN and first name
    # outweigh a birth date that disagrees entirely (a keying error), and suffixes still apply.
    apply(gap & ~(ssn_same & (g["first_name"] >= 4)), RULE_GENERATION_GAP, Decision.DISTINCT, hard=True)
    exact_swap = scored.swapped & (table.text["first"][a] == table.text["last"][b]) & (
        table.text["last"][a] == table.text["first"][b])
    # with first and last swapped, the given names are compared under "last_name"
    names_differ = (g["first_name"] < 6) | (scored.swapped & (g["last_name"] < 4))
    twin_suspect = dob_same & names_differ & ~ssn_same & ~newborn & ~exact_swap
    same_person, two_people = _twin_evidence(scored, table, g, twin_suspect)
    apply(twin_suspect & (first_conflict | two_people), RULE_TWIN, Decision.DISTINCT, hard=True)
    apply(newborn & dob_conflict, RULE_NEWBORN, Decision.DISTINCT, hard=True)
    apply(ssn_conflict & (dob_conflict | first_conflict | sex_conflict), RULE_SSN_CONFLICT, Decision.DISTINCT,
          hard=True)
    apply(sex_conflict & (first_conflict | first_weak | dob_conflict), RULE_SEX_CONFLICT, Decision.DISTINCT,
          hard=True)
    apply(first_conflict & ~person_support, RULE_HOUSEHOLD, Decision.DISTINCT, hard=True)
    # then caps at REVIEW: plausible, but a person should look before these merge
    # Twins share surname, birth date, address and phone, and often near-identical first names
    # (Paul/Paula, Emily/Emma): with the same birth date and a first name that is not exactly
    # the same, a link needs evidence of one person (see _twin_evidence) or a steward.
    two_identifiers = ssn_same & dob_same
    apply(twin_suspect & ~same_person, RULE_TWIN, Decision.REVIEW, hard=False)
    # SSNs a few numbers apart are issued to twins; with first names that are not the same, a
    # birth date keyed one digit off does not make them one person
    consecutive_ssn = (g["ssn"] == 1) & ~ssn_same
    apply(consecutive_ssn & (g["first_name"] < 6) & (g["dob"] >= 1), RULE_TWIN, Decision.REVIEW, hard=False)
    apply(newborn & ~ssn_same, RULE_NEWBORN, Decision.REVIEW, hard=False)
    apply(ssn_conflict, RULE_SSN_CONFLICT, Decision.REVIEW, hard=False)
    # "David Ramsey" and "David Ramsey Jr": a father's records often omit "Sr"; only an agreeing
    # birth date shows the suffix was merely left off.
    apply(suffix_one_side & ~dob_same & ~ssn_same, RULE_SUFFIX_CONFLICT, Decision.REVIEW, hard=False)
    # Siblings share surname, address and phone, and nickname tables relate many given names
    # (Lisa and Betty are both Elizabeth): a different birth date with a first name that is
    # not exactly the same needs a steward, unless the SSN agrees.
    apply(dob_conflict & (g["first_name"] < 6) & ~ssn_same, RULE_SIBLING, Decision.REVIEW, hard=False)
    # a boy and a girl born together are often named alike (Eric and Erica, Paul and Paula), and
    # one twin's SSN is easily filed on the other's record: only the same name (or a nickname)
    # with the same birth date says the sex was merely mis-keyed
    apply(sex_conflict & ~(dob_same & (g["first_name"] >= 5)), RULE_SEX_CONFLICT, Decision.REVIEW, hard=False)
    apply(first_conflict & ~two_identifiers, RULE_HOUSEHOLD, Decision.REVIEW, hard=False)
    apply(~strong_person, RULE_NO_PERSON_EVIDENCE, Decision.REVIEW, hard=False)
    # A rare name weighs a lot, but a query that brings only a name must not come back
    # "certain", and a name with an address and a phone is what a father and the son named
    # after him share (the suffix is often left off). Without an agreeing birth date, SSN or
    # e-mail (an SSN one keystroke off that is not a neighbouring number is one person's,
    # mistyped), a link needs something beyond the name. A record without a birth date that
    # matches both a father and his son is then held by the population pass
    # (mpi.ambiguity.hold_bridge_links).
    identified = (g["dob"] >= 2) | (g["ssn"] >= 2) | ssn_same | (g["email"] == 2)
    more_than_name = (g["middle_name"] >= 1) | (g["street"] >= 1) | (g["phone"] >= 1) | (g["city"] >= 1) | (
        g["zip"] >= 1)
    apply(~identified & ~more_than_name, RULE_NAMES_ONLY, Decision.REVIEW, hard=False)
    return PairDecisions(decision, cannot, _RULE_NAMES[rule])
