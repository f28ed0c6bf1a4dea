"""Apply the field normalisers to a whole DataFrame of raw records.

Each normaliser runs once per distinct raw value (names repeat a lot), so a million records cost
what their distinct values cost. The result is the ``NormalisedRecords`` table every later step
reads: one row per record, in input order, missing values as ``""`` (text) or ``-1`` (numbers).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from ..parallel import map_partitions
from ..records import ID_COLUMN, SOURCE_COLUMN
from .address import parse_city, parse_state, parse_street, parse_zip
from .contact import parse_email, parse_phone
from .dates import DayOrder, infer_day_order, parse_date
from .identifiers import parse_sex, parse_ssn
from .names import first_name_token, last_name_tokens, parse_name, phonetic

log = logging.getLogger(__name__)

# An identifier shared by records of this many different birth dates and first names is a
# placeholder the source fills in, not a person's number.
SHARED_ID_DISTINCT_PEOPLE = 4


class _Parsed:
    """A normaliser run once per distinct raw value; fields are expanded back to rows on demand."""

    def __init__(self, values: pd.Series, fn: Callable[[str], object]) -> None:
        self.codes, uniques = pd.factorize(values.to_numpy(dtype=object), sort=False)
        self.parsed = [fn(u) for u in uniques]

    def rows(self) -> np.ndarray:
        """The parsed value itself, per row (for normalisers that return plain values)."""
        out = np.empty(len(self.parsed), dtype=object)
        out[:] = self.parsed
        return out[self.codes]

    def field(self, name: str) -> np.ndarray:
        """One attribute of the parsed objects, per row."""
        out = np.empty(len(self.parsed), dtype=object)
        out[:] = [getattr(p, name) for p in self.parsed]
        return out[self.codes]


def _per_unique(values: pd.Series, fn: Callable[[str], object]) -> np.ndarray:
    """``fn`` applied once per distinct value, mapped back to every row."""
    return _Parsed(values, fn).rows()


def normalise_frame(raw: pd.DataFrame, day_order: Mapping[str, DayOrder | None] | None = None,
                    shared: Mapping[str, frozenset[str]] | None = None) -> pd.DataFrame:
    """Normalise validated canonical records (see :func:`mpi.records.validate_records`).

    ``day_order`` maps a source name to its numeric date order (``"mdy"``/``"dmy"``); for sources
    without a hint the order is inferred from that source's unambiguous dates when they agree
    (a source present in ``day_order`` with ``None`` stays undecided). ``shared`` gives the
    placeholder identifiers to blank (per column); without it they are detected in ``raw``.
    The hints and placeholders used are left in ``out.attrs``.
    """
    hints = dict(day_order or {})
    for source, idx in raw.groupby(SOURCE_COLUMN, sort=True).groups.items():
        if source not in hints:
            hints[source] = infer_day_order(raw.loc[idx, "dob"].drop_duplicates().head(50_000).tolist())
    # the name fields and the other fields are independent halves of the work
    halves = [lambda: _name_columns(raw), lambda: _other_columns(raw, hints)]
    parts = map_partitions(lambda k: halves[k](), [0, 1], min_items=2 if len(raw) >= PARALLEL_RECORDS else 3)
    out = pd.DataFrame({"record_id": raw[ID_COLUMN].to_numpy(), "source": raw[SOURCE_COLUMN].to_numpy()})
    flags: list[pd.Series] = []
    for columns, part_flags in parts:
        for col, values in columns.items():
            out[col] = values
        flags.extend(pd.Series(f, dtype=object) for f in part_flags)
    out = out[["record_id", "source", *NORMALISED_ORDER]]

    flags.extend(_drop_shared_identifiers(out, shared))
    joined = pd.Series(flags[0].to_numpy(dtype=object)).str.cat(
        [pd.Series(f.to_numpy(dtype=object)) for f in flags[1:]], sep=";")
    out["quality_flags"] = joined.str.replace(r";{2,}", ";", regex=True).str.strip(";").to_numpy()
    out.attrs["day_order"] = hints
    return out


PARALLEL_RECORDS = 50_000  # below this, forking costs more than it saves
NORMALISED_ORDER = ("first", "middle", "last", "suffix", "newborn", "first_token", "last_tokens", "first_phonetic",
                    "last_phonetic", "dob", "dob_year", "dob_month", "dob_day", "sex", "ssn", "ssn_last4",
                    "ssn_valid", "phone", "email", "street", "house_number", "street_name", "unit", "city", "state",
                    "zip")


def _name_columns(raw: pd.DataFrame) -> tuple[dict[str, np.ndarray], list[np.ndarray]]:
    """Normalised name columns and their quality flags (plain arrays: cheap to return from a worker)."""
    cols: dict[str, np.ndarray] = {}
    name_cols = ["first_name", "last_name", "middle_name", "suffix"]
    name_keys = raw[name_cols[0]].str.cat([raw[c] for c in name_cols[1:]], sep="\x1f")
    names = _Parsed(name_keys, lambda k: parse_name(*k.split("\x1f")))
    for col in ("first", "middle", "last", "suffix", "newborn"):
        cols[col] = names.field(col)
    cols["newborn"] = cols["newborn"].astype(bool)
    flags = [np.array([";".join(f) for f in names.field("flags")], dtype=object)]
    first_token = _per_unique(raw["first_name"], first_name_token)
    first_token[cols["first"] == ""] = ""
    cols["first_token"] = first_token
    cols["last_tokens"] = _per_unique(raw["last_name"], lambda v: " ".join(last_name_tokens(v)))
    cols["first_phonetic"] = _per_unique(pd.Series(first_token), phonetic)
    cols["last_phonetic"] = _per_unique(pd.Series(cols["last"]), phonetic)
    return cols, flags


def _other_columns(raw: pd.DataFrame, hints: Mapping[str, DayOrder | None]
                   ) -> tuple[dict[str, np.ndarray], list[np.ndarray]]:
    """Normalised birth date, sex, identifiers, contact and address columns, with their flags."""
    cols: dict[str, np.ndarray] = {}
    flags: list[np.ndarray] = []
    dob = np.full(len(raw), "", dtype=object)
    dob_flag = np.full(len(raw), "", dtype=object)
    for source, idx in raw.groupby(SOURCE_COLUMN, sort=True).indices.items():
        parsed = _Parsed(raw["dob"].iloc[idx], lambda v, o=hints.get(source): parse_date(v, o))
        dob[idx] = parsed.field("iso")
        dob_flag[idx] = parsed.field("flag")
    cols["dob"] = dob
    flags.append(dob_flag)
    dob_s = pd.Series(dob)
    has_dob = dob_s != ""
    cols["dob_year"] = np.where(has_dob, dob_s.str[:4].replace("", "-1"), "-1").astype(np.int32)
    cols["dob_month"] = np.where(has_dob, dob_s.str[5:7].replace("", "-1"), "-1").astype(np.int32)
    cols["dob_day"] = np.where(has_dob, dob_s.str[8:10].replace("", "-1"), "-1").astype(np.int32)
    cols["sex"] = _per_unique(raw["sex"], parse_sex)
    ssn = _Parsed(raw["ssn"], parse_ssn)
    cols["ssn"] = ssn.field("full")
    cols["ssn_last4"] = ssn.field("last4")
    cols["ssn_valid"] = ssn.field("valid").astype(bool)
    flags.append(ssn.field("flag"))
    cols["phone"] = _per_unique(raw["phone"], parse_phone)
    cols["email"] = _per_unique(raw["email"], parse_email)
    street = _Parsed(raw["street"], parse_street)
    for col, attr in (("street", "full"), ("house_number", "number"), ("street_name", "name"), ("unit", "unit")):
        cols[col] = street.field(attr)
    cols["city"] = _per_unique(raw["city"], parse_city)
    cols["state"] = _per_unique(raw["state"], parse_state)
    cols["zip"] = _per_unique(raw["zip"], parse_zip)
    return cols, flags


def _drop_shared_identifiers(out: pd.DataFrame, known: Mapping[str, frozenset[str]] | None = None
                             ) -> list[pd.Series]:
    """Blank identifiers that many different people share (a source's stand-in value); ``known``
    fixes the set instead of measuring it here. The set used lands in ``out.attrs``."""
    flags = []
    out.attrs["shared_identifiers"] = {}
    person = out["first_phonetic"] + "|" + out["dob"]
    for col in ("ssn", "phone", "email"):
        present = out[col] != ""
        if not present.any():
            continue
        if known is not None:
            shared = sorted(known.get(col, frozenset()))
        else:
            sub = pd.DataFrame({"v": out.loc[present, col], "p": person[present], "d": out.loc[present, "dob"],
                                "f": out.loc[present, "first_phonetic"]})
            stats = sub.groupby("v").agg(dobs=("d", "nunique"), firsts=("f", "nunique"))
            limit = SHARED_ID_DISTINCT_PEOPLE if col == "ssn" else 3 * SHARED_ID_DISTINCT_PEOPLE
            shared = stats.index[(stats["dobs"] >= limit) & (stats["firsts"] >= limit)]
        out.attrs["shared_identifiers"][col] = frozenset(shared)
        mask = out[col].isin(shared) & present
        flag = pd.Series(np.where(mask, f"{col}_shared_placeholder", ""), index=out.index)
        if mask.any():
            log.info("%d records carry a %s shared by many people; treated as missing", int(mask.sum()), col)
            out.loc[mask, col] = ""
            if col == "ssn":
                out.loc[mask, "ssn_last4"] = ""
                out.loc[mask, "ssn_valid"] = False
        flags.append(flag)
    return flags
