"""Dates of birth in every format real systems send.

The result is an ISO date or missing, plus a data-quality flag saying why a value was dropped or
how it was read. Day/month order is only taken from an explicit per-source hint or from the
value itself (a part above 12); an ambiguous ``03/04/1980`` without a hint becomes missing with
the flag ``dob_ambiguous`` rather than a silent guess.
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from typing import Literal

from .text import as_text, fold

DayOrder = Literal["mdy", "dmy"]

_MONTHS = {m: i + 1 for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}
_MONTHS["sept"] = 9
_PLACEHOLDER_DATES = frozenset({"1900-01-01", "1800-01-01", "1899-12-31", "1901-01-01", "9999-12-31",
                                "2099-12-31", "1111-11-11"})
_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[t ].*)?$")
_NUMERIC3 = re.compile(r"^(\d{1,2})[-/. ](\d{1,2})[-/. ](\d{2}|\d{4})(?:[t ].*)?$")
_TEXT_MDY = re.compile(r"^([a-z]+)[ .,-]*(\d{1,2})(?:st|nd|rd|th)?[ ,.-]+(\d{4})$")
_TEXT_DMY = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?[ .,-]*([a-z]+)[ ,.-]*(\d{4})$")
_TEXT_YMD = re.compile(r"^(\d{4})[ .,-]*([a-z]+)[ ,.-]*(\d{1,2})$")

EARLIEST_YEAR = 1870
_DIGIT = re.compile(r"[0-9]")
_WORD3 = re.compile(r"[a-z]{3}")
# Characters a scanner or a hurried typist puts where a digit belongs.
_OCR_DIGITS = str.maketrans({"|": "1", "l": "1", "i": "1", "o": "0", "z": "2", "g": "6", "s": "5", "b": "8",
                             "q": "9"})


@dataclass(frozen=True, slots=True)
class ParsedDate:
    """A date of birth as ISO text (``""`` when missing) and how it was read."""

    iso: str = ""
    flag: str = ""

    @property
    def year(self) -> int:
        return int(self.iso[:4]) if self.iso else -1

    @property
    def month(self) -> int:
        return int(self.iso[5:7]) if self.iso else -1

    @property
    def day(self) -> int:
        return int(self.iso[8:10]) if self.iso else -1


def _valid(y: int, m: int, d: int, today: _dt.date) -> str:
    if y < EARLIEST_YEAR:
        return ""
    try:
        when = _dt.date(y, m, d)
    except ValueError:
        return ""
    return when.isoformat() if when <= today else ""


def _month(name: str) -> int:
    return _MONTHS.get(name[:4] if name.startswith("sept") else name[:3], 0) if len(name) >= 3 else 0


def _two_digit_year(yy: int, today: _dt.date) -> int:
    century = today.year // 100 * 100
    return century + yy if century + yy <= today.year else century - 100 + yy


def _day_month(a: int, b: int, order: DayOrder | None) -> tuple[int, int] | None:
    """(month, day) from two numeric parts; None when only a guess could tell."""
    if order == "mdy":
        return a, b
    if order == "dmy":
        return b, a
    if a > 12 >= b:
        return b, a
    if b > 12 >= a or a == b:
        return a, b
    return None


def parse_date(value: object, order: DayOrder | None = None, today: _dt.date | None = None) -> ParsedDate:
    """Parse a date of birth. ``order`` is the source's hint for numeric day/month order. Never raises."""
    today = today or _dt.date.today()
    text = fold(as_text(value)).strip()
    if not text:
        return ParsedDate()
    if len(_DIGIT.findall(text)) >= 4 and not _WORD3.search(text):
        text = text.translate(_OCR_DIGITS)  # scanned forms: "|2/23/1968", "0G/17/1964"
    result, flag = "", ""
    compact = text.replace(" ", "")
    if compact.isdigit():
        result, flag = _parse_digits(compact, order, today)
    elif m := _ISO.match(text):
        result = _valid(int(m[1]), int(m[2]), int(m[3]), today)
    elif m := _NUMERIC3.match(text):
        a, b, y = int(m[1]), int(m[2]), int(m[3])
        if len(m[3]) == 2:
            y, flag = _two_digit_year(y, today), "dob_two_digit_year"
        md = _day_month(a, b, order)
        if md is None:
            return ParsedDate("", "dob_ambiguous")
        result = _valid(y, md[0], md[1], today)
        if not result and order is not None and (result := _valid(y, md[1], md[0], today)):
            flag = "dob_day_month_swapped"  # the source's order contradicted by the value itself
    elif (m := _TEXT_MDY.match(text)) and _month(m[1]):
        result = _valid(int(m[3]), _month(m[1]), int(m[2]), today)
    elif (m := _TEXT_DMY.match(text)) and _month(m[2]):
        result = _valid(int(m[3]), _month(m[2]), int(m[1]), today)
    elif (m := _TEXT_YMD.match(text)) and _month(m[2]):
        result = _valid(int(m[1]), _month(m[2]), int(m[3]), today)
    else:
        return ParsedDate("", "dob_unparseable")
    if not result:
        return ParsedDate("", flag if flag == "dob_ambiguous" else "dob_invalid")
    if result in _PLACEHOLDER_DATES:
        return ParsedDate("", "dob_placeholder")
    return ParsedDate(result, flag)


