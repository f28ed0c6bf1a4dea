"""Person-name normalisation: case, accents, punctuation, compound surnames, suffixes,
nicknames and placeholder names.

A placeholder ("Baby Girl", "Unknown", "Test", "Doe") says nothing about who the person is, so it
becomes missing; "Baby"/"Girl"/"Boy"-style first names additionally mark the record as a
newborn's, which the decision rules use to keep mothers and babies apart.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import jellyfish

from .text import fold, folded_words, has_letter, is_missing_word, words

SUFFIXES = {"jr": "JR", "junior": "JR", "sr": "SR", "senior": "SR", "ii": "II", "2nd": "II", "iii": "III",
            "3rd": "III", "iv": "IV", "4th": "IV", "v": "V", "5th": "V"}
# Honorifics and degrees carry no identity.
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof", "rev", "md", "phd", "dds", "rn", "esq"})
_NEWBORN_WORDS = frozenset({"baby", "babyboy", "babygirl", "bb", "bg", "boy", "girl", "infant", "newborn", "nb",
                            "male", "female", "twin", "twina", "twinb", "a", "b", "son", "daughter", "of"})
_NEWBORN_MARKERS = frozenset({"baby", "babyboy", "babygirl", "bb", "bg", "infant", "newborn", "nb", "twina",
                              "twinb"})
_PLACEHOLDER_WORDS = frozenset({"unknown", "unk", "test", "testing", "patient", "pt", "doe", "fnu", "lnu", "nfn",
                                "nln", "nmn", "xxx", "male", "female", "xx", "x", "zzz", "none", "noname", "anonymous", "anon",
                                "trauma", "alias", "dummy", "sample", "name", "first", "last", "null", "na"})
# The classic "John Doe" / "Jane Doe" pair: placeholder as a whole name, not word by word.
_PLACEHOLDER_FIRST_WITH_DOE = frozenset({"john", "jane", "baby", "unknown"})


@dataclass(frozen=True, slots=True)
class NameParts:
    """One person's normalised name. Empty strings are missing values."""

    first: str = ""
    middle: str = ""
    last: str = ""
    suffix: str = ""
    newborn: bool = False
    flags: tuple[str, ...] = ()


def _name_words(value: object) -> list[str]:
    """Tokens of one name field; a field that is "N/A", "unknown" and the like, or has no letter, is empty."""
    text = fold(value)
    if not text or is_missing_word(text) or not has_letter(text):
        return []
    return [t for t in folded_words(text) if not t.isdigit()]


def _strip_suffix(tokens: list[str], lone_suffix: bool = False) -> tuple[list[str], str]:
    """Split generational suffixes and titles off a token list (at most one suffix kept).

    A lone token is a suffix only where ``lone_suffix`` says so (a middle-name column holding
    "Jr"); a first name "V" or "Ii" alone stays a name.
    """
    kept, suffix = [], ""
    for i, tok in enumerate(tokens):
        if tok in _TITLES:
            continue
        # "v" and "ii" are suffixes only at the end of a multi-token name, never a lone token
        if tok in SUFFIXES and (i > 0 or len(tokens) > 1 or lone_suffix) and (tok not in {"v"} or i == len(tokens) - 1):
            suffix = suffix or SUFFIXES[tok]
            continue
        kept.append(tok)
    return kept, suffix


def parse_name(first: object = None, last: object = None, middle: object = None,
               suffix: object = None) -> NameParts:
    """Normalise the name fields of one record. Never raises."""
    flags: list[str] = []
    first_words, last_words = _name_words(first), _name_words(last)
    if (not first_words and fold(first)) or (not last_words and fold(last)):
        flags.append("placeholder_name")  # "Unknown", "N/A", "123": something was there, no name
    f_tok, f_suf = _strip_suffix(first_words)
    l_tok, l_suf = _strip_suffix(last_words)
    m_tok, m_suf = _strip_suffix(_name_words(middle), lone_suffix=True)
    m_tok = [t for t in m_tok if t not in _PLACEHOLDER_WORDS]
    sfx_tok = words(suffix)
    given_suffix = SUFFIXES.get("".join(sfx_tok), "") if sfx_tok else ""
    if sfx_tok and not given_suffix and not is_missing_word(fold(suffix)):
        flags.append("suffix_unrecognised")
    found = given_suffix or l_suf or f_suf or m_suf

    newborn = bool(_NEWBORN_MARKERS & set(f_tok)) or ("baby" in l_tok) or (
        bool(f_tok) and set(f_tok) <= {"boy", "girl"})
    if newborn:
        flags.append("newborn_name")
        f_tok = [t for t in f_tok if t not in _NEWBORN_WORDS]
        l_tok = [t for t in l_tok if t not in _NEWBORN_WORDS]
    if l_tok == ["doe"] and (not f_tok or f_tok[0] in _PLACEHOLDER_FIRST_WITH_DOE):
        f_tok, l_tok = [], []
        flags.append("placeholder_name")
    f_clean = [t for t in f_tok if t not in _PLACEHOLDER_WORDS]
    l_clean = [t for t in l_tok if t not in _PLACEHOLDER_WORDS]
    if ((f_tok and not f_clean) or (l_tok and not l_clean)) and "placeholder_name" not in flags:
        flags.append("placeholder_name")
    if f_clean and all(len(t) == 1 for t in f_clean) and len(f_clean) > 1:
        f_clean = f_clean[:1]  # "J R" -> initial J
    return NameParts(first="".join(f_clean), middle="".join(m_tok), last="".join(l_clean) if l_clean else "",
                     suffix=found, newborn=newborn, flags=tuple(flags))


def last_name_tokens(last: object) -> tuple[str, ...]:
    """The separate parts of a (possibly compound) surname: "Garcia-Lopez" -> ("garcia", "lopez")."""
    toks, _ = _strip_suffix(_name_words(last))
    return tuple(t for t in toks if t not in _PLACEHOLDER_WORDS and t not in _NEWBORN_WORDS and len(t) > 1)


def first_name_token(first: object) -> str:
    """The first given name alone ("Mary Ann" -> "mary"), for nickname and phonetic look-ups."""
    toks, _ = _strip_suffix(_name_words(first))
    toks = [t for t in toks if t not in _PLACEHOLDER_WORDS and t not in _NEWBORN_WORDS]
    return toks[0] if toks else ""


@lru_cache(maxsize=1)
def _nicknamer():
    from nicknames import NickNamer  # the curated English name/nickname dataset
    return NickNamer()


@lru_cache(maxsize=200_000)
@lru_cache(maxsize=100_000)
def name_family(name: str) -> frozenset[str]:
    """The formal names ``name`` may stand for, itself included: "bill" -> {bill, william, ...}.

    Two first names are nickname-equivalent when their families intersect.
    """
    if not isinstance(name, str) or len(name) < 2:
        return frozenset()
    try:
        return frozenset({name} | set(_nicknamer().canonicals_of(name)))
    except Exception:
        return frozenset({name})


@lru_cache(maxsize=200_000)
def phonetic(name: str) -> str:
    """A phonetic key (metaphone) for blocking and the phonetic comparison level; "" if none."""
    if not name:
        return ""
    try:
        return jellyfish.metaphone(name).replace(" ", "")
    except Exception:
        return ""
