"""RecordTable: normalised records as column arrays, ready for pairwise comparison.

Comparators index these arrays with the left and right record positions of each pair. Text
columns also get integer codes (equal code = equal value, ``-1`` = missing) so exact agreement is
a vector comparison, and per-value frequencies for the term-frequency adjustment.
"""
from __future__ import annotations

import datetime as _dt
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
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
# Derived per-record keys compared by equality of their codes: (source column, per-value function).
DERIVED: dict[str, tuple[str, Callable[[str], str]]] = {
    "middle_initial": ("middle", lambda v: v[:1]), "phone7": ("phone", lambda v: v[-7:]),
    "email_local": ("email", lambda v: v.split("@")[0])}
MISSING_DAYS = -10**6  # dob_days of a record without a birth date (far from any real one)
_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
SMALL_TABLE = 2_000  # below this many records, plain Python beats pandas' per-call overhead
_ROW_FIELDS = ("record_id", *TEXT_COLUMNS, *NUMBER_COLUMNS, *FLAG_COLUMNS)
_ROW_GETTER = operator.itemgetter(*_ROW_FIELDS)
_NON_NEGATIVE = (1 << 63) - 1


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
        table = cls._build(frame["record_id"].to_numpy(dtype=object),
                           {c: frame[c].to_numpy(dtype=object) for c in TEXT_COLUMNS},
                           {c: frame[c].to_numpy(dtype=np.int32) for c in NUMBER_COLUMNS},
                           {c: frame[c].to_numpy(dtype=bool) for c in FLAG_COLUMNS})
        population = frequency_frame if frequency_frame is not None else frame
        table.term_frequency = _term_frequencies(frame, population)
        table.population = {c: int((population[c] != "").sum()) for c in TF_COLUMNS}
        return table

    @classmethod
    def from_records(cls, rows: list[dict], stats: "PopulationStats") -> "RecordTable":
        """A small table (a query and its candidates) from normalised record dicts, with term
        frequencies taken from ``stats`` (the population the model was measured on)."""
        n = len(rows)
        # rows -> columns in C (itemgetter, zip): this runs on every real-time match
        columns = dict(zip(_ROW_FIELDS, zip(*map(_ROW_GETTER, rows)))) if n else dict.fromkeys(_ROW_FIELDS, ())

        def objects(name: str) -> np.ndarray:
            out = np.empty(n, dtype=object)
            out[:] = columns[name]
            return out
        table = cls._build(objects("record_id"), {c: objects(c) for c in TEXT_COLUMNS},
                           {c: np.array(columns[c], dtype=np.int32) for c in NUMBER_COLUMNS},
                           {c: np.array(columns[c], dtype=bool) for c in FLAG_COLUMNS})
        table.term_frequency = {c: stats.shares(c, table.text[c]) for c in TF_COLUMNS}
        table.population = {c: int(stats.totals.get(c, 0)) for c in TF_COLUMNS}
        return table

    @classmethod
    def _build(cls, record_id: np.ndarray, text: dict[str, np.ndarray], numbers: dict[str, np.ndarray],
               flags: dict[str, np.ndarray]) -> "RecordTable":
        """Codes, lengths, day numbers, initials and name families from the plain columns (one
        implementation for the batch frame and the real-time record dicts)."""
        derived = {name: _map(fn, text[col]) for name, (col, fn) in DERIVED.items()}
        codes = _codes_of({**text, **derived})
        lengths = {c: np.fromiter(map(len, text[c]), dtype=np.int32, count=len(record_id)) for c in LENGTH_COLUMNS}
        numbers = dict(numbers)
        numbers["dob_days"] = _per_distinct(dob_days, text["dob"]).astype(np.int32)
        for c in ("first", "last"):  # the letter itself, comparable across columns (swapped names)
            numbers[f"{c}_initial"] = np.fromiter((ord(v[0]) if v else -1 for v in text[c]), dtype=np.int32,
                                                  count=len(record_id))
        first_family = _per_distinct(name_family, text["first_token"])
        return cls(record_id, text, codes, numbers, flags, first_family, lengths)

    def subset(self, positions: np.ndarray) -> "RecordTable":
        """The rows at ``positions`` (term frequencies kept from the full population)."""
        return RecordTable(self.record_id[positions], {k: v[positions] for k, v in self.text.items()},
                           {k: v[positions] for k, v in self.codes.items()},
                           {k: v[positions] for k, v in self.numbers.items()},
                           {k: v[positions] for k, v in self.flags.items()}, self.first_family[positions],
                           {k: v[positions] for k, v in self.lengths.items()},
                           {k: v[positions] for k, v in self.term_frequency.items()}, dict(self.population))


@lru_cache(maxsize=100_000)
def dob_days(iso: str) -> int:
    """Days from 1970-01-01 to an ISO birth date; :data:`MISSING_DAYS` when there is none."""
    if not _ISO_DATE.fullmatch(iso):
        return MISSING_DAYS
    try:
        return _dt.date.fromisoformat(iso).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return MISSING_DAYS


def _map(fn: Callable[[str], object], values: np.ndarray) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = [fn(v) for v in values]
    return out


def _per_distinct(fn: Callable[[str], object], values: np.ndarray) -> np.ndarray:
    """``fn`` per value, computed once per distinct value of a large array."""
    if len(values) <= SMALL_TABLE:
        return _map(fn, values)
    code, uniques = pd.factorize(values)
    return _map(fn, uniques)[code]


def _codes_of(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """:func:`_codes` of each column; a small table's columns are coded in one pass (a real-time
    query has some twenty columns of a few dozen values: per-call costs would dominate)."""
    n = len(next(iter(columns.values())))
    if n > SMALL_TABLE:
        return {c: _codes(v) for c, v in columns.items()}
    stacked = _codes(np.concatenate(list(columns.values()))).reshape(len(columns), n)
    return dict(zip(columns, stacked))


def _codes(values: np.ndarray) -> np.ndarray:
    """Integer code per value, equal codes for equal values, -1 for missing ("")."""
    if len(values) <= SMALL_TABLE:
        # a small table (a real-time query and its candidates) codes by the strings' own hash,
        # computed in C and cached on each string: equal values get equal codes, and two
        # different values share one with chance 2**-63. ("" hashes to 0: missing is set apart.)
        codes = np.fromiter(map(hash, values), dtype=np.int64, count=len(values)) & _NON_NEGATIVE
        codes[values == ""] = -1
        return codes
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
