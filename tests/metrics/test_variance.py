"""Tests of reprovip.metrics.variance: hand-worked values, statsmodels ANOVA, simulation with known truth."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from reprovip.errors import MetricInputError
from reprovip.metrics import (
    components_from_mean_squares,
    factorial_mean_squares,
    icc_all,
    variance_components,
)
from reprovip.metrics.icc import two_way_mean_squares

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

# 2 subjects x 2 versions x k = 2. Hand-worked: subject means 1.575, 3.625, grand 2.6 -> SS_s = 8.405;
# version means 2.05, 3.15 -> SS_v = 2.42; cell means 1.05, 2.1, 3.05, 4.2 -> interaction effect
# +-0.025 -> SS_sv = 8 * 0.025^2 = 0.005; residual SS = 0.11 on 4 df.
HAND = np.array([[[1.0, 1.1], [2.0, 2.2]], [[3.0, 3.1], [4.0, 4.4]]])


def test_hand_worked_mean_squares():
    """Mean squares of a 2 x 2 x 2 table worked out by hand (values in the comment above)."""
    ms = factorial_mean_squares(HAND, ["version"])
    assert ms.terms == ("subject", "version", "subject:version", "residual")
    np.testing.assert_allclose(ms.ms, [8.405, 2.42, 0.005, 0.0275], rtol=1e-12)
    assert ms.df.tolist() == [1, 1, 1, 4]
    assert (ms.n_subjects, ms.levels, ms.k, ms.factors) == (2, (2,), 2, ("version",))


def test_hand_worked_components():
    """EMS inversion by hand: s2_sv = (0.005 - 0.0275)/2 < 0 -> 0 (flagged); s2_s = (8.405 - 0.005)/4."""
    vc = variance_components(HAND, ["version"])
    np.testing.assert_allclose(vc.variance, [2.1, (2.42 - 0.005) / 4, 0.0, 0.0275], rtol=1e-12)
    assert vc.truncated.tolist() == [False, False, True, False]
    assert vc.share.sum() == pytest.approx(1.0)
    assert vc.source("residual") == pytest.approx(0.0275)


def _statsmodels_ms(x, factors):
    """Mean squares per term from statsmodels OLS + anova_lm (type 1; balanced, so all types agree)."""
    pd = pytest.importorskip("pandas")
    smf = pytest.importorskip("statsmodels.formula.api")
    sm = pytest.importorskip("statsmodels.api")
    names = ["subject", *factors]
    idx = np.array(list(itertools.product(*[range(s) for s in x.shape])))
    df = pd.DataFrame({n: idx[:, i] for i, n in enumerate(names)})
    df["y"] = x.ravel()
    full = x.shape[-1] > 1
    formula = "y ~ " + "*".join(f"C({n})" for n in names)
    if not full:  # saturated: drop the highest-order interaction, which becomes the residual
        formula = "y ~ (" + " + ".join(f"C({n})" for n in names) + f") ** {len(names) - 1}"
    table = sm.stats.anova_lm(smf.ols(formula, df).fit(), typ=1)
    out = {}
    for term, row in table.iterrows():
        key = "residual" if term == "Residual" else ":".join(t[2:-1] for t in term.split(":"))
        out[key] = row["sum_sq"] / row["df"]
    return out


@pytest.mark.parametrize(
    ("factors", "shape"),
    [
        ([], (5, 3)),
        (["threads"], (4, 2, 3)),
        (["threads", "version"], (4, 2, 3, 2)),
        (["a", "b"], (3, 2, 2, 1)),
    ],
)
def test_matches_statsmodels(rng, factors, shape):
    """Every mean square equals statsmodels' anova_lm of the full factorial OLS model (1e-9 relative).

    With k = 1 the model without the highest-order interaction is fitted: its residual is that interaction.
    """
    x = rng.normal(size=shape) + rng.normal(size=(shape[0],) + (1,) * (len(shape) - 1))
    ms = factorial_mean_squares(x, factors)
    ref = _statsmodels_ms(x, factors)
    if shape[-1] == 1:
        assert "residual" not in ms.terms
        ref[":".join(["subject", *factors])] = ref.pop("residual")
    assert set(ms.terms) == set(ref)
    for term, value in zip(ms.terms, ms.ms, strict=True):
        assert value == pytest.approx(ref[term], rel=1e-9), term


def test_one_way_equals_icc_mean_squares(rng):
    """Without factors, MS(subject) = MSR and MS(residual) = MSW of the ICC's two-way table."""
    x = rng.normal(size=(7, 4)) + rng.normal(size=(7, 1))
    ms = factorial_mean_squares(x, [])
    msr, _, _, msw = two_way_mean_squares(x)
    assert ms.ms.tolist() == pytest.approx([msr, msw], rel=1e-12)
    vc = variance_components(x, [])
    assert vc.sources == ("subject", "residual")
    icc1 = icc_all(x)["ICC(1,1)"].icc
    if not vc.truncated.any():  # one-way ICC(1,1) with k raters is s2_subject / (s2_subject + s2_residual)
        assert vc.share[0] == pytest.approx(icc1, rel=1e-12)


