"""The comparisons: for each field, ordered agreement levels and the function that assigns them.

A comparison maps a pair to a small integer ``gamma``: ``-1`` when either side is missing, ``0``
for clear disagreement ("else"), and higher numbers for closer agreement, the top level being
exact agreement. The same functions score one pair (real time) and millions (batch).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .similarity import (is_prefix, jaro_winkler, one_edit_apart, sets_intersect, token_set_similarity,
                         tokens_overlap)
from .table import RecordTable

GammaFn = Callable[[RecordTable, np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Comparison:
    """One field's comparison: ``levels[g]`` is the label of gamma ``g`` (index 0 = "else")."""

    name: str
    levels: tuple[str, ...]
    gamma: GammaFn
    tf_column: str | None = None  # term-frequency adjust the exact level by this column's value

    @property
    def n_levels(self) -> int:
        return len(self.levels)


def _assign(n: int, missing: np.ndarray, conditions: list[tuple[int, np.ndarray]]) -> np.ndarray:
    """Highest level whose condition holds (conditions given from most to least exact)."""
    g = np.zeros(n, dtype=np.int8)
    for level, cond in reversed(conditions):  # a higher level, written later, overwrites a lower one
        g[cond] = level
    g[missing] = -1
    return g


def _pick(cols: dict[str, np.ndarray], name: str, idx: np.ndarray) -> np.ndarray:
    return cols[name][idx]


def _fuzzy(left: np.ndarray, right: np.ndarray, need: np.ndarray) -> np.ndarray:
    """Jaro-Winkler only where ``need`` (saves the C call on pairs already decided)."""
    sim = np.zeros(len(left), dtype=np.float32)
    if need.any():
        sim[need] = jaro_winkler(left[need], right[need])
    return sim


def first_name_gamma(t: RecordTable, a: np.ndarray, b: np.ndarray, swap: np.ndarray) -> np.ndarray:
    fa = t.text["first"][a]
    fb = np.where(swap, t.text["last"][b], t.text["first"][b])
    ca, cb = t.codes["first"][a], np.where(swap, -2, t.codes["first"][b])
    missing = (fa == "") | (fb == "")
    exact = (ca == cb) & (ca >= 0) | (fa == fb) & ~missing
    open_ = ~missing & ~exact
    tok_eq = (t.codes["first_token"][a] == t.codes["first_token"][b]) & (t.codes["first_token"][a] >= 0) & ~swap
    nick = np.zeros(len(a), dtype=bool)
    if open_.any():
        nick[open_] = sets_intersect(t.first_family[a][open_], t.first_family[b][open_])
    nick &= ~swap
    sim = _fuzzy(fa, fb, open_ & ~nick & ~tok_eq)
    phon = (t.codes["first_phonetic"][a] == t.codes["first_phonetic"][b]) & (t.codes["first_phonetic"][a] >= 0)
    la = t.lengths["first"][a]
    lb = np.where(swap, t.lengths["last"][b], t.lengths["first"][b])
    rest = open_ & ~nick & ~tok_eq & (sim < 0.85)
    cross_middle = np.zeros(len(a), dtype=bool)
    initial = np.zeros(len(a), dtype=bool)
    prefix = np.zeros(len(a), dtype=bool)
    if rest.any():
        ma, mb = t.text["middle"][a][rest], t.text["middle"][b][rest]
        ra, rb = fa[rest], fb[rest]
        cross_middle[rest] = ((ra == mb) | (rb == ma)) & (la[rest] > 1) & (lb[rest] > 1)
        starts = is_prefix(ra, rb, la[rest], lb[rest])
        initial[rest] = starts & ((la[rest] == 1) | (lb[rest] == 1))
        prefix[rest] = starts & (np.minimum(la[rest], lb[rest]) >= 3)
    return _assign(len(a), missing, [(6, exact), (5, nick | tok_eq), (4, sim >= 0.92),
                                     (3, (sim >= 0.85) | (phon & ~swap) | prefix), (2, cross_middle),
                                     (1, initial)])


def last_name_gamma(t: RecordTable, a: np.ndarray, b: np.ndarray, swap: np.ndarray) -> np.ndarray:
    la = t.text["last"][a]
    lb = np.where(swap, t.text["first"][b], t.text["last"][b])
    missing = (la == "") | (lb == "")
    exact = (la == lb) & ~missing
    open_ = ~missing & ~exact
    sim = _fuzzy(la, lb, open_)
    phon = (t.codes["last_phonetic"][a] == t.codes["last_phonetic"][b]) & (t.codes["last_phonetic"][a] >= 0) & ~swap
    part = np.zeros(len(a), dtype=bool)
    need = open_ & (sim < 0.85)
    if need.any():
        part[need] = tokens_overlap(t.text["last_tokens"][a][need], t.text["last_tokens"][b][need])
    return _assign(len(a), missing, [(4, exact), (3, sim >= 0.92), (2, (sim >= 0.85) | phon), (1, part)])


