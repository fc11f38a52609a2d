"""Degenerate metric values in criteria: an infinite metric is never a pass (nor a crash), and an observation
equal in every execution of every subject is reproducible by identity, not "not analysable".

The real path runs ``tests/apps/degenerate_app.py`` (3 subjects x 2 repetitions) through ``reprovip analyze
--json`` and ``reprovip check``. Before: ``wcv <= 0.05`` on values whose subject means are 0, and ``sd_ratio
<= 0.1`` on values equal across subjects, crashed the analysis (exit 4, "Out of range float values are not
JSON compliant": the reason stored ``value: inf``); a JSON leaf ``n_iter: 100`` in every execution made the
output "not analysable" (its ICC is 0/0). The metric values themselves are those of
tests/metrics/test_repeatability.py and docs/metrics.md ("bsd = 0: sd_ratio inf"; "subject mean 0: wcv inf").
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from reprovip.cli.main import main
from reprovip.criteria.evaluate import output_verdict
from reprovip.criteria.rules import Criterion, parse_rule
from reprovip.criteria.verdict import LABELS
from tests.conftest import write_study

ARGS = '"{mode}", "{{input}}", "{{outdir}}", "{{repetition}}"'
IDENTITY = "n_iter identical in every execution: nothing to compare between subjects"


def _strict_json(path: Path) -> dict:
    """The document as strict JSON: a bare NaN or Infinity token is refused."""

    def refuse(token: str) -> None:
        raise AssertionError(f"non-JSON token {token} in {path}")

    return json.loads(path.read_text(), parse_constant=refuse)


def _analysed(root: Path, mode: str, criteria: str, capsys: pytest.CaptureFixture[str]) -> tuple[dict, int, str]:
    """Run a study of ``degenerate_app.py MODE``, analyse it with the CLI, then check its stored verdict:
    (document, check exit code, check output)."""
    path = write_study(
        root,
        app="degenerate_app.py",
        args=ARGS.format(mode=mode),
        repetitions=2,
        extra=f"name: {mode}\nretries: 0\n{criteria}",
    )
    assert main(["run", str(path), "-j", "2"]) == 0
    document = root / "analysis.json"
    assert main(["analyze", str(path), "--json", str(document)]) == 0
    capsys.readouterr()
    code = main(["check", str(path), "--no-reanalyze"])
    return _strict_json(document), code, capsys.readouterr().out


def test_zero_mean_wcv_is_not_estimable_and_the_document_is_valid_json(
    study_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc, code, printed = _analysed(study_dir, "zero-mean", 'criteria: ["wcv <= 0.05"]\n', capsys)
    (out,) = doc["outputs"]
    assert out["observations"][0]["wcv_rms"] == "Infinity"
    (reason,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "wcv <= 0.05"]
    assert (reason["passed"], reason["estimable"], reason["value"], reason["observation"]) == (
        False,
        False,
        "Infinity",
        "value",
    )
    assert "value: wcv = inf: a subject's mean is 0 while its executions differ" in reason["message"]
    assert "(use wsd)" in reason["message"]
    assert out["verdict"]["status"] == "error"
    assert (doc["verdict"]["status"], doc["verdict"]["label"], doc["verdict"]["exit_code"]) == (
        "error",
        LABELS["error"],
        1,
    )
    assert code == 1 and "wcv = inf" in printed and "zero-mean: not analysable" in printed


def test_sd_ratio_without_between_subject_variance_is_not_estimable_even_as_a_warning(
    study_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every subject gets the same values, 11 then 12: the between-subject SD is 0, the ratio infinite. A
    warn-severity criterion that cannot be computed leaves nothing to support a pass; the default gate, which a
    warn-only criterion no longer drops (review 10, b26), computes ICC(A,1) = 0 (all the variance is between
    executions) and fails."""
    criteria = 'criteria: [{require: "sd_ratio <= 0.1", severity: warn}]\n'
    doc, code, printed = _analysed(study_dir, "same-subjects", criteria, capsys)
    (out,) = doc["outputs"]
    reason, gate = out["verdict"]["reasons"]
    assert (reason["passed"], reason["estimable"], reason["value"]) == (False, False, "Infinity")
    assert "value: sd_ratio = inf: no variance between subjects (between-subject SD 0)" in reason["message"]
    assert (gate["criterion"], gate["severity"], gate["passed"], gate["value"]) == (
        "ICC(A,1).ci_low >= 0.9",
        "fail",
        False,
        0.0,
    )
    assert out["verdict"]["status"] == "fail" and doc["verdict"]["label"] == LABELS["fail"]
    assert code == 1 and "sd_ratio = inf" in printed


