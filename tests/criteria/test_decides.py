"""Which criteria decide a verdict: review 10's false passes and wrong verdicts on real (ingested) studies.

b06: an ICC threshold at 1 passed executions 1 ulp apart. b20: `repetitions_identical` silenced the "every
observation judged" warning though an unselected observation changed with the thread count. b26: a warn-only
criterion replaced the default gate (ICC lower bound 0.19 read "sufficiently reproducible, with warnings").
b17: `within_envelope` in a study without a version factor failed as "within_envelope: no".
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.conftest import ingested


def _reason(output: dict, criterion: str) -> dict:
    (found,) = [r for r in output["verdict"]["reasons"] if r["criterion"] == criterion]
    return found


def test_icc_thresholds_at_1_fail_executions_one_ulp_apart(tmp_path: Path) -> None:
    """The reviewer's data: 8 subjects x 3 repetitions, repetition 2 one ulp above the others. ICC(A,1) computes
    as exactly 1 with its CI; `wsd <= 0` fails these executions, and so must the ICC thresholds at 1."""
    files = {}
    for s in range(8):
        v = 10.0 * (s + 1) + 0.1
        for r in (1, 2, 3):
            files[(f"sub-{s}", r)] = {
                "m.csv": f"region,volume\nhippo,{math.nextafter(v, math.inf) if r == 2 else v!r}\n"
            }
    rules = ("ICC(A,1).ci_low >= 1", "ICC(C,1).ci_low >= 1", "ICC(1,1) >= 1", "wsd <= 0")
    criteria = "".join(f"  - '{r}'\n" for r in rules)
    doc = ingested(tmp_path, f"  m: {{path: m.csv, kind: table}}\ncriteria:\n{criteria}", files).analyze().document
    (out,) = doc["outputs"]
    assert out["observations"][0]["icc"]["ICC(A,1)"]["ci_low"] == 1.0  # what the criteria read
    for rule in rules:
        reason = _reason(out, rule)
        assert (reason["passed"], reason["estimable"]) == (False, True), rule
    assert "the ICC rounds to 1" in _reason(out, "ICC(A,1).ci_low >= 1")["message"]
    assert doc["verdict"]["status"] == "fail"


def test_repetitions_identical_does_not_silence_an_unjudged_factor_effect(tmp_path: Path) -> None:
    """b20: factor threads (1, 2), 8 subjects x 3 repetitions, deterministic at each thread count; `tstat`
    changes with the thread count and only `volume` is selected. Before: a clean "sufficiently reproducible"."""
    from reprovip.study import Study

    for s in range(8):
        t1, t2 = 2.0 + s, (2.0 + s) * (0.5 + s / 8)
        for threads in ("1", "2"):
            for r in (1, 2, 3):
                folder = tmp_path / "results" / threads / f"sub-{s}" / f"run-{r}"
                folder.mkdir(parents=True)
                tstat = t1 if threads == "1" else t2
                (folder / "m.json").write_text(json.dumps({"volume": 1000.5 + 50 * s, "tstat": tstat}))
    (tmp_path / "study.yaml").write_text(
        "outputs:\n  stats: {path: m.json, kind: scalars}\ncriteria:\n"
        "  - {require: 'ICC(A,1).ci_low >= 0.9', observations: [volume]}\n  - repetitions_identical\n"
    )
    study = Study.load(tmp_path / "study.yaml")
    study.ingest("results/{threads}/{subject}/run-{repetition}")
    doc = study.analyze().document
    (out,) = doc["outputs"]
    assert _reason(out, "repetitions_identical")["passed"]
    unjudged = _reason(out, "every observation judged")
    assert unjudged["severity"] == "warn" and unjudged["observation"] == "tstat"
    assert doc["verdict"]["status"] == "warn"


def _noisy_volumes(tmp_path: Path, criteria: str) -> dict:
    """b26's data: 8 subjects x 3 repetitions whose executions vary about as much as the subjects."""
    import random

    rng = random.Random(12)
    files = {
        (f"sub-{s}", r): {"m.json": json.dumps({"volume": 1000 + 5 * s + rng.gauss(0, 30)})}
        for s in range(8)
        for r in (1, 2, 3)
    }
    return (
        ingested(tmp_path, f"  stats: {{path: m.json, kind: scalars}}\ncriteria:\n{criteria}", files).analyze().document
    )


def test_warn_only_criteria_keep_the_default_gate(tmp_path: Path) -> None:
    """b26: `{require: "sigdigits >= 4", severity: warn}` alone replaced the default ICC gate, and an ICC(A,1)
    lower bound of 0.19 read "sufficiently reproducible, with warnings" (exit 0): no fail-severity criterion
    supported that label. The defaults whose metric the declared criteria do not name now apply too."""
    doc = _noisy_volumes(tmp_path, '  - {require: "sigdigits >= 4", severity: warn}\n')
    (out,) = doc["outputs"]
    assert _reason(out, "sigdigits >= 4")["severity"] == "warn"
    gate = _reason(out, "ICC(A,1).ci_low >= 0.9")
    assert (gate["severity"], gate["passed"], gate["estimable"]) == ("fail", False, True)
    assert gate["value"] < 0.5
    assert doc["verdict"]["status"] == "fail" and doc["verdict"]["exit_code"] == 1


