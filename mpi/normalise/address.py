"""Postal addresses: USPS street-suffix, directional and unit abbreviations, ZIP to five digits.

``12 Main Street Apt 4`` and ``12 MAIN ST #4`` normalise to the same ``12 main st apt 4``; the
house number, the street name and the unit are also returned apart, because a shared house
number and street with a different flat means "same building", not "same household".
"""
from __future__ import annotations

from dataclasses import dataclass

from .text import all_same_char, digits, fold, has_letter, is_missing_word, words

STREET_SUFFIXES = {
    "street": "st", "str": "st", "st": "st", "avenue": "ave", "av": "ave", "ave": "ave", "aven": "ave",
    "road": "rd", "rd": "rd", "drive": "dr", "drv": "dr", "dr": "dr", "lane": "ln", "ln": "ln",
    "boulevard": "blvd", "boul": "blvd", "blvd": "blvd", "court": "ct", "crt": "ct", "ct": "ct",
    "place": "pl", "pl": "pl", "circle": "cir", "circ": "cir", "cir": "cir", "terrace": "ter", "terr": "ter",
    "ter": "ter", "parkway": "pkwy", "pkwy": "pkwy", "highway": "hwy", "hwy": "hwy", "square": "sq", "sq": "sq",
    "trail": "trl", "trl": "trl", "way": "way", "wy": "way", "crescent": "cres", "cres": "cres",
    "circuit": "cct", "cct": "cct", "close": "cl", "cl": "cl", "parade": "pde", "pde": "pde", "point": "pt",
    "pt": "pt", "alley": "aly", "aly": "aly", "expressway": "expy", "freeway": "fwy", "plaza": "plz",
    "plz": "plz", "ridge": "rdg", "heights": "hts", "hts": "hts", "mount": "mt", "mountain": "mtn",
    "junction": "jct", "crossing": "xing", "center": "ctr", "centre": "ctr", "loop": "loop", "row": "row",
    "run": "run", "pass": "pass", "path": "path", "pike": "pike", "walk": "walk", "view": "vw",
}
DIRECTIONALS = {"north": "n", "south": "s", "east": "e", "west": "w", "northeast": "ne", "northwest": "nw",
                "southeast": "se", "southwest": "sw", "n": "n", "s": "s", "e": "e", "w": "w", "ne": "ne",
                "nw": "nw", "se": "se", "sw": "sw"}
UNIT_WORDS = {"apartment": "apt", "apt": "apt", "unit": "apt", "suite": "apt", "ste": "apt", "flat": "apt",
              "room": "apt", "rm": "apt", "no": "apt", "number": "apt", "lot": "apt", "space": "apt", "spc": "apt",
              "bldg": "bldg", "building": "bldg", "floor": "fl", "fl": "fl", "#": "apt"}
ORDINALS = {"first": "1st", "second": "2nd", "third": "3rd", "fourth": "4th", "fifth": "5th", "sixth": "6th",
            "seventh": "7th", "eighth": "8th", "ninth": "9th", "tenth": "10th"}
_PLACEHOLDER_STREETS = frozenset({"unknown", "homeless", "none", "no address", "general delivery", "transient",
                                  "na", "street", "address", "unk", "xxx", "not given", "no fixed address"})
US_STATES = {
    "alabama": "al", "alaska": "ak", "arizona": "az", "arkansas": "ar", "california": "ca", "colorado": "co",
    "connecticut": "ct", "delaware": "de", "district of columbia": "dc", "florida": "fl", "georgia": "ga",
    "hawaii": "hi", "idaho": "id", "illinois": "il", "indiana": "in", "iowa": "ia", "kansas": "ks",
    "kentucky": "ky", "louisiana": "la", "maine": "me", "maryland": "md", "massachusetts": "ma",
    "michigan": "mi", "minnesota": "mn", "mississippi": "ms", "missouri": "mo", "montana": "mt",
    "nebraska": "ne", "nevada": "nv", "new hampshire": "nh", "new jersey": "nj", "new mexico": "nm",
    "new york": "ny", "north carolina": "nc", "north dakota": "nd", "ohio": "oh", "oklahoma": "ok",
    "oregon": "or", "pennsylvania": "pa", "rhode island": "ri", "south carolina": "sc", "south dakota": "sd",
    "tennessee": "tn", "texas": "tx", "utah": "ut", "vermont": "vt", "virginia": "va", "washington": "wa",
    "west virginia": "wv", "wisconsin": "wi", "wyoming": "wy", "puerto rico": "pr", "guam": "gu",
}
_CITY_WORDS = {"saint": "st", "ste": "st", "fort": "ft", "mount": "mt", "mt": "mt", "north": "n", "south": "s",
               "east": "e", "west": "w"}


@dataclass(frozen=True, slots=True)
class ParsedStreet:
    """``full`` for display-independent equality; its parts for finer comparison levels."""

    full: str = ""
    number: str = ""
    name: str = ""
    unit: str = ""


def parse_street(value: object) -> ParsedStreet:
    """Normalise one street line. Never raises."""
    text = fold(value).replace("#", " # ")
    if not text or not has_letter(text) or is_missing_word(text) or " ".join(words(text)) in _PLACEHOLDER_STREETS:
        return ParsedStreet()
    toks = words(text, keep="#")
    out: list[str] = []
    unit: list[str] = []
    in_unit = False
    for i, tok in enumerate(toks):
        if tok in UNIT_WORDS and (i > 0):
            in_unit = True
            continue
        if in_unit:
            unit.append(tok)
            continue
        if tok in ORDINALS:
            tok = ORDINALS[tok]
        elif tok in DIRECTIONALS and len(toks) > 2:
            tok = DIRECTIONALS[tok]
        elif tok in STREET_SUFFIXES and i > 0:
            tok = STREET_SUFFIXES[tok]
        out.append(tok)
    number = ""
    if out and out[0][:1].isdigit():
        number = out[0]
        rest = out[1:]
        # "12 1/2" style fractions or a unit written before the street number ("4 12 main st")
        while rest and rest[0].isdigit() and len(rest) > 1 and not rest[1][:1].isdigit() and len(rest[0]) == 1:
            rest = rest[1:]
    else:
        rest = out
    name = " ".join(rest)
    unit_text = "".join(unit)
    full = " ".join(out) + (f" apt {unit_text}" if unit_text else "")
    return ParsedStreet(full.strip(), number, name, unit_text)


def parse_city(value: object) -> str:
    """City as lowercase words with common abbreviations unified ("Saint Paul" -> "st paul")."""
    toks = words(value)
    if not toks or is_missing_word(" ".join(toks)) or not has_letter("".join(toks)):
        return ""
    return " ".join(_CITY_WORDS.get(t, t) if len(toks) > 1 else t for t in toks)


def parse_state(value: object) -> str:
    """Two-letter code for US states written out; other regions as cleaned lowercase text."""
    toks = words(value)
    if toks and all(len(t) == 1 for t in toks):
        toks = ["".join(toks)]  # "N.Y." -> "ny"
    text = " ".join(toks)
    if not text or is_missing_word(text) or not has_letter(text):
        return ""
    return US_STATES.get(text, text)


def parse_zip(value: object) -> str:
    """First five digits of a US ZIP (ZIP+4 dropped); shorter postcodes kept; dummies missing."""
    d = digits(value)
    if len(d) in (9, 10):
        d = d[:5]
    elif len(d) > 5:
        d = d[:5]
    if len(d) < 4 or all_same_char(d) or d in {"12345", "99999", "00000"}:
        return ""
    return d
