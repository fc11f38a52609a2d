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
