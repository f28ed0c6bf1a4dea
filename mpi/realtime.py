"""Matching one record against stored golden records: the real-time path's algorithm.

It uses the batch path's normalisers, key functions, comparators, model and decision rules; only
candidate retrieval differs (the store looks keys up in an index). Given the scored members of
every candidate golden record, :meth:`Matcher.choose` applies the same cluster-consistency check
as batch clustering: a record joins a golden record only if it auto-links to one of its members
and fewer than a third of the members conflict with it (a look-alike rule, a cannot-link, or a
weight below the review threshold). So a record can never be chained onto a person through one
similar member while contradicting the rest.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .blocking.keys import RecordKey, record_keys
from .compare.comparisons import COMPARISONS, gamma_matrix
from .compare.table import RecordTable
from .decision import Decision, Thresholds, conflicting, decide
from .model.fellegi_sunter import FellegiSunterModel
from .normalise.record import normalise_record
from .population import PopulationStats

MAX_MEMBERS_SCORED = 60  # members of one candidate golden record scored against a query


@dataclass
class MemberScores:
    """Scores of one query against ``n`` stored records (arrays of length n)."""

    probability: np.ndarray
    weight: np.ndarray
    decision: np.ndarray
    conflict: np.ndarray  # counts against joining the member's golden record
    cannot_link: np.ndarray
    rule: np.ndarray
    gamma: np.ndarray
    contributions: np.ndarray
    prior_weight: float

    def explanation(self, k: int) -> dict:
        """Per-field contribution of member ``k`` to the weight: level, and weight in bits."""
        fields = {c.name: {"level": (c.levels[g] if g >= 0 else "missing"),
                           "match_weight": round(float(self.contributions[k, j]), 4)}
                  for j, (c, g) in enumerate(zip(COMPARISONS, self.gamma[k].tolist()))}
        return {"prior_match_weight": round(self.prior_weight, 4), "match_weight": round(float(self.weight[k]), 4),
                "rule": str(self.rule[k]), "fields": fields}


@dataclass
class GoldenScore:
    """How a query relates to one candidate golden record."""

    golden_id: str
    probability: float  # of the best-scoring member
    best_member: int  # index into the scored members
    links: bool  # some member is an auto-link
    compatible: bool  # few enough members conflict
    reviewable: bool  # some member reaches review and none rules the pair apart outright
    members_scored: int
    conflicts: int

    @property
    def decision(self) -> Decision:
        if self.links and self.compatible:
            return Decision.AUTO_LINK
        if self.reviewable or (self.links and not self.compatible):
            return Decision.REVIEW
        return Decision.DISTINCT


@dataclass
class Choice:
    """The outcome for an incoming record: join ``golden_id``, wait for review, or be new."""

    decision: Decision
    golden_id: str | None  # the golden record joined (AUTO_LINK) or to review against (REVIEW)
    probability: float
    best_member: int | None
    ranked: list[GoldenScore] = field(default_factory=list)
    also_linked: list[GoldenScore] = field(default_factory=list)  # other goldens it would join: duplicates?


class Matcher:
    """A model with the population statistics and thresholds it is applied with."""

    def __init__(self, model: FellegiSunterModel, stats: PopulationStats,
                 thresholds: Thresholds = Thresholds()) -> None:
        self.model = model
        self.stats = stats
        self.thresholds = thresholds
        self.floor_weight = float(np.log2(thresholds.review / (1 - thresholds.review)))

    def normalise(self, raw: Mapping[str, object]) -> dict[str, object]:
        source = str(raw.get("source") or "") or None
        order = self.stats.day_order.get(source) if source else None
        return normalise_record(raw, order, self.stats.shared)

    @staticmethod
    def keys(norm: Mapping[str, object]) -> list[RecordKey]:
        return record_keys(norm)

    def score(self, query: Mapping[str, object], members: Sequence[Mapping[str, object]]) -> MemberScores:
        """The query (normalised) against each stored member (normalised)."""
        n = len(members)
        table = RecordTable.from_records([dict(query), *[dict(m) for m in members]], self.stats)
        left = np.zeros(n, dtype=np.int64)
        right = np.arange(1, n + 1, dtype=np.int64)
        gamma, swapped = gamma_matrix(table, left, right)
        scored = self.model.score(table, left, right, gamma, swapped)
        d = decide(scored, table, self.thresholds)
        conflict = conflicting(d.cannot_link, d.rule) | (scored.match_weight < self.floor_weight)
        return MemberScores(scored.match_probability, scored.match_weight, d.decision, conflict, d.cannot_link,
                            d.rule, gamma, scored.contributions, self.model.prior_weight_)

    def choose(self, scores: MemberScores, golden_of_member: Sequence[str]) -> Choice:
        """Rank candidate golden records and decide: auto-link, review, or a new person."""
        by_golden: dict[str, list[int]] = {}
        for k, g in enumerate(golden_of_member):
            by_golden.setdefault(g, []).append(k)
        ranked = []
        for g, idx in by_golden.items():
            ix = np.array(idx)
            best = int(ix[np.argmax(scores.probability[ix])])
            conflicts = int(scores.conflict[ix].sum())
            ranked.append(GoldenScore(
                g, float(scores.probability[best]), best,
                links=bool((scores.decision[ix] == Decision.AUTO_LINK).any()),
                compatible=3 * conflicts < len(ix),
                reviewable=bool(((scores.decision[ix] >= Decision.REVIEW) & ~scores.cannot_link[ix]).any()),
                members_scored=len(ix), conflicts=conflicts))
        ranked.sort(key=lambda s: (-int(s.decision), -s.probability, s.golden_id))
        if not ranked or ranked[0].decision == Decision.DISTINCT:
            return Choice(Decision.DISTINCT, None, ranked[0].probability if ranked else 0.0, None, ranked)
        top = ranked[0]
        others = [s for s in ranked[1:] if s.decision == Decision.AUTO_LINK]
        return Choice(top.decision, top.golden_id, top.probability, top.best_member, ranked, others)
