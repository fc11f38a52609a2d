"""What to do next (:func:`reprovip.report.guide.next_steps`), read from a stored analysis document."""

from __future__ import annotations

import numpy as np
import pytest

from reprovip.analyze.attribution import attribute
from reprovip.report.fmt import pct
from reprovip.report.guide import judged, next_steps


def _failed(plan: dict) -> dict:
    failure = dict(id="e1", subject="sub-01", error="missing output r.json")
    return dict(executions=dict(total=4, failed=1, failures=[failure], plan=plan), outputs=[])


@pytest.mark.parametrize(
    ("plan", "said", "not_said"),
    [
        (dict(checked=True, not_run=0), "fix them and run again (`reprovip run` resumes)", "ingest"),
        # Made elsewhere: `run` cannot make them again (before, an ingest-only study was told to run).
        (dict(checked=False, ingested=True, reason="declares no application"), "ingest them again", "reprovip run"),
    ],
)
def test_failed_executions_say_how_to_make_them_again(plan: dict, said: str, not_said: str) -> None:
    (step,) = next_steps(_failed(plan))
    assert step["culprit"] == "failed executions" and step["status"] == "incomplete"
    assert step["action"].startswith("1 of 4 executions failed (first error: missing output r.json): ")
    assert said in step["action"] and not_said not in step["action"]
    assert step["action"].endswith("; the verdict covers the others only")


def test_judged_matches_patterns_as_the_verdict_does() -> None:
    """A pattern with brackets names the observation spelled so (JSON ``fits[1].amp``), as
    :func:`reprovip.criteria.rules.matches` reads it for the verdict; fnmatch read ``[1]`` as a character class,
    so the report listed the observation the verdict judged as not judged, and ``fits1.amp`` as judged."""
    names = ["fits[0].amp", "fits[1].amp", "fits1.amp"]
    reason = dict(threshold=0.9, observations=["fits[1].amp"])
    output = dict(observations=[dict(name=n) for n in names], verdict=dict(reasons=[reason]))
    assert judged(output) == {"fits[1].amp"}
    reason["observations"] = ["fits[*].amp"]
    assert judged(output) == {"fits[0].amp", "fits[1].amp"}


def _output(status: str, factors: dict, *, repetitions_identical: bool = True, **extra) -> dict:
    """A stored output whose verdict is ``status`` with no failed reason, and the bitwise ``factors``."""
    bits = dict(identical=False, repetitions_identical=repetitions_identical, factors=factors)
    return dict(name="vol", verdict=dict(status=status, reasons=[]), bitwise=bits, **extra)


SEED = dict(changes_result=True, nondeterministic_levels=["random"], levels={"random": {}, "42": {}})
THREADS = dict(changes_result=True, nondeterministic_levels=[], levels={"1": {}, "2": {}})


@pytest.mark.parametrize(
    ("factors", "repetitions_identical", "action"),
    [
        ({"seed": SEED}, True, "within the criteria: no change needed; to remove the drift: use seed=42"),
        (
            {"threads": THREADS},
            True,
            "within the criteria: no change needed; to remove the drift: pin the thread count (threads: 1)",
        ),
        (
            {},
            False,
            "within the criteria: no change needed; to remove the drift: seed every random generator, run "
            "single-threaded, then look for parallel reductions",
        ),
        ({}, True, "within the criteria: no change needed"),
    ],
    ids=["quiet-level", "factor", "run-to-run", "nothing-to-remove"],
)
def test_a_drift_within_the_criteria_says_what_would_remove_it_in_a_sentence(
    factors: dict, repetitions_identical: bool, action: str
) -> None:
    """Before: "(use seed=42 would remove the drift)" and "(pin the thread count (threads: 1), or accept the
    drift it causes would remove the drift)"."""
    (step,) = next_steps(dict(outputs=[_output("pass", factors, repetitions_identical=repetitions_identical)]))
    assert step["action"] == action


def test_a_failing_output_says_what_was_found_then_the_fix() -> None:
    (step,) = next_steps(dict(outputs=[_output("fail", {"seed": SEED})]))
    assert step["action"] == "repetitions differ only at seed=random: use seed=42"


