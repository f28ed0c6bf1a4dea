"""Batch resolution as partitionable steps: normalise -> keys -> candidate pairs -> scores ->
decisions -> clusters.

Each step is a function of its inputs only, and scoring runs over partitions of the candidate
pairs, so peak memory follows one partition's comparison work and the same steps can later be
mapped over a distributed engine. The real-time path reuses the same normaliser, comparators,
model and decision rules; only candidate generation differs.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .blocking.candidates import CandidatePairs, candidate_pairs, is_member, pairs_within_groups
from .clustering import cluster
from .compare.comparisons import COMPARISON_NAMES, gamma_matrix
from .compare.table import RecordTable
from .ambiguity import hold_ambiguous_name_links, hold_bridge_links, release_unique_named_links
from .decision import Decision, PairDecisions, Thresholds, conflicting, decide
from .lookalikes import ALL_PRESENT, Lookalikes, estimate as estimate_lookalikes
from .model.fellegi_sunter import FellegiSunterModel, ScoredPairs
from .normalise.dates import DayOrder
from .normalise.frame import normalise_frame
from .parallel import map_partitions, workers
from .records import validate_records

log = logging.getLogger(__name__)

PARTITION_PAIRS = 100_000
COMPLETE_COMPONENTS_UP_TO = 60  # score every pair inside link components this small

Progress = Callable[[str, int, int], None]


@dataclass
class ScoredCandidates:
    """Every candidate pair with its weight, decision and rule.

    Per-field contributions (the explanation of each weight) are recomputed on first use rather
    than held for millions of pairs: ``contributions[k, j]`` is comparison j's share of pair k.
    """

    left: np.ndarray
    right: np.ndarray
    gamma: np.ndarray
    swapped: np.ndarray
    match_weight: np.ndarray
    decision: np.ndarray
    cannot_link: np.ndarray
    rule: np.ndarray
    explain: Callable[["ScoredCandidates"], np.ndarray] | None = field(default=None, repr=False)
    _contributions: np.ndarray | None = field(default=None, repr=False)

    @property
    def match_probability(self) -> np.ndarray:
        return 1.0 / (1.0 + np.exp2(-np.clip(self.match_weight, -60, 60)))

    @property
    def contributions(self) -> np.ndarray:
        if self._contributions is None:
            if self.explain is None:
                raise ValueError("these pairs were scored without a model to explain them")
            self._contributions = self.explain(self)
        return self._contributions


@dataclass
class Resolution:
    """The outcome of a batch run."""

    clusters: pd.DataFrame  # record_id, cluster_id
    review: pd.DataFrame  # record_id_l, record_id_r, match_probability
    model: FellegiSunterModel
    records: pd.DataFrame  # the normalised records
    pairs: ScoredCandidates
    candidates: CandidatePairs
    thresholds: Thresholds
    stats: dict = field(default_factory=dict)
    lookalikes: Lookalikes = ALL_PRESENT  # the look-alike families the decisions guarded against

    def pair_table(self) -> pd.DataFrame:
        """The scored candidate pairs as a DataFrame with record ids (for analysis and notebooks)."""
        ids = self.records["record_id"].to_numpy()
        p = self.pairs
        return pd.DataFrame({"record_id_l": ids[p.left], "record_id_r": ids[p.right],
                             "match_weight": p.match_weight, "match_probability": p.match_probability,
                             "decision": [Decision(d).name for d in p.decision], "rule": p.rule})


def partitions(n: int, size: int = PARTITION_PAIRS) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def compute_gamma(table: RecordTable, left: np.ndarray, right: np.ndarray,
                  progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Comparison vectors for all pairs, partition by partition (partitions run in parallel)."""
    slices = list(partitions(len(left)))
    if not slices:
        return np.empty((0, len(COMPARISON_NAMES)), dtype=np.int8), np.zeros(0, bool)
    results = []
    batch = 4 * workers()
    for start in range(0, len(slices), batch):  # batches keep the progress bar moving
        group = slices[start:start + batch]
        results.extend(map_partitions(lambda sl: gamma_matrix(table, left[sl], right[sl]), group))
        if progress:
            progress("comparing", group[-1].stop, len(left))
    return np.concatenate([g for g, _ in results]), np.concatenate([s for _, s in results])


