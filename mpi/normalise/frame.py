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


def normalise_frame(raw: pd.DataFrame, day_order: Mapping[str, DayOrder] | None = None) -> pd.DataFrame:
    """Normalise validated canonical records (see :func:`mpi.records.validate_records`).

    ``day_order`` maps a source name to its numeric date order (``"mdy"``/``"dmy"``); for sources
    without a hint the order is inferred from that source's unambiguous dates when they agree.
    """
    hints = dict(day_order or {})
    out = pd.DataFrame({"record_id": raw[ID_COLUMN].to_numpy(), "source": raw[SOURCE_COLUMN].to_numpy()})
    flags: list[pd.Series] = []

    name_cols = ["first_name", "last_name", "middle_name", "suffix"]
    name_keys = raw[name_cols[0]].str.cat([raw[c] for c in name_cols[1:]], sep="\x1f")
    names = _Parsed(name_keys, lambda k: parse_name(*k.split("\x1f")))
    for col in ("first", "middle", "last", "suffix", "newborn"):
        out[col] = names.field(col)
    out["newborn"] = out["newborn"].astype(bool)
    flags.append(pd.Series([";".join(f) for f in names.field("flags")], dtype=object))
    out["first_token"] = _per_unique(raw["first_name"], first_name_token)
    out.loc[out["first"] == "", "first_token"] = ""
    out["last_tokens"] = _per_unique(raw["last_name"], lambda v: " ".join(last_name_tokens(v)))
    out["first_phonetic"] = _per_unique(out["first_token"], phonetic)
    out["last_phonetic"] = _per_unique(out["last"], phonetic)

    dob = pd.Series([""] * len(raw), dtype=object)
    dob_flag = pd.Series([""] * len(raw), dtype=object)
    for source, idx in raw.groupby(SOURCE_COLUMN, sort=True).groups.items():
        values = raw.loc[idx, "dob"]
        order = hints.get(source) or infer_day_order(values.drop_duplicates().head(50_000).tolist())
        parsed = _Parsed(values, lambda v, o=order: parse_date(v, o))
        dob.loc[idx] = parsed.field("iso")
        dob_flag.loc[idx] = parsed.field("flag")
        hints.setdefault(source, order)  # type: ignore[arg-type]
    out["dob"] = dob.to_numpy()
    flags.append(dob_flag)
    has_dob = out["dob"] != ""
    out["dob_year"] = np.where(has_dob, out["dob"].str[:4].replace("", "-1"), "-1").astype(np.int32)
    out["dob_month"] = np.where(has_dob, out["dob"].str[5:7].replace("", "-1"), "-1").astype(np.int32)
    out["dob_day"] = np.where(has_dob, out["dob"].str[8:10].replace("", "-1"), "-1").astype(np.int32)

    out["sex"] = _per_unique(raw["sex"], parse_sex)
    ssn = _Parsed(raw["ssn"], parse_ssn)
    out["ssn"] = ssn.field("full")
    out["ssn_last4"] = ssn.field("last4")
    out["ssn_valid"] = ssn.field("valid").astype(bool)
    flags.append(pd.Series(ssn.field("flag"), dtype=object))
    out["phone"] = _per_unique(raw["phone"], parse_phone)
    out["email"] = _per_unique(raw["email"], parse_email)
    street = _Parsed(raw["street"], parse_street)
    for col, attr in (("street", "full"), ("house_number", "number"), ("street_name", "name"), ("unit", "unit")):
        out[col] = street.field(attr)
    out["city"] = _per_unique(raw["city"], parse_city)
    out["state"] = _per_unique(raw["state"], parse_state)
    out["zip"] = _per_unique(raw["zip"], parse_zip)

    flags.extend(_drop_shared_identifiers(out))
    joined = pd.Series(flags[0].to_numpy(dtype=object)).str.cat(
        [pd.Series(f.to_numpy(dtype=object)) for f in flags[1:]], sep=";")
    out["quality_flags"] = joined.str.replace(r";{2,}", ";", regex=True).str.strip(";").to_numpy()
    out.attrs["day_order"] = hints
    return out


def _drop_shared_identifiers(out: pd.DataFrame) -> list[pd.Series]:
    """Blank identifiers that many different people share (a source's stand-in value)."""
    flags = []
    person = out["first_phonetic"] + "|" + out["dob"]
    for col in ("ssn", "phone", "email"):
        present = out[col] != ""
        if not present.any():
            continue
        sub = pd.DataFrame({"v": out.loc[present, col], "p": person[present], "d": out.loc[present, "dob"],
                            "f": out.loc[present, "first_phonetic"]})
        stats = sub.groupby("v").agg(dobs=("d", "nunique"), firsts=("f", "nunique"))
        limit = SHARED_ID_DISTINCT_PEOPLE if col == "ssn" else 3 * SHARED_ID_DISTINCT_PEOPLE
        shared = stats.index[(stats["dobs"] >= limit) & (stats["firsts"] >= limit)]
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