def _noisy(factor: str, levels: list[str]) -> dict:
    """The bitwise view of a factor whose every level has repetitions that differ: the bits blame nothing."""
    return dict(changes_result=False, explanation="", nondeterministic_levels=levels, levels={lv: {} for lv in levels})


def _attributed(factor: str, levels: list[str], shares: dict, *, observations: list[dict], **found) -> dict:
    """A warn output whose attribution is :func:`reprovip.analyze.attribution.attribute`'s on ``found``."""
    bits = dict(identical=False, repetitions_identical=False, repetitions=3, nondeterminism={})
    bits["factors"] = {factor: _noisy(factor, levels)}
    out = _output("warn", bits["factors"], repetitions_identical=False, observations=observations)
    out.update(attribution=attribute(bits, shares, **found), variance_shares=shares)
    return out


VERSION = dict(p=1e-9, observation="gm", subject="sub-3", carried=0.87)
VERSION_SOURCES = {"subject:version": 0.29, "version": 0.01, "repetition": 0.01}


@pytest.mark.parametrize(
    ("output", "culprit"),
    [
        # C/13: threads adds 150 to a quarter of the voxels; its median share over every differing voxel is tiny.
        (
            _attributed(
                "threads",
                ["1", "2"],
                {"threads": 8.28e-8, "repetition": 9.45e-6},
                observations=[],
                regions={"threads": 0.25},
            ),
            "threads, in 25% of the differing voxels",
        ),
        # A version that moved one subject: its share counts its interaction with the subjects, not a main effect.
        (
            _attributed(
                "version",
                ["1.0", "2.0"],
                {"version": 0.3, "repetition": 0.01},
                observations=[dict(name="gm", factor_p={"version": 0.5})],
                evidence={"version": 0.5},
                sources=VERSION_SOURCES,
                interactions={"version": VERSION},
            ),
            "version, on subject sub-3 (87% of its effect)",
        ),
        # The same share with a significant main effect: named by its share, as the attribution names it.
        (
            _attributed(
                "version",
                ["1.0", "2.0"],
                {"version": 0.3, "repetition": 0.01},
                observations=[dict(name="gm", factor_p={"version": 1e-6})],
                evidence={"version": 1e-6},
                sources=VERSION_SOURCES,
                interactions={"version": VERSION},
            ),
            "version (30% of the variance)",
        ),
    ],
    ids=["region", "one-subject", "main-effect"],
)
def test_the_culprit_says_where_the_factor_acts_as_the_attribution_found_it(output: dict, culprit: str) -> None:
    """The attribution's entries carry ``region`` and ``interaction`` (reprovip.analyze.attribution.attribute);
    before, the culprit read "threads (8.28e-06% of the variance)" and "version (30% of the variance)"."""
    assert output["attribution"]["factors"][0]["changes_result"]
    (step,) = next_steps(dict(outputs=[output]))
    assert step["culprit"] == culprit


def test_files_that_differ_only_where_nothing_is_measured_blame_no_drift() -> None:
    """A version that rewrote an image header: the bits blame it, every voxel agrees. Before: "version (0% of the
    variance)" and "within the criteria: no change needed; to remove the drift: pin the application version"."""
    version = dict(changes_result=True, nondeterministic_levels=[], levels={"1.0": {}, "2.0": {}})
    output = _output("warn", {"version": version}, unmeasured_differences=4, variance_shares={"version": 0.0})
    (step,) = next_steps(dict(outputs=[output]))
    assert step["culprit"] == "version: the files differ in what no observation measures"
    assert step["action"] == (
        "every value read from the files is the same in every execution of each subject, the files differ "
        "elsewhere (an image header's data type or units, a text field): compare two of them to see whether what "
        "differs matters"
    )


def test_sporadic_flakiness_gets_no_seed_advice() -> None:
    """D/08: one corrupt file among identical tables; the bitwise view and the attribution's summary say
    "sporadic ... not tied to a level". Before: "repetitions differ at fixed conditions (run-to-run
    nondeterminism): seed every random generator, run single-threaded"."""
    said = (
        "repetitions differ sporadically under threads=2 (for fewer than half of the subjects): run-to-run "
        "flakiness, not tied to a level"
    )
    nd = dict(quiet=["threads=1"], noisy=[], explanation=said)
    readable = dict(criterion="outputs readable", severity="fail", passed=False, estimable=False)
    output = _output("error", {"threads": _noisy("threads", [])}, repetitions_identical=False)
    output["bitwise"]["nondeterminism"] = nd
    output["verdict"].update(reasons=[readable], evidence=dict(trials=40, sentence=""))
    output["variance_shares"] = {"threads": 0.0, "repetition": 0.0}
    (step,) = next_steps(dict(outputs=[output]))
    assert step["culprit"] == "repetitions, sporadically (0% of the variance)"
    assert step["action"] == (
        f"{said}: look at the few executions that differ (a corrupt or truncated file, an interrupted run); "
        "not analysable: outputs readable (see the alerts)"
    )


