"""Table-driven tests of every field normaliser in mpi.normalise.

Expected values are written out by hand from the field conventions (USPS abbreviations, SSA
numbering rules, calendar validity), never computed with the code under test. Every normaliser
also gets the same junk inputs, each of which must come back "missing" without raising.
"""
from __future__ import annotations

import datetime as dt

import pytest

from mpi.normalise import (infer_day_order, name_family, parse_city, parse_date, parse_email, parse_name,
                           parse_phone, parse_sex, parse_ssn, parse_state, parse_street, parse_zip)

TODAY = dt.date(2024, 6, 1)  # fixed "today" so future / two-digit-year cases do not drift


# --------------------------------------------------------------------------------------------
# names
# --------------------------------------------------------------------------------------------

# (first, last, middle, suffix) -> (first, middle, last, suffix, newborn)
NAME_CASES = [
    # case and accents
    (("JOHN", "SMITH", None, None), ("john", "", "smith", "", False)),
    (("  mary ", "  SMITH  ", None, None), ("mary", "", "smith", "", False)),
    (("José", "García", None, None), ("jose", "", "garcia", "", False)),
    (("JOSÉ", "GARCÍA", None, None), ("jose", "", "garcia", "", False)),
    (("Zoë", "Saldaña", None, None), ("zoe", "", "saldana", "", False)),
    (("ZOE", "SALDANA", None, None), ("zoe", "", "saldana", "", False)),
    (("Björn", "Ødegård", None, None), ("bjorn", "", "odegard", "", False)),
    # apostrophes and compound surnames join into one comparable token
    (("Mary", "O'Brien", None, None), ("mary", "", "obrien", "", False)),
    (("Mary", "O BRIEN", None, None), ("mary", "", "obrien", "", False)),
    (("Mary", "Garcia-Lopez", None, None), ("mary", "", "garcialopez", "", False)),
    (("Mary", "Garcia Lopez", None, None), ("mary", "", "garcialopez", "", False)),
    (("Mary", "De La Cruz", None, None), ("mary", "", "delacruz", "", False)),
    (("Mary-Jane", "Smith", None, None), ("maryjane", "", "smith", "", False)),
    (("John", "Smith", "Quincy", None), ("john", "quincy", "smith", "", False)),
    # generational suffixes split out of the first or last name, or given in the suffix column
    (("John Jr", "Smith", None, None), ("john", "", "smith", "JR", False)),
    (("John", "Smith Jr.", None, None), ("john", "", "smith", "JR", False)),
    (("John", "Smith, Sr", None, None), ("john", "", "smith", "SR", False)),
    (("John", "Smith II", None, None), ("john", "", "smith", "II", False)),
    (("John", "Smith III", None, None), ("john", "", "smith", "III", False)),
    (("John III", "Smith", None, None), ("john", "", "smith", "III", False)),
    (("John", "Smith V", None, None), ("john", "", "smith", "V", False)),
    (("John", "Smith", None, "III"), ("john", "", "smith", "III", False)),
    (("John", "Smith", None, "jr."), ("john", "", "smith", "JR", False)),
    (("John", "Smith", None, "Junior"), ("john", "", "smith", "JR", False)),
    (("John", "Smith", None, "Sr."), ("john", "", "smith", "SR", False)),
    (("John", "Smith", None, "2nd"), ("john", "", "smith", "II", False)),
    (("John", "Smith", None, "IV"), ("john", "", "smith", "IV", False)),
    # a lone "V" is a name (an initial), not the suffix "the fifth"
    (("V", "Smith", None, None), ("v", "", "smith", "", False)),
    # titles and degrees carry no identity
    (("Dr. John", "Smith", None, None), ("john", "", "smith", "", False)),
    (("Mrs Mary", "Smith", None, None), ("mary", "", "smith", "", False)),
    (("Mary", "Smith PhD", None, None), ("mary", "", "smith", "", False)),
    (("Rev. John", "Smith", None, None), ("john", "", "smith", "", False)),
    # newborn placeholders: the first name is missing and the record is flagged as a newborn's
    (("Baby Girl", "Smith", None, None), ("", "", "smith", "", True)),
    (("BABY BOY", "JONES", None, None), ("", "", "jones", "", True)),
    (("Baby", "Lee", None, None), ("", "", "lee", "", True)),
    (("Infant", "Lee", None, None), ("", "", "lee", "", True)),
    (("Newborn", "Lee", None, None), ("", "", "lee", "", True)),
    (("BG", "Lee", None, None), ("", "", "lee", "", True)),
    # placeholders say nothing about the person: missing, and not a newborn
    (("Unknown", "Unknown", None, None), ("", "", "", "", False)),
    (("Unknown", "Smith", None, None), ("", "", "smith", "", False)),
    (("John", "Unknown", None, None), ("john", "", "", "", False)),
    (("Test", "Patient", None, None), ("", "", "", "", False)),
    (("Test", "Test", None, None), ("", "", "", "", False)),
    (("John", "Doe", None, None), ("", "", "", "", False)),
    (("Jane", "Doe", None, None), ("", "", "", "", False)),
    (("FNU", "Smith", None, None), ("", "", "smith", "", False)),
    (("John", "LNU", None, None), ("john", "", "", "", False)),
]


