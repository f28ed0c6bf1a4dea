"""Apply the field normalisers to a whole DataFrame of raw records.

Each field of :mod:`mpi.normalise.fields` runs once per distinct combination of its raw values
(names repeat a lot), so a million records cost what their distinct values cost. The result is
the ``NormalisedRecords`` table every later step reads: one row per record, in input order,
missing values as ``""`` (text) or ``-1`` (numbers).
"""
from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..parallel import map_partitions
from ..records import ID_COLUMN, SOURCE_COLUMN
from .dates import DayOrder, infer_day_order
from .fields import (BOOL_COLUMNS, CLEARED_WITH_SHARED, FLAG_COLUMNS, INT_COLUMNS, NAME_FIELDS, NORMALISED_ORDER,
                     OTHER_FIELDS, SHARED_ID_COLUMNS, Field, dob_field, join_flags, shared_flag)

log = logging.getLogger(__name__)

# An identifier shared by records of this many different birth dates and first names is a
# placeholder the source fills in, not a person's number.
SHARED_ID_DISTINCT_PEOPLE = 4


def _factorize(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes numbering distinct values in order of first appearance, and how many there are."""
    codes, uniques = pd.factorize(values, sort=False)
    if values.dtype == object and len(values) and not (uniques[codes] == values).all():
        # pandas' string hash table stops at a NUL ("a" and "a\x00b" collide): count exactly
        seen: dict[object, int] = {}
        codes = np.fromiter((seen.setdefault(v, len(seen)) for v in values), dtype=np.int64, count=len(values))
        return codes, len(seen)
    return codes.astype(np.int64), len(uniques)


def _distinct(columns: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the code of its combination of values in ``columns`` (numbered in order of first
    appearance), and the row where each code first appears."""
    codes, _ = _factorize(columns[0])
    for col in columns[1:]:
        more, n_more = _factorize(col)
        codes, _ = _factorize(codes * max(n_more, 1) + more)
    if len(codes) == 0:
        return codes, codes
    seen = np.maximum.accumulate(codes)
    return codes, np.flatnonzero(np.r_[True, seen[1:] > seen[:-1]])


def _apply(values: dict[str, np.ndarray], field: Field) -> None:
    """Run ``field`` once per distinct combination of its inputs; its outputs, per row, land in
    ``values`` (replacing a raw input of the same name)."""
    codes, first = _distinct([values[c] for c in field.inputs])
    results = [field.fn(*args) for args in zip(*(values[c][first] for c in field.inputs))]
    for k, name in enumerate(field.outputs):
        out = np.empty(len(results), dtype=object)
        out[:] = [r[k] for r in results]
        values[name] = out[codes]


def normalise_frame(raw: pd.DataFrame, day_order: Mapping[str, DayOrder | None] | None = None,
                    shared: Mapping[str, frozenset[str]] | None = None) -> pd.DataFrame:
    """Normalise validated canonical records (see :func:`mpi.records.validate_records`).

    ``day_order`` maps a source name to its numeric date order (``"mdy"``/``"dmy"``); for sources
    without a hint the order is inferred from that source's unambiguous dates when they agree
    (a source present in ``day_order`` with ``None`` stays undecided). ``shared`` gives the
    placeholder identifiers to blank (per column); without it they are detected in ``raw``.
    The hints and placeholders used are left in ``out.attrs``. The columns are the
    :mod:`mpi.normalise.fields` functions of each record's raw values.
    """
    hints = dict(day_order or {})
    for source, idx in raw.groupby(SOURCE_COLUMN, sort=True).groups.items():
        if source not in hints:
            hints[source] = infer_day_order(raw.loc[idx, "dob"].drop_duplicates().head(50_000).tolist())
    # the name fields and the other fields are independent halves of the work
    halves = [lambda: _name_columns(raw), lambda: _other_columns(raw, hints)]
    parts = map_partitions(lambda k: halves[k](), [0, 1], min_items=2 if len(raw) >= PARALLEL_RECORDS else 3)
    cols = {k: v for part in parts for k, v in part.items()}
    for col in BOOL_COLUMNS:
        cols[col] = cols[col].astype(bool)
    for col in INT_COLUMNS:
        cols[col] = cols[col].astype(np.int32)
    out = pd.DataFrame({"record_id": raw[ID_COLUMN].to_numpy(), "source": raw[SOURCE_COLUMN].to_numpy(),
                        **{c: cols[c] for c in NORMALISED_ORDER}})
    flags = [cols[c] for c in FLAG_COLUMNS] + [f.to_numpy(dtype=object) for f in _drop_shared_identifiers(out, shared)]
    codes, first = _distinct(flags)
    joined = np.empty(len(first), dtype=object)
    joined[:] = [join_flags(f[i] for f in flags) for i in first]
    out["quality_flags"] = joined[codes]
    out.attrs["day_order"] = hints
    return out


PARALLEL_RECORDS = 50_000  # below this, forking costs more than it saves


def _name_columns(raw: pd.DataFrame) -> dict[str, np.ndarray]:
    """Normalised name columns and their flags (plain arrays: cheap to return from a worker)."""
    values = {c: raw[c].to_numpy(dtype=object) for c in ("first_name", "last_name", "middle_name", "suffix")}
    for field in NAME_FIELDS:
        _apply(values, field)
    return {c: values[c] for field in NAME_FIELDS for c in field.outputs}


def _other_columns(raw: pd.DataFrame, hints: Mapping[str, DayOrder | None]) -> dict[str, np.ndarray]:
    """Normalised birth date, sex, identifiers, contact and address columns, with their flags."""
    dob_outputs = dob_field(None).outputs
    cols = {c: np.empty(len(raw), dtype=object) for c in dob_outputs}
    for source, idx in raw.groupby(SOURCE_COLUMN, sort=True).indices.items():
        values = {"dob": raw["dob"].to_numpy(dtype=object)[idx]}
        _apply(values, dob_field(hints.get(source)))
        for c in dob_outputs:
            cols[c][idx] = values[c]
    values = {c: raw[c].to_numpy(dtype=object) for field in OTHER_FIELDS for c in field.inputs}
    for field in OTHER_FIELDS:
        _apply(values, field)
    cols.update({c: values[c] for field in OTHER_FIELDS for c in field.outputs})
    return cols


def _drop_shared_identifiers(out: pd.DataFrame, known: Mapping[str, frozenset[str]] | None = None
                             ) -> list[pd.Series]:
    """Blank identifiers that many different people share (a source's stand-in value); ``known``
    fixes the set instead of measuring it here. The set used lands in ``out.attrs``."""
    flags = []
    out.attrs["shared_identifiers"] = {}
    person = out["first_phonetic"] + "|" + out["dob"]
    for col in SHARED_ID_COLUMNS:
        present = out[col] != ""
        if not present.any():
            continue
        if known is not None:
            shared = sorted(known.get(col, frozenset()))
        else:
            sub = pd.DataFrame({"v": out.loc[present, col], "p": person[present], "d": out.loc[present, "dob"],
                                "f": out.loc[present, "first_phonetic"]})
            stats = sub.groupby("v").agg(dobs=("d", "nunique"), firsts=("f", "nunique"))
            limit = SHARED_ID_DISTINCT_PEOPLE if col == "ssn" else 3 * SHARED_ID_DISTINCT_PEOPLE
            shared = stats.index[(stats["dobs"] >= limit) & (stats["firsts"] >= limit)]
        out.attrs["shared_identifiers"][col] = frozenset(shared)
        mask = out[col].isin(shared) & present
        flag = pd.Series(np.where(mask, shared_flag(col), ""), index=out.index)
        if mask.any():
            log.info("%d records carry a %s shared by many people; treated as missing", int(mask.sum()), col)
            out.loc[mask, col] = ""
            for other, cleared in CLEARED_WITH_SHARED.get(col, ()):
                out.loc[mask, other] = cleared
        flags.append(flag)
    return flags
