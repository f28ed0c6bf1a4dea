"""RecordTable: normalised records as column arrays, ready for pairwise comparison.

Comparators index these arrays with the left and right record positions of each pair. Text
columns also get integer codes (equal code = equal value, ``-1`` = missing) so exact agreement is
a vector comparison, and per-value frequencies for the term-frequency adjustment.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..normalise.names import name_family

if TYPE_CHECKING:
    from ..population import PopulationStats

TEXT_COLUMNS = ("first", "first_token", "middle", "last", "last_tokens", "suffix", "first_phonetic",
                "last_phonetic", "dob", "sex", "ssn", "ssn_last4", "phone", "email", "street", "house_number",
                "street_name", "unit", "city", "state", "zip")
NUMBER_COLUMNS = ("dob_year", "dob_month", "dob_day")
FLAG_COLUMNS = ("newborn", "ssn_valid")
TF_COLUMNS = ("first", "last", "street", "city", "dob")
LENGTH_COLUMNS = ("first", "last", "middle", "street_name")
# Derived per-record keys compared by equality of their codes.
DERIVED = {"middle_initial": lambda f: f["middle"].str[:1], "phone7": lambda f: f["phone"].str[-7:],
           "email_local": lambda f: f["email"].str.split("@").str[0].fillna("")}


@dataclass
class RecordTable:
    """Column arrays of normalised records; positions are the record's index."""

    record_id: np.ndarray
    text: dict[str, np.ndarray]
    codes: dict[str, np.ndarray]
    numbers: dict[str, np.ndarray]
    flags: dict[str, np.ndarray]
    first_family: np.ndarray
    lengths: dict[str, np.ndarray] = field(default_factory=dict)
    term_frequency: dict[str, np.ndarray] = field(default_factory=dict)
    population: dict[str, int] = field(default_factory=dict)  # non-missing values behind each frequency

    def value_count(self, column: str, positions: np.ndarray) -> np.ndarray:
        """How many records of the population carry each given record's value (NaN if missing)."""
        return self.term_frequency[column][positions] * self.population.get(column, 0)

    def __len__(self) -> int:
        return len(self.record_id)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, frequency_frame: pd.DataFrame | None = None) -> "RecordTable":
        """Build from :func:`mpi.normalise.frame.normalise_frame` output.

        Term frequencies are counted over ``frequency_frame`` (default: ``frame`` itself), so a
        single incoming record can be scored with the frequencies of the population it joins.
        """
        text = {c: frame[c].to_numpy(dtype=object) for c in TEXT_COLUMNS}
        codes = {c: _codes(text[c]) for c in TEXT_COLUMNS}
        for name, fn in DERIVED.items():
            codes[name] = _codes(fn(frame).to_numpy(dtype=object))
        lengths = {c: frame[c].str.len().to_numpy(dtype=np.int32) for c in LENGTH_COLUMNS}
        numbers = {c: frame[c].to_numpy(dtype=np.int32) for c in NUMBER_COLUMNS}
        dob = pd.to_datetime(pd.Series(text["dob"]).replace("", None), format="%Y-%m-%d", errors="coerce")
        numbers["dob_days"] = np.where(dob.isna(), -10**6, (dob - pd.Timestamp("1970-01-01")).dt.days.fillna(0)
                                       ).astype(np.int32)
        for c in ("first", "last"):  # the letter itself, comparable across columns (swapped names)
            numbers[f"{c}_initial"] = np.array([ord(v[0]) if v else -1 for v in text[c]], dtype=np.int32)
        flags = {c: frame[c].to_numpy(dtype=bool) for c in FLAG_COLUMNS}
        fam_codes, fam_uniques = pd.factorize(text["first_token"])
        families = np.array([name_family(u) for u in fam_uniques] + [frozenset()], dtype=object)
        first_family = families[fam_codes]
        table = cls(frame["record_id"].to_numpy(dtype=object), text, codes, numbers, flags, first_family, lengths)
        population = frequency_frame if frequency_frame is not None else frame
        table.term_frequency = _term_frequencies(frame, population)
        table.population = {c: int((population[c] != "").sum()) for c in TF_COLUMNS}
        return table

    @classmethod
    def from_records(cls, rows: list[dict], stats: "PopulationStats") -> "RecordTable":
        """A small table (a query and its candidates) from normalised record dicts, with term
        frequencies taken from ``stats`` (the population the model was measured on)."""
        frame = pd.DataFrame(rows)
        table = cls.from_frame(frame)
        table.term_frequency = {c: np.array([stats.share(c, v) for v in table.text[c]], dtype=np.float64)
                                for c in TF_COLUMNS}
        table.population = {c: int(stats.totals.get(c, 0)) for c in TF_COLUMNS}
        return table

    def subset(self, positions: np.ndarray) -> "RecordTable":
        """The rows at ``positions`` (term frequencies kept from the full population)."""
        return RecordTable(self.record_id[positions], {k: v[positions] for k, v in self.text.items()},
                           {k: v[positions] for k, v in self.codes.items()},
                           {k: v[positions] for k, v in self.numbers.items()},
                           {k: v[positions] for k, v in self.flags.items()}, self.first_family[positions],
                           {k: v[positions] for k, v in self.lengths.items()},
                           {k: v[positions] for k, v in self.term_frequency.items()}, dict(self.population))


def _codes(values: np.ndarray) -> np.ndarray:
    """Integer code per value, equal codes for equal values, -1 for missing ("")."""
    code, uniques = pd.factorize(values)
    if len(uniques) and (uniques == "").any():
        code = np.where(values == "", -1, code)
    return code.astype(np.int64)


def _term_frequencies(frame: pd.DataFrame, population: pd.DataFrame) -> dict[str, np.ndarray]:
    """Share of the population's non-missing values equal to each record's value (NaN if missing)."""
    out = {}
    for c in TF_COLUMNS:
        pop = population[c]
        pop = pop[pop != ""]
        counts = pop.value_counts()
        total = max(int(counts.sum()), 1)
        share = frame[c].map(counts).to_numpy(dtype=np.float64) / total
        # a value the population has never seen is as rare as one record in it
        out[c] = np.where(frame[c].to_numpy() == "", np.nan, np.where(np.isnan(share), 1.0 / total, share))
    return out
