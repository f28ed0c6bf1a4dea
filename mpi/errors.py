"""One exception tree for the whole library.

Messages name the record and the field that went wrong, never the demographic value itself,
so an error can be logged or shown to an integration client without leaking PHI.
"""
from __future__ import annotations


class MPIError(Exception):
    """Base of every error the library raises on purpose."""


class InputError(MPIError, ValueError):
    """Input records cannot be used as given (missing column, duplicate id, bad encoding...).

    ``row`` is the 1-based data row (header excluded) or ``None``; ``column`` the field name.
    """

    def __init__(self, message: str, *, row: int | None = None, column: str | None = None,
                 record_id: str | None = None) -> None:
        self.row, self.column, self.record_id = row, column, record_id
        where = []
        if row is not None:
            where.append(f"row {row}")
        if record_id is not None:
            where.append(f"record {record_id!r}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class ModelError(MPIError):
    """A model file is unreadable, of an unknown version, or does not fit the data."""


class NotFittedError(MPIError, AttributeError):
    """A model was used before ``fit`` (or ``load``) gave it parameters."""


class StoreError(MPIError):
    """The store could not do what was asked (an unknown id, a state that forbids the change)."""


class NotFound(StoreError, LookupError):
    """An id (golden record, source record, review task) that the store does not hold."""


class Conflict(StoreError):
    """The request contradicts the store's current state (e.g. merging a golden record with itself)."""
