"""Matcher.choose ranks golden records from plain lists (fast for a few dozen members); it must
agree with the numpy form it replaced, member for member, on every kind of score."""
from __future__ import annotations

import numpy as np

from mpi.decision import Decision
from mpi.realtime import GoldenScore, MemberScores, _golden_scores


def _numpy_golden_score(g: str, idx: list[int], scores: MemberScores) -> GoldenScore:
    """The numpy form the list form replaced (the reference)."""
    ix = np.array(idx)
    best = int(ix[np.argmax(scores.probability[ix])])
    conflicts = int(scores.conflict[ix].sum())
    return GoldenScore(
        g, float(scores.probability[best]), best,
        links=bool((scores.decision[ix] == Decision.AUTO_LINK).any()),
        compatible=3 * conflicts < len(ix),
        reviewable=bool(((scores.decision[ix] >= Decision.REVIEW) & ~scores.cannot_link[ix]).any()),
        members_scored=len(ix), conflicts=conflicts)


def test_list_golden_scores_equal_the_numpy_ones():
    rng = np.random.default_rng(0)
    for t in range(2000):
        n = int(rng.integers(1, 80))
        # ties (few distinct probabilities) and continuous values both
        prob = rng.choice([0.1, 0.5, 0.9, 0.99, 0.999], n) if t % 2 else rng.random(n)
        if t % 7 == 0:
            prob[rng.random(n) < 0.1] = np.nan
        scores = MemberScores(prob, prob, rng.integers(0, 3, n).astype(np.int8), rng.random(n) < 0.3,
                              rng.random(n) < 0.2, np.full(n, "", dtype=object), None, None, 0.0)
        by_golden: dict[str, list[int]] = {}
        for k, g in enumerate(rng.integers(0, 6, n)):
            by_golden.setdefault(f"G{g}", []).append(k)
        expected = [_numpy_golden_score(g, idx, scores) for g, idx in by_golden.items()]
        got = _golden_scores(by_golden, scores)
        assert [_fields(x) for x in got] == [_fields(x) for x in expected]
        assert np.array_equal([x.probability for x in got], [x.probability for x in expected], equal_nan=True)


def _fields(s: GoldenScore) -> tuple:
    """Every field but the probability (NaN never equals itself; compared apart)."""
    return s.golden_id, s.best_member, s.links, s.compatible, s.reviewable, s.members_scored, s.conflicts
