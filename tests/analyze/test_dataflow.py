"""Where it diverges: the four-step pipeline of tests/apps/pipeline_app.py, whose step 2 adds unseeded noise under
OMP_NUM_THREADS=2 and whose step 3 does under an unseeded generator (step 1 and step 3's count.json are
deterministic controls), run for real and traced with `files` and `processes`; the origin and the propagated
files are known by construction."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from reprovip.analyze.dataflow import dataflow
from reprovip.execute import trace
from reprovip.report import render_report
from tests.execute.test_trace import pipeline_study

FACTORS = "  threads: [1, 2]\n  seed: [42, {unseeded: none}]\n"
STEP = "python pipeline_app.py --step {n} (writes {w})"
S1, S2 = STEP.format(n=1, w="step1/loaded.json"), STEP.format(n=2, w="step2/denoised.json")
S3 = STEP.format(n=3, w="step3/count.json, step3/scaled.json")
S4 = STEP.format(n=4, w="out/result.json")


def _analyzed(study_dir: Path, mode: str, factors: str = FACTORS) -> dict:
    study = pipeline_study(study_dir, mode, factors=factors, subjects=2)
    assert study.run(jobs=2).ok
    doc = study.analyze().document
    doc["report_html"] = render_report(study, study_dir / "report.html").read_text()
    return doc


def _flow_lists(text: str) -> list[list[tuple[str, str]]]:
    """The report's pipeline lists: (status, step or file) in order, one list per contrast."""
    section = text.split('<section id="dataflow">', 1)[1].split("</section>", 1)[0]
    return [
        [
            (st, html.unescape(name))
            for st, name in re.findall(r'<span class="badge st-[a-z]+">([a-z ]+)</span> <code>([^<]*)</code>', ol)
        ]
        for ol in section.split('<ol class="flow">')[1:]
    ]


def _by_label(doc: dict) -> dict:
    return {c["label"]: c for c in doc["dataflow"]["contrasts"]}


def test_files_trace_names_the_first_divergent_file_per_factor_level(study_dir: Path) -> None:
    doc = _analyzed(study_dir, "files")
    flow = doc["dataflow"]
    assert (flow["mode"], flow["traced"], flow["untraced"], flow["steps"]) == ("files", 16, 0, None)
    c = _by_label(doc)
    ref = c["the reference condition (threads=1, seed=42)"]
    assert (ref["first"], ref["later"]) == (None, [])
    assert (c["threads=2"]["first"], c["threads=2"]["later"]) == (
        "step2/denoised.json",
        ["step3/scaled.json", "out/result.json"],
    )
    # Under seed=unseeded, step 2 is identical (threads=1): the divergence starts one step later.
    assert (c["seed=unseeded"]["first"], c["seed=unseeded"]["later"]) == ("step3/scaled.json", ["out/result.json"])
    pattern = c["threads=2"]["files"]
    assert pattern["step1/loaded.json"] == dict(within=True, vs_reference=True, diverges=False)
    assert pattern["step2/denoised.json"] == dict(within=False, vs_reference=False, diverges=True)
    assert pattern["step3/count.json"]["diverges"] is False  # the control: same count whatever the values
    assert c["threads=2"]["sentence"] == (
        "under threads=2 the first divergent file is `step2/denoised.json`; 2 later files differ "
        "(consistent with propagation; only `trace: processes` can tell)"
    )
    assert (
        "where it diverges: under threads=2 the first divergent file is `step2/denoised.json`"
        in (doc["outputs"][0]["attribution"]["summary"])
    )
    assert _flow_lists(doc["report_html"])[1] == [
        ("identical", "step1/loaded.json"),
        ("first", "step2/denoised.json"),
        ("identical", "step3/count.json"),
        ("later", "step3/scaled.json"),
        ("later", "out/result.json"),
    ]


@pytest.mark.skipif(trace.strace_problem() is not None, reason=f"strace cannot trace here: {trace.strace_problem()}")
def test_processes_trace_names_the_origin_step_and_the_propagated_ones(study_dir: Path) -> None:
    doc = _analyzed(study_dir, "processes")
    flow = doc["dataflow"]
    assert flow["mode"] == "processes" and [s["name"] for s in flow["steps"]] == [S1, S2, S3, S4]
    c = _by_label(doc)
    assert c["the reference condition (threads=1, seed=42)"]["steps"] == {
        S1: "identical",
        S2: "identical",
        S3: "identical",
        S4: "identical",
    }
    assert c["threads=2"]["steps"] == {S1: "identical", S2: "origin", S3: "propagated", S4: "propagated"}
    assert c["seed=unseeded"]["steps"] == {S1: "identical", S2: "identical", S3: "origin", S4: "propagated"}
    assert (c["threads=2"]["origins"], c["threads=2"]["propagated"]) == ([S2], [S3, S4])
    assert (
        c["seed=unseeded"]["sentence"]
        == f"under seed=unseeded the divergence starts at step `{S3}`; 1 later files differ as a consequence"
    )
    summary = doc["outputs"][0]["attribution"]["summary"]
    assert f"where it diverges: under threads=2 the divergence starts at step `{S2}`; 2 later files differ" in summary
    # The report draws each contrast's pipeline, steps in order, coloured by status.
    assert _flow_lists(doc["report_html"]) == [
        [("identical", S1), ("identical", S2), ("identical", S3), ("identical", S4)],
        [("identical", S1), ("origin", S2), ("propagated", S3), ("propagated", S4)],
        [("identical", S1), ("identical", S2), ("origin", S3), ("propagated", S4)],
    ]


