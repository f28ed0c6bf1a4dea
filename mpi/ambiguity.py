"""Population-level checks on pairwise decisions: is a record ambiguous between look-alikes?

A pair on its own can look like one person while the population shows two candidates for it: a
"Baby Girl" record beside two named children with her birth date, a misspelt name one keystroke
from each twin, a record without a birth date matching both a father and his son. These passes
run over all candidate pairs after the pairwise rules and adjust decisions in place.
"""
from __future__ import annotations

import numpy as np

from .blocking.candidates import is_member
from .compare.comparisons import COMPARISON_NAMES
from .compare.table import RecordTable
from .decision import (RULE_BRIDGE, RULE_GENERATION_GAP, RULE_NEWBORN, RULE_SUFFIX_CONFLICT, RULE_TWIN, Decision,
                       Thresholds)


def _distinct_names_per_record(record: np.ndarray, name_code: np.ndarray, n_records: int) -> np.ndarray:
    """For each record, how many different first names (codes >= 0) its partners carry."""
    known = name_code >= 0
    distinct = np.unique(np.stack([record[known], name_code[known]], axis=1), axis=0)
    return np.bincount(distinct[:, 0], minlength=n_records) if len(distinct) else np.zeros(n_records, int)


def release_unique_named_links(left: np.ndarray, right: np.ndarray, gamma: np.ndarray, probability: np.ndarray,
                               decision: np.ndarray, rule: np.ndarray, cannot_link: np.ndarray,
                               table: RecordTable, thresholds: Thresholds) -> None:
    """Let a record without a first name link to the one named person it can be.

    A newborn's placeholder-named record ("Baby Girl Smith") and a record whose first name was
    left out are capped at review by the newborn and twin rules: with the same birth date and
    surname, it could be either twin. Across all candidate pairs: when exactly one first name
    is among the named records sharing its birth date and surname, those pairs may auto-link at
    the usual threshold. With two or more (twins) they stay in review, and a pair ruled apart
    stays apart. In place.
    """
    capped = (rule == RULE_NEWBORN) | (rule == RULE_TWIN)
    if not capped.any():  # most queries: nothing held for these rules
        return
    k_dob, k_last = COMPARISON_NAMES.index("dob"), COMPARISON_NAMES.index("last_name")
    nameless = table.flags["newborn"] | (table.codes["first"] < 0)  # no usable first name
    candidate = (capped & ~cannot_link & (gamma[:, k_dob] >= 3) & (gamma[:, k_last] >= 3)
                 & (nameless[left] != nameless[right]))
    idx = np.flatnonzero(candidate)
    if len(idx) == 0:
        return
    unnamed = np.where(nameless[left[idx]], left[idx], right[idx])
    named = np.where(nameless[left[idx]], right[idx], left[idx])
    first_code = table.codes["first"][named]
    names_per_record = _distinct_names_per_record(unnamed, first_code, len(table))
    unique = (names_per_record[unnamed] == 1) & (first_code >= 0) & (probability[idx] >= thresholds.auto_link)
    release = idx[unique]
    decision[release] = Decision.AUTO_LINK
    rule[release] = ""


def hold_ambiguous_name_links(left: np.ndarray, right: np.ndarray, gamma: np.ndarray, decision: np.ndarray,
                              rule: np.ndarray, table: RecordTable) -> None:
    """A misspelt name that could be either twin ("Kelcin": Kevin or Kelvin?) goes to review.

    Across all candidate pairs: when a record plausibly matches (auto-link or review), on the
    same birth date and without an agreeing SSN, records of two or more different first names
    that are not its own, none of those links is automatic. In place.
    """
    k_first, k_dob, k_ssn = (COMPARISON_NAMES.index(c) for c in ("first_name", "dob", "ssn"))
    loose = ((decision >= Decision.REVIEW) & (gamma[:, k_dob] >= 3) & (gamma[:, k_first] < 6)
             & (gamma[:, k_first] >= 1) & (gamma[:, k_ssn] != 3))
    idx = np.flatnonzero(loose)
    if len(idx) == 0:
        return
    ends = np.concatenate([left[idx], right[idx]])
    partner_name = np.concatenate([table.codes["first"][right[idx]], table.codes["first"][left[idx]]])
    pair_of = np.concatenate([idx, idx])
    keep = partner_name >= 0
    names = _distinct_names_per_record(ends[keep], partner_name[keep], len(table))
    ambiguous = pair_of[names[ends] >= 2]
    ambiguous = ambiguous[decision[ambiguous] == Decision.AUTO_LINK]
    decision[ambiguous] = Decision.REVIEW
    rule[ambiguous] = RULE_TWIN


def hold_bridge_links(left: np.ndarray, right: np.ndarray, probability: np.ndarray, decision: np.ndarray,
                      rule: np.ndarray, cannot_link: np.ndarray, thresholds: Thresholds,
                      eligible: np.ndarray) -> None:
    """A record that plausibly matches two people who were ruled apart goes to review.

    A "James S Floyd" without a birth date, at the address of James S Floyd Sr and James S Floyd
    Jr, could be either. When a record's plausible partners (probability
    at or above the review threshold, not ruled apart from it) include a pair that a hard rule
    keeps apart as parent and child, none of that record's links is automatic. Only ``eligible`` records are checked
    (those missing the field that tells the two apart, e.g. a birth date). Across all candidate
    pairs, in place.
    """
    # the records that could bridge, with their plausible partners (most queries have none: a
    # record with a birth date is not eligible, so the rest is skipped)
    plausible = np.flatnonzero((probability >= thresholds.auto_link) & ~cannot_link)
    plausible = plausible[eligible[left[plausible]] | eligible[right[plausible]]]
    ends = np.concatenate([left[plausible], right[plausible]])
    partner = np.concatenate([right[plausible], left[plausible]])
    keep = eligible[ends]
    ends, partner = ends[keep], partner[keep]
    if len(ends) < 2:  # a bridge needs two partners
        return
    n = int(max(left.max(initial=-1), right.max(initial=-1))) + 1
    # only parent/child separations: the father and son a name-only record could belong to
    generational = cannot_link & ((rule == RULE_SUFFIX_CONFLICT) | (rule == RULE_GENERATION_GAP))
    apart = np.sort(left[generational].astype(np.int64) * n + right[generational])
    if len(apart) == 0:
        return
    order = np.argsort(ends, kind="stable")
    ends, partner = ends[order], partner[order]
    starts = np.flatnonzero(np.concatenate([[True], ends[1:] != ends[:-1]]))
    sizes = np.diff(np.append(starts, len(ends)))
    bridges = []
    for size in np.unique(sizes[sizes >= 2]):
        at = starts[sizes == size]
        members = partner[at[:, None] + np.arange(size)[None, :]]
        iu, ju = np.triu_indices(size, 1)
        lo = np.minimum(members[:, iu], members[:, ju]).astype(np.int64)
        hi = np.maximum(members[:, iu], members[:, ju])
        hit = is_member(lo * n + hi, apart).any(axis=1)
        bridges.append(ends[at[hit]])
    if not bridges:
        return
    bridge = np.zeros(n, dtype=bool)
    bridge[np.concatenate(bridges)] = True
    held = (bridge[left] | bridge[right]) & (decision == Decision.AUTO_LINK)
    decision[held] = Decision.REVIEW
    rule[held] = RULE_BRIDGE