def test_values_equal_across_subjects_but_varying_between_executions_still_fail(
    study_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No false pass from the identity rule: equal across subjects is not equal everywhere. ICC(A,1) is 0 with
    CI (0, 0) here (docs/metrics.md: subjects identical, offsets common to all)."""
    doc, code, printed = _analysed(study_dir, "same-subjects", "", capsys)
    (out,) = doc["outputs"]
    (obs,) = out["observations"]
    assert (obs["constant"], obs["identical"]) == (False, False)
    (reason,) = out["verdict"]["reasons"]
    assert (reason["criterion"], reason["passed"], reason["estimable"], reason["value"]) == (
        "ICC(A,1).ci_low >= 0.9",
        False,
        True,
        0.0,
    )
    assert "identical in every execution" not in reason["message"]
    assert out["verdict"]["status"] == "fail" and doc["verdict"]["label"] == LABELS["fail"]
    assert code == 1 and "same-subjects: not reproducible" in printed


def test_a_leaf_equal_in_every_execution_is_reproducible_by_identity(
    study_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``n_iter: 100`` everywhere next to a value that varies slightly: the default ICC criterion judges
    ``value`` and names ``n_iter`` as identical; a criterion that selects ``n_iter`` alone passes by identity."""
    criteria = 'criteria: ["ICC(A,1).ci_low >= 0.9", {require: "sd_ratio <= 0.1", observations: [n_iter]}]\n'
    doc, code, printed = _analysed(study_dir, "constant-leaf", criteria, capsys)
    (out,) = doc["outputs"]
    flags = {o["name"]: (o["constant"], o["icc"]["ICC(A,1)"]["estimable"]) for o in out["observations"]}
    assert flags == {"n_iter": (True, False), "value": (False, True)}
    icc, ratio = out["verdict"]["reasons"]
    assert (icc["passed"], icc["estimable"], icc["observation"]) == (True, True, "value")
    assert icc["message"].startswith("ICC(A,1) = ") and icc["message"].endswith(f"; {IDENTITY}")
    assert (ratio["passed"], ratio["estimable"], ratio["observation"], ratio["value"]) == (True, True, "n_iter", None)
    assert ratio["message"] == f"sd_ratio <= 0.1 [n_iter]: {IDENTITY}"
    assert (out["verdict"]["status"], doc["verdict"]["status"], doc["verdict"]["exit_code"]) == ("pass", "pass", 0)
    assert code == 0 and "constant-leaf: sufficiently reproducible" in printed
    # The output's summary (the report's key metrics) names `value`, not the constant leaf, as the worst.
    assert out["summary"]["worst_observation"] == "value" and "icc_a1_not_estimable" not in out["summary"]


# Unit tests on output_verdict, with outputs as the analysis document stores them ("Infinity" for inf).


def _obs(name: str, **fields: object) -> dict:
    return dict(name=name, constant=False, **fields)


def _output(*observations: dict, **summary: object) -> dict:
    return dict(name="result", kind="scalars", observations=list(observations), summary=summary, bitwise={})


def _criterion(rule: str, severity: str = "fail") -> Criterion:
    return Criterion(*parse_rule(rule), severity=severity)


def _icc(ci_low: object) -> dict:
    entry = dict(value=0.95, ci_low=0.5, ci_high=0.99, estimable=True)
    return {"ICC(A,1)": entry, "ICC(A,k)": dict(entry, ci_low=ci_low)}


@pytest.mark.parametrize(
    ("rule", "output", "stored", "why"),
    [
        ("wcv <= 0.05", _output(_obs("a", wcv_rms="Infinity")), "Infinity", "a subject's mean is 0"),
        ("wcv_log <= 0.05", _output(_obs("a", wcv_log="Infinity")), "Infinity", "a subject's mean is 0"),
        ("bcv <= 2", _output(_obs("a", bcv="Infinity")), "Infinity", "the mean over subjects is 0"),
        ("sd_ratio <= 0.1", _output(_obs("a", sd_ratio="Infinity")), "Infinity", "no variance between subjects"),
        ("rc <= 1e300", _output(_obs("a", rc="Infinity")), "Infinity", "the values overflow"),
        ("ICC(A,k).ci_low >= 0.9", _output(_obs("a", icc=_icc("-Infinity"))), "-Infinity", "its 95% CI is unbounded"),
        (
            "ICC(A,k).ci_low >= -1e300",
            _output(_obs("a", icc=_icc("-Infinity"))),
            "-Infinity",
            "its 95% CI is unbounded",
        ),
        ("hd95_max <= 2", dict(_output(hd95_max="Infinity"), kind="labels"), "Infinity", "a label is empty"),
    ],
)
def test_an_infinite_metric_is_not_estimable(rule: str, output: dict, stored: str, why: str) -> None:
    """Whatever the threshold (``rc >= 0`` and ``ICC(A,k).ci_low <= 0.9`` were passes with inf; such criteria are
    now refused as backwards, and the farthest thresholds stand in for them):
    never a pass, the reason names the metric and its value, and it stays valid JSON."""
    verdict = output_verdict(output, [_criterion(rule)], {"executions": {}})
    (reason,) = verdict["reasons"]
    metric = rule.split()[0]
    assert (reason["passed"], reason["estimable"], reason["value"]) == (False, False, stored)
    assert f"{metric} = {float(stored):g}: {why}" in reason["message"]
    assert verdict["status"] == "error"
    json.dumps(verdict, allow_nan=False)


def test_a_computed_failure_still_decides_next_to_an_infinite_value() -> None:
    output = _output(_obs("a", wcv_rms=0.3), _obs("b", wcv_rms="Infinity"))
    verdict = output_verdict(output, [_criterion("wcv <= 0.05")], {"executions": {}})
    (reason,) = verdict["reasons"]
    assert (reason["passed"], reason["estimable"], reason["value"], reason["observation"]) == (False, True, 0.3, "a")
    assert verdict["status"] == "fail"


def test_a_computed_pass_next_to_an_infinite_value_is_not_a_pass() -> None:
    output = _output(_obs("a", wcv_rms=0.01), _obs("b", wcv_rms="Infinity"))
    verdict = output_verdict(output, [_criterion("wcv <= 0.05")], {"executions": {}})
    (reason,) = verdict["reasons"]
    assert (reason["passed"], reason["estimable"], reason["value"], reason["observation"]) == (
        False,
        False,
        "Infinity",
        "b",
    )
    assert "not estimable on 1 of 2 observation(s) (b: wcv = inf" in reason["message"]
    assert verdict["status"] == "error"


_NOT_ESTIMABLE = {"ICC(A,1)": dict(value=None, ci_low=None, ci_high=None, estimable=False, reason="0/0")}


def test_a_criterion_on_constant_observations_only_passes_by_identity() -> None:
    output = _output(dict(_obs("n_iter", icc=_NOT_ESTIMABLE, sd_ratio=0.0), constant=True))
    verdict = output_verdict(output, [_criterion("ICC(A,1).ci_low >= 0.9")], {"executions": {}})
    (reason,) = verdict["reasons"]
    assert (reason["passed"], reason["estimable"], reason["observation"]) == (True, True, "n_iter")
    assert reason["message"] == f"ICC(A,1).ci_low >= 0.9: {IDENTITY}"
    assert verdict["status"] == "pass"


@pytest.mark.parametrize(("subjects", "status"), [(1, "error"), (3, "pass")])
def test_one_subject_whose_outputs_differ_is_no_icc_by_identity(subjects: int, status: str) -> None:
    """Review IN: one subject's label volumes identical in every execution while its label maps differ read "ICC
    passed" (the volumes by identity) and the study "sufficiently reproducible": an ICC needs 2 subjects."""
    output = dict(
        _output(dict(_obs("volume_label_1", icc=_NOT_ESTIMABLE), constant=True)),
        n_subjects=subjects,
        bitwise={"identical": False, "cells": [{"subject": f"s{i}", "n": 3} for i in range(subjects)]},
    )
    verdict = output_verdict(output, [_criterion("ICC(A,1).ci_low >= 0.9")], {"executions": {}})
    assert verdict["status"] == status
    if status == "error":
        assert verdict["reasons"][0]["message"].endswith(
            "but there is one subject and its outputs differ: an ICC needs at least 2 complete subjects"
        )


@pytest.mark.parametrize(("estimate", "digits", "said"), [(-0.44, 10.2, True), (-0.44, 3.0, False), (0.5, 10.2, False)])
def test_an_icc_failing_on_a_value_the_subjects_share_says_so(estimate: float, digits: float, said: bool) -> None:
    """Review SD: `atlas_scale`, the same in every subject to 10 significant digits under Monte Carlo arithmetic,
    failed its ICC (-0.44) as "run-to-run nondeterminism", with no word that the subjects do not differ."""
    icc = {"ICC(A,1)": dict(value=estimate, ci_low=estimate - 0.3, ci_high=estimate + 0.2, estimable=True)}
    output = _output(_obs("atlas_scale", icc=icc, sigdigits={"parker_min": digits, "base": 10}))
    verdict = output_verdict(output, [_criterion("ICC(A,1).ci_low >= 0.9")], {"executions": {}})
    message = verdict["reasons"][0]["message"]
    assert verdict["status"] == "fail"
    assert ("its subjects do not differ beyond its executions" in message) is said
    assert ("agree to 10.2 significant digits" in message) is said


def test_a_constant_observation_does_not_hide_a_failing_or_unestimable_one() -> None:
    constant = dict(_obs("n_iter", icc=_NOT_ESTIMABLE), constant=True)
    failing = _obs("a", icc={"ICC(A,1)": dict(value=0.2, ci_low=0.1, ci_high=0.4, estimable=True)})
    unestimable = _obs("b", icc=_NOT_ESTIMABLE)
    rule = [_criterion("ICC(A,1).ci_low >= 0.9")]
    failed = output_verdict(_output(constant, failing), rule, {"executions": {}})
    assert failed["status"] == "fail" and failed["reasons"][0]["observation"] == "a"
    assert failed["reasons"][0]["message"].endswith(f"; {IDENTITY}")
    errored = output_verdict(_output(constant, unestimable), rule, {"executions": {}})
    assert errored["status"] == "error" and errored["reasons"][0]["observation"] == "b"
    assert "not estimable on 1 of 1 observation(s) (b: 0/0)" in errored["reasons"][0]["message"]


def test_an_infinite_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match=r"criterion 'wsd <= 1e999': the threshold 1e999 is not a finite number"):
        parse_rule("wsd <= 1e999")


