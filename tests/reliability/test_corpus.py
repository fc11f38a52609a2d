"""The bad-input corpus: every folder of tests/corpus is one case, so adding a case is adding a folder.

A case holds the files it needs (usually a study.yaml, inputs or a results tree) and a case.json:
``steps`` (CLI argv lists; ``{study}``, ``{dir}`` are replaced), the last step's expected ``exit`` code, and
what it must say: a ``stderr`` substring (a one-line error), a ``stdout`` substring, an ``output_error``
(an output of the analysis document whose errors mention a text) or an ``output_verdict``.
No case may print a traceback.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reprovip.cli.main import main

CORPUS = Path(__file__).parents[1] / "corpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "case.json").exists())


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 50


@pytest.mark.parametrize("name", CASES)
def test_case(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / name
    shutil.copytree(CORPUS / name, folder)
    spec = json.loads((folder / "case.json").read_text())
    code = None
    for i, step in enumerate(spec["steps"]):
        argv = [a.replace("{study}", str(folder / "study.yaml")).replace("{dir}", str(folder)) for a in step]
        code = main(argv)
        out, err = capsys.readouterr()
        assert "Traceback" not in err + out
        if i < len(spec["steps"]) - 1:
            assert code == 0, err
    assert code == spec["exit"], err
    if "stderr" in spec:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("reprovip: error: "), err
        assert spec["stderr"] in lines[0]
        assert str(folder) in lines[0] or "pattern" in lines[0], "the message names the file"
    if "stdout" in spec:
        assert spec["stdout"] in out
    if "output_error" in spec or "output_verdict" in spec:
        doc = json.loads((folder / "a.json").read_text())
        want = spec.get("output_error") or spec["output_verdict"]
        output = next(o for o in doc["outputs"] if o["name"] == want["output"])
        if "output_error" in spec:
            said = " ".join(
                [output.get("error") or ""] + [f"{e['subject']} {e['error']}" for e in output.get("errors", [])]
            )
            assert want["contains"] in said, said
        else:
            assert output["bitwise"]["identical"] is want["identical"]
            assert output["verdict"]["status"] == want.get("status", output["verdict"]["status"])
            assert want.get("reason", "") in " ".join(r["message"] for r in output["verdict"]["reasons"])
