"""What a deployment may configure, read once when the app is built (nothing at import time)."""
from __future__ import annotations

import os
from dataclasses import dataclass

from mpi.store.database import database_url


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


@dataclass(frozen=True)
class Settings:
    """Service settings. ``from_env`` reads ``MPI_*`` variables (what ``mpi serve`` passes to its
    workers); tests build one directly."""

    database_url: str | None = None  # None: MPI_DATABASE_URL, then ./mpi.db
    max_body_bytes: int = 1_000_000  # larger request bodies get 413
    max_batch: int = 500  # records per POST /records:batch, more gets 413
    match_rate_per_minute: int = 6000  # per token on the match routes; 0 turns the limit off
    match_burst: int = 200  # requests a token may send at once before the rate applies
    token_cache_seconds: float = 30.0  # a revoked token is refused at most this long after revocation
    default_match_count: int = 10
    max_match_count: int = 100
    base_url: str = ""  # public base of the FHIR endpoints in fullUrl/references ("" = as requested)

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(database_url=database_url(os.environ.get("MPI_DATABASE_URL") or None),
                   max_body_bytes=_int("MPI_MAX_BODY_BYTES", cls.max_body_bytes),
                   max_batch=_int("MPI_MAX_BATCH", cls.max_batch),
                   match_rate_per_minute=_int("MPI_MATCH_RATE_PER_MINUTE", cls.match_rate_per_minute),
                   match_burst=_int("MPI_MATCH_BURST", cls.match_burst),
                   base_url=os.environ.get("MPI_BASE_URL", ""))

    def public(self) -> dict:
        """The settings an admin may read (the database URL without its password)."""
        from sqlalchemy.engine import make_url

        url = make_url(database_url(self.database_url)).render_as_string(hide_password=True)
        return {"database_url": url, "max_body_bytes": self.max_body_bytes, "max_batch": self.max_batch,
                "match_rate_per_minute": self.match_rate_per_minute, "match_burst": self.match_burst,
                "token_cache_seconds": self.token_cache_seconds, "default_match_count": self.default_match_count,
                "max_match_count": self.max_match_count, "base_url": self.base_url}