def score_pairs(model: FellegiSunterModel, table: RecordTable, left: np.ndarray, right: np.ndarray,
                gamma: np.ndarray, swapped: np.ndarray, thresholds: Thresholds,
                lookalikes: Lookalikes = ALL_PRESENT) -> ScoredCandidates:
    """Weights and decisions, partition by partition."""
    chunks: list[tuple[ScoredPairs, PairDecisions]] = []
    for sl in partitions(len(left)):
        s = model.score(table, left[sl], right[sl], gamma[sl], swapped[sl])
        chunks.append((s, decide(s, table, thresholds, lookalikes)))

    def explain(pairs: ScoredCandidates) -> np.ndarray:
        return model.score(table, pairs.left, pairs.right, pairs.gamma, pairs.swapped).contributions

    if not chunks:
        z = np.zeros(0)
        return ScoredCandidates(left, right, gamma, swapped, z, z.astype(np.int8), z.astype(bool), z.astype(object),
                                explain)
    return ScoredCandidates(
        left, right, gamma, swapped, np.concatenate([c[0].match_weight for c in chunks]),
        np.concatenate([c[1].decision for c in chunks]), np.concatenate([c[1].cannot_link for c in chunks]),
        np.concatenate([c[1].rule for c in chunks]), explain)


def link_components(n: int, left: np.ndarray, right: np.ndarray, link: np.ndarray) -> np.ndarray:
    """Connected component of every record over the auto-link pairs (singletons get their own)."""
    graph = coo_matrix((np.ones(int(link.sum())), (left[link], right[link])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _component_completion(n: int, scored: ScoredCandidates, comp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs inside small link components that blocking did not produce (to be scored too)."""
    sizes = np.bincount(comp, minlength=1)
    group = np.where(sizes[comp] > 2, comp, -1)
    codes, _, _ = pairs_within_groups(group, n, COMPLETE_COMPONENTS_UP_TO)
    if len(codes) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    have = scored.left.astype(np.int64) * n + scored.right
    codes = codes[~is_member(codes, np.sort(have))]
    return codes // n, codes % n


def _candidate_gamma(norm: pd.DataFrame) -> tuple[RecordTable, CandidatePairs, np.ndarray]:
    """A normalised frame's record table, its candidate pairs and their comparison levels."""
    table = RecordTable.from_frame(norm)
    candidates = candidate_pairs(norm)
    gamma, _ = compute_gamma(table, candidates.left, candidates.right)
    return table, candidates, gamma


def learn_population(norm: pd.DataFrame, seed: int = 0, model: FellegiSunterModel | None = None
                     ) -> tuple[FellegiSunterModel, Lookalikes]:
    """What :func:`resolve_frame` learns from a normalised frame's own candidate pairs: the
    unsupervised model (unless ``model`` is given) and the look-alike families present."""
    table, candidates, gamma = _candidate_gamma(norm)
    if model is None:
        model = FellegiSunterModel(seed=seed).fit(table, candidates.left, candidates.right, gamma)
    return model, estimate_lookalikes(table, candidates.left, candidates.right, gamma)


def measure_lookalikes(norm: pd.DataFrame) -> Lookalikes:
    """The look-alike families present among a normalised frame's candidate pairs."""
    table, candidates, gamma = _candidate_gamma(norm)
    return estimate_lookalikes(table, candidates.left, candidates.right, gamma)


def resolve_frame(raw: pd.DataFrame, model: FellegiSunterModel | None = None,
                  thresholds: Thresholds = Thresholds(), day_order: dict[str, DayOrder] | None = None,
                  progress: Progress | None = None, seed: int = 0, validated: bool = False) -> Resolution:
    """Resolve a DataFrame of canonical records into golden-record clusters.

    ``validated=True`` skips re-validating a frame that :func:`mpi.records.read_records_csv` (or
    :func:`mpi.records.validate_records`) just returned.
    """
    records = raw if validated else validate_records(raw)
    if progress:
        progress("normalising", 0, len(records))
    norm = normalise_frame(records, day_order)
    table = RecordTable.from_frame(norm)
    candidates = candidate_pairs(norm)
    if progress:
        progress("blocking", len(candidates), len(candidates))
    left, right = candidates.left, candidates.right
    gamma, swapped = compute_gamma(table, left, right, progress)
    if model is None:
        model = FellegiSunterModel(seed=seed).fit(table, left, right, gamma)
    lookalikes = estimate_lookalikes(table, left, right, gamma)
    scored = score_pairs(model, table, left, right, gamma, swapped, thresholds, lookalikes)
    release_unique_named_links(left, right, gamma, scored.match_probability, scored.decision, scored.rule,
                               scored.cannot_link, table, thresholds)
    if lookalikes.twin:  # a name between two twins' names needs twins to exist
        hold_ambiguous_name_links(left, right, gamma, scored.decision, scored.rule, table)
    hold_bridge_links(left, right, scored.match_probability, scored.decision, scored.rule, scored.cannot_link,
                      thresholds, eligible=table.numbers["dob_year"] < 0)

    comp = link_components(len(table), scored.left, scored.right, scored.decision == Decision.AUTO_LINK)
    extra_l, extra_r = _component_completion(len(table), scored, comp)
    if len(extra_l):
        g2, s2 = gamma_matrix(table, extra_l, extra_r)
        extra = score_pairs(model, table, extra_l, extra_r, g2, s2, thresholds, lookalikes)
        # completion pairs only constrain; they never create links blocking did not propose
        extra.decision = np.minimum(extra.decision, Decision.REVIEW).astype(np.int8)
        scored = _concat(scored, extra)

    rank = pd.Series(norm["record_id"]).rank(method="first").to_numpy(dtype=np.int64)
    floor = float(np.log2(thresholds.review / (1 - thresholds.review)))

    def extra_weight(pa: np.ndarray, pb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = model.score(table, pa, pb)
        d = decide(s, table, thresholds, lookalikes)
        return s.match_weight, conflicting(d.cannot_link, d.rule)

    # only pairs inside one link component can ever constrain a merge
    inside = comp[scored.left] == comp[scored.right]
    result = cluster(len(table), scored.left[inside], scored.right[inside], scored.match_weight[inside],
                     scored.decision[inside] == Decision.AUTO_LINK,
                     conflicting(scored.cannot_link[inside], scored.rule[inside]), floor, rank, extra_weight)
    result.refused = np.flatnonzero(inside)[result.refused]
    ids = norm["record_id"].to_numpy()
    clusters = pd.DataFrame({"record_id": ids, "cluster_id": ids[result.labels]})
    review = _review_pairs(scored, result.labels, result.refused, ids)
    stats = {"records": len(norm), "candidate_pairs": len(candidates), "completion_pairs": int(len(extra_l)),
             "auto_link_pairs": int((scored.decision == Decision.AUTO_LINK).sum()),
             "refused_links": int(len(result.refused)), "clusters": int(clusters["cluster_id"].nunique()),
             "review_pairs": len(review)}
    return Resolution(clusters, review, model, norm, scored, candidates, thresholds, stats, lookalikes)


def _concat(a: ScoredCandidates, b: ScoredCandidates) -> ScoredCandidates:
    return ScoredCandidates(*(np.concatenate([getattr(a, f), getattr(b, f)]) for f in
                              ("left", "right", "gamma", "swapped", "match_weight", "decision", "cannot_link",
                               "rule")), explain=a.explain)


def _review_pairs(scored: ScoredCandidates, labels: np.ndarray, refused: np.ndarray,
                  ids: np.ndarray) -> pd.DataFrame:
    """Pairs a steward should see: REVIEW pairs and refused links between different clusters,
    one (the most probable) per pair of clusters, never a pair ruled apart by a hard rule."""
    is_review = scored.decision == Decision.REVIEW
    is_review[refused] = True
    is_review &= ~scored.cannot_link
    is_review &= labels[scored.left] != labels[scored.right]
    idx = np.flatnonzero(is_review)
    if len(idx) == 0:
        return pd.DataFrame(columns=["record_id_l", "record_id_r", "match_probability"])
    frame = pd.DataFrame({"ca": np.minimum(labels[scored.left[idx]], labels[scored.right[idx]]),
                          "cb": np.maximum(labels[scored.left[idx]], labels[scored.right[idx]]),
                          "l": ids[scored.left[idx]], "r": ids[scored.right[idx]],
                          "p": scored.match_probability[idx]})
    frame = frame.sort_values(["p", "l", "r"], ascending=[False, True, True]).drop_duplicates(["ca", "cb"])
    lo = np.where(frame["l"] < frame["r"], frame["l"], frame["r"])
    hi = np.where(frame["l"] < frame["r"], frame["r"], frame["l"])
    out = pd.DataFrame({"record_id_l": lo, "record_id_r": hi, "match_probability": frame["p"].round(6)})
    return out.sort_values(["record_id_l", "record_id_r"]).reset_index(drop=True)