def test_a_gate_declared_as_a_warning_stays_a_warning(tmp_path: Path) -> None:
    """Declaring the default's metric with `severity: warn` is a choice: the gate is then that warning."""
    doc = _noisy_volumes(tmp_path, '  - {require: "ICC(A,1).ci_low >= 0.9", severity: warn}\n')
    (out,) = doc["outputs"]
    assert [r["severity"] for r in out["verdict"]["reasons"] if r["criterion"] == "ICC(A,1).ci_low >= 0.9"] == ["warn"]
    assert doc["verdict"]["status"] == "warn"


def test_within_envelope_without_a_version_factor_is_not_estimable(tmp_path: Path) -> None:
    """b17: `within_envelope` in a study with no version factor failed as "within_envelope: no", a finding from
    a test that never ran (a study without one cannot be refused at validate: `reprovip compare` gives it the
    version factor)."""
    files = {
        (f"sub-{s}", r): {"m.json": json.dumps({"volume": 100.0 + 10 * s + 0.01 * r})} for s in range(6) for r in (1, 2)
    }
    outputs = "  stats: {path: m.json, kind: scalars}\ncriteria: [within_envelope, 'ICC(A,1).ci_low >= 0.5']\n"
    doc = ingested(tmp_path, outputs, files).analyze().document
    (out,) = doc["outputs"]
    reason = _reason(out, "within_envelope")
    assert (reason["passed"], reason["estimable"], reason["value"]) == (False, False, None)
    assert reason["message"] == (
        "within_envelope: the study has no version factor (`version` or `environments`): the envelope test "
        "compares versions; declare one, or compare two stores with `reprovip compare`, which runs it without "
        "declaring it"
    )
    assert _reason(out, "ICC(A,1).ci_low >= 0.5")["passed"]
    assert out["verdict"]["status"] == doc["verdict"]["status"] == "error"


@pytest.mark.parametrize(
    ("declared", "kept"),
    [
        ([("dice_min >= 0.95", "warn")], True),  # the README's warning: a band above the failure
        ([("dice_min >= 0.8", "warn")], False),  # the default's gate made a warning: a choice
        ([("dice_min >= 0.5", "warn")], False),
        ([("dice_min >= 0.5", "fail")], False),  # the user's own gate
        ([("dice_min >= 0.9", "fail")], False),
        ([("dice_min > 0.95", "warn")], True),  # review B: the operator alone dropped the band's failure
        ([("dice_min > 0.8", "warn")], True),  # above 0.8 by the value itself: a band too
        ([("dice_min > 0.5", "warn")], False),
    ],
)
def test_a_declared_dice_warning_stricter_than_the_default_failure_keeps_it(
    declared: list[tuple[str, str]], kept: bool
) -> None:
    """Review NU2: the README's `{require: "dice_min >= 0.95", severity: warn}` beside an ICC criterion dropped the
    default `dice_min >= 0.8` failure, and label maps whose left and right labels swapped under threads=2 read
    "sufficiently reproducible, with warnings", exit 0."""
    from reprovip.criteria.evaluate import safeguards
    from reprovip.criteria.rules import Criterion, parse_rule

    rules = [Criterion(*parse_rule("ICC(A,1).ci_low >= 0.9"))]  # a table's gate beside the label maps' defaults
    rules += [Criterion(*parse_rule(text), severity=severity) for text, severity in declared]
    guards = [(c.text, c.severity) for c in safeguards("labels", rules)]
    assert (("dice_min >= 0.8", "fail") in guards) is kept


@pytest.mark.parametrize(
    ("observations", "kept_text"),
    [
        (("gm/*",), "ICC(A,1).ci_low >= 0.9 [all but gm/*]"),  # the others keep the gate
        (("gm/*", "wm/*"), None),  # every observation: the declared warning is the gate
        ((), None),
    ],
)
def test_a_warning_for_some_observations_keeps_the_default_gate_for_the_others(
    observations: tuple[str, ...], kept_text: str | None
) -> None:
    """Review R7: `{require: "ICC(A,1).ci_low >= 0.9", severity: warn, observations: ["gm/*"]}` dropped the ICC
    failure of `wm` too, and a 15% change of `wm` under threads=2 read "sufficiently reproducible, with warnings"
    (a stricter warning, 0.95, kept it and failed)."""
    from reprovip.criteria.evaluate import kept
    from reprovip.criteria.rules import Criterion, parse_rule

    default = Criterion(*parse_rule("ICC(A,1).ci_low >= 0.9"))
    declared = Criterion(*parse_rule("ICC(A,1).ci_low >= 0.9"), severity="warn", observations=observations)
    stays = kept(default, [declared], ["gm/volume_mm3", "wm/volume_mm3"])
    assert (stays.text if stays else None) == kept_text
    if stays:
        assert not stays.selects("gm/volume_mm3") and stays.selects("wm/volume_mm3")


