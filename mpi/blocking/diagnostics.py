"""Blocking diagnostics: pairs per rule and, with the truth, the recall blocking allows."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .candidates import CandidatePairs


def true_pair_count(truth: pd.Series) -> int:
    sizes = truth.value_counts().to_numpy(dtype=np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


def blocking_report(candidates: CandidatePairs, truth: pd.Series | None = None) -> pd.DataFrame:
    """One row per rule (pairs, new pairs, oversized blocks, true pairs found) and a total row.

    With ``truth`` (person id per record, in record order) the total row carries the blocking
    recall: the share of true pairs that are candidates, the ceiling of the matcher's recall.
    """
    rows = [vars(s).copy() for s in candidates.stats]
    total = {"rule": "TOTAL (union)", "pairs": len(candidates), "new_pairs": len(candidates),
             "oversized_blocks": sum(s.oversized_blocks for s in candidates.stats),
             "records_in_dropped_blocks": sum(s.records_in_dropped_blocks for s in candidates.stats)}
    if truth is not None:
        person = pd.factorize(truth.to_numpy())[0]
        found = int((person[candidates.left] == person[candidates.right]).sum())
        total["true_pairs_found"] = found
        n_true = true_pair_count(truth)
        total["blocking_recall"] = found / n_true if n_true else 1.0
    total["pairs_per_record"] = len(candidates) / max(candidates.n_records, 1)
    rows.append(total)
    return pd.DataFrame(rows)
