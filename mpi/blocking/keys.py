"""Blocking keys as stored values: what the store's candidate index holds for each record.

Each rule gives a record at most one key and, for rules that have one, a finer key used when the
coarse block has grown past the rule's cap. Both are hashed to signed 64-bit integers (the index
stays small and fixed-width); a hash collision can only add a candidate, which scoring then
rejects. The batch path and the store compute keys with the same rule functions.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from .candidates import MAX_BLOCK_SIZE
from .rules import RULES, BlockingRule


@dataclass(frozen=True)
class RecordKey:
    """One rule's key for one record: ``key`` (coarse), ``fine`` (coarse plus the rule's finer key,
    0 when the rule has none or the finer part is missing) and the rule's block cap."""

    rule: int
    key: int
    fine: int
    cap: int


def key_hash(rule_index: int, value: str) -> int:
    """A stable signed 64-bit hash of one rule's key value."""
    digest = hashlib.blake2b(f"{rule_index}\x1f{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _record_key(r: int, rule: BlockingRule, value: str, finer: str) -> RecordKey:
    """Rule ``r``'s key for a record whose coarse key is ``value`` (not missing) and finer part ``finer``."""
    fine = key_hash(r, f"{value}#{finer}") if finer != "" else 0
    return RecordKey(r, key_hash(r, value), fine, rule.max_block or MAX_BLOCK_SIZE)


def frame_keys(frame: pd.DataFrame, rules: tuple[BlockingRule, ...] = RULES) -> list[list[RecordKey]]:
    """Every record's keys (vectorised over a normalised frame), in frame order."""
    out: list[list[RecordKey]] = [[] for _ in range(len(frame))]
    for r, rule in enumerate(rules):
        coarse = rule.key.frame(frame).to_numpy(dtype=object)
        finer = rule.refine.frame(frame).astype(str).to_numpy(dtype=object) if rule.refine else None
        for i, value in enumerate(coarse):
            if value != "":
                out[i].append(_record_key(r, rule, value, finer[i] if finer is not None else ""))
    return out


def record_keys(norm: Mapping[str, object], rules: tuple[BlockingRule, ...] = RULES) -> list[RecordKey]:
    """One normalised record's keys (see :func:`mpi.normalise.record.normalise_record`): the
    rules' one-record implementations, equal to that record's :func:`frame_keys` row."""
    out = []
    for r, rule in enumerate(rules):
        value = rule.key.value(norm)
        if value != "":
            out.append(_record_key(r, rule, value, rule.refine.value(norm) if rule.refine else ""))
    return out