@pytest.mark.parametrize(
    ("require", "kept_text"),
    [
        ("ICC(A,1).ci_low >= 0.9", "ICC(A,1).ci_low >= 0.9 [all but A/*]"),
        ("wcv <= 0.01", "ICC(A,1).ci_low >= 0.9 [all but A/*]"),  # the user's gate for A, of another metric
    ],
)
def test_a_failure_for_some_observations_keeps_the_defaults_for_the_others(tmp_path: Path, require, kept_text) -> None:
    """Review B: a fail-severity criterion limited to `A/*` dropped every default, where the same criterion as a
    warning kept `ICC(A,1).ci_low >= 0.9 [all but A/*]`: making it stricter turned B's 30% change under threads=2
    into "sufficiently reproducible, with warnings" (exit 0)."""
    from reprovip.criteria.evaluate import evaluate
    from reprovip.criteria.rules import Criterion, parse_rule
    from tests.conftest import ingested_folders

    folders = {}
    for t in (1, 2):
        for s in range(1, 5):
            for r in (1, 2):
                b = 30.0 * s * (1.3 if t == 2 else 1.0)
                folders[f"threads-{t}/s{s}/run-{r}"] = {"t.csv": f"region,val\nA,{10.0 * s}\nB,{b}\n"}
    study = ingested_folders(
        tmp_path, "  tab: {path: t.csv, kind: table}\n", folders, "threads-{threads}/{subject}/run-{repetition}"
    )
    doc = study.analyze().document
    declared = [Criterion(*parse_rule(require), observations=("A/*",))]
    (out,) = evaluate(doc, declared)["outputs"]
    reasons = {r["criterion"]: r for r in out["verdict"]["reasons"]}
    assert not reasons[kept_text]["passed"] and reasons[kept_text]["severity"] == "fail"
    assert out["verdict"]["status"] == "fail"


def test_a_value_beside_a_threshold_of_many_digits_is_shown_on_its_side(tmp_path: Path) -> None:
    """Review D: `wsd <= 0.60991802` read "wsd <= 0.609918" and "wsd = 0.609918 on v fails <= 0.609918": the
    criterion as written, and the value with the digits that tell it from the threshold."""
    from reprovip.criteria.evaluate import evaluate
    from reprovip.criteria.rules import Criterion, parse_rule

    files = {(f"s{s}", r): {"r.json": f'{{"v": {10.0 * s + 0.9 * r}}}'} for s in range(1, 4) for r in (1, 2)}
    doc = ingested(tmp_path, "  r: {path: r.json, kind: scalars}\n", files).analyze().document
    wsd = doc["outputs"][0]["observations"][0]["wsd"]
    threshold = float(f"{wsd:.6g}") if float(f"{wsd:.6g}") < wsd else float(f"{wsd:.6g}") - 1e-7
    (out,) = evaluate(doc, [Criterion(*parse_rule(f"wsd <= {threshold!r}"))])["outputs"]
    (said,) = [r for r in out["verdict"]["reasons"] if r["criterion"].startswith("wsd <= ")]
    assert said["criterion"] == f"wsd <= {threshold!r}" and not said["passed"]
    shown = said["message"].split(" = ")[1].split(" ")[0]
    assert float(shown) > threshold and f"fails <= {threshold!r}" in said["message"]


def test_on_a_tie_an_observation_whose_executions_differ_decides(tmp_path: Path) -> None:
    """Review L6: every ICC lower bound prints 1 (a field identical everywhere, `base`, first; `mean` differing in its
    last bits, far below the subjects' spread); the deciding observation was `base`, which never varies. On a tie
    an observation whose executions differ decides."""
    files = {}
    for s in range(6):
        for r in (1, 2, 3):
            mean = 100.0 * (s + 1) + (1e-12 if r == 2 else 0.0)
            files[(f"sub-{s}", r)] = {"m.json": json.dumps({"base": 10.0 * (s + 1), "mean": mean})}
    (out,) = ingested(tmp_path, "  m: {path: m.json, kind: scalars}\n", files).analyze().document["outputs"]
    icc = {o["name"]: o["icc"]["ICC(A,1)"]["ci_low"] for o in out["observations"]}
    assert list(icc) == ["base", "mean"] and icc["base"] == icc["mean"] == 1.0
    assert _reason(out, "ICC(A,1).ci_low >= 0.9")["observation"] == "mean"