def test_pipeline_without_divergence_has_no_origin_and_attribution_unchanged(study_dir: Path) -> None:
    # Noise only comes at threads=2 or an unseeded generator: 1 and 3 threads, seeds 42 and 7 agree everywhere.
    doc = _analyzed(study_dir, "files", factors="  threads: [1, 3]\n  seed: [42, 7]\n")
    assert [(c["label"], c["first"], c["compared"]) for c in doc["dataflow"]["contrasts"]] == [
        ("the reference condition (threads=1, seed=42)", None, True),
        ("threads=3", None, True),
        ("seed=7", None, True),
    ]
    assert doc["outputs"][0]["attribution"]["summary"] == "bit-for-bit identical across all executions"


def _t(subject: str, level: str, files: dict[str, str]) -> dict:
    rows = [dict(relpath=p, write_order=i, semantic_hash=None, blob=h) for i, (p, h) in enumerate(files.items())]
    return dict(subject=subject, condition={"threads": level}, mode="files", note=None, files=rows, processes=[])


def test_a_file_unstable_under_the_reference_is_not_blamed_on_another_level() -> None:
    traces = [
        _t("s", "1", {"a": "x", "b": "p"}),
        _t("s", "1", {"a": "x", "b": "q"}),
        _t("s", "2", {"a": "y", "b": "r"}),
        _t("s", "2", {"a": "y", "b": "r"}),
    ]
    c = {x["label"]: x for x in dataflow(traces, {"threads": ["1", "2"]}, 4)["contrasts"]}
    assert c["the reference condition (threads=1)"]["first"] == "b"
    # threads=2 changes `a` (stable on both sides, different values) but `b` already varies at the reference.
    assert (c["threads=2"]["first"], c["threads=2"]["later"]) == ("a", [])
    assert c["threads=2"]["files"]["a"] == dict(within=True, vs_reference=False, diverges=True)


def test_a_file_some_executions_did_not_write_diverges() -> None:
    traces = [_t("s", "1", {"a": "x", "b": "y"}), _t("s", "1", {"a": "x"})]
    flow = dataflow(traces, {"threads": ["1"]}, 2)
    assert flow["contrasts"][0]["first"] == "b"


def test_a_level_without_traced_executions_concludes_nothing() -> None:
    traces = [_t("s", "2", {"a": "x"}), _t("s", "2", {"a": "y"})]
    flow = dataflow(traces, {"threads": ["1", "2"]}, 3)
    assert flow["untraced"] == 1
    assert [(c["compared"], c["first"], c["sentence"]) for c in flow["contrasts"]] == [
        (False, None, "no traced execution under the reference condition (threads=1)"),
        (
            False,
            None,
            "under threads=2: the reference condition has no traced execution of the same subjects to compare",
        ),
    ]


def _p(subject: str, level: str, files: dict[str, str], steps: list[tuple[str, list[str], list[str]]]) -> dict:
    t = _t(subject, level, files)
    t["mode"] = "processes"
    t["processes"] = [dict(argv=[name], writes=w, reads=r) for name, w, r in steps]
    return t


def test_a_step_adding_run_to_run_variation_after_an_earlier_origin_is_an_origin_too() -> None:
    """Case study C without its pin: under threads=2, N4 changes its output (the same in every repetition) and
    the registration, reading that stable input, varies from run to run. Before, the registration was only
    `propagated` (its input differs from the reference), hiding the second source of nondeterminism."""
    steps = [("n4", ["a"], []), ("register", ["b"], ["a"]), ("segment", ["c"], ["b"])]
    traces = [
        _p("s", "1", {"a": "x", "b": "x", "c": "x"}, steps),
        _p("s", "1", {"a": "x", "b": "x", "c": "x"}, steps),
        _p("s", "2", {"a": "y", "b": "p", "c": "p"}, steps),
        _p("s", "2", {"a": "y", "b": "q", "c": "q"}, steps),
    ]
    c = {x["label"]: x for x in dataflow(traces, {"threads": ["1", "2"]}, 4)["contrasts"]}["threads=2"]
    names = {n: n for n in c["steps"]}
    n4, register, segment = (next(k for k in names if k.startswith(p)) for p in ("n4", "register", "segment"))
    assert c["steps"] == {n4: "origin", register: "origin", segment: "propagated"}
    assert c["origins"] == [n4, register] and c["adds_variation"] == [register] and c["propagated"] == [segment]
    assert c["sentence"] == (
        f"under threads=2 the divergence starts at step `{n4}`; `{register}` (varies between repetitions of the "
        "same input); 1 later files differ as a consequence"
    )
    # A deterministic change after the first origin stays `propagated`.
    stable = [
        _p("s", "1", {"a": "x", "b": "x", "c": "x"}, steps),
        _p("s", "2", {"a": "y", "b": "z", "c": "z"}, steps),
        _p("s", "2", {"a": "y", "b": "z", "c": "z"}, steps),
    ]
    c = {x["label"]: x for x in dataflow(stable, {"threads": ["1", "2"]}, 3)["contrasts"]}["threads=2"]
    assert c["origins"] == [n4] and c["adds_variation"] == []
