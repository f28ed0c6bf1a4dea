"""Per-field normalisers (pure functions that never raise) and their DataFrame driver."""
from .address import ParsedStreet, parse_city, parse_state, parse_street, parse_zip
from .contact import parse_email, parse_phone
from .dates import ParsedDate, infer_day_order, parse_date
from .identifiers import ParsedSSN, parse_sex, parse_ssn
from .names import NameParts, first_name_token, last_name_tokens, name_family, parse_name, phonetic

__all__ = ["NameParts", "ParsedDate", "ParsedSSN", "ParsedStreet", "first_name_token", "infer_day_order",
           "last_name_tokens", "name_family", "parse_city", "parse_date", "parse_email", "parse_name",
           "parse_phone", "parse_sex", "parse_ssn", "parse_state", "parse_street", "parse_zip", "phonetic"]
