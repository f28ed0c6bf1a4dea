"""Vectorised similarity primitives over aligned arrays of left and right values.

Each takes two equal-length arrays (one element per pair) and returns one number or flag per
pair. They serve one pair and a million pairs alike; the comparison levels are built on them.
"""
from __future__ import annotations

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import JaroWinkler

WORKERS = 1  # rapidfuzz threads per call; the pipeline's partitions are the unit of parallelism


def jaro_winkler(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Jaro-Winkler similarity in [0, 1] per pair (0 where either side is empty)."""
    if len(left) == 0:
        return np.zeros(0, dtype=np.float32)
    sim = process.cpdist(list(left), list(right), scorer=JaroWinkler.normalized_similarity, workers=WORKERS,
                         dtype=np.float32)
    return np.where((_lengths(left) == 0) | (_lengths(right) == 0), 0.0, sim).astype(np.float32)


def token_set_similarity(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Word-set similarity in [0, 1], insensitive to word order and to extra words on one side."""
    if len(left) == 0:
        return np.zeros(0, dtype=np.float32)
    return (process.cpdist(list(left), list(right), scorer=fuzz.token_set_ratio, workers=WORKERS,
                           dtype=np.float32) / 100.0).astype(np.float32)


def _lengths(values: np.ndarray) -> np.ndarray:
    return np.fromiter((len(v) for v in values), dtype=np.int32, count=len(values))


def one_edit_apart(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Same length and one substituted character, or two adjacent characters swapped."""
    out = np.zeros(len(left), dtype=bool)
    for k, (a, b) in enumerate(zip(left, right)):
        if len(a) != len(b) or a == b or not a:
            continue
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            out[k] = True
        elif len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]:
            out[k] = True
    return out


def sets_intersect(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Per pair, whether two frozensets share an element (empty sets share nothing)."""
    return np.fromiter((not a.isdisjoint(b) for a, b in zip(left, right)), dtype=bool, count=len(left))


def tokens_overlap(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Per pair of space-separated token strings, whether a token of one is a token of the other."""
    return np.fromiter((bool(a) and bool(b) and not set(a.split()).isdisjoint(b.split())
                        for a, b in zip(left, right)), dtype=bool, count=len(left))


def is_prefix(left: np.ndarray, right: np.ndarray, min_len: int = 1) -> np.ndarray:
    """One value starts with the other (``"j"`` and ``"john"``, ``"chris"`` and ``"christopher"``)."""
    return np.fromiter(((len(a) >= min_len and len(b) >= min_len and (a.startswith(b) or b.startswith(a)))
                        for a, b in zip(left, right)), dtype=bool, count=len(left))
