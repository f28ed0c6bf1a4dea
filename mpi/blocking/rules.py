"""Blocking rules: each turns a normalised record into at most one key; records sharing a key
become candidate pairs. Several rules are unioned so a typo in one field cannot hide a match.

Keys are pure functions of the normalised columns (vectorised over a DataFrame here; the store's
real-time index calls the same functions on a one-row frame).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

KeyFn = Callable[[pd.DataFrame], pd.Series]


def _join(*parts: pd.Series) -> pd.Series:
    """Concatenate key parts with a separator; the key is missing ("") when any part is."""
    out = parts[0].astype(str)
    missing = out == ""
    for p in parts[1:]:
        p = p.astype(str)
        missing |= p == ""
        out = out + "|" + p
    return out.where(~missing, "")


def _dob_unordered(f: pd.DataFrame) -> pd.Series:
    """Year plus the day and month in sorted order: a date and its day/month transposition agree."""
    lo = np.minimum(f["dob_month"], f["dob_day"]).astype(str).str.zfill(2)
    hi = np.maximum(f["dob_month"], f["dob_day"]).astype(str).str.zfill(2)
    return (f["dob_year"].astype(str) + lo + hi).where(f["dob"] != "", "")


def _initial(s: pd.Series) -> pd.Series:
    return s.str[:1]


def _names_unordered(f: pd.DataFrame) -> pd.Series:
    a, b = f["first_phonetic"], f["last_phonetic"]
    lo, hi = a.where(a <= b, b), b.where(a <= b, a)
    return _join(lo, hi)


@dataclass(frozen=True)
class BlockingRule:
    """A named key function, and a finer key to split blocks that grow past the cap."""

    name: str
    key: KeyFn
    refine: KeyFn | None = None
    max_block: int | None = None  # a tighter cap for keys that are common by nature


RULES: tuple[BlockingRule, ...] = (
    BlockingRule("ssn", lambda f: f["ssn"].where(f["ssn"].str.len() >= 5, ""),
                 refine=lambda f: _initial(f["last_phonetic"])),
    BlockingRule("ssn_last4+first_initial", lambda f: _join(f["ssn_last4"], _initial(f["first_token"])),
                 refine=lambda f: f["dob_year"].astype(str)),
    BlockingRule("dob+last_initial", lambda f: _join(_dob_unordered(f), _initial(f["last"])),
                 refine=lambda f: f["first_phonetic"]),
    BlockingRule("first+last_phonetic", _names_unordered, refine=lambda f: f["dob_year"].astype(str)),
    BlockingRule("phone", lambda f: f["phone"], refine=lambda f: _initial(f["first_token"])),
    BlockingRule("email", lambda f: f["email"], refine=lambda f: _initial(f["first_token"])),
    BlockingRule("address+first_initial", lambda f: _join(f["house_number"], f["street_name"].str[:4],
                                                          _initial(f["first_token"])),
                 refine=lambda f: f["zip"], max_block=25),
    BlockingRule("last_phonetic+first_initial", lambda f: _join(f["last_phonetic"], _initial(f["first_token"])),
                 refine=lambda f: _initial(f["middle"]) + f["zip"].str[:3], max_block=10),
    BlockingRule("first_token+middle_initial+last_initial",
                 lambda f: _join(f["first_token"], _initial(f["middle"]), _initial(f["last"])),
                 refine=lambda f: f["zip"], max_block=20),
    BlockingRule("last_phonetic+middle_initial", lambda f: _join(f["last_phonetic"], _initial(f["middle"])),
                 refine=lambda f: _initial(f["first_token"]), max_block=30),
    BlockingRule("dob", _dob_unordered, refine=lambda f: _initial(f["first_token"]), max_block=8),
    BlockingRule("street+last_initial", lambda f: _join(f["street"], _initial(f["last"])),
                 refine=lambda f: _initial(f["first_token"]), max_block=25),
)