@pytest.mark.parametrize(
    ("rule", "bound"),
    [
        ("ICC(A,1).ci_low >= 2", "ICC(A,1).ci_low is at most 1"),
        ("ICC(C,k) > 1", "ICC(C,k) is at most 1"),
        ("voxel_icc_a1_median >= 1.5", "voxel_icc_a1_median is at most 1"),
        ("wsd <= -1", "wsd is at least 0"),
        ("wcv < 0", "wcv is at least 0"),
        ("hd95_max < 0", "hd95_max is at least 0"),
        ("dice_min >= 1.01", "dice_min is at most 1"),
        ("failure_rate < 0", "failure_rate is at least 0"),
        ("sigdigits >= 1000", "sigdigits is at most 17"),
    ],
)
def test_a_threshold_no_value_can_meet_is_refused(rule: str, bound: str) -> None:
    """Such a criterion failed every study but the identical ones, which pass any threshold: a review's
    `wsd <= -1` and `ICC >= 2` validated and passed silently on identical outputs."""
    with pytest.raises(ValueError, match=rf"criterion '{re.escape(rule)}' can never be met: {re.escape(bound)}; fix"):
        parse_rule(rule)


@pytest.mark.parametrize("rule", ["wcv <= 5", "wcv_log < 10", "wcv_rms <= 1.5"])
def test_a_cv_bounded_by_a_percentage_is_refused(rule: str) -> None:
    """Review MC: `wcv <= 5`, meant as 5%, passed executions whose ICC was -0.06."""
    metric, op, value = rule.split()
    with pytest.raises(
        ValueError, match=rf"{metric} is a fraction .* write `{re.escape(f'{metric} {op} {float(value) / 100:g}')}`"
    ):
        parse_rule(rule)
    assert parse_rule(f"{metric} {op} 1")[2] == 1.0