def middle_name_gamma(t: RecordTable, a: np.ndarray, b: np.ndarray, swap: np.ndarray) -> np.ndarray:
    ca, cb = t.codes["middle"][a], t.codes["middle"][b]
    missing = (ca < 0) | (cb < 0)
    both_long = (t.lengths["middle"][a] > 1) & (t.lengths["middle"][b] > 1)
    initial = t.codes["middle_initial"][a] == t.codes["middle_initial"][b]
    return _assign(len(a), missing, [(2, (ca == cb) & both_long), (1, initial)])


def dob_gamma(t: RecordTable, a: np.ndarray, b: np.ndarray, swap: np.ndarray) -> np.ndarray:
    ya, ma, da = (t.numbers[c][a] for c in ("dob_year", "dob_month", "dob_day"))
    yb, mb, db = (t.numbers[c][b] for c in ("dob_year", "dob_month", "dob_day"))
    missing = (ya < 0) | (yb < 0)
    exact = (ya == yb) & (ma == mb) & (da == db)
    transposed = (ya == yb) & (ma == db) & (da == mb)
    open_ = ~missing & ~exact & ~transposed
    typo = np.zeros(len(a), dtype=bool)
    if open_.any():
        typo[open_] = one_edit_apart(t.text["dob"][a][open_], t.text["dob"][b][open_])
    days = np.abs(t.numbers["dob_days"][a] - t.numbers["dob_days"][b])
    near = (days <= 31) | ((ma == mb) & (da == db) & (np.abs(ya - yb) <= 1))
    return _assign(len(a), missing, [(4, exact), (3, transposed), (2, typo), (1, near)])


def sex_gamma(t: RecordTable, a: np.ndarray, b: np.ndarray, swap: np.ndarray) -> np.ndarray:
    ca, cb = t.codes["sex"][a], t.codes["sex"][b]
    return _assign(len(a), (ca < 0) | (cb < 0), [(1, ca == cb)])


def ssn_gamma(t: RecordTable, a: np.ndarray, b: np.ndarray, swap: np.ndarray) -> np.ndarray:
    fa, fb = t.codes["ssn"][a], t.codes["ssn"][b]
    la, lb = t.codes["ssn_last4"][a], t.codes["ssn_last4"][b]
    missing = ((fa < 0) & (la < 0)) | ((fb < 0) & (lb < 0))
    exact = (fa == fb) & (fa >= 0)
    only_last4 = ((fa < 0) | (fb < 0)) & (la == lb) & (la >= 0)
    both_full = (fa >= 0) & (fb >= 0) & ~exact
    typo = np.zeros(len(a), dtype=bool)
    if both_full.any():
        typo[both_full] = one_edit_apart(t.text["ssn"][a][both_full], t.text["ssn"][b][both_full])
    return _assign(len(a), missing, [(3, exact), (2, only_last4), (1, typo)])


def phone_gamma(t: RecordTable, a: np.ndarray, b: np.ndarray, swap: np.ndarray) -> np.ndarray:
    ca, cb = t.codes["phone"][a], t.codes["phone"][b]
    missing = (ca < 0) | (cb < 0)
    last7 = t.codes["phone7"][a] == t.codes["phone7"][b]
    return _assign(len(a), missing, [(2, ca == cb), (1, last7)])


def email_gamma(t: RecordTable, a: np.ndarray, b: np.ndarray, swap: np.ndarray) -> np.ndarray:
    ca, cb = t.codes["email"][a], t.codes["email"][b]
    missing = (ca < 0) | (cb < 0)
    exact = (ca == cb) & ~missing
    local = t.codes["email_local"][a] == t.codes["email_local"][b]
    sim = _fuzzy(t.text["email"][a], t.text["email"][b], ~missing & ~exact & ~local)
    return _assign(len(a), missing, [(2, exact), (1, local | (sim >= 0.92))])


def street_gamma(t: RecordTable, a: np.ndarray, b: np.ndarray, swap: np.ndarray) -> np.ndarray:
    sa, sb = t.text["street"][a], t.text["street"][b]
    missing = (sa == "") | (sb == "")
    exact = (t.codes["street"][a] == t.codes["street"][b]) & ~missing
    open_ = ~missing & ~exact
    na, nb = t.codes["house_number"][a], t.codes["house_number"][b]
    same_number = open_ & (na == nb) & (na >= 0) & (t.lengths["street_name"][a] > 0) & (t.lengths["street_name"][b] > 0)
    name_sim = _fuzzy(t.text["street_name"][a], t.text["street_name"][b], same_number)
    same_building = same_number & (name_sim >= 0.9)
    tokens = np.zeros(len(a), dtype=bool)
    need = open_ & ~same_building
    if need.any():
        tokens[need] = token_set_similarity(sa[need], sb[need]) >= 0.85
    return _assign(len(a), missing, [(3, exact), (2, same_building), (1, tokens)])


