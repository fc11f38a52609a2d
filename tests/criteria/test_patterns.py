"""A criterion's ``observations`` patterns: the readers' names match as written, and a pattern that matches
nothing is said, never dropped.

Review 10 (b05): ``{require: "wcv <= 0.001", observations: ["volume", "fits[1].amp"]}`` passed although
``fits[1].amp`` had a wCV of 0.07: ``[1]`` was read as a glob character class (matching ``fits1.amp``, which
does not exist), and a pattern matching nothing was ignored because ``volume`` matched. The names are the
readers' (docs/readers.md: JSON ``a.b[2].c``, tables ``<rowkey>/<column>``, a column ``thickness [mm]``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reprovip.criteria.evaluate import output_verdict
from reprovip.criteria.rules import Criterion, matches, parse_rule
from tests.conftest import ingested


def _wcv(name: str, wcv: float) -> dict:
    return dict(name=name, constant=False, identical=False, wcv_rms=wcv)


def _output(*observations: dict) -> dict:
    return dict(name="fit", kind="scalars", observations=list(observations), summary={}, bitwise={})


def _only(verdict: dict, criterion: str) -> dict:
    (found,) = [r for r in verdict["reasons"] if r["criterion"] == criterion]
    return found


@pytest.mark.parametrize(
    ("name", "pattern", "expected"),
    [
        ("fits[1].amp", "fits[1].amp", True),  # a pattern equal to the name
        ("fits1.amp", "fits[1].amp", False),  # brackets are not a character class
        ("fits[0].amp", "fits[*].amp", True),
        ("hippo/thickness [mm]", "*/thickness [mm]", True),
        ("hippo/thickness m", "*/thickness [mm]", False),
        ("PCr/amplitude", "*/amplitude", True),
        ("p?", "p?", True),
        ("pq", "p?", True),  # `?` stays a wildcard
    ],
)
def test_a_pattern_matches_the_readers_names_as_written(name: str, pattern: str, expected: bool) -> None:
    assert matches(name, pattern) is expected


def test_an_observation_name_with_brackets_is_judged() -> None:
    """b05: the 5% noise of `fits[1].amp` fails `wcv <= 0.001` (it passed on `volume` alone)."""
    rule = Criterion(*parse_rule("wcv <= 0.001"), observations=("volume", "fits[1].amp"))
    out = _output(_wcv("volume", 1e-5), _wcv("fits[0].amp", 1e-5), _wcv("fits[1].amp", 0.07))
    verdict = output_verdict(out, [rule], {"executions": {}, "outputs": [out]})
    reason = _only(verdict, "wcv <= 0.001 [volume, fits[1].amp]")
    assert (reason["passed"], reason["estimable"], reason["observation"], reason["value"]) == (
        False,
        True,
        "fits[1].amp",
        0.07,
    )
    assert verdict["status"] == "fail"


def test_a_pattern_that_matches_nothing_is_not_estimable_beside_one_that_passes() -> None:
    """`Volume` (a typo) matched nothing and `amp` passed: the criterion read as met on both."""
    rule = Criterion(*parse_rule("wcv <= 0.001"), observations=("amp", "Volume"))
    out = _output(_wcv("volume", 0.5), _wcv("amp", 1e-5))
    verdict = output_verdict(out, [rule], {"executions": {}, "outputs": [out]})
    reason = _only(verdict, "wcv <= 0.001 [amp, Volume]")
    assert (reason["passed"], reason["estimable"]) == (False, False)
    assert reason["message"] == (
        "wcv <= 0.001 [amp, Volume]: not estimable: no observation matches Volume (did you mean `volume`?)"
    )
    assert verdict["status"] == "error"


def test_a_pattern_that_matches_no_observation_at_all_suggests_one_in_any_case() -> None:
    """Review J: `observations: ["SNR"]` on an output whose only observation is `snr` said "no observation matches
    SNR" without the suggestion criteria.md promises (difflib compares case)."""
    rule = Criterion(*parse_rule("wcv <= 0.001"), observations=("SNR",))
    out = _output(_wcv("snr", 1e-5))
    reason = _only(output_verdict(out, [rule], {"executions": {}, "outputs": [out]}), "wcv <= 0.001 [SNR]")
    assert not reason["estimable"] and reason["message"].endswith("no observation matches SNR (did you mean `snr`?)")


def test_a_pattern_that_matches_nothing_is_said_beside_a_failure() -> None:
    rule = Criterion(*parse_rule("wcv <= 0.001"), observations=("amp", "nothing*"))
    out = _output(_wcv("amp", 0.5))
    verdict = output_verdict(out, [rule], {"executions": {}, "outputs": [out]})
    reason = _only(verdict, "wcv <= 0.001 [amp, nothing*]")
    assert (reason["passed"], reason["estimable"], reason["observation"]) == (False, True, "amp")
    assert reason["message"] == "wcv = 0.5 on amp fails <= 0.001; no observation matches nothing*"
    assert verdict["status"] == "fail"