@pytest.mark.parametrize("given, expected", NAME_CASES, ids=[" ".join(str(x) for x in c[0] if x) for c in NAME_CASES])
def test_parse_name(given, expected):
    got = parse_name(*given)
    assert (got.first, got.middle, got.last, got.suffix, got.newborn) == expected


@pytest.mark.parametrize("first, last", [("Baby Girl", "Smith"), ("Unknown", "Unknown"), ("John", "Doe"),
                                         ("Test", "Patient")])
def test_placeholder_names_are_flagged(first, last):
    flags = parse_name(first, last).flags
    assert flags, "a placeholder name must leave a data-quality flag"


def test_unrecognised_suffix_is_flagged_not_kept():
    got = parse_name("Bill", "Smith", None, "xyz")
    assert got.suffix == ""
    assert "suffix_unrecognised" in got.flags


@pytest.mark.parametrize("first, last", [("N/A", "Smith"), ("John", "N/A")])
def test_na_in_name_field_is_missing(first, last):
    got = parse_name(first, last)
    assert "n" not in (got.first, got.last) and "na" not in (got.first, got.last)


@pytest.mark.parametrize("middle", ["NMN", "Unknown", "N/A"])
def test_placeholder_middle_name_is_missing(middle):
    assert parse_name("John", "Smith", middle).middle == ""


def test_suffix_in_middle_column_is_split_out():
    got = parse_name("John", "Smith", "Jr")
    assert (got.middle, got.suffix) == ("", "JR")


@pytest.mark.parametrize("a, b", [("bill", "william"), ("bob", "robert"), ("peggy", "margaret"),
                                  ("liz", "elizabeth"), ("jon", "john"), ("william", "william")])
def test_name_family_nicknames_intersect(a, b):
    assert name_family(a) & name_family(b)


@pytest.mark.parametrize("a, b", [("john", "william"), ("mary", "margaret"), ("robert", "richard"),
                                  ("xochitl", "zbigniew")])
def test_name_family_unrelated_names_do_not_intersect(a, b):
    assert not (name_family(a) & name_family(b))


@pytest.mark.parametrize("name", ["", "j"])
def test_name_family_of_missing_or_initial_is_empty(name):
    assert name_family(name) == frozenset()


def test_name_family_contains_the_name_itself():
    assert "xochitl" in name_family("xochitl")
    assert "bill" in name_family("bill")


# --------------------------------------------------------------------------------------------
# dates of birth
# --------------------------------------------------------------------------------------------

