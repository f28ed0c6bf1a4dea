"""Blocking rules: each turns a normalised record into at most one key; records sharing a key
become candidate pairs. Several rules are unioned so a typo in one field cannot hide a match.

A key is built from small named parts (a column, its initial, a prefix, a date with day and month
unordered, ...), each declared once with two implementations: vectorised over a normalised
DataFrame (the batch path) and on one normalised record dict (the store's real-time index). The
tests hold the two to the same strings. A part is called on a frame like the key functions it
replaces: ``rule.key(frame)`` is a Series of keys.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

Record = Mapping[str, object]


@dataclass(frozen=True)
class KeyPart:
    """One part of a blocking key: ``frame(f)`` per row of a normalised frame, ``value(r)`` for
    one normalised record. ``""`` is missing."""

    label: str
    frame: Callable[[pd.DataFrame], pd.Series]
    value: Callable[[Record], str]

    def __call__(self, f: pd.DataFrame) -> pd.Series:
        return self.frame(f)


def column(name: str) -> KeyPart:
    """A column's value as text (numbers too: ``dob_year`` 1980 -> ``"1980"``)."""
    return KeyPart(name, lambda f: f[name].astype(str), lambda r: str(r[name]))


def initial(name: str) -> KeyPart:
    """The first letter of a text column."""
    return KeyPart(f"{name}[:1]", lambda f: f[name].str[:1], lambda r: r[name][:1])  # type: ignore[index]


def prefix(name: str, n: int) -> KeyPart:
    """The first ``n`` characters of a text column."""
    return KeyPart(f"{name}[:{n}]", lambda f: f[name].str[:n], lambda r: r[name][:n])  # type: ignore[index]


def at_least(name: str, n: int) -> KeyPart:
    """A text column's value when it has at least ``n`` characters (a short identifier is no key)."""
    return KeyPart(f"{name}(len>={n})", lambda f: f[name].where(f[name].str.len() >= n, ""),
                   lambda r: r[name] if len(r[name]) >= n else "")  # type: ignore[arg-type]


def _dob_unordered_frame(f: pd.DataFrame) -> pd.Series:
    lo = np.minimum(f["dob_month"], f["dob_day"]).astype(str).str.zfill(2)
    hi = np.maximum(f["dob_month"], f["dob_day"]).astype(str).str.zfill(2)
    return (f["dob_year"].astype(str) + lo + hi).where(f["dob"] != "", "")


def _dob_unordered_value(r: Record) -> str:
    if r["dob"] == "":
        return ""
    month, day = int(r["dob_month"]), int(r["dob_day"])  # type: ignore[call-overload]
    return str(int(r["dob_year"])) + str(min(month, day)).zfill(2) + str(max(month, day)).zfill(2)  # type: ignore[call-overload]


# Year plus the day and month in sorted order: a date and its day/month transposition agree.
DOB_UNORDERED = KeyPart("dob(day/month unordered)", _dob_unordered_frame, _dob_unordered_value)


def join(*parts: KeyPart) -> KeyPart:
    """Parts separated by ``|``; the key is missing when any part is."""
    def frame(f: pd.DataFrame) -> pd.Series:
        return _join_series(*(p.frame(f) for p in parts))

    def value(r: Record) -> str:
        values = [p.value(r) for p in parts]
        return "" if "" in values else "|".join(values)
    return KeyPart("|".join(p.label for p in parts), frame, value)


def _join_series(*parts: pd.Series) -> pd.Series:
    out = parts[0].astype(str)
    missing = out == ""
    for p in parts[1:]:
        p = p.astype(str)
        missing |= p == ""
        out = out + "|" + p
    return out.where(~missing, "")


def concat(*parts: KeyPart) -> KeyPart:
    """Parts written one after the other (missing only when all are)."""
    def frame(f: pd.DataFrame) -> pd.Series:
        out = parts[0].frame(f)
        for p in parts[1:]:
            out = out + p.frame(f)
        return out
    return KeyPart("+".join(p.label for p in parts), frame, lambda r: "".join(p.value(r) for p in parts))


def unordered(a: str, b: str) -> KeyPart:
    """Two text columns in sorted order, joined: a name and its first/last swap agree."""
    def frame(f: pd.DataFrame) -> pd.Series:
        x, y = f[a], f[b]
        return _join_series(x.where(x <= y, y), y.where(x <= y, x))

    def value(r: Record) -> str:
        x, y = r[a], r[b]
        lo, hi = (x, y) if x <= y else (y, x)  # type: ignore[operator]
        return "" if lo == "" or hi == "" else f"{lo}|{hi}"
    return KeyPart(f"unordered({a},{b})", frame, value)


@dataclass(frozen=True)
class BlockingRule:
    """A named key, and a finer key to split blocks that grow past the cap."""

    name: str
    key: KeyPart
    refine: KeyPart | None = None
    max_block: int | None = None  # a tighter cap for keys that are common by nature


RULES: tuple[BlockingRule, ...] = (
    BlockingRule("ssn", at_least("ssn", 5), refine=initial("last_phonetic")),
    BlockingRule("ssn_last4+first_initial", join(column("ssn_last4"), initial("first_token")),
                 refine=column("dob_year")),
    BlockingRule("dob+last_initial", join(DOB_UNORDERED, initial("last")), refine=column("first_phonetic")),
    BlockingRule("first+last_phonetic", unordered("first_phonetic", "last_phonetic"), refine=column("dob_year")),
    BlockingRule("phone", column("phone"), refine=initial("first_token")),
    BlockingRule("email", column("email"), refine=initial("first_token")),
    BlockingRule("address+first_initial", join(column("house_number"), prefix("street_name", 4),
                                               initial("first_token")),
                 refine=column("zip"), max_block=25),
    BlockingRule("last_phonetic+first_initial", join(column("last_phonetic"), initial("first_token")),
                 refine=concat(initial("middle"), prefix("zip", 3)), max_block=10),
    BlockingRule("first_token+middle_initial+last_initial",
                 join(column("first_token"), initial("middle"), initial("last")), refine=column("zip"), max_block=20),
    BlockingRule("last_phonetic+middle_initial", join(column("last_phonetic"), initial("middle")),
                 refine=initial("first_token"), max_block=30),
    BlockingRule("dob", DOB_UNORDERED, refine=initial("first_token"), max_block=8),
    BlockingRule("street+last_initial", join(column("street"), initial("last")), refine=initial("first_token"),
                 max_block=25),
)
