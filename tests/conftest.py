"""Shared fixtures: small studies on disk with real application scripts."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

APPS = Path(__file__).parent / "apps"
# The applications are scripts that the tests run as subprocesses, and the corpus cases hold scripts that are
# data: neither are test modules to import.
collect_ignore = ["apps", "corpus"]


# The invocation of tests/apps/bosh_scale.json (a Boutiques descriptor) with reprovip's placeholders.
BOSH_SCALE_INVOCATION = {
    "python": sys.executable,
    "script": str(APPS / "bosh_scale.py"),
    "input_file": "{input}",
    "out_dir": "{outdir}",
    "factor": "{factor}",
}


def unavailable(reason: str) -> None:
    """Skip, saying why, where a service or tool the test needs is missing; fail instead when CI is set (there
    ``scripts/test.sh`` installs and starts everything, so a skip would hide a broken setup)."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: this test must run)")
    pytest.skip(reason)


def write_study(
    root: Path,
    *,
    app: str = "det_app.py",
    factors: str = "",
    repetitions: int = 3,
    subjects: int = 3,
    outputs: str = "  result: {path: result.json, kind: scalars}\n",
    extra: str = "",
    args: str = '"{input}", "{outdir}"',
    interpreter: str = sys.executable,
) -> Path:
    """Write ``subjects`` inputs and a study.yaml running ``tests/apps/<app>``; return the study path."""
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    for i in range(subjects):
        (data / f"sub-{i + 1:02d}.txt").write_text(f"subject {10.0 + 7.5 * i}\n")
    text = (
        "application:\n"
        f'  command: ["{interpreter}", "{APPS / app}", {args}]\n'
        'subjects: {glob: "data/{subject}.txt"}\n'
        + (f"factors:\n{factors}" if factors else "")
        + f"repetitions: {repetitions}\n"
        + f"outputs:\n{outputs}"
        + extra
    )
    path = root / "study.yaml"
    path.write_text(text)
    return path


def ingested(root: Path, outputs: str, files: dict[tuple[str, int], dict[str, str | bytes]]) -> Any:
    """A study whose ``outputs`` (YAML lines under ``outputs:``) are ingested from ``results/SUBJECT/run-REP``
    folders holding ``files[(subject, rep)]`` (name -> text or bytes); returns the loaded Study."""
    folders = {f"{subject}/run-{rep}": content for (subject, rep), content in files.items()}
    return ingested_folders(root, outputs, folders, "{subject}/run-{repetition}")


def ingested_folders(root: Path, outputs: str, folders: dict[str, dict[str, str | bytes]], pattern: str) -> Any:
    """A study whose ``outputs`` are ingested from ``results/<folder>`` folders holding ``folders[folder]`` (name ->
    text or bytes), by the ingest pattern ``results/<pattern>``; returns the loaded Study."""
    from reprovip.study import Study

    for folder, content in folders.items():
        where = root / "results" / folder
        where.mkdir(parents=True)
        for name, data in content.items():
            (where / name).parent.mkdir(parents=True, exist_ok=True)
            (where / name).write_bytes(data if isinstance(data, bytes) else data.encode())
    (root / "study.yaml").write_text(f"outputs:\n{outputs}")
    study = Study.load(root / "study.yaml")
    study.ingest(f"results/{pattern}")
    return study


def execution_rows(study_id: int, n: int, *, subject: str = "sub-{i}", failed: tuple[int, ...] = ()) -> list[dict]:
    """Minimal ``executions`` rows (ids ``e0``, ``e1``...) for tests that fill a catalog directly."""
    return [
        dict(
            id=f"e{i}",
            study_id=study_id,
            subject=subject.format(i=i),
            condition_key="-",
            condition={},
            repetition=0,
            status="failed" if i in failed else "done",
        )
        for i in range(n)
    ]


@pytest.fixture
def study_dir(tmp_path: Path) -> Path:
    """An empty folder for a study."""
    d = tmp_path / "study"
    d.mkdir()
    return d