def test_nothing_to_compare_says_so() -> None:
    """D/08: one execution per subject; the verdict's evidence has no trial. Before: "cause: repetitions. ."."""
    evidence = dict(trials=0, sentence="no two executions of one subject to compare")
    output = _output("error", {})
    output["bitwise"]["identical"] = True
    output["verdict"]["evidence"] = evidence
    (step,) = next_steps(dict(outputs=[output]))
    assert step["culprit"] == "nothing to compare"
    assert step["action"] == (
        "no two executions of one subject to compare: add repetitions or factor levels, run and analyse again"
    )


def test_an_unreadable_output_whose_files_are_all_alike_blames_no_one() -> None:
    """Review J (c09): every execution wrote an empty file: not analysable, and the card read "cause:
    repetitions ." though no execution differs."""
    output = _output("error", {})
    output["bitwise"]["identical"] = True
    output["verdict"]["reasons"] = [dict(criterion="outputs readable", passed=False, estimable=False, severity="fail")]
    (step,) = next_steps(dict(outputs=[output]))
    assert step["culprit"] == "none: every execution wrote the same bytes"
    assert step["action"] == "not analysable: outputs readable (see the alerts)"


def test_a_wcv_near_a_zero_mean_is_shown_with_its_value(tmp_path) -> None:
    """Review L (c03): the report read wCV "undefined" where the document and `check` said 475%: the same value in
    every view, with the note saying why it means little."""
    import json

    from reprovip.study import Study

    rng = np.random.default_rng(3)
    for s in range(2):
        for r in range(1, 4):
            folder = tmp_path / "results" / f"sub-{s}" / f"run-{r}"
            folder.mkdir(parents=True)
            (folder / "out.json").write_text(json.dumps({"value": 1000.0 * s + rng.normal() * 0.001}))
    (tmp_path / "study.yaml").write_text("outputs:\n  o: {path: out.json, kind: scalars}\n")
    study = Study.load(tmp_path / "study.yaml")
    study.ingest("results/{subject}/run-{repetition}")
    (out,) = study.analyze().document["outputs"]
    wcv = out["observations"][0]["wcv_rms"]
    assert wcv > 1
    html = study.report(tmp_path / "r.html").path.read_text()
    assert "undefined" not in html
    assert pct(wcv) in html
    assert "meaningless: a mean ≈ 0 (within one wSD of 0) divides it; read wSD" in html


def test_a_blamed_factor_without_a_share_of_its_own_is_said_so() -> None:
    """Review E: threads blamed by the bits, its main effect truncated to 0 (its effect in the repetitions'
    variance): the report and the dashboard read "cause: threads (0% of the variance)"."""
    output = _output("fail", {"threads": THREADS}, variance_shares={"threads": 0.0, "repetition": 0.2})
    (step,) = next_steps(dict(outputs=[output]))
    assert step["culprit"] == (
        "threads (no variance share of its own: its effect lies in its interactions or the repetitions' variance)"
    )
    output["variance_shares"]["threads"] = 0.25
    (step,) = next_steps(dict(outputs=[output]))
    assert step["culprit"] == "threads (25% of the variance)"


def test_a_blamed_factor_of_an_output_with_no_variance_is_told_by_its_comparisons() -> None:
    """Review I: a `bytes` output differing between threads levels only (repetitions agree): the report and the
    dashboard read "threads (no variance share of its own: its effect lies in its interactions or the
    repetitions' variance)", where no variance was computed and the repetitions agree."""
    threads = dict(THREADS, between_pairs=4, between_differ=4)
    (step,) = next_steps(dict(outputs=[_output("fail", {"threads": threads}, variance_shares={})]))
    assert step["culprit"] == (
        "threads (threads effect: 4 of 4 comparisons between levels differ; no variance computed for this output)"
    )


