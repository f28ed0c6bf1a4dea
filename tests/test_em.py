"""EM for the two-class Fellegi-Sunter mixture recovers known parameters from simulated data.

Agreement patterns are drawn from known m, u and prior (conditionally independent comparisons,
some values missing at random); EM starts from a perturbed guess with u free and must land
back on the truth.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from mpi.model.em import distinct_patterns, expectation_maximisation

TRUE_M = [np.array([0.05, 0.15, 0.80]), np.array([0.10, 0.90]), np.array([0.04, 0.06, 0.20, 0.70]),
          np.array([0.15, 0.85])]
TRUE_U = [np.array([0.85, 0.10, 0.05]), np.array([0.70, 0.30]), np.array([0.90, 0.05, 0.03, 0.02]),
          np.array([0.80, 0.20])]
TRUE_PRIOR = 0.2
MISSING_RATE = [0.0, 0.1, 0.05, 0.2]
N_PAIRS = 40_000


def simulate(seed: int, n: int = N_PAIRS) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    is_match = rng.random(n) < TRUE_PRIOR
    gamma = np.empty((n, len(TRUE_M)), dtype=np.int8)
    for k, (m, u) in enumerate(zip(TRUE_M, TRUE_U)):
        from_m = rng.choice(len(m), size=n, p=m)
        from_u = rng.choice(len(u), size=n, p=u)
        gamma[:, k] = np.where(is_match, from_m, from_u)
        gamma[rng.random(n) < MISSING_RATE[k], k] = -1
    return gamma, is_match


def perturbed(probs: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    for p in probs:
        q = p * rng.uniform(0.5, 1.5, size=len(p)) + 0.05
        out.append(q / q.sum())
    return out


@pytest.fixture(scope="module", params=[0, 1, 2])
def fitted(request):
    seed = request.param
    gamma, is_match = simulate(seed)
    patterns, counts = distinct_patterns(gamma)
    rng = np.random.default_rng(1000 + seed)
    m0, u0 = perturbed(TRUE_M, rng), perturbed(TRUE_U, rng)
    result = expectation_maximisation(patterns, counts, m0, u0, 0.4, fix_u=False, max_iter=500, tol=1e-10)
    return result, gamma, is_match, m0, u0


def test_em_recovers_m(fitted):
    result = fitted[0]
    for k, (got, want) in enumerate(zip(result.m, TRUE_M)):
        assert np.max(np.abs(got - want)) < 0.03, f"comparison {k}: m={got.round(3)} truth={want}"


def test_em_recovers_u(fitted):
    result = fitted[0]
    for k, (got, want) in enumerate(zip(result.u, TRUE_U)):
        assert np.max(np.abs(got - want)) < 0.03, f"comparison {k}: u={got.round(3)} truth={want}"


def test_em_recovers_prior(fitted):
    result, _, is_match = fitted[:3]
    assert abs(result.prior - TRUE_PRIOR) < 0.02
    assert abs(result.prior - is_match.mean()) < 0.02


def test_em_moves_away_from_the_starting_guess(fitted):
    result, _, _, m0, _ = fitted
    start_error = max(np.max(np.abs(a - b)) for a, b in zip(m0, TRUE_M))
    end_error = max(np.max(np.abs(a - b)) for a, b in zip(result.m, TRUE_M))
    assert start_error > 0.05  # the guess really was off
    assert end_error < start_error / 2


def test_em_converges_and_probabilities_are_distributions(fitted):
    result = fitted[0]
    assert result.converged
    for p in result.m + result.u:
        assert np.all(p > 0)
        assert abs(p.sum() - 1.0) < 1e-9


def test_likelihood_trace_is_non_decreasing(fitted):
    trace = np.array(fitted[0].log_likelihood)
    assert len(trace) >= 3
    steps = np.diff(trace)
    assert np.all(steps >= -1e-6 * np.abs(trace[:-1])), steps[steps < 0]
    assert trace[-1] > trace[0]  # it actually climbed


def test_fix_u_keeps_u_and_fixed_m_keeps_m():
    gamma, _ = simulate(7, 5_000)
    patterns, counts = distinct_patterns(gamma)
    rng = np.random.default_rng(7)
    m0, u0 = perturbed(TRUE_M, rng), perturbed(TRUE_U, rng)
    result = expectation_maximisation(patterns, counts, m0, u0, 0.3, fix_u=True, fixed_m=frozenset({1}))
    for got, start in zip(result.u, u0):
        assert np.array_equal(got, start)
    assert np.array_equal(result.m[1], m0[1])
    assert not np.array_equal(result.m[0], m0[0])
    # the caller's arrays are not modified in place
    assert all(np.array_equal(a, b) for a, b in zip(m0, perturbed(TRUE_M, np.random.default_rng(7))))


# --- distinct patterns ------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1])
def test_distinct_patterns_counts_sum_to_rows(seed):
    gamma, _ = simulate(seed, 10_000)
    patterns, counts = distinct_patterns(gamma)
    assert counts.sum() == len(gamma)
    expected = Counter(map(tuple, gamma.tolist()))
    got = {tuple(p): int(c) for p, c in zip(patterns.tolist(), counts)}
    assert len(got) == len(patterns)  # every pattern listed once
    assert got == dict(expected)


@pytest.mark.parametrize("gamma", [
    np.array([[-1, -1], [-1, -1], [-1, -1]], dtype=np.int8),
    np.array([[0, 6], [6, 0], [0, 6], [-1, 6]], dtype=np.int8),
    np.array([[3, 2, 1, 0, -1]] * 5 + [[0, 1, 2, 3, -1]], dtype=np.int8),
    np.array([[0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 6], [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 6]], dtype=np.int8),
], ids=["all-missing", "mirror-images", "repeated", "twelve-comparisons"])
def test_distinct_patterns_small(gamma):
    patterns, counts = distinct_patterns(gamma)
    assert counts.sum() == len(gamma)
    assert {tuple(p): int(c) for p, c in zip(patterns.tolist(), counts)} == dict(Counter(map(tuple, gamma.tolist())))


def test_distinct_patterns_empty():
    patterns, counts = distinct_patterns(np.zeros((0, 4), dtype=np.int8))
    assert patterns.shape == (0, 4)
    assert counts.sum() == 0
