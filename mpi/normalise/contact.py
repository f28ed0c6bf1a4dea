"""Phone numbers and e-mail addresses.

Phones are compared on their national ten digits (a leading country code 1 dropped); seven
digits (no area code) are kept so the last seven can still be compared. Dummy numbers
(``000-000-0000``, ``123-456-7890``, one repeated digit) are missing.
"""
from __future__ import annotations

import re

from .text import all_same_char, as_text, digits, fold

_EXTENSION = re.compile(r"(?:ext\.?|x|#)\s*\d+\s*$", re.IGNORECASE)
_DUMMY_PHONES = frozenset({"1234567890", "0123456789", "9876543210", "1234567", "5551234567", "5555555555"})
_EMAIL = re.compile(r"^[a-z0-9._%+\-]+@[a-z0-9.\-]+\.[a-z]{2,}$")
_DUMMY_EMAIL_LOCAL = frozenset({"none", "noemail", "no", "na", "test", "unknown", "declined", "noreply",
                                "no-reply", "nomail", "null", "email", "patient", "refused", "donotreply"})


def parse_phone(value: object) -> str:
    """Digits of a phone number (10, or 7 when no area code was given); ``""`` if unusable."""
    text = _EXTENSION.sub("", as_text(value))
    d = digits(text)
    if len(d) == 11 and d[0] == "1":
        d = d[1:]
    elif len(d) > 11 and d.startswith("001"):
        d = d[3:]
    if len(d) not in (7, 10) or all_same_char(d) or d in _DUMMY_PHONES or d[-7:] in {"0000000", "5555555"}:
        return ""
    if len(d) == 10 and (d[0] in "01" or all_same_char(d[3:])):
        return ""
    return d


def parse_email(value: object) -> str:
    """Lower-cased address when it looks deliverable; dummy addresses (``none@none.com``) are missing."""
    text = fold(value).strip().strip(".").replace(" ", "")
    if not _EMAIL.match(text):
        return ""
    local, _, domain = text.partition("@")
    if local in _DUMMY_EMAIL_LOCAL or domain.split(".")[0] in {"none", "noemail", "test", "example", "unknown"}:
        return ""
    return text
