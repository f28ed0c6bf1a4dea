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
from .compare.table import RecordTable
from .model.fellegi_sunter import ScoredPairs


class Decision(IntEnum):
    DISTINCT = 0
    REVIEW = 1
    AUTO_LINK = 2


@dataclass(frozen=True)
class Thresholds:
    """Match-probability thresholds: at or above ``auto_link`` merge, at or above ``review`` ask."""

    auto_link: float = 0.99
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
RULES = (RULE_SUFFIX_CONFLICT, RULE_GENERATION_GAP, RULE_TWIN, RULE_NEWBORN, RULE_SSN_CONFLICT,
         RULE_SEX_CONFLICT, RULE_HOUSEHOLD, RULE_NO_PERSON_EVIDENCE)
GENERATION_GAP_YEARS = 12


@dataclass
class PairDecisions:
    """Per pair: the decision, whether clustering must keep the two apart, and the rule (or "")."""

    decision: np.ndarray  # int8 Decision
    cannot_link: np.ndarray  # bool
    rule: np.ndarray  # object: rule name or ""


def decide(scored: ScoredPairs, table: RecordTable, thresholds: Thresholds = Thresholds()) -> PairDecisions:
    """Apply thresholds, then the look-alike rules, to every scored pair."""
    n = len(scored)
    a, b = scored.left, scored.right
    g = {name: scored.gamma[:, k] for k, name in enumerate(COMPARISON_NAMES)}
    p = scored.match_probability
    decision = np.where(p >= thresholds.auto_link, Decision.AUTO_LINK,
                        np.where(p >= thresholds.review, Decision.REVIEW, Decision.DISTINCT)).astype(np.int8)
    cannot = np.zeros(n, dtype=bool)
    rule = np.full(n, "", dtype=object)

    def apply(mask: np.ndarray, name: str, cap: Decision, hard: bool) -> None:
        hit = mask & (rule == "")
        if hard:
            cannot[hit] = True
        rule[hit] = name
        np.minimum(decision, np.int8(cap), out=decision, where=hit)

    sfx_a, sfx_b = table.text["suffix"][a], table.text["suffix"][b]
    suffix_conflict = (sfx_a != "") & (sfx_b != "") & (sfx_a != sfx_b)
    ya, yb = table.numbers["dob_year"][a], table.numbers["dob_year"][b]
    gap = (g["dob"] == 0) & (np.abs(ya - yb) >= GENERATION_GAP_YEARS)
    first_conflict = g["first_name"] == 0
    first_weak = (g["first_name"] >= 1) & (g["first_name"] <= 3)  # similar-looking but not the same name
    dob_same = g["dob"] >= 3
    ssn_same = g["ssn"] == 3
    ssn_conflict = table.flags["ssn_valid"][a] & table.flags["ssn_valid"][b] & (g["ssn"] == 0)
    sex_conflict = g["sex"] == 0
    dob_conflict = g["dob"] == 0
    newborn = table.flags["newborn"][a] | table.flags["newborn"][b]

    person_support = (g["first_name"] >= 4) | (g["dob"] >= 2) | (g["ssn"] >= 1) | (g["email"] == 2)
    strong_person = (g["first_name"] >= 4) | (g["dob"] >= 3) | (g["ssn"] >= 2) | (g["email"] == 2)
    # hard rules first: each makes a cannot-link
    apply(suffix_conflict, RULE_SUFFIX_CONFLICT, Decision.DISTINCT, hard=True)
    # Parent and child share name and address but never an SSN: an exact SSN and first name
    # outweigh a birth date that disagrees entirely (a keying error), and suffixes still apply.
    apply(gap & ~(ssn_same & (g["first_name"] >= 4)), RULE_GENERATION_GAP, Decision.DISTINCT, hard=True)
    first_not_exact = g["first_name"] < 6  # includes missing: a nameless record of a twin
    apply(dob_same & (first_conflict | (sex_conflict & first_not_exact)) & ~ssn_same, RULE_TWIN,
          Decision.DISTINCT, hard=True)
    apply(newborn & dob_conflict, RULE_NEWBORN, Decision.DISTINCT, hard=True)
    apply(ssn_conflict & (dob_conflict | first_conflict | sex_conflict), RULE_SSN_CONFLICT, Decision.DISTINCT,
          hard=True)
    apply(sex_conflict & (first_conflict | first_weak | dob_conflict), RULE_SEX_CONFLICT, Decision.DISTINCT,
          hard=True)
    apply(first_conflict & ~person_support, RULE_HOUSEHOLD, Decision.DISTINCT, hard=True)
    # then caps at REVIEW: plausible, but a person should look before these merge
    # Twins share surname, birth date, address and phone, and often near-identical first names
    # (Paul/Paula, Emily/Emma): with the same birth date only an exact first name or an exact
    # SSN (twins never share one) allows an automatic link.
    two_identifiers = ssn_same & dob_same
    apply(dob_same & first_not_exact & ~ssn_same, RULE_TWIN, Decision.REVIEW, hard=False)
    apply(newborn & ~ssn_same, RULE_NEWBORN, Decision.REVIEW, hard=False)
    apply(ssn_conflict, RULE_SSN_CONFLICT, Decision.REVIEW, hard=False)
    apply(sex_conflict & ~(dob_same & (g["first_name"] >= 4)), RULE_SEX_CONFLICT, Decision.REVIEW, hard=False)
    apply(first_conflict & ~two_identifiers, RULE_HOUSEHOLD, Decision.REVIEW, hard=False)
    apply(~strong_person, RULE_NO_PERSON_EVIDENCE, Decision.REVIEW, hard=False)
    return PairDecisions(decision, cannot, rule)
