"""Population statistics a model is applied with: value frequencies, shared placeholder
identifiers and each source's day/month order.

The batch path reads these off the file it resolves. The store cannot: a record arriving alone
has no population around it. So the statistics are measured once, when a model is trained or
registered, saved beside it, and every real-time ingest and match uses that frozen copy. Loading
the same file record by record or in bulk then gives the same answers.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np
import pandas as pd

from .compare.table import TF_COLUMNS
from .lookalikes import ALL_PRESENT, Lookalikes
from .normalise.dates import DayOrder

SHARED_IDENTIFIER_COLUMNS = ("ssn", "phone", "email")


@dataclass
class PopulationStats:
    """``counts[column][value]``: how many records carry ``value`` (only values seen twice or more:
    an unseen value is as rare as one record); ``totals[column]``: records with any value."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    shared: dict[str, frozenset[str]] = field(default_factory=dict)
    day_order: dict[str, DayOrder | None] = field(default_factory=dict)
    lookalikes: Lookalikes = ALL_PRESENT  # look-alike families the decision rules guard against

    def shares(self, column: str, values: np.ndarray) -> np.ndarray:
        """Per value (an object array of strings), the share of the population's non-missing
        values equal to it; NaN where the value is missing ("")."""
        counts = self.counts.get(column, {})
        out = np.fromiter(map(counts.get, values, repeat(1)), dtype=np.float64, count=len(values))
        out /= max(self.totals.get(column, 0), 1)
        out[values == ""] = np.nan
        return out

    @classmethod
    def from_normalised(cls, frame: pd.DataFrame, lookalikes: Lookalikes | None = None) -> "PopulationStats":
        """Measure a normalised frame (from :func:`mpi.normalise.frame.normalise_frame`).

        ``lookalikes`` as the batch path measured them on this frame's candidate pairs; when
        not given they are measured here, so real-time decisions equal the batch ones."""
        if lookalikes is None:
            from .pipeline import measure_lookalikes  # the pipeline builds on this module

            lookalikes = measure_lookalikes(frame)
        counts, totals = {}, {}
        for c in TF_COLUMNS:
            values = frame[c][frame[c] != ""]
            vc = values.value_counts()
            counts[c] = {str(k): int(v) for k, v in vc[vc >= 2].items()}
            totals[c] = int(len(values))
        shared = {c: frozenset(v) for c, v in frame.attrs.get("shared_identifiers", {}).items()}
        return cls(counts, totals, shared, dict(frame.attrs.get("day_order", {})), lookalikes)

    def to_dict(self) -> dict:
        return {"counts": self.counts, "totals": self.totals,
                "shared": {c: sorted(v) for c, v in self.shared.items()}, "day_order": self.day_order,
                "lookalikes": self.lookalikes.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping) -> "PopulationStats":
        return cls({c: dict(v) for c, v in data.get("counts", {}).items()}, dict(data.get("totals", {})),
                   {c: frozenset(v) for c, v in data.get("shared", {}).items()}, dict(data.get("day_order", {})),
                   Lookalikes.from_dict(data.get("lookalikes")))