def city_gamma(t: RecordTable, a: np.ndarray, b: np.ndarray, swap: np.ndarray) -> np.ndarray:
    ca, cb = t.codes["city"][a], t.codes["city"][b]
    missing = (ca < 0) | (cb < 0)
    exact = (ca == cb) & ~missing
    sim = _fuzzy(t.text["city"][a], t.text["city"][b], ~missing & ~exact)
    return _assign(len(a), missing, [(2, exact), (1, sim >= 0.88)])


def zip_gamma(t: RecordTable, a: np.ndarray, b: np.ndarray, swap: np.ndarray) -> np.ndarray:
    za, zb = t.text["zip"][a], t.text["zip"][b]
    missing = (za == "") | (zb == "")
    exact = (t.codes["zip"][a] == t.codes["zip"][b]) & ~missing
    open_ = ~missing & ~exact
    typo = np.zeros(len(a), dtype=bool)
    if open_.any():
        typo[open_] = one_edit_apart(za[open_], zb[open_])
    return _assign(len(a), missing, [(2, exact), (1, typo)])


def state_gamma(t: RecordTable, a: np.ndarray, b: np.ndarray, swap: np.ndarray) -> np.ndarray:
    ca, cb = t.codes["state"][a], t.codes["state"][b]
    return _assign(len(a), (ca < 0) | (cb < 0), [(1, ca == cb)])


COMPARISONS: tuple[Comparison, ...] = (
    Comparison("first_name", ("else", "initial only", "first is other's middle",
                              "similar (JW>=0.85, phonetic or prefix)", "JW>=0.92", "nickname", "exact"),
               first_name_gamma, tf_column="first"),
    Comparison("last_name", ("else", "compound part shared", "similar (JW>=0.85 or phonetic)", "JW>=0.92",
                             "exact"), last_name_gamma, tf_column="last"),
    Comparison("middle_name", ("else", "initial agrees", "exact"), middle_name_gamma),
    Comparison("dob", ("else", "within a month / year off by one", "one digit off", "day and month swapped",
                       "exact"), dob_gamma, tf_column="dob"),
    Comparison("sex", ("else", "exact"), sex_gamma),
    Comparison("ssn", ("else", "one digit off", "last four agree", "exact"), ssn_gamma),
    Comparison("phone", ("else", "last seven digits", "exact"), phone_gamma),
    Comparison("email", ("else", "similar", "exact"), email_gamma),
    Comparison("street", ("else", "similar words", "same house number and street", "exact"), street_gamma,
               tf_column="street"),
    Comparison("city", ("else", "JW>=0.88", "exact"), city_gamma, tf_column="city"),
    Comparison("zip", ("else", "one digit off", "exact"), zip_gamma),
    Comparison("state", ("else", "exact"), state_gamma),
)
COMPARISON_NAMES = tuple(c.name for c in COMPARISONS)


SWAP_SIMILARITY = 0.9


def swapped_names(t: RecordTable, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairs whose first and last names are (up to typos) the other record's last and first names."""
    # codes are numbered per column, so across first and last names compare the text itself
    fa, la, fb, lb = t.text["first"][a], t.text["last"][a], t.text["first"][b], t.text["last"][b]
    present = (fa != "") & (la != "") & (fb != "") & (lb != "") & (fa != la)
    exact = present & (fa == lb) & (la == fb)
    # a swap shows in the initials first: skip the string work for pairs whose crossed initials
    # both differ (typos rarely hit a name's first letter)
    fi, li = t.numbers["first_initial"], t.numbers["last_initial"]
    crossed = (fi[a] == li[b]) | (li[a] == fi[b])
    open_ = present & ~exact & (fa != fb) & (la != lb) & crossed
    out = exact.copy()
    if open_.any():
        ta, tb = t.text, t.text
        cross = np.minimum(jaro_winkler(ta["first"][a][open_], tb["last"][b][open_]),
                           jaro_winkler(ta["last"][a][open_], tb["first"][b][open_]))
        direct = np.minimum(jaro_winkler(ta["first"][a][open_], tb["first"][b][open_]),
                            jaro_winkler(ta["last"][a][open_], tb["last"][b][open_]))
        out[open_] = (cross >= SWAP_SIMILARITY) & (cross > direct)
    return out


def gamma_matrix(table: RecordTable, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The gamma of every comparison for pairs ``(a[k], b[k])``: shape (pairs, comparisons), and
    the per-pair "names swapped" flag."""
    swap = swapped_names(table, a, b)
    out = np.empty((len(a), len(COMPARISONS)), dtype=np.int8)
    for k, comp in enumerate(COMPARISONS):
        out[:, k] = comp.gamma(table, a, b, swap)
    return out, swap
