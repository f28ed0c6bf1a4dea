"""The normalised columns as functions of one record's raw values, declared once.

A :class:`Field` names the columns it reads (raw canonical columns, or normalised columns an
earlier field wrote), the columns it writes and the per-value function between them.
:func:`mpi.normalise.frame.normalise_frame` runs each field once per distinct combination of its
inputs; :func:`mpi.normalise.record.normalise_record` runs it on one record. Both paths therefore
give the same values by construction, and no derived column has a second implementation.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .address import parse_city, parse_state, parse_street, parse_zip
from .contact import parse_email, parse_phone
from .dates import DayOrder, parse_date
from .identifiers import parse_sex, parse_ssn
from .names import first_name_token, last_name_tokens, parse_name, phonetic

NORMALISED_ORDER = ("first", "middle", "last", "suffix", "newborn", "first_token", "last_tokens", "first_phonetic",
                    "last_phonetic", "dob", "dob_year", "dob_month", "dob_day", "sex", "ssn", "ssn_last4",
                    "ssn_valid", "phone", "email", "street", "house_number", "street_name", "unit", "city", "state",
                    "zip")
BOOL_COLUMNS = ("newborn", "ssn_valid")
INT_COLUMNS = ("dob_year", "dob_month", "dob_day")
# per-field data-quality flags, in the order they are joined into ``quality_flags``
FLAG_COLUMNS = ("name_flags", "dob_flag", "ssn_flag")
# identifiers a source may fill with one stand-in value for many people
SHARED_ID_COLUMNS = ("ssn", "phone", "email")
# what else is cleared when a shared identifier is
CLEARED_WITH_SHARED: dict[str, tuple[tuple[str, object], ...]] = {"ssn": (("ssn_last4", ""), ("ssn_valid", False))}


@dataclass(frozen=True)
class Field:
    """``outputs = fn(*inputs)``, one tuple per record. An output may replace a raw input of the
    same name (``dob`` raw -> ``dob`` ISO); fields run in order, so later fields see the outputs."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    fn: Callable[..., tuple]


def _name(first: str, last: str, middle: str, suffix: str) -> tuple:
    p = parse_name(first, last, middle, suffix)
    return p.first, p.middle, p.last, p.suffix, p.newborn, ";".join(p.flags)


def _first_token(first_name: str, first: str) -> tuple[str]:
    # no token when the parsed name has no first name (a placeholder "John Doe", a newborn's "Baby")
    return (first_name_token(first_name) if first else "",)


def _last_tokens(last_name: str) -> tuple[str]:
    return (" ".join(last_name_tokens(last_name)),)


def _phonetic(name: str) -> tuple[str]:
    return (phonetic(name),)


NAME_FIELDS: tuple[Field, ...] = (
    Field(("first_name", "last_name", "middle_name", "suffix"),
          ("first", "middle", "last", "suffix", "newborn", "name_flags"), _name),
    Field(("first_name", "first"), ("first_token",), _first_token),
    Field(("last_name",), ("last_tokens",), _last_tokens),
    Field(("first_token",), ("first_phonetic",), _phonetic),
    Field(("last",), ("last_phonetic",), _phonetic),
)


def dob_field(order: DayOrder | None) -> Field:
    """The birth-date columns for a source whose numeric day/month order is ``order``."""
    def parse(dob: str) -> tuple:
        d = parse_date(dob, order)
        return d.iso, d.year, d.month, d.day, d.flag
    return Field(("dob",), ("dob", "dob_year", "dob_month", "dob_day", "dob_flag"), parse)


def _ssn(value: str) -> tuple:
    s = parse_ssn(value)
    return s.full, s.last4, s.valid, s.flag


def _street(value: str) -> tuple:
    s = parse_street(value)
    return s.full, s.number, s.name, s.unit


def _one(fn: Callable[[object], str]) -> Callable[[str], tuple[str]]:
    return lambda value: (fn(value),)


# fields other than the names and the birth date (whose parser depends on the source)
OTHER_FIELDS: tuple[Field, ...] = (
    Field(("sex",), ("sex",), _one(parse_sex)),
    Field(("ssn",), ("ssn", "ssn_last4", "ssn_valid", "ssn_flag"), _ssn),
    Field(("phone",), ("phone",), _one(parse_phone)),
    Field(("email",), ("email",), _one(parse_email)),
    Field(("street",), ("street", "house_number", "street_name", "unit"), _street),
    Field(("city",), ("city",), _one(parse_city)),
    Field(("state",), ("state",), _one(parse_state)),
    Field(("zip",), ("zip",), _one(parse_zip)),
)


def shared_flag(column: str) -> str:
    """The quality flag of a record whose ``column`` held a shared placeholder."""
    return f"{column}_shared_placeholder"


_REPEATED_SEPARATOR = re.compile(r";{2,}")


def join_flags(parts: Iterable[str]) -> str:
    """One ``quality_flags`` value from the per-field flags (empty parts vanish)."""
    return _REPEATED_SEPARATOR.sub(";", ";".join(parts)).strip(";")