# (value, order hint) -> (iso, flag)
DATE_CASES = [
    # every format real sources send, all meaning 31 January 1980
    ("1980-01-31", None, "1980-01-31", ""),
    ("1980/01/31", None, "1980-01-31", ""),
    ("1980.01.31", None, "1980-01-31", ""),
    ("01/31/1980", None, "1980-01-31", ""),
    ("31/01/1980", None, "1980-01-31", ""),
    ("1-31-1980", None, "1980-01-31", ""),
    ("19800131", None, "1980-01-31", ""),
    ("01311980", None, "1980-01-31", ""),
    ("31011980", None, "1980-01-31", ""),
    ("Jan 31 1980", None, "1980-01-31", ""),
    ("January 31, 1980", None, "1980-01-31", ""),
    ("jan 31st 1980", None, "1980-01-31", ""),
    ("31 January 1980", None, "1980-01-31", ""),
    ("31-Jan-1980", None, "1980-01-31", ""),
    ("1980 Jan 31", None, "1980-01-31", ""),
    ("Sept 5 1980", None, "1980-09-05", ""),
    ("1980-01-31T13:45:00", None, "1980-01-31", ""),
    ("1980-01-31 00:00:00", None, "1980-01-31", ""),
    ("1980-01-31T00:00:00Z", None, "1980-01-31", ""),
    ("1980-01-31T00:00:00.000+00:00", None, "1980-01-31", ""),
    ("|2/23/1968", None, "1968-12-23", ""),  # scanner read the 1 as a bar
    # leap years
    ("02/29/1980", None, "1980-02-29", ""),
    ("02/29/1981", None, "", "dob_invalid"),
    # impossible dates
    ("1980-02-30", None, "", "dob_invalid"),
    ("02/30/1980", None, "", "dob_invalid"),
    ("13/13/1980", None, "", "dob_invalid"),
    ("1980-13-01", None, "", "dob_invalid"),
    ("00/00/0000", None, "", "dob_invalid"),
    ("1850-05-05", None, "", "dob_invalid"),  # nobody alive was born then
    ("hello", None, "", "dob_unparseable"),
    # day/month order: never guessed
    ("03/04/1980", None, "", "dob_ambiguous"),
    ("03041980", None, "", "dob_ambiguous"),
    ("03/04/1980", "dmy", "1980-04-03", ""),
    ("03/04/1980", "mdy", "1980-03-04", ""),
    ("03041980", "dmy", "1980-04-03", ""),
    ("03041980", "mdy", "1980-03-04", ""),
    ("04/04/1980", None, "1980-04-04", ""),  # both readings agree
    ("31/01/1980", "mdy", "1980-01-31", "dob_day_month_swapped"),  # the value contradicts the hint
    # two-digit years: the most recent century that is not in the future
    ("01/31/80", None, "1980-01-31", "dob_two_digit_year"),
    ("31/01/80", None, "1980-01-31", "dob_two_digit_year"),
    ("01/31/05", None, "2005-01-31", "dob_two_digit_year"),
    ("01/31/24", None, "2024-01-31", "dob_two_digit_year"),
    ("01/31/30", None, "1930-01-31", "dob_two_digit_year"),
    ("013180", None, "1980-01-31", "dob_two_digit_year"),
    # future dates are missing
    ("2024-06-02", None, "", "dob_invalid"),
    ("2030-01-01", None, "", "dob_invalid"),
    ("12/31/2099", None, "", "dob_invalid"),
    # placeholder dates are missing
    ("1900-01-01", None, "", "dob_placeholder"),
    ("01/01/1900", None, "", "dob_placeholder"),
    ("19000101", None, "", "dob_placeholder"),
]


@pytest.mark.parametrize("value, order, iso, flag", DATE_CASES, ids=[f"{c[0]}-{c[1]}" for c in DATE_CASES])
def test_parse_date(value, order, iso, flag):
    got = parse_date(value, order, today=TODAY)
    assert (got.iso, got.flag) == (iso, flag)


def test_parse_date_today_itself_is_valid_but_tomorrow_is_not():
    assert parse_date("2024-06-01", today=TODAY).iso == "2024-06-01"
    assert parse_date("2024-06-02", today=TODAY).iso == ""


def test_parsed_date_parts():
    got = parse_date("Jan 31 1980", today=TODAY)
    assert (got.year, got.month, got.day) == (1980, 1, 31)
    missing = parse_date("", today=TODAY)
    assert (missing.year, missing.month, missing.day) == (-1, -1, -1)


DAY_ORDER_CASES = [
    (["31/01/1980"] * 25, "dmy"),
    (["01/31/1980"] * 25, "mdy"),
    (["31011980"] * 25, "dmy"),
    (["01311980"] * 25, "mdy"),
    (["01/31/1980"] * 25 + ["03/04/1980"] * 100, "mdy"),  # ambiguous values do not vote
    (["01/31/1980"] * 10, None),  # too few deciding dates
    (["31/01/1980"] * 19 + ["03/04/1980"] * 100, None),
    (["01/31/1980"] * 20 + ["31/01/1980"] * 5, None),  # sources disagree: 80% is not enough
    (["1980-01-31"] * 30, None),  # ISO says nothing about numeric order
    (["19800131"] * 30, None),  # YYYYMMDD neither
    ([], None),
]


