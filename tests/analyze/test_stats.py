"""Tests of reprovip.analyze.stats: the per-observation ICC entries are a data contract read by the criteria.

Every degenerate design must say so in the entry (``estimable``, ``reason``, ``ci_unbounded``, ``above_one``,
``ci_uninformative``) and never carry a Koo & Li band it cannot support. Expected values are those of
reprovip.metrics.icc_all, itself checked against pingouin and R psych in tests/metrics/test_icc.py.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from reprovip.analyze.stats import scalar_metrics
from reprovip.metrics import CI_UNINFORMATIVE_NOTE, FORMS, REASONS

KEYS = {
    *("value", "ci_low", "ci_high", "f", "df1", "df2", "p", "band"),
    *("estimable", "reason", "ci_unbounded", "above_one", "ci_uninformative", "note"),
}

# One observation per design, 3 subjects x 3 executions each.
TABLES = {
    "regular": [[1.0, 1.1, 0.9], [2.0, 2.2, 2.1], [3.0, 2.9, 3.2]],
    "constant": [[2.5] * 3] * 3,
    "identical_executions": [[0.1] * 3, [0.7] * 3, [2.3] * 3],
    "identical_subjects": [[1.0, 2.0, 4.0]] * 3,
    "pole": [[9.0, 3.0, 8.0], [3.0, 8.0, 2.0], [4.0, 3.0, 2.0]],
    "latin_square": [[1.0, 2.0, 3.0], [3.0, 1.0, 2.0], [2.0, 3.0, 1.0]],
}


@pytest.fixture(scope="module")
def entries() -> dict[str, dict]:
    values = np.array(list(TABLES.values()))
    out = scalar_metrics(values, (), [])
    json.dumps(out, allow_nan=False)  # JSON-safe: no NaN or inf left
    return {name: o["icc"] for name, o in zip(TABLES, out, strict=True)}


def test_every_entry_has_the_contract_keys(entries):
    for name, icc in entries.items():
        assert set(icc) == set(FORMS), name
        for form, e in icc.items():
            assert set(e) == KEYS, (name, form)


def test_regular_table_is_estimable(entries):
    for e in entries["regular"].values():
        assert (e["estimable"], e["reason"], e["ci_unbounded"], e["above_one"]) == (True, None, False, False)
        assert isinstance(e["value"], float) and e["band"] in ("poor", "moderate", "good", "excellent")
        assert (e["ci_uninformative"], e["note"]) == (False, None)


def test_constant_table_is_not_estimable_and_has_no_band(entries):
    """All values equal: 0/0 everywhere. The entry was ICC 1, CI (1, 1), p 0, band "excellent"."""
    for e in entries["constant"].values():
        assert (e["value"], e["ci_low"], e["ci_high"], e["f"], e["p"], e["band"]) == (None,) * 6
        assert (e["estimable"], e["reason"]) == (False, REASONS[1])
        assert e["reason"] == "no variance between subjects nor between executions: every value is equal (0/0)"


def test_zero_between_subject_variance_is_not_estimable(entries):
    """The issue's example: identical subjects, executions differ by common offsets (MSR = MSE = 0)."""
    e = entries["identical_subjects"]
    for form in ("ICC(C,1)", "ICC(C,k)"):
        assert (e[form]["value"], e[form]["band"], e[form]["estimable"]) == (None, None, False)
        assert e[form]["reason"] == REASONS[2]
    assert (e["ICC(A,1)"]["value"], e["ICC(A,1)"]["band"], e["ICC(A,1)"]["estimable"]) == (0.0, "poor", True)


def test_identical_executions_stay_perfect(entries):
    """Executions identical, subjects differ: a legitimate ICC of 1 with CI (1, 1) and band "excellent"."""
    for e in entries["identical_executions"].values():
        assert (e["value"], e["ci_low"], e["ci_high"], e["f"], e["p"]) == (1.0, 1.0, 1.0, "Infinity", 0.0)
        assert (e["estimable"], e["band"]) == (True, "excellent")


