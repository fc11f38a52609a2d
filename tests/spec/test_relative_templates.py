"""A template rendering to a relative path of a study file is refused like the literal path.

Review case fp-hunt6/C/09: `data/sub-01.txt` in the command was refused, `data/{subject}.txt` was not; each
execution runs in a fresh working folder, a tolerant application read nothing there and wrote its default, and
the study read "bit-for-bit identical".
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reprovip.cli.main import main

TAIL = "a fresh working folder; write {study_dir}/"


def _study(root: Path, argument: str, *, rest: str = "", glob: str = "data/{subject}.txt") -> Path:
    for i in (1, 2):
        (root / "data").mkdir(parents=True, exist_ok=True)
        (root / "data" / f"s{i}.txt").write_text(f"{i}\n")
        (root / "folders" / f"s{i}").mkdir(parents=True, exist_ok=True)
        (root / "folders" / f"s{i}" / "t1.txt").write_text(f"{i}\n")  # a subject's folder holds its data
    (root / "conf").mkdir()
    (root / "conf" / "b.json").write_text("{}\n")
    path = root / "study.yaml"
    path.write_text(
        f'application: {{command: [python3, "{{study_dir}}/tool.py", "{argument}", "{{outdir}}"]}}\n'
        f"subjects: {{glob: '{glob}'}}\n{rest}outputs: {{o: {{path: o, kind: text}}}}\n"
    )
    (root / "tool.py").write_text("print(1)\n")
    return path


@pytest.mark.parametrize(
    ("argument", "rest", "glob", "message"),
    [
        ("data/{subject}.txt", "", "data/{subject}.txt", "'data/{subject}.txt' (rendered 'data/s1.txt') is a file"),
        ("--in=data/{subject}.txt", "", "data/{subject}.txt", "'data/{subject}.txt' (rendered 'data/s1.txt')"),
        ("conf/{cfg}.json", "factors: {cfg: [a, b]}\n", "data/{subject}.txt", "(rendered 'conf/b.json') is a file"),
        ("conf/{cfg_level}.json", "factors: {cfg: {a: 1, b: 2}}\n", "data/{subject}.txt", "(rendered 'conf/b.json')"),
        ("folders/{subject}", "", "folders/{subject}/", "'folders/{subject}' (rendered 'folders/s1') is a file"),
    ],
)
def test_a_template_naming_a_study_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argument: str, rest: str, glob: str, message: str
) -> None:
    path = _study(tmp_path, argument, rest=rest, glob=glob)
    assert main(["validate", str(path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    template = argument.removeprefix("--in=")
    assert len(lines) == 1 and message in lines[0] and lines[0].endswith(TAIL + template), lines
    assert ":1:57: application.command.2: " in lines[0]


def test_templates_of_the_working_folder_or_absolute_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`./` names the working folder on purpose; a name no study file has is the application's to make."""
    assert main(["validate", str(_study(tmp_path / "bad", "data/{subject}.txt"))]) == 2
    capsys.readouterr()
    for i, argument in enumerate(
        ["./data/{subject}.txt", "{subject}.txt", "{outdir}/{subject}.txt", "{study_dir}/data/{subject}.txt"]
    ):
        assert main(["validate", str(_study(tmp_path / str(i), argument))]) == 0, capsys.readouterr().err


def test_args_levels_render_subjects_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _study(tmp_path, "x", rest="factors: {args: {plain: [], mask: [--mask, 'data/{subject}.txt']}}\n")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "factors.args.mask.1: 'data/{subject}.txt' (rendered 'data/s1.txt') is a file of the study folder" in err


@pytest.mark.parametrize(
    ("subjects", "factors", "path", "rendered"),
    [
        ("{map: {s1: d/a.txt, '../../keep/precious': d/b.txt}}", "", "'{subject}.csv'", "'../../keep/precious.csv'"),
        ("{glob: 'd/{subject}.txt'}", "factors: {where: ['..', x]}\n", "'{where}/p.csv'", "'../p.csv'"),
        ("{glob: 'd/{subject}.txt'}", "factors: {where: ['/tmp', x]}\n", "'{where}/{repetition}.csv'", "'/tmp/x.csv'"),
    ],
)
def test_an_output_path_a_subject_or_level_takes_out_of_outdir_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], subjects: str, factors: str, path: str, rendered: str
) -> None:
    """A review: a `map` id ``../../../../keep/precious`` in ``{subject}.csv`` passed validate, and the run moved
    the user's ``keep/precious.csv`` into the store: gone from disk. The rendered path is judged, at validate and
    before anything runs."""
    (tmp_path / "d").mkdir()
    for name in ("a", "b"):
        (tmp_path / "d" / f"{name}.txt").write_text(f"{name}\n")
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "precious.csv").write_text("roi,vol\nA,42\n")
    study = tmp_path / "study.yaml"
    study.write_text(
        "application: {command: [python3, '-c', 'pass']}\n"
        + f"subjects: {subjects}\n{factors}repetitions: 1\noutputs: {{o: {{path: {path}, kind: table}}}}\n"
    )
    for command in ("validate", "run"):
        assert main([command, str(study)]) == 2
        err = capsys.readouterr().err
        assert f"outputs.o.path: renders to {rendered}, outside {{outdir}}" in err
    assert (tmp_path / "keep" / "precious.csv").read_text() == "roi,vol\nA,42\n"


@pytest.mark.parametrize(
    ("command", "refused"),
    [
        ("[python3, measure.py, '{outdir}']", True),
        ("['{python}', scripts/run.sh, '{outdir}']", True),
        ("[bash, measure.sh, '{outdir}']", True),
        ("[python3, -m, json.tool, '{outdir}']", False),  # a module, no script
        ("[python3, '{study_dir}/mesure.py', '{outdir}']", True),  # a typo (review R3)
        ("[python3, -m, mytool, '{outdir}']", True),  # a package of the study folder (review R3)
        ("[python3, '{study_dir}/tool.py', '{outdir}']", False),
        ("[python3, -c, 'print(1)', '{outdir}']", False),
    ],
)
def test_a_script_that_is_no_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, refused: bool
) -> None:
    """Review NU: `init` run from a folder without `measure.py` kept the bare name; `validate` said ok, and
    every execution failed in its fresh working folder. An interpreter's script that names no study file is
    refused, with where to find it."""
    path = _study(tmp_path, "x")
    (tmp_path / "mytool").mkdir()
    (tmp_path / "mytool" / "__main__.py").write_text("print(1)\n")
    text = path.read_text().splitlines()
    text[0] = f"application: {{command: {command}}}"
    path.write_text("\n".join(text) + "\n")
    assert main(["validate", str(path)]) == (2 if refused else 0)
    err = capsys.readouterr().err
    assert (
        bool(re.search("is no file of the study folder|does not exist|which no execution's Python path", err))
        is refused
    )
    if "mesure" in command:
        assert "application.command.1: script '{study_dir}/mesure.py' does not exist" in err
    elif "mytool" in command:
        assert "module 'mytool' is in the study folder" in err and 'PYTHONPATH: "{study_dir}"' in err
    elif refused:
        assert "application.command.1: script " in err and "give its path as {study_dir}/... or an absolute path" in err
