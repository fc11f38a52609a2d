"""What may keep a built-in factor from reaching the application, said by ``validate`` (docs/study-format.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from reprovip.cli.main import main

DESCRIPTOR = {
    "name": "ttool",
    "tool-version": "1",
    "description": "a tool with its own thread-count input",
    "schema-version": "0.5",
    "command-line": f"{sys.executable} tool.py [INPUT] [OUT] [NT]",
    "inputs": [
        {"id": "input", "name": "i", "type": "File", "value-key": "[INPUT]"},
        {"id": "out", "name": "o", "type": "String", "value-key": "[OUT]"},
        {
            "id": "nthreads",
            "name": "n",
            "type": "Number",
            "integer": True,
            "value-key": "[NT]",
            "command-line-flag": "--nthreads",
            "optional": True,
            "default-value": 1,
        },
    ],
    "output-files": [{"id": "res", "name": "r", "path-template": "[OUT]/res.csv"}],
}


@pytest.mark.parametrize(
    ("nthreads", "said"),
    [
        (None, "gets its default-value 1 in every condition"),
        ("1", "gets the value '1' in every condition"),
        ("{threads}", None),
    ],
)
def test_a_boutiques_thread_input_left_to_its_default_or_a_literal_is_warned_of(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], nthreads: str | None, said: str | None
) -> None:
    """Review N5: `threads: [1, 2]` with a tool reading its own `--nthreads` (default-value 1, or `nthreads: 1` in
    the invocation): every level ran `--nthreads 1`, "bit-for-bit identical", and `validate` said ok, where the
    same literal in a plain command is warned of."""
    (tmp_path / "d.json").write_text(json.dumps(DESCRIPTOR))
    (tmp_path / "tool.py").write_text("")
    (tmp_path / "data").mkdir()
    for s in ("s1", "s2"):
        (tmp_path / "data" / f"{s}.txt").write_text(s)
    invocation = {"input": "{input}", "out": "{outdir}"} | ({"nthreads": nthreads} if nthreads else {})
    (tmp_path / "study.yaml").write_text(
        f"application:\n  boutiques: d.json\n  invocation: {json.dumps(invocation)}\n"
        "subjects: {glob: 'data/{subject}.txt'}\nfactors: {threads: [1, 2]}\nrepetitions: 2\n"
        "outputs: {res: {path: res.csv, kind: table}}\n"
    )
    assert main(["validate", str(tmp_path / "study.yaml")]) == 0
    err = capsys.readouterr().err
    if said is None:
        assert "Boutiques input" not in err
    else:
        assert (
            f"warning: factor 'threads' has its levels but the Boutiques input 'nthreads' (--nthreads) {said}, which "
            'overrides the variables the factor sets; write `nthreads: "{threads}"` in the invocation'
        ) in err
