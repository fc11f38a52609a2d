"""End to end: a JSON output with a duplicated key, through ``reprovip run`` and ``reprovip check``.

``tests/apps/dupkey_app.py differ`` writes ``{"metrics": {"a": <subject + repetition>, "b": 1.0, "a":
<subject>}}``: ``json.loads`` keeps the last ``a``, the same in every repetition, so before the reader refused
duplicated keys the study read "reproducible (bit-for-bit identical)" (semantic hashes equal) although the
files differ. The data is ambiguous: the verdict must be "not analysable", never a pass.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reprovip.cli.main import main
from reprovip.criteria.verdict import EXIT_CODES, LABELS
from reprovip.study import Study
from tests.conftest import write_study


def test_duplicated_json_key_makes_the_study_not_analysable(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = write_study(
        tmp_path,
        app="dupkey_app.py",
        args='"{input}", "{outdir}", "{repetition}", "differ"',
        subjects=2,
        repetitions=2,
        extra="name: dupkey\nretries: 0\n",
    )
    Study.load(path).run(jobs=2)
    capsys.readouterr()
    assert main(["check", str(path)]) == EXIT_CODES["error"] == 1
    printed = capsys.readouterr().out
    assert printed.rstrip().splitlines()[-1] == f"dupkey: {LABELS['error']}" == "dupkey: not analysable"
    assert "result: outputs readable" in printed and "Error" in printed
    assert "bit-for-bit identical" not in printed.replace("0 of 1 outputs bit-for-bit identical", "")
    document = json.loads((Study.load(path).results / "analysis.json").read_text())
    (out,) = document["outputs"]
    (reason,) = [r for r in out["verdict"]["reasons"] if r["criterion"] == "outputs readable"]
    assert not reason["passed"] and not reason["estimable"]
    assert reason["message"].startswith("4 output file(s) could not be read: subject sub-01, repetition 1: ")
    assert "duplicated key 'metrics.a' (\"a\" appears 2 times in one object" in reason["message"]
    assert "the application writes the key twice; fix it to write each key once" in reason["message"]
    assert out["verdict"]["status"] == document["verdict"]["status"] == "error"
