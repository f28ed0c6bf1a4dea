"""Matcher.choose ranks golden records from plain lists (fast for a few dozen members); it must
agree with the numpy form it replaced, member for member, on every kind of score."""
from __future__ import annotations

import numpy as np

from mpi.realtime import Matcher, MemberScores, _golden_scores


def test_list_golden_scores_equal_the_numpy_ones():
    rng = np.random.default_rng(0)
    for t in range(2000):
        n = int(rng.integers(1, 80))
        # ties (few distinct probabilities) and continuous values both
        prob = rng.choice([0.1, 0.5, 0.9, 0.99, 0.999], n) if t % 2 else rng.random(n)
        scores = MemberScores(prob, prob, rng.integers(0, 3, n).astype(np.int8), rng.random(n) < 0.3,
                              rng.random(n) < 0.2, np.full(n, "", dtype=object), None, None, 0.0)
        by_golden: dict[str, list[int]] = {}
        for k, g in enumerate(rng.integers(0, 6, n)):
            by_golden.setdefault(f"G{g}", []).append(k)
        expected = [Matcher._golden_score(g, idx, scores) for g, idx in by_golden.items()]
        assert _golden_scores(by_golden, scores) == expected
