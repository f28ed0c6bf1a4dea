"""Supervised fitting from labelled pairs (stewards' same/different decisions).

A logistic regression over one indicator per comparison level is the discriminative twin of
Fellegi-Sunter: its coefficients are log-odds contributions per level, so they drop into the same
model as match weights (converted to bits), keep the per-field explanations, and serialise to the
same JSON. m and u are also counted from the labels so the parameter table stays readable.
"""
from __future__ import annotations

import numpy as np

from ..compare.comparisons import gamma_matrix
from ..compare.table import RecordTable
from .fellegi_sunter import FellegiSunterModel, _prior_fixed_point, _shares

LN2 = float(np.log(2.0))


def level_indicators(gamma: np.ndarray, n_levels: list[int]) -> np.ndarray:
    """One column per (comparison, level); a missing comparison (-1) sets none of its columns."""
    offsets = np.concatenate([[0], np.cumsum(n_levels)[:-1]])
    x = np.zeros((len(gamma), int(sum(n_levels))), dtype=np.float32)
    for k, off in enumerate(offsets):
        g = gamma[:, k]
        present = np.flatnonzero(g >= 0)
        x[present, off + g[present]] = 1.0
    return x


def fit_supervised(table: RecordTable, left: np.ndarray, right: np.ndarray, same: np.ndarray,
                   gamma: np.ndarray | None = None, regularisation: float = 100.0,
                   model: FellegiSunterModel | None = None,
                   candidate_gamma: np.ndarray | None = None) -> FellegiSunterModel:
    """A model learned from labelled pairs: ``same[k]`` says whether pair k is one person.

    Stewards label candidate pairs, not random ones, so the labelled match share is not the
    prior. With ``candidate_gamma`` (the comparison vectors of the population's candidate pairs)
    the prior is the same fixed point the unsupervised fit uses; without, it is rescaled from the
    labelled share (a rough bound).
    """
    from sklearn.linear_model import LogisticRegression  # imported here: it costs a second at import
    same = np.asarray(same, dtype=bool)
    if same.all() or not same.any():
        raise ValueError("labelled pairs must include both matches and non-matches")
    model = model or FellegiSunterModel()
    if gamma is None:
        gamma, _ = gamma_matrix(table, left, right)
    n_levels = [c.n_levels for c in model.comparisons]
    x = level_indicators(gamma, n_levels)
    clf = LogisticRegression(C=regularisation, max_iter=2000, class_weight=None)
    clf.fit(x, same)
    coef = clf.coef_[0] / LN2
    offsets = np.concatenate([[0], np.cumsum(n_levels)])
    weights = [coef[offsets[k]:offsets[k + 1]].astype(float) for k in range(len(n_levels))]
    m, u = [], []
    for k, n in enumerate(n_levels):
        g = gamma[:, k]
        m.append((np.bincount(g[same & (g >= 0)], minlength=n) + 0.5) / ((same & (g >= 0)).sum() + 0.5 * n))
        u.append((np.bincount(g[~same & (g >= 0)], minlength=n) + 0.5) / ((~same & (g >= 0)).sum() + 0.5 * n))
    model._set_parameters(m, u, 0.5)
    model.weights_ = weights
    # intercept: log-odds of a labelled pair with no evidence; move it to random record pairs
    labelled_share = same.mean()
    n = max(len(table), 2)
    expected_matches = same.sum()  # a lower bound on matching pairs in this population
    random_share = min(max(expected_matches / (n * (n - 1) / 2), 1e-12), 0.5)
    intercept_bits = clf.intercept_[0] / LN2
    shift = np.log2(random_share / (1 - random_share)) - np.log2(labelled_share / (1 - labelled_share))
    prior_bits = intercept_bits + shift
    model.prior_ = float(1.0 / (1.0 + 2.0 ** (-prior_bits)))
    if candidate_gamma is not None and len(candidate_gamma):
        model.prior_ = _prior_fixed_point(model, candidate_gamma, len(table))
    model.u_exact_random_ = {c.tf_column: float(np.nansum(_shares(table, c.tf_column) ** 2))
                             for c in model.comparisons if c.tf_column}
    model.training_ = {"records": len(table), "labelled_pairs": int(len(same)), "matches": int(same.sum()),
                       "method": "supervised logistic regression"}
    return model