def _parse_digits(s: str, order: DayOrder | None, today: _dt.date) -> tuple[str, str]:
    if len(s) == 8:
        ymd = _valid(int(s[:4]), int(s[4:6]), int(s[6:]), today)
        md = _day_month(int(s[:2]), int(s[2:4]), order)
        tail = _valid(int(s[4:]), md[0], md[1], today) if md else ""
        if ymd and tail:
            return ("", "dob_ambiguous") if order is None else (tail, "")
        if ymd or tail:
            return ymd or tail, ""
        a, b, y = int(s[:2]), int(s[2:4]), int(s[4:])
        if md is None and EARLIEST_YEAR <= y <= today.year and 1 <= a <= 12 and 1 <= b <= 12:
            return "", "dob_ambiguous"
        if order is not None and (swapped := _valid(y, b, a, today) if order == "mdy" else _valid(y, a, b, today)):
            return swapped, "dob_day_month_swapped"
        return "", "dob_invalid"
    if len(s) == 6:  # MMDDYY / DDMMYY
        md = _day_month(int(s[:2]), int(s[2:4]), order)
        if md is None:
            return "", "dob_ambiguous"
        got = _valid(_two_digit_year(int(s[4:]), today), md[0], md[1], today)
        return (got, "dob_two_digit_year") if got else ("", "dob_invalid")
    return "", "dob_unparseable"


def infer_day_order(values: list[object]) -> DayOrder | None:
    """A source's day/month order, read off its unambiguous numeric dates (a part above 12).

    Returns an order only when at least 20 dates decide and 95% of them agree; this is the
    per-source hint the resolver passes to :func:`parse_date` and records in its profile.
    """
    mdy = dmy = 0
    for v in values:
        text = as_text(v)
        m = _NUMERIC3.match(text) or (re.match(r"^(\d{2})(\d{2})(\d{4})$", text) if len(text) == 8 else None)
        if not m:
            continue
        a, b = int(m[1]), int(m[2])
        if len(text) == 8 and EARLIEST_YEAR <= int(text[:4]) <= 2100 and int(text[4:6]) <= 12:
            continue  # reads as YYYYMMDD: says nothing about day/month order
        if a > 12 >= b and b >= 1:
            dmy += 1
        elif b > 12 >= a and a >= 1:
            mdy += 1
    total = mdy + dmy
    if total < 20:
        return None
    if mdy >= 0.95 * total:
        return "mdy"
    if dmy >= 0.95 * total:
        return "dmy"
    return None