@pytest.mark.parametrize("values, expected", DAY_ORDER_CASES,
                         ids=[f"{len(v)}-{v[0] if v else 'none'}-{e}" for v, e in DAY_ORDER_CASES])
def test_infer_day_order(values, expected):
    assert infer_day_order(values) == expected


# --------------------------------------------------------------------------------------------
# SSN and sex
# --------------------------------------------------------------------------------------------

# value -> (full, last4, valid)
SSN_CASES = [
    ("123-45-6788", ("123456788", "6788", True)),
    ("123 45 6788", ("123456788", "6788", True)),
    ("123456788", ("123456788", "6788", True)),
    (123456788, ("123456788", "6788", True)),
    (" 123-45-6788 ", ("123456788", "6788", True)),
    ("23456789", ("023456789", "6789", True)),  # a spreadsheet ate the leading zero
    # masked: last four kept, not a full number
    ("***-**-1234", ("", "1234", False)),
    ("XXX-XX-1234", ("", "1234", False)),
    ("xxx-xx-1234", ("", "1234", False)),
    ("###-##-1234", ("", "1234", False)),
    ("1234", ("", "1234", False)),  # a source that only sends the last four
    ("***-**-0000", ("", "", False)),
    # placeholders
    ("999-99-9999", ("", "", False)),
    ("000-00-0000", ("", "", False)),
    ("123-45-6789", ("", "", False)),
    ("123456789", ("", "", False)),
    ("111-11-1111", ("", "", False)),
    ("987-65-4321", ("", "", False)),
    ("078-05-1120", ("", "", False)),  # the Woolworth wallet card
    # never issued by the SSA: area 000, 666, 9xx; group 00; serial 0000
    ("000-12-3456", ("", "", False)),
    ("666-12-3456", ("", "", False)),
    ("900-12-3456", ("", "", False)),
    ("987-65-4320", ("", "", False)),
    ("123-00-4567", ("", "", False)),
    ("123-45-0000", ("", "", False)),
    # not nine digits: kept as a plain identifier, never "valid"
    ("A1234567", ("1234567", "4567", False)),
]


@pytest.mark.parametrize("value, expected", SSN_CASES, ids=[repr(c[0]) for c in SSN_CASES])
def test_parse_ssn(value, expected):
    got = parse_ssn(value)
    assert (got.full, got.last4, got.valid) == expected


@pytest.mark.parametrize("value", ["999-99-9999", "000-12-3456", "***-**-1234"])
def test_parse_ssn_flags_why(value):
    assert parse_ssn(value).flag != ""


SEX_CASES = [("F", "F"), ("f", "F"), ("female", "F"), ("FEMALE", "F"), (" F ", "F"), ("F.", "F"), ("2", "F"),
             (2, "F"), ("W", "F"), ("M", "M"), ("male", "M"), ("Male", "M"), ("1", "M"), (1, "M"),
             ("U", ""), ("unknown", ""), ("X", ""), ("O", ""), ("other", ""), ("3", "")]


@pytest.mark.parametrize("value, expected", SEX_CASES, ids=[repr(c[0]) for c in SEX_CASES])
def test_parse_sex(value, expected):
    assert parse_sex(value) == expected


# --------------------------------------------------------------------------------------------
# contact
# --------------------------------------------------------------------------------------------

PHONE_CASES = [
    ("(212) 867-5309", "2128675309"),
    ("212-867-5309", "2128675309"),
    ("212.867.5309", "2128675309"),
    ("212 867 5309", "2128675309"),
    ("2128675309", "2128675309"),
    (2128675309, "2128675309"),
    (2128675309.0, "2128675309"),  # a spreadsheet number
    ("+1 212 867 5309", "2128675309"),
    ("+12128675309", "2128675309"),
    ("1-212-867-5309", "2128675309"),
    ("001 212 867 5309", "2128675309"),
    ("212-867-5309 ext 12", "2128675309"),
    ("212-867-5309 ext. 12", "2128675309"),
    ("(212) 867-5309 x 12", "2128675309"),
    ("212-867-5309 #12", "2128675309"),
    ("867-5309", "8675309"),  # no area code: seven digits kept
    # dummies
    ("000-000-0000", ""),
    ("123-456-7890", ""),
    ("555-555-5555", ""),
    ("999-999-9999", ""),
    ("(555) 123-4567", ""),
    ("111-1111", ""),
    ("112-867-5309", ""),  # no area code starts with 1
    # wrong length
    ("867-530", ""),
    ("212-867-53091", ""),
]