@pytest.mark.parametrize(
    "rule", ["ICC(A,1).ci_low >= 1", "wsd <= 0", "failure_rate <= 0", "sigdigits >= 16", "dice_min >= 1"]
)
def test_thresholds_at_the_edge_of_a_metrics_range_are_kept(rule: str) -> None:
    assert parse_rule(rule)[2] is not None


def test_observations_no_filtered_criterion_selects_are_named_when_they_differ() -> None:
    """`observations: ["*/w"]` on an output whose `v` varies by 30%: the verdict passed on `w` alone (exit 0,
    even with --strict). Now a warning names `v`; identical or constant observations are not named."""
    rule = Criterion(*parse_rule("ICC(A,1).ci_low >= 0.9"), observations=("*/w",))
    out = _output(
        _obs("x/w", icc={"ICC(A,1)": dict(value=0.99, ci_low=0.95, ci_high=1.0, estimable=True)}),
        _obs("x/v", identical=False),
        dict(name="x/n_iter", constant=True),
        _obs("x/same", identical=True),
    )
    verdict = output_verdict(out, [rule], {"executions": {}})
    assert verdict["status"] == "warn"
    (unjudged,) = [r for r in verdict["reasons"] if r["criterion"] == "every observation judged"]
    assert unjudged["message"] == (
        "1 observation(s) differ between executions and no criterion selects them (the criteria select */w): "
        "x/v; the verdict does not vouch for them"
    )
    unfiltered = output_verdict(out, [_criterion("ICC(A,1).ci_low >= 0.9")], {"executions": {}})
    assert not any(r["criterion"] == "every observation judged" for r in unfiltered["reasons"])
    # review RD: 1e-12 of noise and a 50% change read alike; the least alike is named with its digits
    more = dict(
        out,
        observations=[
            *out["observations"],
            dict(_obs("x/noise", identical=False), sigdigits=dict(parker_min=12.1)),
            dict(_obs("x/moved", identical=False), sigdigits=dict(parker_min=0.64)),
        ],
    )
    (unjudged,) = [
        r
        for r in output_verdict(more, [rule], {"executions": {}})["reasons"]
        if r["criterion"] == "every observation judged"
    ]
    assert unjudged["message"].endswith(
        "x/v; x/noise; x/moved; the least alike, x/moved, agrees to 0.64 significant digits; the verdict does not "
        "vouch for them"
    )
    # A study-level criterion judges no observation: `failure_rate <= 0.1` beside the filtered one silenced the
    # warning (a review); a non-finite observation is named too (its finite subjects are judged by nothing).
    out["observations"].append(dict(name="x/nan", nonfinite={"pattern": "constant", "message": "x/nan: NaN"}))
    study = output_verdict(out, [rule, _criterion("failure_rate <= 0.1")], {"executions": {"failure_rate": 0.0}})
    (unjudged,) = [r for r in study["reasons"] if r["criterion"] == "every observation judged"]
    assert unjudged["message"].startswith("2 observation(s) differ between executions and no criterion selects")


def test_differences_too_small_for_their_sd_are_not_estimable() -> None:
    """p-values near 1e-169 varying by 25% between executions: their squares underflow, wsd, wcv and sd_ratio
    read 0 and passed `wcv <= 0.05` (a review's case); now a built-in check says no metric measures them."""
    out = _output(
        _obs("x/p", identical=False, wsd=0.0),
        _obs("x/q", identical=False, wsd=1e-3),
        _obs("x/z", identical=True, wsd=0.0),
    )
    verdict = output_verdict(out, [_criterion("wcv <= 0.05")], {"executions": {}})
    (under,) = [r for r in verdict["reasons"] if r["criterion"] == "differences the metrics measure"]
    assert verdict["status"] == "error" and not under["estimable"] and under["observation"] == "x/p"
    assert under["message"].startswith(
        "1 observation(s) (x/p) differ between executions while their within-subject SD computes below 1e-153: values below "
        "~1e-146 in magnitude underflow when squared in float64"
    )
    image = dict(
        name="img",
        kind="image",
        observations=[],
        summary={},
        bitwise={},
        voxelwise={"summary": {"differ_sd_zero_voxels": 216}},
    )
    (under,) = [
        r
        for r in output_verdict(image, [], {"executions": {}})["reasons"]
        if r["criterion"] == "differences the metrics measure"
    ]
    assert under["message"].startswith("216 voxel(s) differ between executions while their within-subject SD")


@pytest.mark.parametrize(("scale", "status"), [(1.0, "fail"), (1e-150, "fail"), (1e-161, "error"), (1e-162, "error")])
def test_values_whose_squared_deviations_are_subnormal_are_not_judged(
    tmp_path: Path, scale: float, status: str
) -> None:
    """The same 6 x 3 values (8% run-to-run noise) at four scales (a review): at 1e-161 the squared deviations
    are partly subnormal, ICC(A,1) read 0.976 with a CI above 0.9 and the study passed where the values at 1 fail;
    at 1e-162 the ICC's CI had no lower bound and `analyze` was an internal error. An SD below 1e-153 is not
    measured; values at 1e-150 still are, exactly."""
    import numpy as np

    from tests.conftest import ingested

    rng = np.random.default_rng(33)
    x = np.arange(1, 7)[:, None] * (1 + rng.normal(0, 0.08, (6, 3)))
    files = {
        (f"s{i}", r + 1): {"r.json": json.dumps({"v": float(x[i, r] * scale)})} for i in range(6) for r in range(3)
    }
    doc = ingested(tmp_path, "  r: {path: r.json, kind: scalars}\n", files).analyze().document
    assert doc["verdict"]["status"] == status
    under = [r for r in doc["outputs"][0]["verdict"]["reasons"] if r["criterion"] == "differences the metrics measure"]
    assert bool(under) == (status == "error")


