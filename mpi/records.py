"""The canonical record contract and reading it safely from CSV files and DataFrames.

Reading validates before anything is resolved: a missing ``record_id`` column, duplicate or
empty ids, ragged rows, bytes that are not UTF-8 and empty files all raise :class:`InputError`
naming the row or column, so a batch never half-runs on input it misread.
"""
from __future__ import annotations

import csv
import os

import pandas as pd

from .errors import InputError

ID_COLUMN = "record_id"
SOURCE_COLUMN = "source"
MATCH_FIELDS = ("first_name", "middle_name", "last_name", "suffix", "dob", "sex", "ssn", "phone", "email",
                "street", "city", "state", "zip")
CANONICAL_COLUMNS = (ID_COLUMN, SOURCE_COLUMN, *MATCH_FIELDS)
DEFAULT_SOURCE = "default"


def read_records_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and validate a canonical records CSV into a DataFrame of strings."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            head = fh.read(65536)
    except OSError as exc:
        raise InputError(f"cannot read the records file ({exc.strerror})") from None
    if size == 0 or (size == len(head) and not head.strip()):
        raise InputError("the records file is empty")
    try:
        first_line = head.split(b"\n", 1)[0].decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("the header line has bytes that are not UTF-8; re-encode the file as UTF-8") from None
    header = [h.strip() for h in next(csv.reader([first_line]), [])]
    if ID_COLUMN not in header:
        raise InputError("no record_id column in the header", column=ID_COLUMN)
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise InputError("column appears twice in the header", column=name)
        seen.add(name)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig",
                            encoding_errors="strict")
    except UnicodeDecodeError as exc:
        raise InputError("bytes that are not UTF-8; re-encode the file as UTF-8",
                         row=_row_of_bad_bytes(path)) from None
    except pd.errors.ParserError as exc:
        raise InputError(f"malformed CSV ({_parser_row_hint(str(exc))})") from None
    except pd.errors.EmptyDataError:
        raise InputError("the records file has no header") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    _check_row_lengths(path, len(frame.columns))
    return validate_records(frame, short_rows_are_nan=True)


def _check_row_lengths(path: str | os.PathLike[str], n_fields: int) -> None:
    """Every data row must have the header's number of fields (pandas pads short rows silently)."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        for row_number, row in enumerate(reader, start=1):
            if len(row) != n_fields and row:
                raise InputError(f"row has {len(row)} fields, the header has {n_fields}", row=row_number)


def _row_of_bad_bytes(path: str | os.PathLike[str]) -> int | None:
    """The data row (1-based, header excluded) holding the first byte that is not UTF-8."""
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return line - 1 if line > 1 else None
    return None


def _parser_row_hint(message: str) -> str:
    # pandas says "Expected 15 fields in line 7, saw 16": keep the position, drop the rest
    import re
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if m:
        return f"row {int(m[2]) - 1} has {m[3]} fields, the header has {m[1]}"
    m = re.search(r"inside string starting at row (\d+)", message)
    if m:  # pandas counts rows from 0 with the header as row 0
        return f"unbalanced quote starting in row {int(m[1])}"
    return "unbalanced quotes or ragged rows"


def validate_records(frame: pd.DataFrame, short_rows_are_nan: bool = False) -> pd.DataFrame:
    """Check a DataFrame against the contract and return it as canonical strings.

    Missing optional columns are added empty; extra columns are kept and ignored by matching.
    """
    if ID_COLUMN not in frame.columns:
        raise InputError("no record_id column", column=ID_COLUMN)
    if len(frame) == 0:
        raise InputError("no records: the file has a header but no rows")
    if len(set(frame.columns)) != len(frame.columns):
        dup = frame.columns[frame.columns.duplicated()][0]
        raise InputError("column appears twice in the header", column=str(dup))
    if short_rows_are_nan:
        short = frame.isna().any(axis=1).to_numpy()
        if short.any():
            row = int(short.argmax()) + 1
            raise InputError(f"row has fewer fields than the header ({len(frame.columns)})", row=row)
    frame = frame.copy()
    for col in CANONICAL_COLUMNS:
        if col not in frame.columns:
            frame[col] = DEFAULT_SOURCE if col == SOURCE_COLUMN else ""
    frame = frame.fillna("")
    for col in CANONICAL_COLUMNS:
        if frame[col].dtype != object or not frame[col].map(type).eq(str).all():
            frame[col] = frame[col].map(lambda v: "" if v is None else str(v))
    ids = frame[ID_COLUMN].str.strip()
    empty = (ids == "").to_numpy()
    if empty.any():
        raise InputError("empty record_id", row=int(empty.argmax()) + 1, column=ID_COLUMN)
    dup = ids.duplicated().to_numpy()
    if dup.any():
        row = int(dup.argmax()) + 1
        raise InputError("duplicate record_id (ids must be unique)", row=row, column=ID_COLUMN)
    frame[ID_COLUMN] = ids
    frame[SOURCE_COLUMN] = frame[SOURCE_COLUMN].str.strip().replace("", DEFAULT_SOURCE)
    return frame.reset_index(drop=True)
