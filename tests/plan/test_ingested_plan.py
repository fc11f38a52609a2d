"""A design the study file declares holds for ingested executions too (review IN)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reprovip.cli.main import main
from reprovip.study import Study
from tests.conftest import write_study


def _tree(root: Path, levels: tuple[int, ...], subjects: int, reps: int) -> None:
    """Results folders ``cl/threads-T/sub-NN/rep-R`` of a tool whose value depends on the subject only."""
    for t in levels:
        for s in range(subjects):
            for r in range(1, reps + 1):
                d = root / "cl" / f"threads-{t}" / f"sub-{s:02d}" / f"rep-{r}"
                d.mkdir(parents=True)
                (d / "result.json").write_text(json.dumps({"value": 10.0 * s + 1e-6 * r * t}))


def test_ingesting_half_of_a_declared_design_is_incomplete(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Review IN: a study running threads: [1, 4] over 3 subjects x 3 repetitions, of which only the cluster's
    threads=4 results were ingested, read "sufficiently reproducible" (exit 0): the plan check was off for
    ingested executions."""
    study = write_study(tmp_path, factors="  threads: [1, 4]\n", subjects=3, repetitions=3)
    subjects = sorted(p.name.removesuffix(".txt") for p in (tmp_path / "data").iterdir())
    for t in (4,):
        for s in subjects:
            for r in (1, 2, 3):
                d = tmp_path / "cl" / f"threads-{t}" / s / f"rep-{r}"
                d.mkdir(parents=True)
                (d / "result.json").write_text(json.dumps({"value": 10.0 * len(s) + subjects.index(s)}))
    assert main(["ingest", str(study), "--pattern", "cl/threads-{threads}/{subject}/rep-{repetition}"]) == 0
    assert main(["check", str(study)]) == 3
    out = capsys.readouterr().out
    assert "declares 9 execution(s) neither run nor ingested" in out
    assert main(["check", str(study), "--no-reanalyze"]) == 3  # not stale: incomplete
    doc = Study.load(study).analyze().document
    assert doc["executions"]["plan"]["not_run"] == 9 and doc["executions"]["plan"]["ingested"] is True


@pytest.mark.parametrize(
    ("yaml", "levels", "reps", "code", "not_run"),
    [
        ("factors:\n  threads: [1, 4]\nrepetitions: 3\n", (4,), 3, 3, 9),  # a level missing
        ("factors:\n  threads: [1, 4]\nrepetitions: 3\n", (1, 4), 2, 3, 6),  # a repetition missing
        ("factors:\n  threads: [1, 4]\nrepetitions: 3\n", (1, 4), 3, 0, 0),  # whole
        ("factors:\n  threads: [1, 4]\n", (1, 4), 2, 0, 0),  # repetitions not declared: as ingested
    ],
)
def test_an_ingest_only_study_declaring_its_design_holds_the_results_to_it(
    tmp_path: Path, yaml: str, levels: tuple[int, ...], reps: int, code: int, not_run: int
) -> None:
    """An ingest-only study (no application) that declares its factor levels, and its repetitions, is incomplete
    when the results folders hold less (review IN); one declaring nothing is analysed as ingested."""
    _tree(tmp_path, levels, 3, reps)
    (tmp_path / "study.yaml").write_text(yaml + "outputs:\n  result: {path: result.json, kind: scalars}\n")
    assert (
        main(["ingest", str(tmp_path / "study.yaml"), "--pattern", "cl/threads-{threads}/{subject}/rep-{repetition}"])
        == 0
    )
    assert main(["check", str(tmp_path / "study.yaml")]) == code
    plan = Study.load(tmp_path / "study.yaml").analyze().document["executions"]["plan"]
    assert plan.get("not_run", 0) == not_run and plan["ingested"] is True


def test_a_pattern_leaving_out_a_declared_factor_is_refused(tmp_path: Path) -> None:
    """Review N1: an ingest-only study declaring `version: ["1.9", "1.10"]`, ingested from `results/1.9/...` only
    (the pattern names no factor): "reproducible (bit-for-bit identical)", exit 0, 1.10 never said. The
    declared factors are the pattern's to name, as for a study that runs an application."""
    _tree(tmp_path, (1,), 2, 2)
    (tmp_path / "study.yaml").write_text(
        "factors:\n  threads: [1, 4]\noutputs:\n  result: {path: result.json, kind: scalars}\n"
    )
    assert main(["ingest", str(tmp_path / "study.yaml"), "--pattern", "cl/threads-1/{subject}/rep-{repetition}"]) == 2
    assert not (tmp_path / ".reprovip").exists() or not Study.load(tmp_path / "study.yaml").executions()


@pytest.mark.parametrize("layout", ["mode first", "levels written 01"])
def test_a_results_tree_laid_out_another_way_is_held_to_the_declared_design(
    tmp_path: Path, layout: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review N2: a study declaring threads [1, 2] x mode [a, b], ingested from `mode-{mode}/threads-{threads}`
    (or `threads-01`), s3 missing: the condition keys (`mode=a,threads=1`, `threads=01,...`) matched none the
    study declares, the plan check was off, and 8 of 24 missing executions read "reproducible", exit 0. The
    keys follow the study file's factor order and its spelling of whole numbers, as a run's do."""
    study = write_study(tmp_path, factors="  threads: [1, 2]\n  mode: [a, b]\n", subjects=3, repetitions=2)
    subjects = sorted(p.name.removesuffix(".txt") for p in (tmp_path / "data").iterdir())
    for t in (1, 2):
        for m in ("a", "b"):
            for s in subjects[:2]:
                for r in (1, 2):
                    level = f"0{t}" if layout == "levels written 01" else str(t)
                    d = tmp_path / "cl" / f"mode-{m}" / f"threads-{level}" / s / f"rep-{r}"
                    d.mkdir(parents=True)
                    (d / "result.json").write_text(json.dumps({"value": 1.0, "nested": {"sq": 1.0}}))
    pattern = "cl/mode-{mode}/threads-{threads}/{subject}/rep-{repetition}"
    assert main(["ingest", str(study), "--pattern", pattern]) == 0
    assert main(["check", str(study)]) == 3
    assert "declares 8 execution(s) neither run nor ingested" in capsys.readouterr().out
    keys = set(Study.load(study).executions()["condition_key"])
    assert keys == {"threads=1,mode=a", "threads=1,mode=b", "threads=2,mode=a", "threads=2,mode=b"}


def test_an_ingest_only_study_declaring_its_subjects_misses_an_absent_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review N3: an ingest-only study declaring 4 subjects (`subjects: {glob: ...}`) whose fourth results folder
    holds only a log: "reproducible (bit-for-bit identical)", 6 of 6 executions, exit 0. Declared subjects count."""
    _tree(tmp_path, (1,), 3, 2)
    (tmp_path / "data").mkdir()
    for s in range(4):
        (tmp_path / "data" / f"sub-{s:02d}.txt").write_text(str(s))
    (tmp_path / "study.yaml").write_text(
        "subjects: {glob: 'data/{subject}.txt'}\nrepetitions: 2\noutputs:\n  result: {path: result.json, kind: scalars}\n"
    )
    assert main(["ingest", str(tmp_path / "study.yaml"), "--pattern", "cl/threads-1/{subject}/rep-{repetition}"]) == 0
    assert main(["check", str(tmp_path / "study.yaml")]) == 3
    assert "declares 2 execution(s) neither run nor ingested" in capsys.readouterr().out