def test_one_problem_in_many_files_is_said_once() -> None:
    """15 files with the same error made 15 copies of its hint; the stored file's path is not the problem."""
    errors = [
        dict(subject=f"s{i}", condition="-", repetition=1, error=f"/store/blobs/{i}.csv: line 2 has 2 fields; check it")
        for i in range(6)
    ] + [dict(subject="s9", condition="-", repetition=2, error="/store/blobs/x.csv: empty file; re-run")]
    out = dict(_output(), errors=errors)
    (readable,) = [
        r for r in output_verdict(out, [], {"executions": {}})["reasons"] if r["criterion"] == "outputs readable"
    ]
    assert readable["message"] == (
        "7 output file(s) could not be read: subject s0, repetition 1: /store/blobs/0.csv: line 2 has 2 fields; "
        "check it (the same in 5 other file(s): subject s1, repetition 1; subject s2, repetition 1; subject s3, "
        "repetition 1 and 2 more); subject s9, repetition 2: /store/blobs/x.csv: empty file; re-run"
    )


def test_identical_outputs_keep_declared_study_level_criteria() -> None:
    """Identical outputs meet every threshold on values, not `attempt_failure_rate <= 0.1` at 0.5: it was dropped,
    and the study passed (a review)."""
    out = _output(_obs("x/v", identical=True))
    cells = [{"subject": s, "n": 3} for s in ("s1", "s2")]
    out["bitwise"] = {"identical": True, "bytes_identical": True, "repetitions_identical": True, "cells": cells}
    doc = {"executions": {"attempt_failure_rate": 0.5, "failure_rate": 0.0}}
    verdict = output_verdict(out, [_criterion("attempt_failure_rate <= 0.1")], doc)
    (rate,) = [r for r in verdict["reasons"] if r["criterion"] == "attempt_failure_rate <= 0.1"]
    assert not rate["passed"] and verdict["status"] == "fail"
    assert any(r["criterion"] == "identical" and r["passed"] for r in verdict["reasons"])


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            "ICC(A,1).ci_low <= 0.9",
            "passes the less reproducible results: a higher ICC(A,1).ci_low is more "
            "reproducible; write `ICC(A,1).ci_low >= 0.9`",
        ),
        ("wsd >= 0", "passes the less reproducible results: a lower wsd is more reproducible; write `wsd <= 0`"),
        ("wcv > 0.001", "a lower wcv is more reproducible; write `wcv < 0.001`"),
        ("sigdigits <= 3", "a higher sigdigits is more reproducible"),
        ("bcv >= 0", "is met by every value of bcv: it checks nothing"),
        ("attempt_failure_rate <= 2", "is met by every value of attempt_failure_rate"),
        ("voxel_differ_fraction <= 1.5", "is met by every value of voxel_differ_fraction"),
        ("ICC(1,1).value >= -1", "is met by every value of ICC(1,1).value"),  # review B: at least -1/(k-1)
        ("ICC(C,1).ci_high >= -1", "is met by every value of ICC(C,1).ci_high"),
    ],
)
def test_backwards_or_vacuous_thresholds_are_refused(rule: str, message: str) -> None:
    """Such criteria validated and turned a study with 67% run-to-run variance green (a review: a typo for the
    other direction, or a bound every value meets)."""
    with pytest.raises(ValueError, match=re.escape(f"criterion {rule!r} ") + ".*" + re.escape(message)):
        parse_rule(rule)


def test_an_absolute_agreement_icc_may_be_below_minus_one() -> None:
    """ICC(A,1) has no lower bound of -1 (its denominator holds the raters' mean square): `>= -1` stays valid."""
    assert parse_rule("ICC(A,1).value >= -1")


def test_significant_digits_at_the_threshold_are_compared_without_float_noise() -> None:
    """Parker digits of exactly 3 compute as 2.9999999999999996 (through log10): `sigdigits >= 3` failed."""
    out = _output(_obs("a/value", identical=False, sigdigits={"parker_min": 2.9999999999999996}))
    (reason,) = output_verdict(out, [_criterion("sigdigits >= 3")], {"executions": {}})["reasons"]
    assert reason["passed"] and reason["value"] == 2.9999999999999996


def _icc_one(identical: bool) -> dict:
    one = dict(value=1.0, ci_low=1.0, ci_high=1.0, estimable=True)
    return _obs("v", identical=identical, wsd=3.5e-15, icc={"ICC(A,1)": one, "ICC(C,1)": one, "ICC(1,1)": one})


@pytest.mark.parametrize("rule", ["ICC(A,1).ci_low >= 1", "ICC(C,1).ci_low >= 1", "ICC(1,1) >= 1"])
def test_an_icc_threshold_at_1_passes_identical_executions_only(rule: str) -> None:
    """Executions 1 ulp apart give ICC = 1 (95% CI 1 to 1) in float64, and `ICC(A,1).ci_low >= 1` passed them
    while `wsd <= 0` failed (review 10, b06; docs/criteria.md says edge thresholds require identity)."""
    (differ,) = output_verdict(_output(_icc_one(False)), [_criterion(rule)], {"executions": {}})["reasons"]
    assert (differ["passed"], differ["estimable"], differ["value"], differ["observation"]) == (False, True, 1.0, "v")
    form = rule.split(".")[0].split(" ")[0]
    assert differ["message"] == (
        f"{form} = 1 (95% CI 1 to 1) on v but the executions differ (wsd = 3.5e-15): the ICC rounds to 1; "
        f"{rule} requires identical executions"
    )
    (same,) = output_verdict(_output(_icc_one(True)), [_criterion(rule)], {"executions": {}})["reasons"]
    assert same["passed"] and same["value"] == 1.0
    below = output_verdict(_output(_icc_one(False)), [_criterion(rule.replace(">= 1", ">= 0.999"))], {"executions": {}})
    assert below["reasons"][0]["passed"]  # below the edge the ICC is read as computed


