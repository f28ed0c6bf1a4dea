"""Expectation-maximisation for the two-class Fellegi-Sunter mixture, over distinct patterns.

Pairs are first reduced to their distinct agreement patterns with a count each, so an iteration
costs the number of patterns (hundreds to a few thousand), not the number of pairs. All
arithmetic is in log space. A likelihood trace is kept; failing to converge warns, never fails.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)

SMOOTHING = 0.5  # pseudo-count per level: no level is ever impossible


class ConvergenceWarning(UserWarning):
    """EM stopped at ``max_iter`` before the log-likelihood settled."""


@dataclass
class EMResult:
    m: list[np.ndarray]
    u: list[np.ndarray]
    prior: float
    converged: bool
    log_likelihood: list[float] = field(default_factory=list)


def distinct_patterns(gamma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a gamma matrix and how many pairs have each."""
    if len(gamma) == 0:
        return gamma.reshape(0, gamma.shape[1]), np.zeros(0, dtype=np.int64)
    shifted = gamma.astype(np.int64) + 1
    radix = int(shifted.max()) + 1
    code = np.zeros(len(gamma), dtype=np.int64)
    for k in range(gamma.shape[1]):
        code = code * radix + shifted[:, k]
    uniq, first, counts = np.unique(code, return_index=True, return_counts=True)
    return gamma[first], counts


def _level_logs(patterns: np.ndarray, probs: list[np.ndarray]) -> np.ndarray:
    """Sum over comparisons of log prob of each pattern's level (missing contributes 0)."""
    total = np.zeros(len(patterns))
    for k, p in enumerate(probs):
        g = patterns[:, k]
        present = g >= 0
        total[present] += np.log(p[g[present]])
    return total


def _reestimate(patterns: np.ndarray, weights: np.ndarray, n_levels: list[int]) -> list[np.ndarray]:
    out = []
    for k, n in enumerate(n_levels):
        g = patterns[:, k]
        present = g >= 0
        counts = np.bincount(g[present], weights=weights[present], minlength=n) + SMOOTHING
        out.append(counts / counts.sum())
    return out


def expectation_maximisation(patterns: np.ndarray, counts: np.ndarray, m: list[np.ndarray],
                             u: list[np.ndarray], prior: float, *, fix_u: bool = False,
                             fixed_m: frozenset[int] = frozenset(), max_iter: int = 100,
                             tol: float = 1e-6) -> EMResult:
    """Fit m (and u unless ``fix_u``) and the prior to pattern counts, starting from the given values.

    ``fixed_m`` lists comparisons whose m is held at its starting value.
    """
    n_levels = [len(x) for x in m]
    m = [x.copy() for x in m]
    u = [x.copy() for x in u]
    trace: list[float] = []
    converged = False
    total = counts.sum()
    for _ in range(max_iter):
        lm = _level_logs(patterns, m) + np.log(prior)
        lu = _level_logs(patterns, u) + np.log1p(-prior)
        norm = np.logaddexp(lm, lu)
        post = np.exp(lm - norm)
        trace.append(float((counts * norm).sum()))
        w_match, w_non = counts * post, counts * (1.0 - post)
        new_m = _reestimate(patterns, w_match, n_levels)
        for k in fixed_m:
            new_m[k] = m[k]
        m = new_m
        if not fix_u:
            u = _reestimate(patterns, w_non, n_levels)
        prior = float(np.clip(w_match.sum() / total, 1e-9, 1 - 1e-9))
        if len(trace) > 1 and abs(trace[-1] - trace[-2]) <= tol * abs(trace[-2]):
            converged = True
            break
    if not converged:
        warnings.warn(f"EM did not converge in {max_iter} iterations; the model may be imprecise",
                      ConvergenceWarning, stacklevel=2)
    log.info("EM finished after %d iterations (converged=%s)", len(trace), converged)
    return EMResult(m, u, prior, converged, trace)
