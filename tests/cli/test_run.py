"""``reprovip run``: an executor's unknown option is one line, exit 2, before anything runs (review DK6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprovip.cli.main import main
from reprovip.study import Study
from tests.conftest import write_study


@pytest.mark.parametrize(
    ("executor", "line"),
    [
        (
            "local?x=1",
            "reprovip: error: executor 'local?x=1': unknown option 'x'; the `local` executor takes no options",
        ),
        (
            "dask-local?x",
            "reprovip: error: executor 'dask-local?x': unknown option 'x'; the `dask-local` executor accepts `shared`, "
            "`processes`",
        ),
    ],
)
def test_an_unknown_executor_option_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], executor: str, line: str
) -> None:
    """Before, `local?x=1` was accepted silently and the study ran (exit 0)."""
    if executor.startswith("dask"):
        pytest.importorskip("distributed")
    path = write_study(tmp_path, subjects=1, repetitions=1)
    assert main(["run", str(path), "--executor", executor, "--no-progress"]) == 2
    assert capsys.readouterr().err.splitlines() == [line]
    study = Study.load(path)
    sid = study.catalog.study_id(study.name)
    assert sid is None or [e["status"] for e in study.catalog.executions(sid)] in ([], ["pending"])