def test_a_consistency_icc_at_1_passes_an_exact_offset_between_executions() -> None:
    """ICC(C,1) ignores an execution's offset (McGraw & Wong 1996, consistency): executions shifted by a constant
    have a residual mean square of 0 and an ICC(C,1) of exactly 1, not a rounded one; ICC(A,1) still fails."""
    obs = dict(_icc_one(False), mean_squares=dict(msr=1800.0, msc=3.0, mse=0.0, n=8, k=3))
    consistency, agreement = (
        output_verdict(_output(obs), [_criterion(rule)], {"executions": {}})["reasons"][0]
        for rule in ("ICC(C,1).ci_low >= 1", "ICC(A,1).ci_low >= 1")
    )
    assert consistency["passed"] and not agreement["passed"]


def test_repetitions_identical_does_not_judge_differences_between_factor_levels() -> None:
    """`repetitions_identical` beside a filtered ICC silenced "every observation judged", though `tstat` changed
    with the thread count (ICC 0.82) and no criterion judged it (review 10, b20): the flag sees differences
    within a condition only. An observation whose repetitions differ is judged by it (the flag fails)."""
    rule = Criterion(*parse_rule("ICC(A,1).ci_low >= 0.9"), observations=("volume",))
    flag = _criterion("repetitions_identical")
    volume = _obs("volume", identical=True, icc={"ICC(A,1)": dict(value=1.0, ci_low=1.0, ci_high=1.0, estimable=True)})
    same = {"threads=1": dict(identical=True), "threads=2": dict(identical=True)}
    tstat = _obs("tstat", identical=False, per_condition=same)
    noisy = _obs("noisy", identical=False, per_condition=dict(same, **{"threads=2": dict(identical=False)}))
    out = dict(_output(volume, tstat, noisy), factors={"threads": ["1", "2"]})
    out["bitwise"] = dict(identical=False, repetitions_identical=False)
    verdict = output_verdict(out, [rule, flag], {"executions": {}})
    (unjudged,) = [r for r in verdict["reasons"] if r["criterion"] == "every observation judged"]
    assert unjudged["message"] == (
        "1 observation(s) differ between executions and no criterion selects them (the criteria select volume): "
        "tstat; the verdict does not vouch for them"
    )
    # Without a factor, every difference is between repetitions: the flag judges them all.
    plain = dict(_output(volume, _obs("tstat", identical=False)), bitwise=dict(identical=False))
    plain["bitwise"]["repetitions_identical"] = False
    assert not any(
        r["criterion"] == "every observation judged" for r in output_verdict(plain, [rule, flag], {})["reasons"]
    )
    # `within_envelope` judges versions against run-to-run noise, not the noise itself.
    envelope = dict(_output(volume, tstat), envelope=dict(within_envelope=True))
    reasons = output_verdict(envelope, [rule, _criterion("within_envelope")], {"executions": {}})["reasons"]
    assert [r["observation"] for r in reasons if r["criterion"] == "every observation judged"] == ["tstat"]


def test_repetitions_identical_with_one_repetition_is_not_estimable(tmp_path: Path) -> None:
    """Review L (c40): `repetitions: 1` under a threads factor that moves the values by 30%, the only criterion
    `repetitions_identical`: no two repetitions exist, yet the flag passed and the study read "sufficiently
    reproducible", exit 0."""
    from reprovip.study import Study

    for s in range(4):
        for threads, scale in (("1", 1.0), ("2", 1.3)):
            folder = tmp_path / "results" / f"sub-{s}" / f"threads-{threads}"
            folder.mkdir(parents=True)
            (folder / "r.json").write_text(json.dumps({"value": (10.0 + 5 * s) * scale}))
    (tmp_path / "study.yaml").write_text(
        "outputs:\n  r: {path: r.json, kind: scalars}\ncriteria:\n  - {require: repetitions_identical}\n"
    )
    study = Study.load(tmp_path / "study.yaml")
    study.ingest("results/{subject}/threads-{threads}")
    (out,) = study.analyze().document["outputs"]
    (flag,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "repetitions_identical"]
    assert not flag["passed"] and not flag["estimable"]
    assert "no repetitions to compare" in flag["message"]
    assert out["verdict"]["status"] == "error"
    assert main(["check", str(tmp_path / "study.yaml")]) != 0


def test_label_maps_without_a_label_say_so_rather_than_not_computed() -> None:
    """Label maps all 0 in every execution read "dice_min: not estimable (not computed)" (a review): the reason."""
    out = dict(name="seg", kind="labels", observations=[], summary={}, bitwise={}, segmentation={"labels": {}})
    verdict = output_verdict(
        out, [_criterion("dice_min >= 0.5"), _criterion("ICC(A,1).ci_low >= 0.9")], {"executions": {}}
    )
    messages = [r["message"] for r in verdict["reasons"] if not r["passed"]]
    assert (
        "dice_min >= 0.5: not estimable (the label maps hold no label (every voxel 0) in any execution" in messages[0]
    )
    assert messages[1].startswith("ICC(A,1).ci_low >= 0.9: not analysable: the label maps hold no label")


def test_encoded_binary_data_that_differs_is_said_as_such_not_as_numbers() -> None:
    """The text reader names base64 runs (GIFTI, VTK XML) as number-like text; the criteria's advice to "write
    plain numbers" did not fit them (a review's GIFTI read "looks like numbers but was read as text")."""
    why = "encoded binary data (base64, 964 characters) that no metric reads; declare bytes"
    out = dict(
        _output(), text_differences={"count": 1, "names": ["line6:base64:0"], "number_like": {"line6:base64:0": why}}
    )
    verdict = output_verdict(out, [], {"executions": {}})
    (under,) = [r for r in verdict["reasons"] if r["criterion"] == "differences the metrics measure"]
    assert under["message"] == f"1 run(s) of encoded binary data differ between executions: line6:base64:0 ({why})"
    assert verdict["status"] == "error"


