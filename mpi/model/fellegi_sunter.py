"""The Fellegi-Sunter match model: per comparison level, a match weight log2(m/u).

Fitting is unsupervised: u starts from random record pairs (how often two different people
agree by chance), then m, u among candidate pairs and the prior are learned by EM over the
distinct agreement patterns; no labels are needed. Exact agreement on names, streets, cities and
dates of birth is then adjusted by how common the shared value is (a shared "Smith" says less
than a shared "Xiong"). Every scored pair carries its weight, its probability and the
contribution of each field, so a decision can always be explained.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..compare.comparisons import COMPARISONS, Comparison, gamma_matrix
from ..compare.table import RecordTable
from ..errors import NotFittedError
from .em import EMResult, distinct_patterns, expectation_maximisation

log = logging.getLogger(__name__)

TF_ADJUSTMENT_LIMIT = 6.0  # bits; an extremely rare or common value cannot dominate a pair's weight
U_SAMPLE_PAIRS = 150_000


@dataclass
class ScoredPairs:
    """Scores of pairs ``(left[k], right[k])`` (positions in the scored RecordTable)."""

    left: np.ndarray
    right: np.ndarray
    gamma: np.ndarray
    swapped: np.ndarray
    contributions: np.ndarray  # (pairs, comparisons) weight in bits, TF adjustment included
    match_weight: np.ndarray

    @cached_property
    def match_probability(self) -> np.ndarray:
        """From ``match_weight`` (computed once: the decision rules and the caller both read it)."""
        return probability(self.match_weight)

    def __len__(self) -> int:
        return len(self.left)


def probability(weight: np.ndarray) -> np.ndarray:
    """Match probability from a match weight in bits (prior included)."""
    return 1.0 / (1.0 + np.exp2(-np.clip(weight, -60, 60)))


class FellegiSunterModel:
    """Estimator in the scikit-learn habit: hyper-parameters in ``__init__``, ``fit`` returns self,
    learned attributes end in ``_``."""

    def __init__(self, comparisons: tuple[Comparison, ...] = COMPARISONS, *, max_iter: int = 100,
                 u_sample_pairs: int = U_SAMPLE_PAIRS, term_frequency: bool = True, seed: int = 0) -> None:
        self.comparisons = comparisons
        self.max_iter = max_iter
        self.u_sample_pairs = u_sample_pairs
        self.term_frequency = term_frequency
        self.seed = seed

    # learned: m_, u_, weights_, prior_, u_exact_random_, em_trace_, converged_, training_
    def _check(self) -> None:
        if not hasattr(self, "weights_"):
            raise NotFittedError("the model has no parameters yet: call fit() or load one from a file")

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "weights_")

    def fit(self, table: RecordTable, left: np.ndarray, right: np.ndarray,
            gamma: np.ndarray | None = None) -> "FellegiSunterModel":
        """Learn the model from the candidate pairs of ``table``, without labels.

        u comes from random pairs: how often two different people agree by chance. m is learned
        by EM on training subsets of the candidates, each defined by agreement on some fields
        (same date of birth; same full name; same SSN) with those fields held out, since within
        such a subset agreement on them says nothing. The prior (chance that two random records
        are one person) is then the fixed point of the expected number of matching candidates.
        """
        rng = np.random.default_rng(self.seed)
        u_random = self._random_u(table, rng)
        if gamma is None:
            gamma, _ = gamma_matrix(table, left, right)
        names = [c.name for c in self.comparisons]
        estimates: list[list[np.ndarray]] = [[] for _ in self.comparisons]
        trace: list[float] = []
        converged = True
        subsets_used = []
        for subset_name, held_out, mask in _training_subsets(gamma, names):
            if mask.sum() < 50:
                continue
            patterns, counts = distinct_patterns(gamma[mask])
            held = frozenset(names.index(h) for h in held_out)
            m0 = [u_random[k].copy() if k in held else _initial_m(c.n_levels)
                  for k, c in enumerate(self.comparisons)]
            result: EMResult = expectation_maximisation(patterns, counts, m0, u_random, 0.5, fix_u=True,
                                                        fixed_m=held, max_iter=self.max_iter)
            converged &= result.converged
            trace.extend(result.log_likelihood)
            subsets_used.append({"subset": subset_name, "pairs": int(mask.sum()),
                                 "iterations": len(result.log_likelihood)})
            for k in range(len(self.comparisons)):
                if k not in held:
                    estimates[k].append(result.m[k])
        if not subsets_used:
            log.warning("too few candidate pairs (%d records) to learn what a match looks like: every pair will "
                        "score as a non-match; learn the model from a larger file (mpi train) and pass it with "
                        "--model", len(table))
        m = [np.mean(e, axis=0) if e else u_random[k].copy() for k, e in enumerate(estimates)]
        self._set_parameters(m, u_random, 0.5)
        self.prior_ = _prior_fixed_point(self, gamma, len(table))
        self.u_exact_random_ = {c.tf_column: float(np.nansum(_shares(table, c.tf_column) ** 2))
                                for c in self.comparisons if c.tf_column}
        self.em_trace_ = trace
        self.converged_ = converged
        self.training_ = {"records": len(table), "candidate_pairs": int(len(gamma)), "subsets": subsets_used,
                          "converged": converged, "method": "unsupervised EM"}
        return self

    def _random_u(self, table: RecordTable, rng: np.random.Generator) -> list[np.ndarray]:
        n = len(table)
        k = min(self.u_sample_pairs, max(n * (n - 1) // 2, 1))
        a = rng.integers(0, n, size=k)
        b = rng.integers(0, n, size=k)
        keep = a != b
        gamma, _ = gamma_matrix(table, a[keep], b[keep])
        out = []
        for j, c in enumerate(self.comparisons):
            g = gamma[:, j]
            counts = np.bincount(g[g >= 0], minlength=c.n_levels).astype(float) + 0.5
            out.append(counts / counts.sum())
        return out

    def _set_parameters(self, m: list[np.ndarray], u: list[np.ndarray], prior: float) -> None:
        self.m_ = [np.asarray(x, dtype=float) for x in m]
        self.u_ = [np.asarray(x, dtype=float) for x in u]
        self.weights_ = [np.log2(mm / uu) for mm, uu in zip(self.m_, self.u_)]
        self.prior_ = float(prior)

    @property
    def prior_weight_(self) -> float:
        self._check()
        return float(np.log2(self.prior_ / (1.0 - self.prior_)))

    def score(self, table: RecordTable, left: np.ndarray, right: np.ndarray,
              gamma: np.ndarray | None = None, swapped: np.ndarray | None = None) -> ScoredPairs:
        """Weights, probabilities and per-field contributions for the given pairs."""
        self._check()
        if gamma is None:
            gamma, swapped = gamma_matrix(table, left, right)
        assert swapped is not None
        table_of_weights, offsets = self._weight_lookup()
        contrib = table_of_weights[gamma + offsets]  # every field's weight in one lookup (missing: 0)
        if self.term_frequency:
            self._adjust_for_term_frequency(contrib, table, left, gamma)
        weight = contrib.sum(axis=1) + self.prior_weight_
        return ScoredPairs(left, right, gamma, swapped, contrib, weight.astype(np.float64))

    def _adjust_for_term_frequency(self, contrib: np.ndarray, table: RecordTable, left: np.ndarray,
                                   gamma: np.ndarray) -> None:
        """Exact agreement on a value is worth more when the value is rare: the top level's
        weight of each term-frequency column moves by log2(u / share of the left record's value),
        capped at +-TF_ADJUSTMENT_LIMIT bits. All such columns in one pass over the pairs at the
        top level only (a real-time query scores a few dozen pairs, where per-column numpy calls
        cost more than the arithmetic; a batch scores millions, where only the top level may be
        gathered)."""
        fields = [(j, c.tf_column, c.n_levels - 1) for j, c in enumerate(self.comparisons)
                  if c.tf_column and c.tf_column in table.term_frequency]
        if not fields:
            return
        js = np.array([j for j, _, _ in fields], dtype=np.intp)
        pairs, field = np.nonzero(gamma[:, js] == np.array([level for _, _, level in fields], dtype=gamma.dtype))
        if len(pairs) == 0:
            return
        share = np.empty(len(pairs))
        for f, (_, column, _) in enumerate(fields):
            at = field == f
            share[at] = table.term_frequency[column][left[pairs[at]]]
        base = np.array([self.u_exact_random_.get(column, np.nan) for _, column, _ in fields])
        with np.errstate(invalid="ignore", divide="ignore"):
            adj = np.log2(base[field] / share)
        adj[np.isnan(adj)] = 0.0
        contrib[pairs, js[field]] += np.clip(adj, -TF_ADJUSTMENT_LIMIT, TF_ADJUSTMENT_LIMIT).astype(np.float32)

    def _weight_lookup(self) -> tuple[np.ndarray, np.ndarray]:
        """All fields' level weights in one array, each field's block led by a 0 for "missing"
        (gamma -1), and each field's offset into it: ``lookup[gamma + offsets]`` is the weight of
        every field of every pair. Rebuilt when ``weights_`` or one of its arrays is replaced (the
        arrays it was built from are kept, so a new array is never mistaken for an old one)."""
        source = getattr(self, "_lookup_source", None)
        if source is None or len(source) != len(self.weights_) or \
                any(old is not new for old, new in zip(source, self.weights_)):
            blocks = [np.concatenate([[0.0], w]) for w in self.weights_]
            starts = np.cumsum([0] + [len(b) for b in blocks[:-1]])
            self._lookup = (np.concatenate(blocks).astype(np.float32), (starts + 1).astype(np.intp))
            self._lookup_source = list(self.weights_)
        return self._lookup

    def parameters_table(self):
        """m, u and weight per comparison level, as a DataFrame (for people, not for code)."""
        import pandas as pd
        self._check()
        rows = []
        for j, c in enumerate(self.comparisons):
            for g in range(c.n_levels - 1, -1, -1):
                rows.append({"comparison": c.name, "gamma": g, "level": c.levels[g],
                             "m_probability": self.m_[j][g], "u_probability": self.u_[j][g],
                             "match_weight": self.weights_[j][g]})
        return pd.DataFrame(rows)


def _training_subsets(gamma: np.ndarray, names: list[str]):
    """(name, held-out comparisons, candidate mask) for each EM training subset."""
    col = {n: gamma[:, k] for k, n in enumerate(names)}
    yield "same date of birth", ("dob",), col["dob"] >= 3
    yield "same full name", ("first_name", "last_name"), (col["first_name"] == 6) & (col["last_name"] == 4)
    yield "same SSN", ("ssn",), col["ssn"] == 3


def _prior_fixed_point(model: "FellegiSunterModel", gamma: np.ndarray, n_records: int,
                       iterations: int = 50) -> float:
    """The random-pair prior at which the expected matches among candidates reproduce it.

    Pairs outside the candidates are taken as non-matches (their blocking keys all differ).
    """
    all_pairs = max(n_records * (n_records - 1) / 2, 1.0)
    bayes = np.zeros(len(gamma))
    for k in range(gamma.shape[1]):
        g = gamma[:, k]
        present = g >= 0
        bayes[present] += model.weights_[k][g[present]]
    expected = max(n_records / 2.0, 1.0)
    for _ in range(iterations):
        prior = min(expected / all_pairs, 0.5)
        logit = bayes + np.log2(prior / (1 - prior))
        new = float((1.0 / (1.0 + np.exp2(-np.clip(logit, -60, 60)))).sum())
        if abs(new - expected) < 1e-3 * max(expected, 1.0):
            expected = new
            break
        expected = max(new, 1.0)
    return float(min(max(expected / all_pairs, 1e-12), 0.5))


def _initial_m(n_levels: int) -> np.ndarray:
    """A starting guess: matches mostly agree exactly, the rest spread over the lower levels."""
    m = np.full(n_levels, 0.1 / max(n_levels - 1, 1))
    m[-1] = 0.9
    return m / m.sum()


def _shares(table: RecordTable, column: str) -> np.ndarray:
    values = table.text[column]
    present = values[values != ""]
    if len(present) == 0:
        return np.zeros(0)
    _, counts = np.unique(present.astype(str), return_counts=True)
    return counts / counts.sum()