def test_simulation_recovers_known_components():
    """Simulated crossed random effects with known variances: mean estimates within 15% (400 replicates).

    Every component is large against the mean squares subtracted from it, so truncation is rare (< 5%) and
    the ANOVA estimators nearly unbiased; the tolerance is about 5 standard errors.
    """
    rng = np.random.default_rng(7)
    reps, n, lt, lv, k = 400, 30, 6, 5, 2
    truth = {
        "subject": 2.0,
        "threads": 1.0,
        "version": 0.5,
        "subject:threads": 0.2,
        "subject:version": 0.3,
        "threads:version": 0.4,
        "subject:threads:version": 0.25,
        "residual": 0.1,
    }
    shapes = {
        "subject": (n, 1, 1, 1),
        "threads": (1, lt, 1, 1),
        "version": (1, 1, lv, 1),
        "subject:threads": (n, lt, 1, 1),
        "subject:version": (n, 1, lv, 1),
        "threads:version": (1, lt, lv, 1),
        "subject:threads:version": (n, lt, lv, 1),
        "residual": (n, lt, lv, k),
    }
    x = sum(rng.normal(scale=np.sqrt(v), size=(reps, *shapes[s])) for s, v in truth.items())
    vc = variance_components(x, ["threads", "version"])
    assert vc.sources == tuple(truth)
    assert (vc.truncated.mean(axis=0) < 0.05).all()
    np.testing.assert_allclose(vc.variance.mean(axis=0), list(truth.values()), rtol=0.15)


def test_vectorised_equals_loop(rng):
    x = rng.normal(size=(3, 4, 2, 3, 2))
    vc = variance_components(x, ["threads", "version"])
    for i in range(3):
        one = variance_components(x[i], ["threads", "version"])
        np.testing.assert_allclose(vc.variance[i], one.variance, rtol=1e-12)
        np.testing.assert_array_equal(vc.truncated[i], one.truncated)


def test_shares_sum_to_one(rng):
    vc = variance_components(rng.normal(size=(10, 4, 3, 2, 2)), ["a", "b"])
    np.testing.assert_allclose(vc.share.sum(axis=-1), 1.0, rtol=1e-12)
    assert (vc.share >= 0).all()


def test_k1_residual_is_confounded(rng):
    """k = 1: the highest-order interaction is not reported, 'residual' is its mean square."""
    x = rng.normal(size=(5, 3, 1))
    ms = factorial_mean_squares(x, ["threads"])
    vc = components_from_mean_squares(ms)
    assert ms.terms == ("subject", "threads", "subject:threads")
    assert vc.sources == ("subject", "threads", "residual")
    assert vc.variance[-1] == pytest.approx(ms.term("subject:threads"))


# --- degenerate cases ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0.0, 0.1, 7.3])
def test_all_equal_is_zero(value):
    """No variance at all: every component and every share is exactly 0 (share 0 where the total is 0)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vc = variance_components(np.full((4, 2, 3, 3), value), ["threads", "version"])
    assert (vc.variance == 0).all() and (vc.share == 0).all() and not vc.truncated.any()


def test_identical_executions_all_subject():
    """Executions identical within each subject (values differ between subjects): 100% subject."""
    x = np.broadcast_to(np.array([0.1, 0.7, 1.3])[:, None, None], (3, 2, 4)).copy()
    vc = variance_components(x, ["threads"])
    assert vc.share.tolist() == [1.0, 0.0, 0.0, 0.0]


def test_identical_subjects_no_subject_terms():
    """All subjects identical: every term involving subject is exactly 0."""
    one = np.array([[0.1, 0.2, 0.3], [0.5, 0.5, 0.9]])
    ms = factorial_mean_squares(np.stack([one, one, one]), ["threads"])
    assert ms.term("subject") == 0.0 and ms.term("subject:threads") == 0.0 and ms.term("residual") > 0


# --- bad input --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "factors", "match"),
    [
        (np.ones((3, 2, 2)), "threads", "`factors` must be a sequence of factor names"),
        (np.ones((3, 2, 2, 2)), ["a", "a"], "`factors` must not repeat a factor"),
        (np.ones((3, 2, 2)), ["subject"], "`factors` entries must be non-empty strings"),
        (np.ones((3, 2, 2)), ["a:b"], "without ':'"),
        (np.ones((3, 2)), ["a", "b"], "`x` must have at least 4 dimensions"),
        (np.ones((1, 2, 2)), ["a"], "`x` needs at least 2 subjects"),
        (np.ones((3, 1, 2)), ["a"], "`x` needs at least 2 levels of factor 'a'"),
        (np.ones((3, 1)), [], "`x` needs at least 2 repetitions"),
        (np.full((3, 2), np.nan), [], "`x` contains NaN"),
    ],
)
def test_bad_input(x, factors, match):
    with pytest.raises(MetricInputError, match=match):
        variance_components(x, factors)


def test_bad_term_name(rng):
    ms = factorial_mean_squares(rng.normal(size=(3, 2)), [])
    with pytest.raises(MetricInputError, match="`name` must be one of"):
        ms.term("threads")
    with pytest.raises(MetricInputError, match="`name` must be one of"):
        components_from_mean_squares(ms).source("threads")


def test_a_one_ulp_difference_is_the_repetitions_not_an_interaction():
    """Review MM: one execution of one subject 1 ulp above its repetitions (values 100-400): the rounding of the
    values' magnitude gave subject:threads (4.2e-32) and threads more variance than the repetitions (2.3e-33).
    The exact components: the factor's and the interaction's mean squares equal the residual's (u^2/24), so
    both are 0 and the repetitions carry it all."""
    x = np.empty((4, 2, 3))
    for s in range(4):
        x[s] = np.random.default_rng(s + 1).normal(100.0 * (s + 1), 10.0)
    u = np.spacing(x[1, 1, 1])
    x[1, 1, 1] += u
    vc = variance_components(x, ["threads"])
    variance = dict(zip(vc.sources, np.asarray(vc.variance).tolist(), strict=True))
    assert variance["threads"] == 0.0 and variance["subject:threads"] == 0.0
    assert variance["residual"] == pytest.approx(u**2 / 24, rel=1e-6)  # SS 2u^2/3 over 16 df
