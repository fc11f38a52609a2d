"""Tests of reprovip.analyze.attribution: the culprit named when every execution has run-to-run noise.

Two reviews found the wrong culprit: a factor that moves one subject (no significant main effect) and a factor
that changes one region of an image (a median share near 0) were both reported as "run-to-run nondeterminism".
The interaction test itself is checked against pingouin and statsmodels in test_interaction.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reprovip.analyze.attribution import (
    INTERACTION_P,
    REGION,
    attribute,
    factor_evidence,
    interaction_evidence,
    mean_shares,
    source_shares,
    voxel_variance,
)
from reprovip.analyze.bitwise import bitwise_summary
from reprovip.analyze.design import Design, Record
from reprovip.analyze.interaction import interaction_tests
from reprovip.analyze.stats import scalar_metrics

SUBJECTS = [f"sub-{s}" for s in range(8)]


def _bits(levels: dict[str, tuple[str, ...]], k: int, key) -> dict:
    """The bitwise summary of a design of 8 subjects whose execution (subject, levels, repetition) has the hash
    ``key(subject, cell, repetition)``."""
    factors = tuple(levels.items())
    cells = Design(tuple(SUBJECTS), factors, k, {}).cells
    grid = {
        s: {
            (c, r): Record(s, tuple(zip(levels, c, strict=True)), ",".join(c), r + 1, None, key(s, c, r), None, None)
            for c in cells
            for r in range(k)
        }
        for s in SUBJECTS
    }
    return bitwise_summary(Design(tuple(SUBJECTS), factors, k, grid))


def _noisy_bits(factor: str = "threads") -> dict:
    """Every execution differs from every other (run-to-run noise everywhere)."""
    return _bits({factor: ("1", "2")}, 3, lambda s, c, r: f"{s}/{c}/{r}")


def _scalar_attribution(values: np.ndarray, factor: str = "threads", **kwargs) -> dict:
    """What the engine does for a table: metrics per observation, then the attribution (``kwargs`` drops or
    replaces the new evidence, to show what the code said before)."""
    names = [f"r{i}/volume" for i in range(values.shape[0])]
    metrics = scalar_metrics(values, (factor,), [f"{factor}=1", f"{factor}=2"])
    tests = interaction_tests(values, (factor,), SUBJECTS)
    observations = [dict(name=n, interaction=t, **m) for n, m, t in zip(names, metrics, tests, strict=True)]
    shares = mean_shares(observations, (factor,))
    sources = source_shares([o["variance"] for o in observations])
    evidence = factor_evidence(observations, (factor,))
    options = dict(interactions=interaction_evidence(observations, (factor,))) | kwargs
    return attribute(_noisy_bits(factor), shares, None, evidence, sources, **options)


def _regions(seed: int, *, moved: float, shift: float) -> np.ndarray:
    """8 subjects x threads 1/2 x 3 repetitions x 20 regions, run-to-run SD 0.5 (reviewer B's b19): threads=2
    adds ``shift`` to every subject's r0, and ``moved`` to r7 of sub-3 only."""
    rng = np.random.default_rng(seed)
    subject = 1000 + 37 * np.arange(20)[:, None, None, None] + 80 * np.arange(8)[None, :, None, None]
    x = subject + rng.normal(0, 0.5, (20, 8, 2, 3))
    x[7, 3, 1] += moved
    x[0, :, 1] += shift
    return x


def test_a_factor_that_moves_one_subject_is_the_culprit_not_run_to_run_noise() -> None:
    """Reviewer B (b16, b19): threads=2 moves r7 of sub-3 by 80 run-to-run SDs. Its main effect is not
    significant (the other subjects did not move), so the culprit read "run-to-run nondeterminism" and the
    advice "seed every random generator", though the subject x threads share was 20 times the repetitions'."""
    values = _regions(21, moved=40.0, shift=0.0)
    before = _scalar_attribution(values, interactions=None)
    assert before["summary"].startswith("repetitions differ under every condition: run-to-run nondeterminism")
    att = _scalar_attribution(values)
    (threads,) = att["factors"]
    assert threads["changes_result"]
    assert threads["interaction"]["subject"] == "sub-3" and threads["interaction"]["observation"] == "r7/volume"
    # bounded by sub-3's own test (its 6 executions; Bonferroni over the 20 regions): still far below 0.001
    assert threads["interaction"]["p"] < 1e-4
    assert att["summary"].startswith(
        "threads changes the result of some subjects only (sub-3 carries 87% of it, on r7/volume): its interaction "
        "with the subjects is 0.013"
    )
    assert "times the repetitions'" in att["summary"].split(";")[0]


def test_one_noisy_subject_is_no_factor_acting_on_it() -> None:
    """Review D: only one subject's tool drew noise (SD 5, whatever the factors), the others' executions were
    identical; tested against a residual pooled with those, its chance difference between levels named seed
    ("changes the result of some subjects only", p 0.0004). Over 60 such designs the pooled test names threads
    in several; with the subject's own repetitions too, in none."""
    pooled = named = 0
    for seed in range(60):
        x = 100.0 * np.arange(8)[None, :, None, None] + np.zeros((1, 8, 2, 8))
        x[0, 2] += np.random.default_rng(seed).normal(0, 5, (2, 8))
        (test,) = interaction_tests(x, ("threads",), SUBJECTS)
        pooled += test["threads"]["p"] < INTERACTION_P
        named += interaction_evidence([dict(name="v", interaction=test)], ("threads",))["threads"]["p"] < INTERACTION_P
    assert pooled >= 3 and named == 0


def test_a_consistent_factor_is_named_by_its_main_effect() -> None:
    """threads=2 adds 3 to r0 of every subject: a main effect, named as before (not "some subjects only")."""
    att = _scalar_attribution(_regions(22, moved=0.0, shift=3.0))
    assert att["factors"][0]["changes_result"]
    assert att["summary"].startswith("threads changes the result beyond run-to-run noise (")
    assert "some subjects only" not in att["summary"]


def test_pure_noise_is_not_blamed_on_a_factor_through_its_interaction() -> None:
    """Pure run-to-run noise, 200 datasets of one observation, 4 subjects x 2 levels x 2 repetitions: the
    interaction's share exceeds the repetitions' in 18 of them (a share rule would blame threads), its F
    test (p < 0.01) in none (at most 1% expected)."""
    rng = np.random.default_rng(7)
    larger = blamed = 0
    bits = _bits({"threads": ("1", "2")}, 2, lambda s, c, r: f"{s}/{c}/{r}")
    for _ in range(200):
        x = 10.0 * np.arange(4)[None, :, None, None] + rng.normal(0, 1, (1, 4, 2, 2))
        (m,) = scalar_metrics(x, ("threads",), ["threads=1", "threads=2"])
        (t,) = interaction_tests(x, ("threads",), ["a", "b", "c", "d"])
        observations = [dict(name="o", interaction=t, **m)]
        sources = source_shares([m["variance"]])
        larger += sources["subject:threads"] > sources["repetition"]
        att = attribute(
            bits,
            mean_shares(observations, ("threads",)),
            None,
            factor_evidence(observations, ("threads",)),
            sources,
            interactions=interaction_evidence(observations, ("threads",)),
        )
        blamed += att["factors"][0]["changes_result"]
    assert larger == 18 and blamed == 0


def test_noise_with_an_unlucky_residual_is_not_blamed_on_the_interaction() -> None:
    """Pure noise (seed 26, 4 subjects x 2 threads levels x 2 repetitions, tests/analyze/test_engine.py): its
    threads share looked like a factor's; its interaction's F test gives p 0.0019 (pingouin agrees, see
    above), below FACTOR_P: a second test per factor at 0.01 would name noise twice as often."""
    rng = np.random.default_rng(26)
    x = (10.0 * np.arange(4)[:, None, None] + rng.normal(0, 1, (4, 2, 2)))[None]
    (m,) = scalar_metrics(x, ("threads",), ["threads=1", "threads=2"])
    (t,) = interaction_tests(x, ("threads",), ["a", "b", "c", "d"])
    assert t["threads"]["p"] == pytest.approx(0.0019252, rel=1e-4)
    observations = [dict(name="v", interaction=t, **m)]
    att = attribute(
        _bits({"threads": ("1", "2")}, 2, lambda s, c, r: f"{s}/{c}/{r}"),
        mean_shares(observations, ("threads",)),
        None,
        factor_evidence(observations, ("threads",)),
        source_shares([m["variance"]]),
        interactions=interaction_evidence(observations, ("threads",)),
    )
    assert not att["factors"][0]["changes_result"]
    assert "some subjects only" not in att["summary"]


# Reviewer C's case 13 (6 subjects x threads 1/2 x 3 repetitions, 16^3, run-to-run SD 0.2 everywhere;
# threads=2 adds 150 to the first quarter of the volume): the voxelwise summary the analysis wrote.
CASE_13 = {
    "share_subject_median": 0.9999849213932779,
    "share_subject_p95": 0.9999929459258674,
    "share_subject_major_fraction": 0.75,
    "share_threads_median": 8.283764352159857e-08,
    "share_threads_p95": 0.8124833059485216,
    "share_threads_major_fraction": 0.25,
    "share_subjectxthreads_median": 0.0,
    "share_subjectxthreads_p95": 4.8056531892118e-06,
    "share_subjectxthreads_major_fraction": 0.0,
    "share_residual_median": 9.448354727377534e-06,
    "share_residual_p95": 2.165751675858434e-05,
    "share_residual_major_fraction": 0.0,
    "differ_fraction": 1.0,
}


def _image_attribution(summary: dict, *, with_regions: bool = True) -> dict:
    from reprovip.analyze.attribution import factor_shares

    variance, regions, _ = voxel_variance(summary, ("threads",))
    shares, sources = factor_shares(variance, ("threads",)), source_shares([variance])
    return attribute(_noisy_bits(), shares, None, None, sources, regions=regions if with_regions else None)


def test_a_factor_that_changes_one_region_of_an_image_is_the_culprit() -> None:
    """Reviewer C (case 13): threads carries a quarter of the voxels while run-to-run noise is everywhere; the
    median share over the differing voxels (8e-06%) hid it: "run-to-run nondeterminism", changes_result
    false, "seed every random generator"."""
    before = _image_attribution(CASE_13, with_regions=False)
    assert not before["factors"][0]["changes_result"]
    att = _image_attribution(CASE_13)
    (threads,) = att["factors"]
    assert threads["changes_result"] and threads["region"] == 0.25
    assert att["summary"].startswith(
        "threads changes the result in 25% of the differing voxels, where it carries half or more of what the "
        "executions vary by (a regional effect: its median share of the variance over all of them is 8.28e-06%)"
    )


def test_a_factor_dominating_as_few_voxels_as_noise_does_is_not_named() -> None:
    """Pure noise makes a factor's share exceed half of a voxel's variance in up to 4.4% of the voxels (2
    subjects x 2 levels x 2 repetitions, no subject variance; simulated, docs/analysis.md): below ``REGION``."""
    summary = dict(CASE_13, share_threads_major_fraction=0.044, share_subject_major_fraction=0.956)
    att = _image_attribution(summary)
    assert not att["factors"][0]["changes_result"] and REGION > 2 * 0.044
    # the subjects' interaction is not a region of the factor: noise alone dominates up to 13% of the voxels
    summary = dict(CASE_13, share_threads_major_fraction=0.0, share_subjectxthreads_major_fraction=0.13)
    assert not _image_attribution(summary)["factors"][0]["changes_result"]


def test_voxel_variance_reads_sources_by_the_designs_terms() -> None:
    """`share_threadsxseed` is threads:seed and `share_xfm` stays xfm (an "x" in a name is not a ":")."""
    summary = {
        "share_xfm_median": 0.2,
        "share_xfm_major_fraction": 0.3,
        "share_xfmxseed_median": 0.1,
        "share_xfmxseed_major_fraction": 0.05,
        "share_residual_median": 0.4,
        "share_residual_major_fraction": 0.0,
        "sd_median": 1.0,
    }
    variance, regions, _ = voxel_variance(summary, ("xfm", "seed"))
    assert variance == {"xfm": {"share": 0.2}, "xfm:seed": {"share": 0.1}, "residual": {"share": 0.4}}
    assert regions == {"xfm": 0.3, "xfm:seed": 0.05, "residual": 0.0}


def test_a_header_only_difference_is_not_a_changed_result() -> None:
    """Reviewer C (case 12, `hdr`): the new version writes the same voxels as float64; every voxel is identical,
    yet the attribution said "version changes the result ... (version effect)"."""
    bits = _bits({"version": ("a", "b")}, 3, lambda s, c, r: f"{s}/{c}")
    assert bits["factors"]["version"]["explanation"].startswith("version changes the result")
    att = attribute(bits, {"version": 0.0, "repetition": 0.0}, unmeasured=True)
    assert att["summary"] == (
        "version changes the files but not the values read from them (8 of 8 comparisons between its levels "
        "differ): the difference is in what no observation measures (an image header's data type or units, a "
        "text field)"
    )
    assert "changes the result" not in att["summary"]


def test_nothing_to_compare_is_not_called_identical() -> None:
    """No subject with two executions: the bitwise summary is vacuously "identical", and the attribution said
    "bit-for-bit identical across all executions", which reads like a pass (a review)."""
    two = _bits({"threads": ("1",)}, 2, lambda s, c, r: f"{s}")
    assert two["identical"] is True and two["compared_subjects"] == 8
    assert attribute(two, {})["summary"] == "bit-for-bit identical across all executions"
    alone = _bits({"threads": ("1",)}, 1, lambda s, c, r: f"{s}")
    assert alone["identical"] is None and alone["compared_subjects"] == 0  # not established, never True
    assert attribute(alone, {})["summary"] == "nothing to compare: no subject has two stored executions of this output"


def test_repetitions_whose_values_agree_are_not_called_nondeterminism_of_0_percent() -> None:
    """Review H (c22): a log whose only number is the thread count, written beside a per-execution temporary
    path: repetitions differ in the files but in no value, and the summary read "run-to-run nondeterminism (0%
    of the variance)". A share of exactly 0 (a mean over observations) says where the difference is instead;
    a voxel median of 0 does not mean every voxel agrees, so images keep the share."""
    bits = _noisy_bits()
    att = attribute(bits, {"threads": 0.0, "repetition": 0.0})
    assert att["summary"] == (
        "repetitions differ under every condition, in what no value read from them measures: run-to-run nondeterminism"
    )
    noisy = attribute(bits, {"threads": 0.0, "repetition": 0.25})
    assert noisy["summary"].startswith(
        "repetitions differ under every condition: run-to-run nondeterminism (25% of the variance); "
    )
    image = attribute(bits, {"threads": 0.0, "repetition": 0.0}, regions={"threads": 0.0, "residual": 0.0})
    assert image["summary"].startswith("repetitions differ under every condition: run-to-run nondeterminism (0% of")
    # Review XX: a time stamp in every file, numbers varying under threads=2 only: not "every condition" unsaid
    stamped = attribute(bits, {"threads": 0.0, "repetition": 0.25}, quiet=["threads=1"])
    assert stamped["summary"].startswith(
        "repetitions differ under every condition (under threads=1 only in what no value read from them measures: "
        "a time stamp, other text): run-to-run nondeterminism (25% of the variance)"
    )


def _crossed_study(root, cell_shift: dict[tuple[str, ...], float], factors: dict[str, tuple[str, ...]], seed: int):
    """An ingested study of 6 subjects x the crossed ``factors`` x 3 repetitions, run-to-run noise 0.001:
    ``cell_shift[levels]`` is added to every subject's value in that cell."""
    import itertools
    import json

    from reprovip.study import Study

    rng = np.random.default_rng(seed)
    names = list(factors)
    for s in range(6):
        for levels in itertools.product(*factors.values()):
            for r in range(1, 4):
                value = 10.0 * s + cell_shift.get(levels, 0.0) + rng.normal(0, 0.001)
                folder = root.joinpath("results", *levels, f"sub-{s}", f"run-{r}")
                folder.mkdir(parents=True)
                (folder / "r.json").write_text(json.dumps({"value": value}))
    (root / "study.yaml").write_text("outputs:\n  r: {path: r.json, kind: scalars}\n")
    study = Study.load(root / "study.yaml")
    study.ingest("results/" + "/".join(f"{{{n}}}" for n in names) + "/{subject}/run-{repetition}")
    (out,) = study.analyze().document["outputs"]
    return out


@pytest.mark.parametrize("seed", [1, 2, 3, 8])
def test_a_two_way_interaction_names_both_factors(tmp_path, seed: int) -> None:
    """Review L (c15, r04): +2 only under threads=4 with lib=b: each factor's share is half of the total, so
    float rounding named threads for some noise seeds, lib for others, and neither in a run; the main effects
    are not significant, the interaction is (F test of threads:lib, against pingouin in test_stats.py)."""
    out = _crossed_study(tmp_path, {("4", "b"): 2.0}, {"threads": ("1", "4"), "lib": ("a", "b")}, seed)
    att = out["attribution"]
    assert {f["factor"] for f in att["factors"] if f["changes_result"]} == {"threads", "lib"}
    assert out["observations"][0]["factor_p"]["threads:lib"] < 1e-6
    assert "run-to-run nondeterminism (" not in att["summary"].split(";")[0]


def test_a_three_way_interaction_names_its_three_factors(tmp_path) -> None:
    """Review L (c17): +20 in the one cell threads=4, lib=b, opt=O3 (12.5% of the variance; repetitions 3e-7%):
    each factor's share counts the interactions, and the total they were weighed against counted them once per
    factor, so no factor could reach half of it: "run-to-run nondeterminism", "seed every random generator"."""
    levels = {"threads": ("1", "4"), "lib": ("a", "b"), "opt": ("O2", "O3")}
    out = _crossed_study(tmp_path, {("4", "b", "O3"): 20.0}, levels, 5)
    att = out["attribution"]
    assert {f["factor"] for f in att["factors"] if f["changes_result"]} == {"threads", "lib", "opt"}
    # all of it in the three-way term: each factor named with the other two (review C's combination)
    assert (
        att["summary"]
        .split(";")[0]
        .endswith(
            "in combination with threads and lib (their interaction threads:lib:opt is 12.5% of the variance, opt "
            "alone 0%, repetitions 1.87e-07%)"
        )
    )


def test_a_factor_that_moves_one_field_of_twenty_is_named_on_it(tmp_path) -> None:
    """Review L (c36): threads adds 8 to field f00 only (5% of its variance, repetitions about 0, p = 5e-24); the
    19 other fields have run-to-run noise. Shares averaged over the fields named "run-to-run nondeterminism
    (1.31%)", threads not changing the result, and the report's cause "repetitions"."""
    import json

    from tests.conftest import ingested_folders

    rng = np.random.default_rng(36)
    folders = {}
    for s in range(6):
        for threads in ("1", "4"):
            for r in range(1, 4):
                doc = {f"f{i:02d}": 10.0 * s + i + rng.normal(0, 3.0 if i else 0.001) for i in range(20)}
                doc["f00"] += 8.0 if threads == "4" else 0.0
                folders[f"{threads}/sub-{s}/run-{r}"] = {"r.json": json.dumps(doc)}
    outputs = "  r: {path: r.json, kind: scalars}\n"
    study = ingested_folders(tmp_path, outputs, folders, "{threads}/{subject}/run-{repetition}")
    (out,) = study.analyze().document["outputs"]
    (threads,) = out["attribution"]["factors"]
    assert threads["changes_result"] and threads["local"]["observation"] == "f00"
    assert out["attribution"]["summary"].startswith("threads changes the result on f00 (")


def test_pure_noise_over_many_fields_names_no_factor() -> None:
    """The per-observation test is Bonferroni-corrected over the fields and terms: pure noise over 40 fields of
    8 subjects names threads in none of 30 designs."""
    from reprovip.analyze.attribution import local_evidence

    named = 0
    for seed in range(30):
        rng = np.random.default_rng(seed)
        values = 10.0 * np.arange(8)[None, :, None, None] + rng.normal(0, 1.0, (40, 8, 2, 2))
        metrics = scalar_metrics(values, ("threads",), ["threads=1", "threads=2"])
        observations = [dict(name=f"f{i}", **m) for i, m in enumerate(metrics)]
        named += "threads" in local_evidence(observations, ("threads",))
    assert named == 0


def test_a_condition_never_run_is_neither_quiet_nor_blamed() -> None:
    """Review L (c32): threads=4,lib=b was never ingested, yet the summary read "repetitions agree under
    threads=4,lib=b" and blamed threads=1 and lib=a for the noise everywhere else."""
    levels = {"threads": ("1", "4"), "lib": ("a", "b")}
    factors = tuple(levels.items())
    cells = Design(tuple(SUBJECTS), factors, 3, {}).cells
    grid = {
        s: {
            (c, r): Record(s, tuple(zip(levels, c, strict=True)), ",".join(c), r + 1, None, f"{s}/{c}/{r}", None, None)
            for c in cells
            if c != ("4", "b")
            for r in range(3)
        }
        for s in SUBJECTS
    }
    bits = bitwise_summary(Design(tuple(SUBJECTS), factors, 3, grid))
    assert "4,b" not in bits["conditions"] and "threads=4,lib=b" not in bits["conditions"]
    att = attribute(bits, {"threads": 0.0, "lib": 0.0, "repetition": 0.5})
    assert not any(f["changes_result"] for f in att["factors"])
    assert att["summary"].startswith("repetitions differ under every condition: run-to-run nondeterminism")


def test_a_tables_shares_say_they_are_a_mean_over_its_observations() -> None:
    """A criterion's message names one observation beside the output's shares: "obs1 ... 10.5% of the variance"
    read as obs1's own share, 20.9% (a review). With more than one observation the mean is said; with one, not."""
    from reprovip.analyze.attribution import attribute

    bits = dict(identical=False, repetitions_identical=False, repetitions=3, nondeterminism={}, factors={})
    shares = {"repetition": 0.105}
    two = attribute(bits, shares, sources={"repetition": 0.105}, averaged=2)["summary"]
    assert two == (
        "repetitions differ under every condition: run-to-run nondeterminism (10.5% of the variance, mean over its "
        "2 observations that differ); share of total variance (mean over its 2 observations that differ): "
        "repetition 10.5%"
    )
    one = attribute(bits, shares, sources={"repetition": 0.105})["summary"]
    assert (
        one == "repetitions differ under every condition: run-to-run nondeterminism (10.5% of the variance); "
        "share of total variance: repetition 10.5%"
    )


@pytest.mark.parametrize(("flaky", "named"), [(2, False), (3, False), (4, True)])
def test_flaky_repetitions_under_one_level_are_tied_to_it_only_when_chance_cannot_explain_them(
    flaky: int, named: bool
) -> None:
    """Sporadic flakiness, no factor at play, 4 subjects: threads=2's repetitions differ for 2 of them, none under
    threads=1; half of a condition's subjects blamed its level (a review: threads or seed named in up to 8 of 10
    such designs). 2 or 3 of 4 beside 0 of 4 is chance (one-sided Fisher p 0.21, 0.07); every subject is not."""
    subjects = SUBJECTS[:4]
    factors = (("threads", ("1", "2")),)
    grid = {
        s: {
            ((t,), r): Record(
                s,
                (("threads", t),),
                f"threads={t}",
                r + 1,
                None,
                f"{s}/{r}" if t == "2" and i < flaky else s,
                None,
                None,
            )
            for t in ("1", "2")
            for r in range(2)
        }
        for i, s in enumerate(subjects)
    }
    bits = bitwise_summary(Design(tuple(subjects), factors, 2, grid))
    nd = bits["nondeterminism"]
    assert bool(nd["blamed"]) is named
    untied = f"repetitions differ under threads=2 ({flaky} of 4 subjects): too few beside the conditions where"
    assert (untied in nd["explanation"]) is not named


def test_conditions_under_a_fresh_seed_do_not_tie_differences_to_another_factor() -> None:
    """Review F: under seed=random each condition ran on its own seeds; where its two repetitions happened to
    agree, two such conditions differing in threads differed by their seeds, and "threads changes the result"
    was said. Under seed=42 threads does nothing: threads is not named; a real threads effect under seed=42 is."""

    def key(s: str, c: tuple[str, ...], r: int) -> str:
        threads, seed = c
        if seed == "random":  # each condition its own draw; sub-0's repetitions show the seed moves the result
            return f"{s}/{c}/{r}" if s == "sub-0" else f"{s}/{threads}"
        return s

    bits = _bits({"threads": ("1", "2"), "seed": ("42", "random")}, 2, key)
    assert bits["factors"]["threads"]["between_pairs"] == 8  # the seed=42 pairs only (one per subject)
    assert bits["factors"]["threads"]["changes_result"] is False
    real = _bits({"threads": ("1", "2"), "seed": ("42", "random")}, 2, lambda s, c, r: f"{s}/{c[0]}")
    assert real["factors"]["threads"]["changes_result"] is True
    # a seed that never moves the result (every seed=random repetition agrees): its pairs count (code review)
    assert real["factors"]["threads"]["between_pairs"] == 16


def test_with_one_repetition_the_residual_is_not_called_repetition() -> None:
    """Review I: threads [1, 2, 4] x K = 1 read "share of total variance: repetition 51.5%", repetitions that were
    never made; it is the residual, the subjects' reactions to threads and run-to-run noise together."""
    one = _bits({"threads": ("1", "2", "4")}, 1, lambda s, c, r: f"{s}/{c}")
    summary = attribute(one, {"threads": 0.1, "repetition": 0.515})["summary"]
    assert "share of total variance: residual (subjects x factors and run-to-run) 51.5%, threads 10%" in summary
    assert "repetition 51.5%" in attribute(_noisy_bits(), {"threads": 0.1, "repetition": 0.515})["summary"]


def test_a_combination_s_noise_is_not_called_sporadic_for_one_of_its_factors() -> None:
    """Review I: noise under threads=2 with seed=2 only read "repetitions differ only under the combination
    threads=2,seed=2 (an interaction)" then "repetitions differ for threads=2 only, but in 6 of its 18 cells:
    sporadic, too few to tie to threads", which contradicts it."""
    bits = _bits(
        {"threads": ("1", "2"), "seed": ("1", "2", "3")},
        2,
        lambda s, c, r: f"{s}/{r}" if c == ("2", "2") else f"{s}",
    )
    assert bits["nondeterminism"]["combined"] == ["threads=2,seed=2"]
    assert bits["nondeterminism"]["combined_factors"] == ["seed", "threads"]
    summary = attribute(bits, {})["summary"]
    assert "only under the combination threads=2,seed=2" in summary and "too few to tie" not in summary


def test_observations_identical_everywhere_do_not_dilute_a_factor_s_test() -> None:
    """Review S: solver=b multiplies 5 amplitudes by 1.02 (run-to-run noise 0.1%) beside 20 fields identical in
    every execution (CRLB, linewidth...): Bonferroni over all 25 took solver's main effect (p 0.0006) above the
    threshold, and the summary said it "changes the result of some subjects only"."""
    rng = np.random.default_rng(2)
    subject = 100 + 80 * np.arange(8)[None, :, None, None] + 7 * np.arange(25)[:, None, None, None]
    x = subject * np.array([1.0, 1.02])[None, None, :, None] * (1 + 1e-3 * rng.normal(size=(25, 8, 2, 3)))
    x[5:] = subject[5:]  # identical in every execution
    summary = _scalar_attribution(x, "solver")["summary"]
    assert summary.startswith("solver changes the result") and "some subjects only" not in summary


def test_an_image_factor_changing_a_few_voxels_much_is_named_before_one_adding_noise_everywhere(
    tmp_path: Path,
) -> None:
    """Review DD: threads=2 sends 2% of the voxels to another minimum (x 2.5) while the seed moves every voxel
    by 1e-6: the median shares over the differing voxels put the seed first ("cause: seed", threads "no variance
    share of its own"). Summed over the voxels, threads carries nearly all of what the executions vary by."""
    import nibabel as nib
    import numpy as np

    from tests.conftest import ingested_folders

    rng = np.random.default_rng(4)
    shape = (16, 16, 16)
    minimum = rng.random(shape) < 0.02
    folders = {}
    for s in range(4):
        anatomy = 1000 + 100 * s + rng.normal(0, 50, shape)
        for threads in (1, 2):
            for seed in (1, 2):
                img = anatomy * (1 + 1e-6 * (seed - 1))
                if threads == 2:
                    img = np.where(minimum, 2.5 * img, img)
                for r in (1, 2):
                    data = nib.Nifti1Image(img.astype(np.float64), np.eye(4)).to_bytes()
                    folders[f"threads-{threads}/seed-{seed}/sub-{s}/run-{r}"] = {"t1.nii": data}
    study = ingested_folders(
        tmp_path,
        "  t1: {path: t1.nii, kind: image}\n",
        folders,
        "threads-{threads}/seed-{seed}/{subject}/run-{repetition}",
    )
    (out,) = study.analyze().document["outputs"]
    summary = out["voxelwise"]["summary"]
    assert summary["share_threads_summed"] > 0.9 and summary["share_threads_median"] < summary["share_seed_median"]
    attribution = out["attribution"]
    assert [e["factor"] for e in attribution["factors"]] == ["threads", "seed"]
    assert attribution["summary"].startswith("threads changes the result")
    assert "of what the executions vary by, summed over the differing voxels: threads 9" in attribution["summary"]


def test_an_interaction_no_subject_carries_reads_as_each_subject_by_its_own_amount() -> None:
    """Review RD: a texture feature x 1.3 under threads=2 in every subject (each by its own amount) read
    "threads changes the result of some subjects only (several subjects, ...)"."""
    from reprovip.analyze.attribution import _beyond_noise

    entry = dict(factor="threads", share=0.0017, interaction=dict(p=1e-9, subject=None, observation="l1/coarseness"))
    sources = {"subject": 0.9, "threads": 0.0017, "subject:threads": 0.02, "repetition": 0.0003}
    said = _beyond_noise(entry, {"repetition": 0.0003}, sources, significant=False)
    assert said.startswith("threads changes the result differently in each subject (on l1/coarseness): its interaction")
    entry["interaction"].update(subject="sub-3", carried=0.87)
    said = _beyond_noise(entry, {"repetition": 0.0003}, sources, significant=False)
    assert said.startswith(
        "threads changes the result of some subjects only (sub-3 carries 87% of it, on l1/coarseness)"
    )


def test_shares_below_a_millionth_of_the_largest_are_counted_not_listed() -> None:
    """Review NU: ten sources like "threads 6.27e-28%" listed before the one that mattered (version 0.313%)."""
    from reprovip.analyze.attribution import attribute

    bits = dict(identical=False, repetitions_identical=False, repetitions=3, nondeterminism={}, factors={})
    sources = {"version": 3.13e-3, "repetition": 2e-4, "threads": 6.27e-30, "seed": 1e-12}
    summary = attribute(bits, {"repetition": 2e-4}, sources=sources)["summary"]
    assert summary.endswith(
        "share of total variance: version 0.313%, repetition 0.02%, 2 more below a millionth of the largest"
    )


def test_one_execution_per_condition_names_no_repetitions() -> None:
    """Review AR: with one execution per condition (K = 1) and a version that moves every result, the summary said
    "repetitions differ under every condition: run-to-run nondeterminism", of repetitions never made."""
    bits = _bits({"version": ("1", "2")}, 1, lambda s, c, r: f"{s}/{c}")
    assert (bits["identical"], bits["repetitions_identical"]) == (False, None)
    summary = attribute(bits, {"version": 0.9})["summary"]
    assert "run-to-run nondeterminism" not in summary and "repetitions differ" not in summary
    assert summary.startswith("8 of 8 comparisons between version levels differ, but with one repetition per")
