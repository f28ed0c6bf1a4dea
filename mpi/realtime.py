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

from .ambiguity import hold_ambiguous_name_links, hold_bridge_links, release_unique_named_links
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
        fields = {c.name: {"level": (c.levels[g] if g >= 0 else "missing"), "match_weight": round(w, 4)}
                  for c, g, w in zip(COMPARISONS, self.gamma[k].tolist(), self.contributions[k].tolist())}
        return {"prior_match_weight": round(self.prior_weight, 4), "match_weight": round(float(self.weight[k]), 4),
                "rule": str(self.rule[k]), "fields": fields}


@dataclass
class PairScores:
    """Pairs ``(left[k], right[k])`` of one RecordTable scored on their own: before the
    population passes, which need a query's whole neighbourhood (:meth:`Matcher.neighbourhood`)."""

    left: np.ndarray
    right: np.ndarray
    gamma: np.ndarray
    contributions: np.ndarray
    weight: np.ndarray
    probability: np.ndarray
    decision: np.ndarray
    cannot_link: np.ndarray
    rule: np.ndarray

    def __len__(self) -> int:
        return len(self.left)

    def take(self, idx: np.ndarray) -> "PairScores":
        """The pairs at ``idx``, in that order (copies)."""
        return PairScores(*(getattr(self, f)[idx] for f in self.__dataclass_fields__))


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
        """The query (normalised) against each stored member (normalised).

        After the pairwise rules, the batch path's population passes run over the query's
        neighbourhood (the query, its candidates and, where a pass needs them, pairs among the
        candidates): a record without a first name (or a newborn's placeholder) links to a named
        record only if exactly one first name shares its birth date and surname; a misspelt name
        that could be either twin waits for review; a record without a birth date that matches
        both a father and his son waits for review.
        """
        n = len(members)
        table = RecordTable.from_records([dict(query), *[dict(m) for m in members]], self.stats)
        pairs = self.pairwise(table, np.zeros(n, dtype=np.int64), np.arange(1, n + 1, dtype=np.int64))
        return self.neighbourhood(table, pairs)

    def pairwise(self, table: RecordTable, left: np.ndarray, right: np.ndarray) -> PairScores:
        """Scores and pairwise decisions of pairs ``(left[k], right[k])`` of ``table``: each pair
        on its own, so the pairs of many queries can be scored in one vectorised pass."""
        gamma, swapped = gamma_matrix(table, left, right)
        scored = self.model.score(table, left, right, gamma, swapped)
        d = decide(scored, table, self.thresholds, self.stats.lookalikes)
        return PairScores(left, right, gamma, scored.contributions, scored.match_weight, scored.match_probability,
                          d.decision, d.cannot_link, d.rule)

    def neighbourhood(self, table: RecordTable, pairs: PairScores) -> MemberScores:
        """One query against its members: ``pairs`` are (query, member) for each member in order
        (positions in ``table``, which may hold other records too); the population passes then
        adjust the pairwise decisions over the query's neighbourhood."""
        n = len(pairs)
        left, right, gamma, prob = pairs.left, pairs.right, pairs.gamma, pairs.probability
        el, er = self._neighbour_pairs(table, int(left[0]), right, prob, pairs.cannot_link)
        if len(el):
            p2 = self.pairwise(table, el, er)
            all_l, all_r = np.concatenate([left, el]), np.concatenate([right, er])
            all_g, all_p = np.concatenate([gamma, p2.gamma]), np.concatenate([prob, p2.probability])
            all_d, all_rule = np.concatenate([pairs.decision, p2.decision]), np.concatenate([pairs.rule, p2.rule])
            all_c = np.concatenate([pairs.cannot_link, p2.cannot_link])
        else:
            all_l, all_r, all_g, all_p = left, right, gamma, prob
            all_d, all_rule, all_c = pairs.decision.copy(), pairs.rule.copy(), pairs.cannot_link
        release_unique_named_links(all_l, all_r, all_g, all_p, all_d, all_rule, all_c, table, self.thresholds)
        if self.stats.lookalikes.twin:  # as the batch path: a name between twins' needs twins
            hold_ambiguous_name_links(all_l, all_r, all_g, all_d, all_rule, table)
        hold_bridge_links(all_l, all_r, all_p, all_d, all_rule, all_c, self.thresholds,
                          eligible=table.numbers["dob_year"] < 0)
        decision, rule = all_d[:n], all_rule[:n]
        conflict = conflicting(pairs.cannot_link, rule) | (pairs.weight < self.floor_weight)
        return MemberScores(prob, pairs.weight, decision, conflict, pairs.cannot_link, rule, gamma,
                            pairs.contributions, self.model.prior_weight_)

    @staticmethod
    def _neighbour_pairs(table: RecordTable, query: int, members: np.ndarray, prob: np.ndarray,
                         cannot_link: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Member-member pairs the population passes need (positions in ``table``): members
        without a first name (or with a newborn's placeholder) with named members of the same
        birth date and surname; and, for a query without a birth date, the members it plausibly
        matches, pairwise. The earlier member in the query's member order is the pair's left
        record."""
        pos = np.concatenate([np.array([query], dtype=np.int64), members])  # local index -> table position
        pairs: list[tuple[int, int]] = []
        dob, last, first = (table.codes[c][pos] for c in ("dob", "last", "first"))
        nameless = table.flags["newborn"][pos] | (first < 0)  # placeholder or missing first name
        if nameless[1:].any():
            babies = [i for i in range(1, len(pos)) if nameless[i] and dob[i] >= 0]
            named = [j for j in range(1, len(pos)) if not nameless[j]]
            pairs += [(min(i, j), max(i, j)) for i in babies for j in named if dob[i] == dob[j] and last[i] == last[j]]
        if table.numbers["dob_year"][query] < 0:
            plausible = [k + 1 for k in np.flatnonzero(~cannot_link & (prob >= 0.5)).tolist()]
            pairs += [(a, b) for x, a in enumerate(plausible) for b in plausible[x + 1:]]
        if not pairs:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        arr = np.array(sorted(set(pairs)), dtype=np.int64)
        return pos[arr[:, 0]], pos[arr[:, 1]]

    def choose(self, scores: MemberScores, golden_of_member: Sequence[str]) -> Choice:
        """Rank candidate golden records and decide: auto-link, review, or a new person."""
        by_golden: dict[str, list[int]] = {}
        for k, g in enumerate(golden_of_member):
            by_golden.setdefault(g, []).append(k)
        ranked = _golden_scores(by_golden, scores)
        ranked.sort(key=lambda s: (-int(s.decision), -s.probability, s.golden_id))
        if not ranked or ranked[0].decision == Decision.DISTINCT:
            return Choice(Decision.DISTINCT, None, ranked[0].probability if ranked else 0.0, None, ranked)
        top = ranked[0]
        others = [s for s in ranked[1:] if s.decision == Decision.AUTO_LINK]
        return Choice(top.decision, top.golden_id, top.probability, top.best_member, ranked, others)


_AUTO_LINK, _REVIEW = int(Decision.AUTO_LINK), int(Decision.REVIEW)


def _golden_scores(by_golden: dict[str, list[int]], scores: MemberScores) -> list[GoldenScore]:
    """How the query relates to each candidate golden record, from its members' scores. Plain
    lists: a query has a few dozen members in a dozen golden records, where numpy's per-call
    cost dominates. The best member is the first most probable one (a NaN probability, which
    never compares, wins as it would under ``argmax``)."""
    prob, decision = scores.probability.tolist(), scores.decision.tolist()
    conflict, cannot = scores.conflict.tolist(), scores.cannot_link.tolist()
    out = []
    for g, idx in by_golden.items():
        best, links, reviewable, conflicts = idx[0], False, False, 0
        for k in idx:
            p = prob[k]
            if p != p:  # NaN: the first one wins
                if prob[best] == prob[best]:
                    best = k
            elif p > prob[best]:
                best = k
            d = decision[k]
            links = links or d == _AUTO_LINK
            reviewable = reviewable or (d >= _REVIEW and not cannot[k])
            conflicts += conflict[k]
        out.append(GoldenScore(g, prob[best], best, links=links, compatible=3 * conflicts < len(idx),
                               reviewable=reviewable, members_scored=len(idx), conflicts=conflicts))
    return out