def test_pole_crossing_is_unbounded_and_unbanded(entries):
    """ICC(A,1) lower bound below -1/(k-1): ICC(A,k)'s lower bound is -Infinity, no band (pingouin: 4.66)."""
    e = entries["pole"]["ICC(A,k)"]
    assert (e["ci_low"], e["ci_unbounded"], e["band"], e["estimable"]) == ("-Infinity", True, None, True)
    assert e["value"] == pytest.approx(0.022556, abs=1e-6)


def test_above_one_is_flagged_and_not_estimable(entries):
    """The Latin square gives ICC(A,k) = 3 by the formula (pingouin prints 3.0): flagged, null, no band."""
    e = entries["latin_square"]["ICC(A,k)"]
    assert (e["value"], e["above_one"], e["estimable"], e["band"]) == (None, True, False, None)
    assert e["reason"] == REASONS[6]


@pytest.mark.parametrize(("n_subjects", "uninformative"), [(2, True), (3, False)])
def test_fewer_than_three_subjects_ci_uninformative(rng_values, n_subjects, uninformative):
    icc = scalar_metrics(rng_values[:, :n_subjects], (), [])[0]["icc"]
    for e in icc.values():
        assert e["ci_uninformative"] is uninformative
        assert e["note"] == (CI_UNINFORMATIVE_NOTE if uninformative else None)
        assert e["estimable"] is True


@pytest.fixture
def rng_values() -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.normal(size=(1, 3, 3)) * 0.1 + rng.normal(size=(1, 3, 1))


def test_per_condition_icc_says_when_not_estimable():
    """A condition whose executions are all equal across subjects has no ICC(A,1): null, with the reason."""
    rng = np.random.default_rng(3)
    values = np.empty((1, 3, 2, 2))  # (n_obs, n_subjects, threads levels, k)
    values[:, :, 0] = 4.0
    values[:, :, 1] = rng.normal(size=(1, 3, 2)) * 0.1 + rng.normal(size=(1, 3, 1))
    per = scalar_metrics(values, ("threads",), ["threads=1", "threads=2"])[0]["per_condition"]
    assert (per["threads=1"]["icc_a1"], per["threads=1"]["icc_a1_estimable"]) == (None, False)
    assert per["threads=1"]["icc_a1_reason"] == REASONS[1]
    assert (per["threads=2"]["icc_a1_estimable"], per["threads=2"]["icc_a1_reason"]) == (True, None)
    assert isinstance(per["threads=2"]["icc_a1"], float)


@pytest.mark.parametrize(
    ("table", "constant"),
    [
        ([[2.5] * 3] * 3, True),  # every value equal: reproducible by identity
        ([[1.0, 2.0, 4.0]] * 3, False),  # equal across subjects, executions differ: no identity
        ([[0.1] * 3, [0.7] * 3, [2.3] * 3], False),  # identical executions, subjects differ: a real ICC of 1
        ([[0.0, 0.0, -0.0]] + [[0.0] * 3] * 2, False),  # equal as numbers, not bit for bit
    ],
)
def test_constant_means_every_value_equal_bit_for_bit(table, constant):
    """``constant`` is the criteria's identity rule (docs/criteria.md): only an observation equal, bit for bit,
    in every execution of every subject is reproducible without an ICC (whose 0/0 it then has)."""
    (obs,) = scalar_metrics(np.array([table]), (), [])
    assert obs["constant"] is constant


def test_a_factor_is_tested_against_the_subjects_reactions_to_it_as_pingouin_does() -> None:
    """`factor_tests` equals pingouin's repeated-measures ANOVA of the cell means (subjects x levels; the mean
    squares of the means are those of the executions over k, so F is the same)."""
    import pandas as pd
    import pingouin as pg

    from reprovip.analyze.stats import factor_tests

    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 5, 3, 2)) + np.array([0.0, 0.4, 0.1])[:, None]  # 5 subjects, 3 levels, k = 2
    means = x[0].mean(axis=-1)
    table = pd.DataFrame([dict(s=s, t=t, v=means[s, t]) for s in range(5) for t in range(3)])
    aov = pg.rm_anova(table, dv="v", within="t", subject="s", correction=False)
    assert factor_tests(x, ("threads",))[0]["threads"] == pytest.approx(float(aov["p_unc"].iloc[0]), rel=1e-9)


