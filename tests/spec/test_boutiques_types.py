"""Boutiques invocation values are typed by the descriptor's declared input types, checked at validate.

Review cases fp-hunt6/C/10 and C/11: a String input filled with subject `001` became the number 1 and every
execution failed ("1 is not of type 'string'"); a Flag could not be driven by a factor ("'False' is not of type
'boolean'"); a level outside `value-choices` passed validate and failed at run time; each error was an 8-line
schema dump.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from reprovip.cli.main import main
from reprovip.errors import InputError
from reprovip.spec.boutiques import bosh_launch_template, boutiques_command, launch_main, typed_invocation
from reprovip.study import Study

TOOL = {
    "name": "toy",
    "tool-version": "1.0",
    "description": "toy",
    "schema-version": "0.5",
    "command-line": "PYTHON [SCRIPT] [INPUT] [OUTDIR] [PREFIX] [VERBOSE] [MODE] [NOISE] [COUNT]",
    "inputs": [
        {"id": "python", "name": "python", "type": "String", "value-key": "PYTHON"},
        {"id": "script", "name": "script", "type": "File", "value-key": "[SCRIPT]"},
        {"id": "input_file", "name": "input", "type": "File", "value-key": "[INPUT]"},
        {"id": "out_dir", "name": "out", "type": "String", "value-key": "[OUTDIR]"},
        {"id": "prefix", "name": "prefix", "type": "String", "value-key": "[PREFIX]"},
        {
            "id": "verbose",
            "name": "v",
            "type": "Flag",
            "command-line-flag": "-v",
            "value-key": "[VERBOSE]",
            "optional": True,
        },
        {
            "id": "mode",
            "name": "mode",
            "type": "String",
            "value-key": "[MODE]",
            "command-line-flag": "--mode",
            "optional": True,
            "value-choices": ["fast", "exact"],
        },
        {
            "id": "noise",
            "name": "noise",
            "type": "Number",
            "value-key": "[NOISE]",
            "command-line-flag": "--noise",
            "optional": True,
        },
        {
            "id": "count",
            "name": "count",
            "type": "Number",
            "integer": True,
            "value-key": "[COUNT]",
            "command-line-flag": "--count",
            "optional": True,
        },
    ],
    "output-files": [{"id": "result", "name": "result", "path-template": "[OUTDIR]/[PREFIX]_res.csv"}],
}
APP = (
    "import argparse, os\n"
    "p = argparse.ArgumentParser()\n"
    "p.add_argument('input'); p.add_argument('outdir'); p.add_argument('prefix')\n"
    "p.add_argument('-v', action='store_true'); p.add_argument('--mode', default='exact')\n"
    "a = p.parse_args()\n"
    "open(os.path.join(a.outdir, a.prefix + '_res.csv'), 'w').write(f'k,val\\na,{open(a.input).read().strip()}\\n')\n"
)
BASE = {"python": "{python}", "script": "{study_dir}/tool.py", "input_file": "{input}", "out_dir": "{outdir}"}


def _study(root: Path, invocation: dict, factors: str = "") -> Path:
    (root / "data").mkdir(parents=True)
    for i in (1, 2):
        (root / "data" / f"00{i}.txt").write_text(f"{13 * i}.0\n")
    (root / "tool.json").write_text(json.dumps(TOOL))
    (root / "tool.py").write_text(APP)
    path = root / "study.yaml"
    path.write_text(
        f"application:\n  boutiques: tool.json\n  invocation: {json.dumps({**BASE, **invocation})}\n"
        "subjects: {glob: 'data/{subject}.txt'}\n"
        f"{factors}repetitions: 1\noutputs:\n  res: {{path: '{{subject}}_res.csv', kind: table, key_columns: [k]}}\n"
    )
    return path


def test_string_inputs_stay_text_and_flags_follow_a_factor(tmp_path: Path) -> None:
    """Subject ids `001`, `002` reach a String input as written; `verbose: [true, false]` drives the Flag."""
    study = Study.load(
        _study(tmp_path, {"prefix": "{subject}", "verbose": "{verbose}"}, "factors: {verbose: [true, false]}\n")
    )
    summary = study.run()
    assert (summary.done, summary.failed) == (4, 0)
    argvs = {}
    for row in study.executions().itertuples():
        argvs[(row.subject, row.condition_key)] = study.catalog.attempts(row.id)[0]["argv"][4:]
    assert len(argvs) == 4
    for (subject, condition), tail in argvs.items():
        assert tail == ([subject, "-v"] if condition == "verbose=true" else [subject]), (condition, tail)
    assert {s for s, _ in argvs} == {"001", "002"}


@pytest.mark.parametrize(
    ("invocation", "factors", "message"),
    [
        (
            {"prefix": "x", "mode": "{mode}"},
            "factors: {mode: [exact, slow]}\n",
            "application.invocation.mode: Boutiques input 'mode': 'slow' is not one of its value-choices ['fast', 'exact']",
        ),
        (
            {"prefix": "x", "verbose": "{v}"},
            "factors: {v: [true, maybe]}\n",
            "Boutiques input 'verbose' is a Flag: 'maybe' is not one of true, yes, 1, false, no, 0",
        ),
        (
            {"prefix": "x", "count": "{n}"},
            "factors: {n: [1, 2.5]}\n",
            "Boutiques input 'count' is a Number: '2.5' is not an integer",
        ),
        (
            {"prefix": "x", "noise": "{n}"},
            "factors: {n: [0, nan]}\n",
            "Boutiques input 'noise' is a Number: 'nan' is not a finite number",
        ),
        ({"prefix": 1.10}, "", "Boutiques input 'prefix' is a String: 1.1 is not one; quote it: \"1.1\""),
        (
            {"prefix": "x", "mod": "fast"},
            "",
            "application.invocation.mod: 'mod' is not an input of the Boutiques descriptor; its inputs: count, input_file",
        ),
    ],
)
def test_validate_refuses_a_value_the_input_cannot_take(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], invocation: dict, factors: str, message: str
) -> None:
    assert main(["validate", str(_study(tmp_path, invocation, factors))]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def test_a_refused_invocation_is_one_line_naming_the_input(tmp_path: Path) -> None:
    desc = tmp_path / "tool.json"
    desc.write_text(json.dumps(TOOL))
    values = {"python": sys.executable, "study_dir": str(tmp_path), "input": "/x", "outdir": str(tmp_path)}
    with pytest.raises(InputError, match=r"^Boutiques invocation: 'prefix' is a required property$"):
        boutiques_command(str(desc), dict(BASE), values, tmp_path)
    with pytest.raises(
        InputError, match=r"^Boutiques input 'mode': 'slow' is not one of its value-choices \['fast', 'exact'\]$"
    ):
        boutiques_command(str(desc), {**BASE, "prefix": "p", "mode": "{m}"}, {**values, "m": "slow"}, tmp_path)
    assert typed_invocation(
        TOOL, {"prefix": "{s}", "noise": "{s}", "count": "{s}", "verbose": "{f}"}, {"s": "007", "f": "No"}
    ) == {
        "prefix": "007",
        "noise": 7,
        "count": 7,
        "verbose": False,
    }


def test_the_bosh_launcher_refuses_in_one_line_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    desc = tmp_path / "tool.json"
    desc.write_text(json.dumps(TOOL))
    monkeypatch.chdir(tmp_path)
    inv = bosh_launch_template(str(desc), {**BASE, "prefix": "{subject}", "verbose": "{v}"})[5]  # base64
    argv = [str(desc), inv, f"--records={tmp_path}/r", "--value=subject=001", "--value=v=maybe", "--"]
    assert launch_main(argv) == 2
    assert capsys.readouterr().err.splitlines() == [
        "bosh exec launch refused the invocation: Boutiques input 'verbose' is a Flag: 'maybe' is not one of "
        "true, yes, 1, false, no, 0"
    ]
