"""From pairwise decisions to golden-record clusters that cannot chain two people together.

Plain connected components let one bridge record (a nameless registration, a record with a
typo'd birth date) join two different people. Here links are applied strongest first, and two
clusters merge only when no pair across them is a cannot-link and every cross pair that was
scored is at least plausible. The result depends only on the pairs' weights and record ids, never
on input order.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ClusterResult:
    """``labels[i]``: the cluster of record ``i`` (the smallest member position: stable, order-free
    given record ids); ``refused``: auto-link pairs kept apart by the consistency check."""

    labels: np.ndarray
    refused: np.ndarray  # indices into the link arrays


class _Clusters:
    def __init__(self, n: int) -> None:
        self.parent = np.arange(n)
        self.members: dict[int, list[int]] = {}

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def of(self, root: int) -> list[int]:
        return self.members.get(root, [root])

    def union(self, ra: int, rb: int) -> None:
        keep, gone = (ra, rb) if ra < rb else (rb, ra)
        self.parent[gone] = keep
        self.members[keep] = self.of(keep) + self.of(gone)
        self.members.pop(gone, None)


def cluster(n_records: int, left: np.ndarray, right: np.ndarray, weight: np.ndarray, link: np.ndarray,
            cannot_link: np.ndarray, floor_weight: float, order_key: np.ndarray | None = None,
            extra_pair_weight=None) -> ClusterResult:
    """Greedy, constrained agglomeration over the pairs marked ``link``.

    ``left``/``right``/``weight`` describe every scored pair; ``cannot_link`` marks pairs that may
    never share a cluster; a merge is refused if a scored cross pair weighs below
    ``floor_weight``. ``extra_pair_weight(a_positions, b_positions)`` may score cross pairs that
    were not candidates (returns weights and cannot-link flags), so a bridge cannot hide a conflict
    behind blocking. ``order_key`` (e.g. record ids ranked) breaks weight ties deterministically.
    """
    lo, hi = np.minimum(left, right), np.maximum(left, right)
    known: dict[tuple[int, int], tuple[float, bool]] = {}
    for i, j, w, c in zip(lo.tolist(), hi.tolist(), weight.tolist(), cannot_link.tolist()):
        known[(i, j)] = (w, c)
    rank = order_key if order_key is not None else np.arange(n_records)
    idx = np.flatnonzero(link)
    ra, rb = rank[lo[idx]], rank[hi[idx]]
    order = idx[np.lexsort((np.maximum(ra, rb), np.minimum(ra, rb), -np.round(weight[idx], 6)))]
    state = _Clusters(n_records)
    refused = []
    for k in order.tolist():
        a, b = state.find(int(lo[k])), state.find(int(hi[k]))
        if a == b:
            continue
        ma, mb = state.of(a), state.of(b)
        if _compatible(ma, mb, known, floor_weight, extra_pair_weight):
            state.union(a, b)
        else:
            refused.append(k)
    roots = np.array([state.find(i) for i in range(n_records)])
    # label = the member with the smallest rank, so labels do not depend on input order
    best: dict[int, int] = {}
    for i, r in enumerate(roots.tolist()):
        if r not in best or rank[i] < rank[best[r]]:
            best[r] = i
    labels = np.array([best[r] for r in roots.tolist()])
    return ClusterResult(labels, np.array(refused, dtype=np.int64))


def _compatible(ma: list[int], mb: list[int], known: dict, floor_weight: float, extra_pair_weight) -> bool:
    """Whether two clusters may merge: conflicts (cannot-links, or scored cross pairs below the
    floor) must be fewer than a third of the cross pairs. One conflict between two single records is
    decisive; a lone corrupted record inside a large cluster cannot veto the rest of it."""
    unknown_a, unknown_b = [], []
    conflicts = 0
    for i in ma:
        for j in mb:
            key = (i, j) if i < j else (j, i)
            hit = known.get(key)
            if hit is None:
                unknown_a.append(i)
                unknown_b.append(j)
            elif hit[1] or hit[0] < floor_weight:
                conflicts += 1
    if unknown_a and extra_pair_weight is not None:
        weights, cannot = extra_pair_weight(np.array(unknown_a), np.array(unknown_b))
        for i, j, w, c in zip(unknown_a, unknown_b, weights.tolist(), cannot.tolist()):
            known[(i, j) if i < j else (j, i)] = (w, c)
        conflicts += int(np.sum(cannot | (weights < floor_weight)))
    return 3 * conflicts < len(ma) * len(mb)