def test_a_pattern_that_matches_only_constant_observations_and_a_typo_is_no_pass() -> None:
    rule = Criterion(*parse_rule("wcv <= 0.001"), observations=("n_iter", "typo"))
    out = _output(dict(name="n_iter", constant=True, identical=True, wcv_rms=0.0))
    verdict = output_verdict(out, [rule], {"executions": {}, "outputs": [out]})
    reason = _only(verdict, "wcv <= 0.001 [n_iter, typo]")
    assert (reason["passed"], reason["estimable"]) == (False, False)
    assert "no observation matches typo" in reason["message"]


def test_a_pattern_is_matched_over_every_output_the_criterion_covers() -> None:
    """A criterion that names no output covers each output whose kind computes it: `volume` in one output and
    `amp` in another are both found; only a pattern no covered output has is said."""
    rule = Criterion(*parse_rule("wcv <= 0.001"), observations=("volume", "amp"))
    first, second = _output(_wcv("volume", 1e-5)), dict(_output(_wcv("amp", 1e-5)), name="other")
    document = {"executions": {}, "outputs": [first, second]}
    assert output_verdict(first, [rule], document)["status"] == "pass"
    assert output_verdict(second, [rule], document)["status"] == "pass"
    named = Criterion(*parse_rule("wcv <= 0.001"), outputs=("fit",), observations=("volume", "amp"))
    reason = _only(output_verdict(first, [named], document), "wcv <= 0.001 [volume, amp]")
    assert not reason["estimable"] and "no observation matches amp" in reason["message"]


def test_a_table_column_with_a_unit_in_brackets_is_judged(tmp_path: Path) -> None:
    """The reviewer's table: `thickness [mm]` varies by 5% between repetitions and was never selected by
    `*/thickness [mm]` (the class `[mm]` matched a column `thickness m`)."""
    files = {}
    for s in range(4):
        for r in (1, 2, 3):
            noise = 1 + 0.05 * ((r - 2) if s % 2 else (2 - r))
            files[(f"sub-{s}", r)] = {
                "seg.csv": f"region,volume,thickness [mm]\nhippo,{1000 + 50 * s},{(s + 1) * 10 * noise:.4f}\n",
                "fit.json": json.dumps({"fits": [{"amp": 1.0 + s}, {"amp": (1.0 + s) * noise}]}),
            }
    outputs = (
        "  seg: {path: seg.csv, kind: table}\n  fit: {path: fit.json, kind: scalars}\ncriteria:\n"
        '  - {require: "wcv <= 0.001", outputs: [seg], observations: ["*/volume", "*/thickness [mm]"]}\n'
        '  - {require: "wcv <= 0.001", outputs: [fit], observations: ["fits[1].amp"]}\n'
    )
    doc = ingested(tmp_path, outputs, files).analyze().document
    seg, fit = sorted(doc["outputs"], key=lambda o: o["name"], reverse=True)
    assert _only(seg["verdict"], "wcv <= 0.001 [*/volume, */thickness [mm]]")["observation"] == "hippo/thickness [mm]"
    assert _only(fit["verdict"], "wcv <= 0.001 [fits[1].amp]")["observation"] == "fits[1].amp"
    assert seg["verdict"]["status"] == fit["verdict"]["status"] == doc["verdict"]["status"] == "fail"


def test_a_misspelt_pattern_is_said_on_an_identical_output_too(tmp_path: Path) -> None:
    """Review B: `observations: [volumes]` (the field is `volume`) was never said while the output was identical:
    the typo surfaced only once the executions differed."""
    from reprovip.criteria.evaluate import evaluate

    files = {(f"s{s}", r): {"r.json": json.dumps({"volume": 10.0 * s})} for s in range(1, 4) for r in (1, 2)}
    doc = ingested(tmp_path, "  r: {path: r.json, kind: scalars}\n", files).analyze().document
    declared = [Criterion(*parse_rule("wcv <= 0.01"), observations=("volumes",))]
    (out,) = evaluate(doc, declared)["outputs"]
    (said,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "wcv <= 0.01 [volumes]"]
    assert (said["passed"], said["estimable"]) == (False, False)
    assert said["message"] == (
        "wcv <= 0.01 [volumes]: not estimable: no observation matches volumes (did you mean `volume`?)"
    )
    right = evaluate(doc, [Criterion(*parse_rule("wcv <= 0.01"), observations=("volume",))])["outputs"][0]
    assert right["verdict"]["status"] == "identical"


def test_a_pattern_that_selects_only_ignored_observations_says_so(tmp_path: Path) -> None:
    """Review B: a criterion on `vol`, which the output's `ignore` leaves out, read "no observation matches vol"
    with no word of `ignore`."""
    from reprovip.criteria.evaluate import evaluate

    files = {
        (f"s{s}", r): {"r.json": json.dumps({"vol": 10.0 * s + r, "snr": 5.0 * s})} for s in (1, 2, 3) for r in (1, 2)
    }
    outputs = "  r: {path: r.json, kind: scalars, ignore: [vol]}\n"
    doc = ingested(tmp_path, outputs, files).analyze().document
    (out,) = evaluate(doc, [Criterion(*parse_rule("wcv <= 0.1"), observations=("vol",))])["outputs"]
    (said,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "wcv <= 0.1 [vol]"]
    assert said["message"].endswith("no observation matches vol (the output's `ignore` leaves out vol)")