@pytest.mark.parametrize("value, expected", PHONE_CASES, ids=[repr(c[0]) for c in PHONE_CASES])
def test_parse_phone(value, expected):
    assert parse_phone(value) == expected


EMAIL_CASES = [
    ("John.Smith@Gmail.com", "john.smith@gmail.com"),
    ("  JOHN@GMAIL.COM ", "john@gmail.com"),
    ("josé@gmail.com", "jose@gmail.com"),
    ("jose@gmail.com.", "jose@gmail.com"),
    ("a.b+tag@mail.co.uk", "a.b+tag@mail.co.uk"),
    ("none@none.com", ""),
    ("noemail@gmail.com", ""),
    ("test@test.com", ""),
    ("declined@hospital.org", ""),
    ("john@example.com", ""),
    ("john@", ""),
    ("john@gmail", ""),
    ("@gmail.com", ""),
    ("john.gmail.com", ""),
]


@pytest.mark.parametrize("value, expected", EMAIL_CASES, ids=[c[0] for c in EMAIL_CASES])
def test_parse_email(value, expected):
    assert parse_email(value) == expected


# --------------------------------------------------------------------------------------------
# address
# --------------------------------------------------------------------------------------------

# pairs that must normalise to the same full street line
SAME_STREET = [
    ("12 Main Street Apt 4", "12 MAIN ST #4"),
    ("12 Main Street Apt 4", "12 Main St. Apartment 4"),
    ("12 Main Street Apt 4", "12 Main St, Unit 4"),
    ("12 Main Street Apt 4", "12 main st suite 4"),
    ("12 Main Street Apt 4", "12 Main St # 4"),
    ("55 Sunset Boulevard", "55 SUNSET BLVD"),
    ("7 Oak Avenue", "7 Oak Ave."),
    ("7 Oak Road", "7 Oak Rd"),
    ("7 Oak Drive", "7 Oak Dr"),
    ("7 Oak Lane", "7 Oak Ln"),
    ("7 Oak Court", "7 Oak Ct"),
    ("7 Oak Place", "7 Oak Pl"),
    ("7 Oak Terrace", "7 Oak Ter"),
    ("7 Oak Parkway", "7 Oak Pkwy"),
    ("7 Old Highway", "7 Old Hwy"),
    ("12 North Main Street", "12 N Main St"),
    ("100 First Avenue", "100 1st Ave"),
]


@pytest.mark.parametrize("a, b", SAME_STREET, ids=[f"{a}=={b}" for a, b in SAME_STREET])
def test_parse_street_equivalent_spellings(a, b):
    pa, pb = parse_street(a), parse_street(b)
    assert pa.full != ""
    assert pa == pb


DIFFERENT_STREET = [
    ("12 Main Street Apt 4", "12 Main Street Apt 5"),
    ("12 Main Street Apt 4", "12 Main Street"),
    ("12 Main Street", "14 Main Street"),
    ("12 Main Street", "12 Main Avenue"),
    ("12 North Main Street", "12 South Main Street"),
]


@pytest.mark.parametrize("a, b", DIFFERENT_STREET, ids=[f"{a}!={b}" for a, b in DIFFERENT_STREET])
def test_parse_street_different_addresses_differ(a, b):
    assert parse_street(a).full != parse_street(b).full


STREET_PARTS = [
    ("12 Main Street Apt 4", ("12 main st apt 4", "12", "main st", "4")),
    ("12 MAIN ST #4B", ("12 main st apt 4b", "12", "main st", "4b")),
    ("12 Main St", ("12 main st", "12", "main st", "")),
    ("PO Box 123", ("po box 123", "", "po box 123", "")),
]


@pytest.mark.parametrize("value, expected", STREET_PARTS, ids=[c[0] for c in STREET_PARTS])
def test_parse_street_parts(value, expected):
    got = parse_street(value)
    assert (got.full, got.number, got.name, got.unit) == expected


@pytest.mark.parametrize("value", ["Unknown", "HOMELESS", "General Delivery", "no fixed address", "N/A"])
def test_parse_street_placeholders_are_missing(value):
    assert parse_street(value).full == ""