def test_a_factor_whose_repetitions_differ_under_some_levels_is_told_by_their_variance() -> None:
    """Review J: only solver=b adds run-to-run noise; the report read "cause: solver (0.064% of the variance)",
    its main effect's share, while the repetitions under solver=b carried 27% of it."""
    solver = dict(changes_result=True, nondeterministic_levels=["b"], levels={"a": {}, "b": {}})
    output = _output("fail", {"solver": solver}, variance_shares={"solver": 0.00064, "repetition": 0.266})
    (step,) = next_steps(dict(outputs=[output]))
    assert (
        step["culprit"]
        == "solver (the repetitions differ under solver=b only: 26.6% of the variance, in the repetitions)"
    )


def test_repetitions_differing_under_a_fixed_seed_single_threaded_get_no_seed_advice() -> None:
    """Review NN: a tool that ignores its seed (every condition noisy, threads=1,seed=42 too) was told "seed
    every random generator, run single-threaded", which the study had done."""
    factors = {"threads": _noisy("threads", ["1", "2"]), "seed": _noisy("seed", ["42", "unseeded"])}
    output = _output("fail", factors, repetitions_identical=False)
    output["bitwise"]["conditions"] = {
        "threads=1,seed=42": dict(cells=5, identical_cells=0),
        "threads=2,seed=42": dict(cells=5, identical_cells=0),
    }
    (step,) = next_steps(dict(outputs=[output]))
    assert step["action"].startswith(
        "repetitions differ even under threads=1,seed=42: the application does not use the seed it is given, or "
        "another source of randomness moves the result (the time, the process id"
    )
    output["bitwise"]["conditions"]["threads=1,seed=42"]["identical_cells"] = 5  # quiet there: the usual advice
    (step,) = next_steps(dict(outputs=[output]))
    assert "seed every random generator, run single-threaded" in step["action"]


def test_subjects_counted_twice_come_first() -> None:
    """Review ZZ: a study not analysable for copied subjects listed its outputs "pass ... no change needed" in the
    report's and dashboard's next steps, the copies only under the alerts."""
    copies = dict(output=None, severity="fail", duplicates=True, message="2 subjects are copies of one another")
    (first, _) = next_steps(dict(outputs=[_output("pass", {"threads": THREADS})], alerts=[copies]))
    assert (first["culprit"], first["status"], first["action"]) == (
        "subjects counted twice",
        "error",
        "2 subjects are copies of one another",
    )


def test_an_interaction_of_two_factors_is_named_as_their_combination(tmp_path) -> None:
    """Review C: +15 only under threads=2 with seed=2 read "threads changes the result (24.7%)" and "seed changes
    the result (24.7%)", the cause "threads (24.7%), seed (24.7%)", and the advice "fix the seed (a level such as
    42)" for seeds all fixed. Named as the combination, once; the seed's advice fits fixed seeds."""
    import numpy as np

    from tests.conftest import ingested_folders

    rng = np.random.default_rng(11)
    folders = {}
    for s in range(1, 7):
        for t in (1, 2):
            for seed in (1, 2):
                for r in (1, 2):
                    v = 10.0 * s + (15.0 if (t, seed) == (2, 2) else 0.0) + rng.normal(0, 1e-4)
                    folders[f"threads-{t}/seed-{seed}/s{s}/run-{r}"] = {"r.json": f'{{"volume": {v!r}}}'}
    study = ingested_folders(
        tmp_path,
        "  r: {path: r.json, kind: scalars}\n",
        folders,
        "threads-{threads}/seed-{seed}/{subject}/run-{repetition}",
    )
    doc = study.analyze().document
    (out,) = doc["outputs"]
    summary = out["attribution"]["summary"]
    assert "threads changes the result in combination with seed (their interaction threads:seed is" in summary
    assert "seed changes the result in combination with threads" in summary
    (step,) = [s for s in next_steps(doc) if s["output"] == "r"]
    assert step["culprit"].startswith("the combination threads x seed (") and step["culprit"].count("combination") == 1
    assert "the result depends on the seed's value (every level is a fixed seed)" in step["action"]
    assert "a seed level such as 42" not in step["action"]