def test_an_icc_pass_on_two_subjects_says_its_interval_is_uninformative(tmp_path) -> None:
    """Review I: a two-subject study passed `ICC(A,1).ci_low >= 0.9` and `check` said nothing of the note the
    document carries (one between-subject degree of freedom)."""
    from tests.conftest import ingested

    rng = np.random.default_rng(3)
    files = {
        (s, r): {"r.json": json.dumps({"vol": base + 1e-3 * rng.normal()})}
        for s, base in (("a", 10), ("b", 90))
        for r in (1, 2, 3)
    }
    (out,) = ingested(tmp_path, "  r: {path: r.json, kind: scalars}\n", files).analyze().document["outputs"]
    (icc,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "ICC(A,1).ci_low >= 0.9"]
    assert icc["passed"] and icc["message"].endswith(
        "its lower bound meets >= 0.9 (fewer than 3 subjects: the F-based ICC interval rests on one between-subject "
        "degree of freedom and is uninformative (e.g. the ICC(C,1) lower bound with k = 3 is above 0 only if F > 38.5))"
    )


def test_a_pattern_naming_no_output_judges_the_outputs_that_hold_its_observations() -> None:
    """Review D2: criteria.md's `{require: "wcv <= 0.05", observations: ["*/amplitude"]}` made a study's label
    map "not analysable: no observation matches */amplitude" (exit 1) beside the table holding `amplitude`. The
    criterion judges the outputs whose observations it selects; an output left with no criterion at all says
    so (nothing supports its pass); a pattern found in no output is still a typo, said on each."""
    rule = Criterion(*parse_rule("ICC(A,1).ci_low >= 0.9"), observations=("*/amplitude",))
    icc = {"ICC(A,1)": dict(value=0.99, ci_low=0.95, ci_high=1.0, estimable=True)}
    fit = dict(_output(_obs("NAA/amplitude", identical=False, icc=icc)), name="fit")
    seg = dict(_output(_obs("volume", identical=False, icc=icc)), name="seg")
    document = {"executions": {}, "outputs": [fit, seg]}
    assert output_verdict(fit, [rule], document)["status"] == "pass"
    dice = _criterion("dice_min >= 0.5")
    with_own = output_verdict(dict(seg, summary={"dice_min": 0.9}), [rule, dice], document)
    assert with_own["status"] == "pass" and not any(r["criterion"] == rule.text for r in with_own["reasons"])
    alone = output_verdict(seg, [rule], document)
    (why,) = [r for r in alone["reasons"] if not r["passed"]]
    assert (alone["status"], why["criterion"], why["estimable"]) == ("error", "a criterion computed", False)
    assert why["message"].startswith("no criterion judges this output: the criteria's observations (*/amplitude)")
    typo = Criterion(*parse_rule("ICC(A,1).ci_low >= 0.9"), observations=("*/amplitud",))
    for out in (fit, seg):
        (bad,) = [r for r in output_verdict(out, [typo], document)["reasons"] if r["criterion"] == typo.text]
        assert not bad["estimable"] and "no observation matches */amplitud" in bad["message"]


def test_files_read_with_other_rows_are_said_read() -> None:
    """Review NN: an adaptive loop's table (one row per iteration) with other rows in some runs read "14 output
    file(s) could not be read", and the user looked for damaged files; then "could not be read (all read, ...)",
    which contradicted itself (review RR)."""
    layout = "/store/blobs/{}.csv: its observations differ from the subject's other executions': missing '3/x'"
    errors = [dict(subject="s1", condition="-", repetition=r, error=layout.format(r)) for r in (2, 3)]
    out = dict(_output(), errors=errors)
    (readable,) = [
        r for r in output_verdict(out, [], {"executions": {}})["reasons"] if r["criterion"] == "outputs readable"
    ]
    assert readable["message"].startswith(
        "2 output file(s) were read, but with other rows, fields or lines than their subject's other executions: "
        "subject s1, repetition 2: "
    )
    errors.append(dict(subject="s2", condition="-", repetition=1, error="/store/blobs/x.csv: empty file; re-run"))
    (readable,) = [
        r for r in output_verdict(out, [], {"executions": {}})["reasons"] if r["criterion"] == "outputs readable"
    ]
    assert readable["message"].startswith("3 output file(s) could not be read (2 of them read, but with other rows")


@pytest.mark.parametrize("copies", [False, True])
def test_the_executions_that_would_settle_an_icc_are_not_copies(copies: bool) -> None:
    """Review NN: a seed sweep whose repetitions are copies was told "about 12 executions per subject (now 3)":
    more copies would change nothing (they count once); distinct executions (other seeds) would."""
    from reprovip.criteria.evidence import icc_evidence

    ms = dict(msr=0.45065640757423453, msc=0.019263777222897717, mse=7.361227285116442e-05, n=5, k=3, copies=copies)
    rule = Criterion(*parse_rule("ICC(A,1).ci_low >= 0.9"))
    said = icc_evidence(rule, dict(mean_squares=ms, ci=[0.5152805156363309, 0.9975476420676173]))
    what = "distinct executions (not copies of a repetition or a condition)" if copies else "executions"
    assert said["executions_per_subject"] == 12
    assert said["sentence"] == (
        "the 95% CI (0.515 to 0.998) straddles 0.9; if today's variance components hold, "
        f"about 12 {what} per subject (now 3) would put it above the threshold"
    )