ZIP_CASES = [
    ("62704", "62704"),
    ("62704-1234", "62704"),
    ("627041234", "62704"),
    (" 90210 ", "90210"),
    (90210, "90210"),
    (90210.0, "90210"),
    ("02134", "02134"),
    ("02134-0001", "02134"),
    ("ZIP 90210", "90210"),
    ("2600", "2600"),  # four-digit postcode (Australia, as in FEBRL)
    ("00000", ""),
    ("99999", ""),
    ("12345", ""),
    ("11111", ""),
    ("12", ""),
]


@pytest.mark.parametrize("value, expected", ZIP_CASES, ids=[repr(c[0]) for c in ZIP_CASES])
def test_parse_zip(value, expected):
    assert parse_zip(value) == expected


CITY_CASES = [
    ("Springfield", "springfield"),
    ("SPRINGFIELD ", "springfield"),
    ("Saint Paul", "st paul"),
    ("St. Paul", "st paul"),
    ("ST PAUL", "st paul"),
    ("Fort Worth", "ft worth"),
    ("Ft. Worth", "ft worth"),
    ("Mount Vernon", "mt vernon"),
    ("São Paulo", "sao paulo"),
    ("Winston-Salem", "winston salem"),
    ("unknown", ""),
]


@pytest.mark.parametrize("value, expected", CITY_CASES, ids=[c[0] for c in CITY_CASES])
def test_parse_city(value, expected):
    assert parse_city(value) == expected


STATE_CASES = [
    ("CA", "ca"),
    ("ca", "ca"),
    ("California", "ca"),
    ("CALIFORNIA", "ca"),
    ("new york", "ny"),
    ("NY", "ny"),
    ("District of Columbia", "dc"),
    ("nsw", "nsw"),  # outside the US: cleaned text
    ("unknown", ""),
    pytest.param("N.Y.", "ny"),
]


@pytest.mark.parametrize("value, expected", STATE_CASES)
def test_parse_state(value, expected):
    assert parse_state(value) == expected


# --------------------------------------------------------------------------------------------
# junk: every normaliser, every junk value -> missing, never an exception
# --------------------------------------------------------------------------------------------

JUNK = {
    "none": None,
    "nan": float("nan"),
    "empty": "",
    "int123": 123,
    "bangs": "!!!",
    "long": "Abcdefghij" * 1000,  # 10,000 characters
    "emoji": "😀👶🏽💉",
    "bytes": b"\xff\xfe\xfd",  # undecodable bytes handed over as-is
    "surrogates": "\udcff\udcfe",  # bytes smuggled into text by surrogateescape decoding
}


def _name_missing(v):
    got = parse_name(v, v, v, v)
    return (got.first, got.middle, got.last, got.suffix, got.newborn) == ("", "", "", "", False)


def _street_missing(v):
    got = parse_street(v)
    return (got.full, got.number, got.name, got.unit) == ("", "", "", "")


def _ssn_missing(v):
    got = parse_ssn(v)
    return (got.full, got.last4, got.valid) == ("", "", False)


COMMON_FAMILIES = name_family("william") | name_family("john") | name_family("mary") | name_family("robert")

NORMALISERS = {
    "parse_name": _name_missing,
    "parse_date": lambda v: parse_date(v, today=TODAY).iso == "" and parse_date(v, "dmy", today=TODAY).iso == "",
    "infer_day_order": lambda v: infer_day_order([v] * 30) is None,
    "parse_ssn": _ssn_missing,
    "parse_sex": lambda v: parse_sex(v) == "",
    "parse_phone": lambda v: parse_phone(v) == "",
    "parse_email": lambda v: parse_email(v) == "",
    "parse_street": _street_missing,
    "parse_zip": lambda v: parse_zip(v) == "",
    "parse_city": lambda v: parse_city(v) == "",
    "parse_state": lambda v: parse_state(v) == "",
    # a family is "missing" when it can make the junk nickname-equivalent to no real name
    "name_family": lambda v: isinstance(name_family(v), frozenset) and not (name_family(v) & COMMON_FAMILIES),
}

def _junk_params():
    for fn in NORMALISERS:
        for junk in JUNK:
            yield pytest.param(fn, junk, id=f"{fn}-{junk}")


@pytest.mark.parametrize("normaliser, junk", list(_junk_params()))
def test_junk_is_missing_and_never_raises(normaliser, junk):
    assert NORMALISERS[normaliser](JUNK[junk]) is True
