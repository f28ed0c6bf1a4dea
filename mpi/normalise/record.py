"""One record at a time: the real-time path's normaliser.

It runs the same :mod:`mpi.normalise.fields` functions :func:`mpi.normalise.frame.normalise_frame`
runs per distinct value, on one record's values, so it gives exactly the frame's row for that
record (the tests hold the two to that) without the cost of building a DataFrame for one row.
"""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ..errors import InputError
from ..records import DEFAULT_SOURCE, ID_COLUMN, MATCH_FIELDS, SOURCE_COLUMN
from .dates import DayOrder
from .fields import (CLEARED_WITH_SHARED, FLAG_COLUMNS, NAME_FIELDS, NORMALISED_ORDER, OTHER_FIELDS,
                     SHARED_ID_COLUMNS, dob_field, join_flags, shared_flag)

_DOB_FIELDS = {order: dob_field(order) for order in (None, "mdy", "dmy")}


def cell_text(value: object) -> str:
    """One raw value as :func:`mpi.records.validate_records` makes it text: missing (None, NaN,
    NA) is ``""``, a string stays as it is, anything else is ``str(value)``."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    try:
        if pd.api.types.is_scalar(value) and pd.isna(value):
            return ""
        return str(value)
    except Exception:  # a value whose str() raises is junk: missing
        return ""


def normalise_record(raw: Mapping[str, object], day_order: DayOrder | None = None,
                     shared: Mapping[str, frozenset[str]] | None = None) -> dict[str, object]:
    """The normalised fields of one canonical record (a mapping with at least ``record_id``).

    ``day_order`` is the record's source's day/month order (``None``: ambiguous dates stay
    missing); ``shared`` the placeholder identifiers to treat as missing. Never raises on junk
    field values; a missing or empty ``record_id`` raises :class:`InputError` as in
    :func:`mpi.records.validate_records`.
    """
    if ID_COLUMN not in raw:
        raise InputError("no record_id column", column=ID_COLUMN)
    record_id = cell_text(raw[ID_COLUMN]).strip()
    if not record_id:
        raise InputError("empty record_id", row=1, column=ID_COLUMN)
    values = {c: cell_text(raw.get(c)) for c in MATCH_FIELDS}
    dob = _DOB_FIELDS.get(day_order) or dob_field(day_order)
    for field in (*NAME_FIELDS, dob, *OTHER_FIELDS):
        values.update(zip(field.outputs, field.fn(*[values[c] for c in field.inputs])))
    known = shared or {}
    flags = [values[c] for c in FLAG_COLUMNS]
    for col in SHARED_ID_COLUMNS:
        if values[col] and values[col] in known.get(col, frozenset()):
            values[col] = ""
            values.update(CLEARED_WITH_SHARED.get(col, ()))
            flags.append(shared_flag(col))
    out: dict[str, object] = {ID_COLUMN: record_id,
                              SOURCE_COLUMN: cell_text(raw.get(SOURCE_COLUMN)).strip() or DEFAULT_SOURCE}
    for col in NORMALISED_ORDER:
        out[col] = values[col]
    out["quality_flags"] = join_flags(flags)
    return out
