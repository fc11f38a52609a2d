"""Variance components of a balanced, fully crossed random-effects design with replication.

``x.shape == (..., n_subjects, L_1, ..., L_m, k)``: subjects, then one axis per factor (``threads``,
``version``...), then the ``k`` repetitions of each condition. Every factor is crossed with every other
and with subjects, all effects are random, each cell holds ``k`` repetitions. Sources are ``subject``, each
factor, every interaction (``subject:threads``, ``threads:version``, ...) and ``residual`` (repetition).

Estimators are the ANOVA (expected mean squares) ones: for a term ``T`` and ``c_T = k * prod(L_a, a not in
T)`` observations per cell of ``T``, ``E[MS_T] = s2_residual + sum_{U >= T} c_U s2_U``, which is inverted by
inclusion-exclusion. Negative estimates are truncated to 0 and flagged.

With ``k == 1`` the highest-order interaction ``subject:f_1:...:f_m`` cannot be told apart from repetition
noise: it is not reported and ``residual`` holds their sum (estimated by that interaction's mean square).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reprovip.errors import MetricInputError

from ._common import as_float_array, check_axis_size, check_names, exact_mean, output, ratio


@dataclass(frozen=True)
class MeanSquares:
    """Mean squares of the factorial ANOVA, one per term; ``ms`` has shape ``(..., n_terms)``.

    ``terms`` lists the factorial terms (main effects, then two-way interactions, ...) and, when ``k >= 2``,
    ``"residual"`` last. ``df`` holds their degrees of freedom; ``levels`` the number of levels of each
    factor (subjects excluded).
    """

    factors: tuple[str, ...]
    n_subjects: int
    levels: tuple[int, ...]
    k: int
    terms: tuple[str, ...]
    ms: np.ndarray
    df: np.ndarray

    def term(self, name: str) -> np.ndarray:
        """Mean square of one term (``(...)``)."""
        if name not in self.terms:
            raise MetricInputError(f"`name` must be one of {list(self.terms)}, got {name!r}")
        return self.ms[..., self.terms.index(name)]


@dataclass(frozen=True)
class VarianceComponents:
    """Estimated variance per source; ``variance``, ``share`` and ``truncated`` are ``(..., n_sources)``.

    ``share`` is the fraction of the total (sums to 1, or is 0 everywhere where the total is 0);
    ``truncated`` marks negative ANOVA estimates that were set to 0.
    """

    sources: tuple[str, ...]
    variance: np.ndarray
    share: np.ndarray
    truncated: np.ndarray

    def source(self, name: str) -> np.ndarray:
        """Variance of one source (``(...)``)."""
        if name not in self.sources:
            raise MetricInputError(f"`name` must be one of {list(self.sources)}, got {name!r}")
        return self.variance[..., self.sources.index(name)]


def factorial_terms(factors: Sequence[str]) -> list[tuple[str, tuple[int, ...]]]:
    """Terms as (name, axes) with axis 0 = subject, 1..m = factors; main effects first, then interactions."""
    axes = ("subject", *factors)
    return [
        (":".join(axes[i] for i in combo), combo)
        for r in range(1, len(axes) + 1)
        for combo in itertools.combinations(range(len(axes)), r)
    ]


def effect(a: np.ndarray, keep: Sequence[int], average: Sequence[int]) -> np.ndarray:
    """Interaction contrast: mean over ``average`` axes (kept as size 1), centred along each ``keep`` axis."""
    if len(average):
        a = a.mean(axis=tuple(average), keepdims=True)
    for ax in keep:
        a = a - a.mean(axis=ax, keepdims=True)
    return a


def _validate(x, factors) -> tuple[np.ndarray, tuple[str, ...]]:
    factors = check_names(factors, "factors")
    m = len(factors)
    x = as_float_array(x, "x", min_ndim=m + 2)
    check_axis_size(x.shape[-(m + 2)], "x", "subjects (axis -(len(factors)+2))", 2)
    for i, f in enumerate(factors):
        check_axis_size(x.shape[-(m + 1) + i], "x", f"levels of factor {f!r}", 2)
    if m == 0:
        check_axis_size(x.shape[-1], "x", "repetitions (axis -1) when there is no factor", 2)
    return x, factors


def factorial_mean_squares(x, factors: Sequence[str]) -> MeanSquares:
    """Mean squares of every term of the crossed design ``x`` of shape ``(..., n, L_1, ..., L_m, k)``.

    Parameters
    ----------
    x : array_like
        Finite values; ``n >= 2``, every ``L_i >= 2``; ``k >= 1`` (``k >= 2`` when there is no factor).
    factors : sequence of str
        Names of the ``m`` factor axes, in axis order.

    Returns
    -------
    MeanSquares

    Notes
    -----
    Exact zeros are kept exact: all values equal gives 0 everywhere; identical executions within each subject
    give 0 for every term but ``subject``; identical subjects give 0 for every term involving ``subject``.

    References
    ----------
    Searle, S. R., Casella, G., & McCulloch, C. E. (1992). Variance Components. Wiley, ch. 4.
    doi:10.1002/9780470316856

    Examples
    --------
    >>> x = np.array([[[1.0, 1.1], [2.0, 2.2]], [[3.0, 3.1], [4.0, 4.4]]])  # 2 subjects, 2 versions, k=2
    >>> ms = factorial_mean_squares(x, ["version"])
    >>> ms.terms
    ('subject', 'version', 'subject:version', 'residual')
    >>> np.round(ms.ms, 4).tolist()
    [8.405, 2.42, 0.005, 0.0275]
    """
    x, factors = _validate(x, factors)
    m = len(factors)
    n, levels, k = x.shape[-(m + 2)], tuple(x.shape[-(m + 1) : -1]), x.shape[-1]
    sizes = (n, *levels)
    flat = x.reshape(*x.shape[: x.ndim - m - 2], n, -1)
    within_same = np.all(flat == flat[..., :1], axis=(-2, -1))
    rows_same = np.all(flat == flat[..., :1, :], axis=(-2, -1))
    cm = exact_mean(x - flat[..., :1, :1].reshape(flat.shape[:-2] + (1,) * (m + 2)), -1)  # (..., n, L...)
    # shifted as in icc.two_way_mean_squares; every term but `subject` is blind to a subject's offset: on each
    # subject's values less its first (exact for neighbours), the rounding of the values' magnitude does not reach
    # them (a 1-ulp difference of one execution gave subject:threads a larger share than the repetitions': a review)
    x = x - flat[..., :1].reshape(flat.shape[:-1] + (1,) * (m + 1))
    within = exact_mean(x, -1)
    cb = tuple(range(-(m + 1), 0))  # block axes of cm
    n_cells = int(np.prod(sizes))
    terms, ms, df = [], [], []
    for name, axes in factorial_terms(factors):
        keep = [cb[a] for a in axes]
        eff = effect(cm if name == "subject" else within, keep, [ax for ax in cb if ax not in keep])
        per_cell = k * n_cells // int(np.prod([sizes[a] for a in axes]))
        d = int(np.prod([sizes[a] - 1 for a in axes]))
        terms.append(name)
        ms.append(per_cell * np.sum(eff**2, axis=cb) / d)
        df.append(d)
    if k >= 2:
        cell_same = np.all(x == x[..., :1], axis=-1)
        ss = np.where(cell_same, 0.0, np.sum((x - within[..., None]) ** 2, axis=-1)).sum(axis=cb)
        terms.append("residual")
        ms.append(ss / (n_cells * (k - 1)))
        df.append(n_cells * (k - 1))
    ms_arr = force_zeros(ms, tuple(terms), within_same, rows_same)
    return MeanSquares(factors, n, levels, k, tuple(terms), output(ms_arr), output(np.asarray(df, dtype=np.int64)))


def force_zeros(ms: Sequence[np.ndarray], terms: tuple[str, ...], within_same, rows_same) -> np.ndarray:
    """The mean squares of each term, one ``(...)`` array per term, as one ``(..., n_terms)`` array, with those
    that are mathematically 0 set to exact 0 (see :func:`factorial_mean_squares`)."""
    within_same, rows_same = np.asarray(within_same), np.asarray(rows_same)
    out = np.empty((*np.shape(ms[0]), len(terms)))
    for i, (term, values) in enumerate(zip(terms, ms, strict=True)):
        # A term at a time: on voxel maps, operations along a last axis of a few terms cost ten times more.
        column = out[..., i]
        np.copyto(column, values)
        if term != "subject":
            np.copyto(column, 0.0, where=within_same)
        if term.split(":")[0] == "subject" and term != "residual":
            np.copyto(column, 0.0, where=rows_same)
    return out


def components_from_mean_squares(ms: MeanSquares) -> VarianceComponents:
    """ANOVA estimators of the variance components from a :class:`MeanSquares`.

    For each term ``T``, ``s2_T = sum_{U >= T} (-1)^{|U|-|T|} MS_U / c_T`` (minus ``MS_residual`` for the
    highest-order term when ``k >= 2``); negative estimates are set to 0 and flagged in ``truncated``.

    References
    ----------
    Searle, Casella & McCulloch (1992), Variance Components, ch. 4. doi:10.1002/9780470316856

    Examples
    --------
    >>> x = np.array([[[1.0, 1.1], [2.0, 2.2]], [[3.0, 3.1], [4.0, 4.4]]])
    >>> vc = components_from_mean_squares(factorial_mean_squares(x, ["version"]))
    >>> vc.sources
    ('subject', 'version', 'subject:version', 'residual')
    >>> np.round(vc.variance, 4).tolist(), vc.truncated.tolist()
    ([2.1, 0.6038, 0.0, 0.0275], [False, False, True, False])
    """
    factorial = factorial_terms(ms.factors)
    sizes = (ms.n_subjects, *ms.levels)
    full = factorial[-1][1]
    index = {axes: i for i, (_, axes) in enumerate(factorial)}
    # One contiguous array per term and per source: on voxel maps, operations along a last axis of a few
    # terms cost several times more (the same additions, in the same order).
    terms = [np.ascontiguousarray(ms.ms[..., i]) for i in range(ms.ms.shape[-1])]
    sources, est = [], []
    for name, axes in factorial:
        if ms.k == 1 and axes == full:
            continue
        total = np.zeros(ms.ms.shape[:-1])
        for u_axes, i in index.items():
            if set(axes) <= set(u_axes):
                total = total + (-1.0) ** (len(u_axes) - len(axes)) * terms[i]
        if axes == full:
            total = total - terms[-1]
        per_cell = ms.k * int(np.prod([s for a, s in enumerate(sizes) if a not in axes]))
        sources.append(name)
        est.append(total / per_cell)
    sources.append("residual")
    est.append(terms[-1] if ms.k >= 2 else terms[index[full]])
    var = [np.where(values < 0, 0.0, values) for values in est]
    tot = var[0].copy()
    for values in var[1:]:  # left to right, as a sum along a short last axis is
        tot += values
    shape = (*ms.ms.shape[:-1], len(est))
    truncated, out, share = np.empty(shape, dtype=bool), np.empty(shape), np.empty(shape)
    for i, values in enumerate(est):
        truncated[..., i], out[..., i], share[..., i] = values < 0, var[i], ratio(var[i], tot, zero_zero=0.0)
    var = out
    return VarianceComponents(tuple(sources), output(var), output(share), output(truncated))


def variance_components(x, factors: Sequence[str]) -> VarianceComponents:
    """Variance components of ``x`` (``(..., n, L_1, ..., L_m, k)``) for the named factor axes.

    Parameters
    ----------
    x : array_like
        See :func:`factorial_mean_squares`.
    factors : sequence of str
        Factor names, one per axis between subjects and repetitions.

    Returns
    -------
    VarianceComponents

    References
    ----------
    Searle, Casella & McCulloch (1992), Variance Components, doi:10.1002/9780470316856

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(5, 1)) + 0.1 * rng.normal(size=(5, 3))   # 5 subjects, k = 3, no factor
    >>> vc = variance_components(x, [])
    >>> vc.sources, bool(vc.share[0] > 0.9)
    (('subject', 'residual'), True)
    """
    return components_from_mean_squares(factorial_mean_squares(x, factors))
