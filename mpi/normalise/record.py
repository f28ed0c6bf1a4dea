"""One record at a time: the real-time path's normaliser.

It must give exactly what :func:`mpi.normalise.frame.normalise_frame` gives for the same record
(the tests hold the two to that), only without the cost of building a DataFrame for one row.
"""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ..records import validate_records
from .dates import DayOrder
from .frame import normalise_frame


def normalise_record(raw: Mapping[str, object], day_order: DayOrder | None = None,
                     shared: Mapping[str, frozenset[str]] | None = None) -> dict[str, object]:
    """The normalised fields of one canonical record (a mapping with at least ``record_id``).

    ``day_order`` is the record's source's day/month order (``None``: ambiguous dates stay
    missing); ``shared`` the placeholder identifiers to treat as missing. Never raises on junk.
    """
    frame = validate_records(pd.DataFrame([dict(raw)]))
    source = frame["source"].iloc[0]
    out = normalise_frame(frame, {source: day_order}, shared or {})
    row = out.iloc[0].to_dict()
    return row
