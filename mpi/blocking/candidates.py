"""Candidate pairs from blocking keys, with caps on oversized blocks, and the diagnostics.

Pairs are held as one int64 each (``left * n + right`` with ``left < right``): ten million
candidate pairs cost 80 MB, and the union over rules is one sort.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..parallel import map_partitions
from .rules import RULES, BlockingRule

log = logging.getLogger(__name__)

MAX_BLOCK_SIZE = 120
PARALLEL_BLOCKING_RECORDS = 50_000  # below this, forking costs more than it saves


@dataclass
class RuleStats:
    """What one rule contributed: its pairs, the pairs no earlier rule found, what it dropped."""

    rule: str
    pairs: int = 0
    new_pairs: int = 0
    oversized_blocks: int = 0
    records_in_dropped_blocks: int = 0
    true_pairs_found: int | None = None


@dataclass
class CandidatePairs:
    """The union of all rules' pairs over ``n_records`` records, plus per-rule statistics."""

    n_records: int
    codes: np.ndarray
    stats: list[RuleStats] = field(default_factory=list)

    @property
    def left(self) -> np.ndarray:
        return self.codes // self.n_records

    @property
    def right(self) -> np.ndarray:
        return self.codes % self.n_records

    def __len__(self) -> int:
        return len(self.codes)


def unique_sorted(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (a sort and a mask: faster than hashing for pair codes)."""
    if len(values) == 0:
        return values
    ordered = np.sort(values)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]]


def is_member(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """``values`` found in ``sorted_set`` (ascending): a binary search, no hashing."""
    if len(sorted_set) == 0:
        return np.zeros(values.shape, dtype=bool)
    at = np.searchsorted(sorted_set, values)
    return sorted_set[np.minimum(at, len(sorted_set) - 1)] == values


def pairs_within_groups(group: np.ndarray, n: int, max_block: int = MAX_BLOCK_SIZE
                        ) -> tuple[np.ndarray, np.ndarray, int]:
    """All pairs of positions sharing a group code (``-1`` = no group), groups above ``max_block``
    skipped. Returns (pair codes ``left * n + right``, positions in skipped groups, skipped count)."""
    pos = np.flatnonzero(group >= 0)
    if len(pos) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), 0
    codes = group[pos]
    order = np.argsort(codes, kind="stable")
    codes, pos = codes[order], pos[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    sizes = np.diff(np.r_[starts, len(codes)])
    out = []
    oversized = sizes > max_block
    dropped = np.concatenate([pos[s:s + z] for s, z in zip(starts[oversized], sizes[oversized])]) \
        if oversized.any() else np.zeros(0, np.int64)
    for size in np.unique(sizes[(sizes >= 2) & ~oversized]):
        block_starts = starts[sizes == size]
        members = pos[block_starts[:, None] + np.arange(size)[None, :]]
        members.sort(axis=1)
        iu, ju = np.triu_indices(size, 1)
        out.append((members[:, iu].astype(np.int64) * n + members[:, ju]).ravel())
    pairs = np.concatenate(out) if out else np.zeros(0, np.int64)
    return pairs, dropped, int(oversized.sum())


def pairs_within_blocks(keys: pd.Series, max_block: int = MAX_BLOCK_SIZE) -> tuple[np.ndarray, np.ndarray, int]:
    """All pairs of positions sharing a non-empty key, blocks above ``max_block`` skipped."""
    arr = keys.to_numpy(dtype=object)
    group = np.full(len(arr), -1, dtype=np.int64)
    present = arr != ""
    group[present] = pd.factorize(arr[present])[0]
    return pairs_within_groups(group, len(arr), max_block)


def rule_pairs(frame: pd.DataFrame, rule: BlockingRule, max_block: int = MAX_BLOCK_SIZE
               ) -> tuple[np.ndarray, int, int]:
    """One rule's pairs; oversized blocks are split by the rule's finer key, then dropped."""
    keys = rule.key(frame)
    pairs, dropped, n_oversized = pairs_within_blocks(keys, max_block)
    lost = 0
    if len(dropped) and rule.refine is not None:
        finer = pd.Series("", index=frame.index, dtype=object)
        sub = frame.iloc[dropped]
        finer.iloc[dropped] = (keys.iloc[dropped] + "#" + rule.refine(sub).astype(str)).where(
            rule.refine(sub).astype(str) != "", "").to_numpy()
        more, still, _ = pairs_within_blocks(finer, max_block)
        pairs = np.concatenate([pairs, more])
        lost = len(still)
    else:
        lost = len(dropped)
    return pairs, n_oversized, lost


def _unique_rule_pairs(frame: pd.DataFrame, rule: BlockingRule, max_block: int) -> tuple[np.ndarray, int, int]:
    pairs, n_over, lost = rule_pairs(frame, rule, rule.max_block or max_block)
    return unique_sorted(pairs), n_over, lost


def candidate_pairs(frame: pd.DataFrame, rules: tuple[BlockingRule, ...] = RULES,
                    max_block: int = MAX_BLOCK_SIZE, truth: pd.Series | None = None) -> CandidatePairs:
    """The union of every rule's pairs. ``truth`` (person id per record, same order) adds recall.

    The union is one sort over all rules' pairs; a pair is credited as "new" to the first rule
    (in rule order) that produced it.
    """
    n = len(frame)
    person = None if truth is None else pd.factorize(truth.to_numpy())[0]
    per_rule, stats = [], []
    # rules are independent partitions of the work: forked workers return compact int64 codes
    results = map_partitions(lambda k: _unique_rule_pairs(frame, rules[k], max_block), list(range(len(rules))),
                             min_items=2 if n >= PARALLEL_BLOCKING_RECORDS else len(rules) + 1)
    for rule, (pairs, n_over, lost) in zip(rules, results):
        per_rule.append(pairs)
        st = RuleStats(rule.name, len(pairs), 0, n_over, lost)
        if person is not None:
            st.true_pairs_found = int((person[pairs // n] == person[pairs % n]).sum())
        stats.append(st)
        if n_over:
            log.info("blocking rule %s: %d oversized blocks split or dropped", rule.name, n_over)
    if per_rule:
        everything = np.concatenate(per_rule)
        origin = np.repeat(np.arange(len(per_rule)), [len(p) for p in per_rule])
        order = np.argsort(everything, kind="stable")
        ordered = everything[order]
        is_first = np.r_[True, ordered[1:] != ordered[:-1]] if len(ordered) else np.zeros(0, bool)
        union, first = ordered[is_first], order[is_first]
        for k, count in enumerate(np.bincount(origin[first], minlength=len(per_rule))):
            stats[k].new_pairs = int(count)
    else:
        union = np.zeros(0, np.int64)
    return CandidatePairs(n, union, stats)
