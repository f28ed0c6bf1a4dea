"""Does this population hold look-alikes? Measured from its own candidate pairs.

The look-alike rules in :mod:`mpi.decision` (twins, parent and child, household members) keep
apart pairs whose fields look like one person to a match weight. They are right wherever such
people exist, and in a hospital population they do. But a file can also come from a process that
corrupts fields wholesale (a first name replaced by another, a birth date re-keyed), where the
same patterns are nothing but one person's records with two errors, and the rules then split
hundreds of true duplicates.

Each family of look-alikes leaves a trace that errors do not: an *excess* of pairs showing the
pattern, beyond what independent keying errors explain. Take twins. Among pairs with the same
surname, birth date and address but different first names, a duplicate usually still agrees on
its SSN, while twins never do. How often a duplicate's SSN disagrees is measured on pairs that
are surely one person (same full name, birth date and address); that rate, times the pattern
pairs whose SSN agrees, is how many SSN-disagreeing pattern pairs errors alone would give. Twins
show up as many more than that. A family's rules are switched off only when the data show
enough duplicates to measure and no excess beyond one standard deviation of that expectation.
Every other case, including a file too small to tell, keeps the rules.

The measurement uses comparison levels only (no model), so the batch path takes it from the file
it resolves and the store from the file its model was learned on, frozen in the population
statistics.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .compare.comparisons import COMPARISON_NAMES
from .compare.table import RecordTable

FAMILIES = ("twin", "generation", "household")
MIN_WITNESSES = 30  # pattern pairs that agree on the witness: fewer cannot tell errors from look-alikes
MIN_CONTROLS = 30  # same-person control pairs needed to measure an error rate
GENERATION_GAP_YEARS = 12  # birth years this far apart are a generation (the decision rules use it too)


@dataclass(frozen=True)
class FamilyEvidence:
    """One family's counts: ``witnesses`` pattern pairs that agree on the witness fields (one
    person), ``observed`` pattern pairs that do not, ``expected`` how many of those keying
    errors alone explain."""

    witnesses: int
    observed: int
    expected: float

    @property
    def present(self) -> bool:
        """Keep the family's rules unless there is enough evidence that it is absent."""
        if self.witnesses < MIN_WITNESSES or not np.isfinite(self.expected):
            return True
        return bool(self.observed > self.expected + np.sqrt(self.expected))


@dataclass(frozen=True)
class Lookalikes:
    """Which look-alike families the decision rules must guard against (all, by default)."""

    twin: bool = True
    generation: bool = True
    household: bool = True

    def to_dict(self) -> dict[str, bool]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> "Lookalikes":
        """Missing keys mean present: statistics saved before this measurement keep every rule."""
        data = data or {}
        return cls(**{f: bool(data.get(f, True)) for f in FAMILIES})


ALL_PRESENT = Lookalikes()


def _rate(disagree: np.ndarray, control: np.ndarray) -> float:
    """Share of control pairs (surely one person) whose witness field disagrees; NaN if too few."""
    n = int(control.sum())
    return float((disagree & control).sum()) / n if n >= MIN_CONTROLS else float("nan")


def _evidence(pattern: np.ndarray, agree: np.ndarray, error_rates: list[float]) -> FamilyEvidence:
    """Pattern pairs agreeing on every witness field are one person; each witness field errs
    independently at its measured rate, so for each such pair errors make
    ``1 / prod(1 - rate) - 1`` more pattern pairs that disagree on some witness."""
    witnesses = int((pattern & agree).sum())
    observed = int((pattern & ~agree).sum())
    keep = float(np.prod([1.0 - r for r in error_rates]))
    expected = witnesses * (1.0 / keep - 1.0) if keep > 0 else float("nan")
    return FamilyEvidence(witnesses, observed, expected)


def measure(table: RecordTable, left: np.ndarray, right: np.ndarray,
            gamma: np.ndarray) -> dict[str, FamilyEvidence]:
    """Each family's evidence among the candidate pairs ``(left[k], right[k])`` with comparison
    levels ``gamma`` (as :func:`mpi.compare.comparisons.gamma_matrix` gives them)."""
    g = {name: gamma[:, k] for k, name in enumerate(COMPARISON_NAMES)}
    full_ssn = (table.codes["ssn"][left] >= 0) & (table.codes["ssn"][right] >= 0)
    newborn = table.flags["newborn"][left] | table.flags["newborn"][right]
    home = (g["street"] >= 2) | (g["phone"] == 2)  # the same address or home phone
    base = full_ssn & ~newborn & home & (g["first_name"] >= 0) & (g["dob"] >= 0)
    surname = g["last_name"] >= 3
    first_same, dob_same, ssn_same = g["first_name"] == 6, g["dob"] == 4, g["ssn"] == 3
    # error rates of one person's records, each measured with the other identifiers agreeing
    ssn_err = _rate(~ssn_same, base & surname & first_same & dob_same)
    first_err = _rate(~first_same, base & surname & dob_same & ssn_same)
    dob_err = _rate(~dob_same, base & surname & first_same & ssn_same)

    ya, yb = table.numbers["dob_year"][left], table.numbers["dob_year"][right]
    generation = (g["dob"] <= 2) & (np.abs(ya - yb) >= GENERATION_GAP_YEARS)
    return {
        # same surname, birth date and home, another first name: twins, or a re-keyed first name
        "twin": _evidence(base & surname & dob_same & ~first_same, ssn_same, [ssn_err]),
        # same surname and home, birth years a generation apart: parent and child, or a re-keyed date
        "generation": _evidence(base & surname & generation, first_same & ssn_same, [first_err, ssn_err]),
        # same home, a different first name: household members, or a re-keyed name
        "household": _evidence(base & (g["first_name"] == 0), ssn_same & dob_same, [ssn_err, dob_err]),
    }


def estimate(table: RecordTable, left: np.ndarray, right: np.ndarray, gamma: np.ndarray) -> Lookalikes:
    """Which families are present in this population (see the module docstring)."""
    evidence = measure(table, left, right, gamma)
    return Lookalikes(**{f: bool(evidence[f].present) for f in FAMILIES})
