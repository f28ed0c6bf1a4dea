"""Vectorised similarity primitives over aligned arrays of left and right values.

Each takes two equal-length arrays (one element per pair) and returns one number or flag per
pair. They serve one pair and a million pairs alike; the comparison levels are built on them.
"""
from __future__ import annotations

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, JaroWinkler, Prefix

from ..parallel import threads_per_task


SMALL_INPUT = 64  # below this many pairs, calling the scorer per pair beats cpdist's set-up


def _cpdist(left: np.ndarray, right: np.ndarray, scorer, dtype) -> np.ndarray:
    """``scorer`` per aligned pair (threads only for inputs large enough to repay them)."""
    if len(left) < SMALL_INPUT:  # a real-time query's few dozen pairs: the same scorer, per pair
        return np.fromiter(map(scorer, left, right), dtype=dtype, count=len(left))
    return process.cpdist(list(left), list(right), scorer=scorer, workers=threads_per_task(len(left)), dtype=dtype)


def jaro_winkler(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Jaro-Winkler similarity in [0, 1] per pair. Callers pass non-empty values only (two empty
    strings would count as identical)."""
    if len(left) == 0:
        return np.zeros(0, dtype=np.float32)
    return _cpdist(left, right, JaroWinkler.normalized_similarity, np.float32)


def token_set_similarity(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Word-set similarity in [0, 1], insensitive to word order and to extra words on one side."""
    if len(left) == 0:
        return np.zeros(0, dtype=np.float32)
    return (_cpdist(left, right, fuzz.token_set_ratio, np.float32) / 100.0).astype(np.float32)


def one_edit_apart(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Different, but one substituted, inserted or deleted character or two adjacent characters
    swapped away from each other (optimal string alignment distance 1)."""
    if len(left) == 0:
        return np.zeros(0, dtype=bool)
    return _cpdist(left, right, OSA.distance, np.int32) == 1


def sets_intersect(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Per pair, whether two frozensets share an element (empty sets share nothing)."""
    return np.fromiter((not a.isdisjoint(b) for a, b in zip(left, right)), dtype=bool, count=len(left))


def tokens_overlap(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Per pair of space-separated token strings, whether a token of one is a token of the other."""
    return np.fromiter((bool(a) and bool(b) and not set(a.split()).isdisjoint(b.split())
                        for a, b in zip(left, right)), dtype=bool, count=len(left))


def is_prefix(left: np.ndarray, right: np.ndarray, left_len: np.ndarray, right_len: np.ndarray,
              min_len: int = 1) -> np.ndarray:
    """One value starts with the other (``"j"`` and ``"john"``, ``"chris"`` and ``"christopher"``)."""
    if len(left) == 0:
        return np.zeros(0, dtype=bool)
    shorter = np.minimum(left_len, right_len)
    common = _cpdist(left, right, Prefix.similarity, np.int32)
    return (shorter >= min_len) & (common == shorter)