def test_an_interaction_of_two_factors_is_tested_as_pingouin_does() -> None:
    """Two crossed factors: each main effect and their interaction (`threads:lib`) equal pingouin's two-way
    repeated-measures ANOVA of the cell means; a review's +2 under threads=4 with lib=b only had no test."""
    import pandas as pd
    import pingouin as pg

    from reprovip.analyze.stats import factor_tests

    rng = np.random.default_rng(2)
    x = rng.normal(size=(1, 6, 2, 2, 3))  # 6 subjects, threads x lib, k = 3
    x[0, :, 1, 1] += 1.5  # the interaction's cell
    means = x[0].mean(axis=-1)
    table = pd.DataFrame([dict(s=s, t=t, b=b, v=means[s, t, b]) for s in range(6) for t in range(2) for b in range(2)])
    aov = pg.rm_anova(table, dv="v", within=["t", "b"], subject="s").set_index("Source")
    (got,) = factor_tests(x, ("threads", "lib"))
    for term, source in (("threads", "t"), ("lib", "b"), ("threads:lib", "t * b")):
        assert got[term] == pytest.approx(float(aov.loc[source, "p_unc"]), rel=1e-9), term


def test_values_whose_squares_overflow_are_refused_as_such() -> None:
    """Finite values around 1e300: the sums of squares overflow, and the metrics' own check blamed the data
    ("`msr` contains NaN or infinite values; remove or impute them first", a review)."""
    from reprovip.errors import MetricInputError

    x = np.array([[[1e300, 1.1e300], [-1e300, -1.2e300], [5e299, 4e299]]])  # (1 obs, 3 subjects, k = 2)
    with pytest.raises(MetricInputError, match=r"^1 observation\(s\) spread over 2\.3e\+300: their sums of squares"):
        scalar_metrics(x, (), ["-"])


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_zero_medians_and_huge_values_print_no_numpy_warning() -> None:
    """Reviews J and K: a true/false field flipping (medians of 0) and values near 1e308 printed numpy's
    "invalid value encountered in divide" and "overflow encountered in reduce" on `check`'s stderr."""
    from reprovip.analyze.stats import odd_executions
    from reprovip.errors import MetricInputError

    flips = np.array([[[0.0, 0.0, 1.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]])
    (odd,) = odd_executions(flips, ["s1", "s2", "s3", "s4"])
    assert odd is not None and odd["subject"] == "s1" and odd["value"] == 1.0
    huge = np.full((1, 3, 2), 1.5e308) * np.array([1.0, 0.9, 0.8])[None, :, None]
    with pytest.raises(MetricInputError, match="rescale"):
        scalar_metrics(huge, (), [])


def test_honest_counts_moving_by_one_name_no_odd_execution() -> None:
    """Review O: iteration counts 15-24 that move by 1 in a few runs (most subjects' executions equal, so the
    typical spread was 0) were named "far from its subject's other executions" in a third of the designs. A
    deviation must be ten steps of the values' resolution too; a count stuck 12 away still is named."""
    from reprovip.analyze.stats import odd_executions

    subjects = [f"s{i}" for i in range(10)]
    for seed in range(40):
        rng = np.random.default_rng(seed)
        counts = np.round(rng.normal(20, 3, size=(1, 10, 1))) + rng.choice(
            [-1, 0, 1], p=[0.05, 0.9, 0.05], size=(1, 10, 4)
        )
        assert odd_executions(counts, subjects) == [None], seed
    counts[0, 3, 2] += 12
    (odd,) = odd_executions(counts, subjects)
    assert (odd["subject"], odd["column"]) == ("s3", 2)


def test_a_run_in_another_local_minimum_among_identical_ones_is_named() -> None:
    """Review R2: an affine's x translation, subjects 3 to 30 mm apart, one run of sub-03 10 mm off its other two
    identical runs: the smallest gap between two subjects (3 mm) stood for the values' resolution, and 10 mm
    was under ten of them: no word, "sufficiently reproducible" (ICC lower bound 0.94)."""
    from reprovip.analyze.stats import odd_executions

    medians = [-30.147229246226278, -22.894371570676306, -25.86347235740627, 9.191373779020118, 20.578021527943466]
    x = np.repeat(np.array(medians)[None, :, None], 3, axis=2)
    assert odd_executions(x, ["s1", "s2", "s3", "s4", "s5"]) == [None]
    x[0, 2, 1] += 10.0
    (odd,) = odd_executions(x, ["s1", "s2", "s3", "s4", "s5"])
    assert (odd["subject"], odd["column"], odd["value"]) == ("s3", 1, medians[2] + 10.0)
    assert odd["others_identical"]


def test_values_whose_squares_underflow_say_so_not_that_every_value_is_equal() -> None:
    """Review I: values near 1e-170 with 0.1% noise read "no variance between subjects nor between executions:
    every value is equal (0/0)", untrue: their squares underflow float64."""
    x = 1e-170 * (np.arange(1, 4)[None, :, None] + 1e-3 * np.random.default_rng(0).normal(size=(1, 3, 3)))
    (o,) = scalar_metrics(x, (), ["-"])
    entry = o["icc"]["ICC(A,1)"]
    assert not entry["estimable"] and entry["reason"].startswith("the values differ, by 2e-170 at most: their squares")
    assert scalar_metrics(x * 1e160, (), ["-"])[0]["icc"]["ICC(A,1)"]["value"] > 0.99
    (same,) = scalar_metrics(np.full((1, 3, 3), 1e-170), (), ["-"])
    assert same["icc"]["ICC(A,1)"]["reason"].endswith("every value is equal (0/0)")


def test_a_level_that_moves_one_subject_is_no_odd_execution() -> None:
    """The MRS case study: the solver moves a few subjects' fits (a subject x solver interaction, repetitions
    agreeing within each condition); the check named 72 such executions "far from the subject's others, a
    silent failure?". An odd run must be away from its own condition's repetitions too; a stuck one still is."""
    from reprovip.analyze.stats import odd_executions

    rng = np.random.default_rng(6)
    # solver a/b x threads 1/2, k = 3
    x = 3 + rng.normal(0, 1, size=(1, 10, 1, 1, 1)) + rng.normal(0, 1e-4, size=(1, 10, 2, 2, 3))
    x[0, 6, 1, 0] += 0.4  # solver=b, threads=1 moves sub-6, its three repetitions alike
    assert odd_executions(x, [f"s{i}" for i in range(10)]) == [None]
    x[0, 2, 0, 0, 1] += 0.6  # one run of sub-2 stuck elsewhere
    (odd,) = odd_executions(x, [f"s{i}" for i in range(10)])
    assert (odd["subject"], odd["column"], odd["count"]) == ("s2", 1, 1)


def test_repetitions_that_are_copies_count_once_as_raters() -> None:
    """Review NN: a seed sweep (3 seeds) of a deterministic tool, k = 3 bit-for-bit copies per seed: the ICC
    counted 9 raters where there are 3 measurements (df2 8 -> 32), its lower bound rose from 0.52 to 0.91 and
    the study passed. Copies count once: the entry equals k = 1's and pingouin's on the 3 seeds; an
    observation whose repetitions differ somewhere keeps its 9 raters."""
    import pingouin as pg

    rng = np.random.default_rng(3)
    cells = rng.normal(10.0, 1.0, size=(5, 1)) + rng.normal(0.0, 0.12, size=(5, 3))  # subjects x seeds
    copies = np.repeat(cells[:, :, None], 3, axis=2)  # (subjects, seed levels, k)
    noisy = copies + rng.normal(0.0, 0.05, size=copies.shape)
    values = np.stack([copies, noisy])  # (observations, subjects, levels, k)
    out = scalar_metrics(values, ("seed",), ["seed=1", "seed=2", "seed=3"])
    once = scalar_metrics(copies[None, :, :, :1], ("seed",), ["seed=1", "seed=2", "seed=3"])[0]
    assert out[0]["icc"] == once["icc"] and out[0]["raters"] == 3 and out[0]["mean_squares"]["k"] == 3
    assert out[0]["mean_squares"]["copies"] and not out[1]["mean_squares"]["copies"]
    assert out[0]["wsd"] == pytest.approx(once["wsd"], rel=1e-12)
    long = pd.DataFrame(
        [(s, r, cells[s, r]) for s in range(5) for r in range(3)], columns=["subject", "rater", "value"]
    )
    row = pg.intraclass_corr(long, targets="subject", raters="rater", ratings="value").set_index("Type")
    assert out[0]["icc"]["ICC(A,1)"]["value"] == pytest.approx(row.loc["ICC(A,1)", "ICC"], rel=1e-9)
    assert out[0]["icc"]["ICC(A,1)"]["ci_low"] == pytest.approx(row.loc["ICC(A,1)", "CI95"][0], abs=0.005)
    assert out[0]["icc"]["ICC(A,1)"]["df2"] == 8
    assert out[1]["raters"] == 9 and out[1]["icc"]["ICC(A,1)"]["df2"] == 32 and out[1]["mean_squares"]["k"] == 9


def test_an_execution_sd_that_underflows_is_not_estimable() -> None:
    """Review SS: p-values near 1e-170 varying by 30% between repetitions: `execution_sd` and `ci95_halfwidth`
    were 0 (their squares underflow) and passed `execution_sd <= 1e-300`; null, not estimable, as the SD is."""
    values = np.array([[[[1e-170, 1.3e-170], [1.1e-170, 1.2e-170]], [[2e-170, 2.6e-170], [2.1e-170, 2.5e-170]]]])
    (o,) = scalar_metrics(values, ("threads",), ["threads=1", "threads=2"])
    assert o["execution_sd"] is None and o["ci95_halfwidth"] is None
    (fine,) = scalar_metrics(values * 1e170, ("threads",), ["threads=1", "threads=2"])
    assert fine["execution_sd"] > 0.1 and fine["ci95_halfwidth"] > 0.2


def test_a_condition_that_copies_another_counts_once_as_raters() -> None:
    """Review EX (c19): seed 1/2/3 x threads 1/2 of a deterministic tool, 5 subjects x 3 repetitions, where
    threads changes nothing: the three seeds are the only distinct measurements, yet as six raters the ICC(A,1)
    lower bound read 0.926 and passed `ci_low >= 0.9`. A condition equal to an earlier one repetition by
    repetition counts once: the entry is the seed sweep's (0.877), equal to pingouin's on the three seeds."""
    import pingouin as pg

    seeds = np.array(
        [
            [20.515257, 19.703282, 20.507906],
            [20.843955, 22.72865, 21.334904],
            [23.966746, 23.99885, 23.824809],
            [25.354851, 25.653809, 26.046545],
            [27.756856, 28.295197, 27.774294],
        ]
    )  # subjects x seeds, the review's data
    values = np.broadcast_to(seeds[None, :, :, None, None], (1, 5, 3, 2, 3))  # (obs, subj, seed, threads, k)
    cond = [f"seed={s},threads={t}" for s in (1, 2, 3) for t in (1, 2)]
    (o,) = scalar_metrics(np.array(values), ("seed", "threads"), cond)
    (sweep,) = scalar_metrics(seeds[None, :, :, None], ("seed",), ["seed=1", "seed=2", "seed=3"])
    assert o["raters"] == 3 and o["icc"] == sweep["icc"]
    assert o["icc"]["ICC(A,1)"]["ci_low"] == pytest.approx(0.877, abs=5e-4)
    long = pd.DataFrame(
        [(s, r, seeds[s, r]) for s in range(5) for r in range(3)], columns=["subject", "rater", "value"]
    )
    row = pg.intraclass_corr(long, targets="subject", raters="rater", ratings="value").set_index("Type")
    assert o["icc"]["ICC(A,1)"]["value"] == pytest.approx(row.loc["ICC(A,1)", "ICC"], rel=1e-9)
    # one threads level that does change a single value makes its condition a measurement again
    changed = np.array(values)
    changed[0, 0, 1, 1, :] += 0.25
    (o2,) = scalar_metrics(changed, ("seed", "threads"), cond)
    assert o2["raters"] == 4


def test_significant_digits_count_a_repeated_measurement_once() -> None:
    """Review EX (c09): mode=fixed writes one value 5 times, mode=random varies; Parker's digits over the 10
    executions read a minimum of 3.009 (the fixed copies shrink the SD) and passed `sigdigits >= 3`. Over the distinct
    executions (one fixed, five random) the minimum is 2.890: Parker's -log10(s / |mean|) on those 6 values."""
    random = np.array(
        [
            [99.919716, 100.024285, 99.834365, 100.06561, 100.114345],
            [109.954739, 110.043049, 110.025093, 109.960565, 109.91376],
            [119.796745, 120.141042, 119.995237, 120.252233, 120.082622],
            [130.027778, 129.934257, 130.139247, 129.949371, 130.156995],
            [139.960164, 140.018595, 139.847733, 140.234323, 139.990597],
        ]
    )
    fixed = np.repeat(np.arange(100.0, 150.0, 10.0)[:, None], 5, axis=1)
    values = np.stack([fixed, random], axis=1)[None]  # (obs, subj, mode, k)
    (o,) = scalar_metrics(values, ("mode",), ["mode=fixed", "mode=random"])
    distinct = np.concatenate([fixed[:, :1], random], axis=1)  # (subj, 6)
    parker = -np.log10(distinct.std(axis=1, ddof=1) / np.abs(distinct.mean(axis=1)))
    assert o["sigdigits"]["parker_mean"] == pytest.approx(parker.mean(), rel=1e-12)
    assert o["sigdigits"]["parker_min"] == pytest.approx(parker.min(), rel=1e-12)
    assert o["sigdigits"]["parker_min"] == pytest.approx(2.890, abs=5e-4)  # was 3.009 over the 10 executions


def test_one_run_a_fifth_off_its_subjects_identical_runs_is_named() -> None:
    """Review L2: a lesion volume 1250 in two identical runs of sub-01 and 1750 in its third, beside subjects 1250
    to 7500 apart (0.22 of their SD, 1.4 times the value): under both thresholds, "run-to-run flakiness", a pass.
    Where the others agree bit for bit a fifth of the value is enough; noise in the others, or one repetition per
    condition with factors (a level moving one subject), still is not named."""
    from reprovip.analyze.stats import odd_executions

    subjects = [f"s{i}" for i in range(6)]
    x = np.repeat(1250.0 * np.arange(1, 7)[None, :, None], 3, axis=2)
    x[0, 0, 1] = 1750.0
    (odd,) = odd_executions(x, subjects)
    assert (odd["subject"], odd["column"], odd["value"], odd["typical"]) == ("s0", 1, 1750.0, 1250.0)
    assert odd["others_identical"] and odd["count"] == 1
    x[0, 0, 1] = 1450.0  # 14% off: left to the ICC
    assert odd_executions(x, subjects) == [None]
    noisy = x + np.random.default_rng(0).normal(0, 20, size=x.shape)  # the others vary: noise, not an odd run
    noisy[0, 0, 1] = 1750.0
    assert odd_executions(noisy, subjects) == [None]
    levels = np.repeat(1250.0 * np.arange(1, 7)[None, :, None, None], 3, axis=2)  # 3 versions, k = 1
    levels[0, 0, 2, 0] = 1750.0
    assert odd_executions(levels, subjects) == [None]
    counts = np.repeat(np.array([4.0, 9.0, 15.0, 22.0])[None, :, None], 3, axis=2)  # a count 4 -> 5: one step
    counts[0, 0, 2] = 5.0
    assert odd_executions(counts, subjects[:4]) == [None]


def test_a_value_near_zero_a_fifth_off_among_identical_runs_is_no_odd_execution() -> None:
    """Review P2: a translation of an aligned subject, 0.0021 mm in two identical runs and 0.0028 in the third,
    beside subjects 1 mm apart: 25% of its value but 0.06% of the subjects' spread, named "far from its subject's
    other executions", a failure. The departure must be a twentieth of the between-subject SD too."""
    from reprovip.analyze.stats import odd_executions

    tx = [-1.2034817562, 0.8121930412, 0.0021374829, 2.1377010936, -0.5012298817]
    x = np.repeat(np.array(tx)[None, :, None], 3, axis=2)
    x[0, 2, 1] = 0.0028374829
    assert odd_executions(x, [f"s{i}" for i in range(5)]) == [None]
    x[0, 2, 1] = 0.2  # a tenth of the spread: named
    assert odd_executions(x, [f"s{i}" for i in range(5)])[0]["subject"] == "s2"
