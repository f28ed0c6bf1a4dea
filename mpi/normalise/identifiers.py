"""National identifiers (SSN) and administrative sex.

An SSN is reduced to its digits. A masked ``***-**-1234`` keeps its last four digits, which
still tell people apart. Placeholders (``999-99-9999``, ``123-45-6789``, one repeated digit) and
numbers the SSA never issues (area 000, 666 or 9xx, group 00, serial 0000) become missing with a
flag, because two records that share a placeholder share nothing. Identifiers that are not
nine digits (another country's, a registry number) are kept as plain digit strings.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .text import all_same_char, as_text, digits, fold

_PLACEHOLDER_SSNS = frozenset({"123456789", "987654321", "012345678", "078051120", "219099999", "123121234",
                               "012121234", "111223333", "123456780"})
_MASKED = re.compile(r"^[\*xX#]{3}[-\s]?[\*xX#]{2}[-\s]?(\d{4})$")


@dataclass(frozen=True, slots=True)
class ParsedSSN:
    """``full``: all digits when known; ``last4``: last four digits when known; ``valid``:
    ``full`` is a nine-digit number the SSA could have issued (conflicts between two valid SSNs
    are evidence of two people)."""

    full: str = ""
    last4: str = ""
    valid: bool = False
    flag: str = ""


def parse_ssn(value: object) -> ParsedSSN:
    """Normalise an SSN-like identifier. Never raises."""
    text = as_text(value)
    if not text:
        return ParsedSSN()
    if m := _MASKED.match(text.replace(" ", "")):
        last4 = m[1]
        return ParsedSSN("", last4, False, "ssn_masked") if last4 != "0000" else ParsedSSN(flag="ssn_placeholder")
    d = digits(text)
    if len(d) == 4 and len(text) <= 6:  # a source sending only the last four
        return ParsedSSN("", d, False, "ssn_last4_only") if d != "0000" else ParsedSSN(flag="ssn_placeholder")
    if not d or fold(text).strip("- ") in {"unknown", "none", "na"}:
        return ParsedSSN(flag="ssn_unparseable" if text else "")
    if all_same_char(d) or d in _PLACEHOLDER_SSNS or set(d) == {"0"}:
        return ParsedSSN(flag="ssn_placeholder")
    if len(d) == 9:
        area, group, serial = d[:3], d[3:5], d[5:]
        if area in {"000", "666"} or area[0] == "9" or group == "00" or serial == "0000":
            return ParsedSSN(flag="ssn_invalid")
        return ParsedSSN(d, d[5:], True, "")
    if len(d) == 8 and not text.strip().startswith("0"):
        # a lost leading zero (a spreadsheet ate it): still an SSN
        return parse_ssn("0" + d) if len(text.strip()) == 8 else ParsedSSN(d, d[-4:], False, "ssn_nonstandard")
    if 5 <= len(d) <= 12:
        return ParsedSSN(d, d[-4:], False, "ssn_nonstandard")
    return ParsedSSN(flag="ssn_unparseable")


_SEX = {"f": "F", "female": "F", "2": "F", "w": "F", "woman": "F", "fem": "F", "girl": "F",
        "m": "M", "male": "M", "1": "M", "man": "M", "boy": "M"}


def parse_sex(value: object) -> str:
    """``"F"``, ``"M"`` or ``""`` (unknown, other, undisclosed: no evidence either way)."""
    return _SEX.get(fold(value).strip(" ."), "")