def test_an_identity_flag_alone_does_not_vouch_for_what_it_cannot_see() -> None:
    """Review SS: `criteria: [repetitions_identical]` alone passed a volume 20% higher under threads=2 with no
    word (repetitions identical), and `[within_envelope]` alone a tool varying 30% run to run."""
    same = {"threads=1": dict(identical=True), "threads=2": dict(identical=True)}
    volume = _obs("volume", identical=False, per_condition=same)
    out = dict(_output(volume), factors={"threads": ["1", "2"]})
    cells = [{"subject": s, "n": 4} for s in ("s1", "s2", "s3")]
    out["bitwise"] = dict(identical=False, repetitions_identical=True, cells=cells)
    verdict = output_verdict(out, [_criterion("repetitions_identical")], {"executions": {}})
    (unjudged,) = [r for r in verdict["reasons"] if r["criterion"] == "every observation judged"]
    assert unjudged["message"] == (
        "1 observation(s) differ between executions and no criterion selects them (the criteria judge only "
        "repetitions_identical): volume; the verdict does not vouch for them"
    )
    assert verdict["status"] == "warn"
    envelope = dict(_output(_obs("volume", identical=False)), envelope=dict(within_envelope=True))
    reasons = output_verdict(envelope, [_criterion("within_envelope")], {"executions": {}})["reasons"]
    assert [r["observation"] for r in reasons if r["criterion"] == "every observation judged"] == ["volume"]


def test_a_pattern_matching_nothing_is_an_error_whatever_the_severity() -> None:
    """Review SS: `{require: "wcv <= 0.01", severity: warn, observations: ["*/Volume"]}` beside `amyg/volume`
    read "Warning ... not estimable", exit 0, a passing JUnit testcase: a mistake in the criteria, not a finding."""
    volume = _obs("amyg/volume", identical=False, wcv=0.002)
    out = dict(_output(volume), bitwise=dict(identical=False, cells=[{"subject": s, "n": 2} for s in ("a", "b")]))
    rule = Criterion(*parse_rule("wcv <= 0.01"), observations=("*/Volume",), severity="warn")
    verdict = output_verdict(out, [_criterion("wcv <= 0.5"), rule], {"executions": {}})
    (typo,) = [r for r in verdict["reasons"] if r["criterion"] == rule.text]
    assert (typo["severity"], typo["estimable"], verdict["status"]) == ("fail", False, "error")
    assert "no observation matches */Volume (did you mean `amyg/volume`?)" in typo["message"]


def test_a_deterministic_observation_is_not_told_its_repetitions_differ() -> None:
    """Review UU: `det` (deterministic given the seed) beside `rnd` (unseeded) in one table: the ICC failure on
    `det` quoted "repetitions differ under every condition: run-to-run nondeterminism", true of `rnd` only."""
    same = {"seed=1": dict(identical=True), "seed=2": dict(identical=True)}
    icc = {"ICC(A,1)": dict(value=0.8, ci_low=0.1, ci_high=0.97, estimable=True)}
    det = _obs("det", identical=False, per_condition=same, icc=icc)
    rnd = _obs("rnd", identical=False, per_condition={k: dict(identical=False) for k in same}, icc=icc)
    out = dict(_output(det, rnd), factors={"seed": ["1", "2"]})
    out["bitwise"] = dict(identical=False, repetitions_identical=False, cells=[{"subject": "a", "n": 4}])
    out["attribution"] = dict(
        summary="seed changes the result (9.6% of the variance); repetitions differ under every condition: "
        "run-to-run nondeterminism (0.3% of the variance)"
    )
    rule = Criterion(*parse_rule("ICC(A,1).ci_low >= 0.5"), observations=("det",))
    (failed,) = [r for r in output_verdict(out, [rule], {"executions": {}})["reasons"] if r["criterion"] == rule.text]
    assert failed["message"].endswith("its lower bound fails >= 0.5: seed changes the result (9.6% of the variance)")
    rule = Criterion(*parse_rule("ICC(A,1).ci_low >= 0.5"), observations=("rnd",))
    (failed,) = [r for r in output_verdict(out, [rule], {"executions": {}})["reasons"] if r["criterion"] == rule.text]
    assert failed["message"].endswith(
        "repetitions differ under every condition: run-to-run nondeterminism (0.3% of the variance)"
    )


def test_a_failure_does_not_blame_a_factor_that_does_nothing_to_its_observation() -> None:
    """Review YY: the ICC failure on `es_frame` (moved by the seed only; threads p = 1, no variance) quoted
    "threads changes the result", true of `mass_g`: the user read threads as moving the ES frame."""
    icc = {"ICC(A,1)": dict(value=0.43, ci_low=0.05, ci_high=0.92, estimable=True)}
    variance = {"seed": dict(share=0.33), "threads": dict(share=0.0), "subject:threads": dict(share=0.0)}
    es = _obs("es_frame", identical=False, icc=icc, factor_p={"seed": 0.001, "threads": 1.0}, variance=variance)
    out = dict(_output(es), factors={"seed": ["42", "43"], "threads": ["1", "2"]})
    out["bitwise"] = dict(identical=False, repetitions_identical=True, cells=[{"subject": "a", "n": 4}])
    out["attribution"] = dict(summary="seed changes the result: 8 of 8; threads changes the result: 8 of 8")
    rule = Criterion(*parse_rule("ICC(A,1).ci_low >= 0.9"))
    (failed,) = [r for r in output_verdict(out, [rule], {"executions": {}})["reasons"] if r["criterion"] == rule.text]
    assert failed["message"].endswith("its lower bound fails >= 0.9: seed changes the result: 8 of 8")
