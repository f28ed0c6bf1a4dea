"""Text cleaning shared by every field: accents, case, punctuation, whitespace.

Every function here takes anything (None, NaN, numbers, bytes-decoded junk) and returns a
plain lowercase ASCII string, possibly empty. Empty means missing; nothing here raises.
"""
from __future__ import annotations

import math
import re
import unicodedata

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_MISSING_WORDS = frozenset({"", "nan", "none", "null", "na", "n a", "nil", "unknown", "unk", "not available",
                            "not applicable", "declined", "refused", "missing", "blank", "undefined"})


MAX_FIELD_LENGTH = 200  # no real demographic field is longer; longer is a data dump, not a value


def as_text(value: object) -> str:
    """``value`` as a stripped string; None/NaN, bytes, containers and overlong text become ``""``."""
    if type(value) is str:  # the common case, first
        text = value.strip()
        return "" if len(text) > MAX_FIELD_LENGTH else text
    if value is None or isinstance(value, (bytes, bytearray, memoryview)):
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))
    if isinstance(value, (list, tuple, dict, set)):
        return ""
    try:
        text = str(value).strip()
    except Exception:  # a str() that raises is junk: treat it as missing
        return ""
    return "" if len(text) > MAX_FIELD_LENGTH else text


def fold(value: object) -> str:
    """Lowercase ASCII with accents removed (José -> jose, Zoë -> zoe, ß -> ss)."""
    text = as_text(value)
    if not text:
        return ""
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKD", text.replace("ß", "ss").replace("ø", "o").replace("Ø", "O")
                                 .replace("æ", "ae").replace("Æ", "AE").replace("ł", "l").replace("Ł", "L"))
    return "".join(c for c in text if not unicodedata.combining(c)).encode("ascii", "ignore").decode().lower()


def words(value: object, keep: str = "") -> list[str]:
    """Tokens of ``value`` after folding; apostrophes join (O'Brien -> obrien), other punctuation splits."""
    return folded_words(fold(value), keep)


def folded_words(text: str, keep: str = "") -> list[str]:
    """:func:`words` for text that is already folded (saves folding twice on hot paths)."""
    text = text.replace("'", "").replace("`", "")
    if keep:
        text = re.sub(rf"[^a-z0-9{re.escape(keep)}]+", " ", text)
    else:
        text = _NON_ALNUM.sub(" ", text)
    return text.split()


def is_missing_word(text: str) -> bool:
    """True for the spellings systems use for "no value" (after folding)."""
    return " ".join(_NON_ALNUM.sub(" ", text).split()) in _MISSING_WORDS


_NOT_DIGIT = re.compile(r"[^0-9]+")
_LETTER = re.compile(r"[^\W\d_]")


def digits(value: object) -> str:
    """Only the digits of ``value`` (``"(555) 123-4567"`` -> ``"5551234567"``)."""
    return _NOT_DIGIT.sub("", as_text(value))


def has_letter(text: str) -> bool:
    """Whether any character is a letter (a name, street or city without one is junk)."""
    return _LETTER.search(text) is not None


def all_same_char(text: str) -> bool:
    return len(text) > 1 and len(set(text)) == 1
