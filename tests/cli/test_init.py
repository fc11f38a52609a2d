"""``reprovip init``: a study that runs from a fresh working folder, and says what it rewrote."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from reprovip.cli.main import main
from reprovip.spec import load_spec

CMD = [
    "python",
    "my_tool.py",
    "{input}",
    "{outdir}",
    "--config=conf.json",
    "--seed",
    "{seed}",
    "--threads",
    "{threads}",
]


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding the user's tool and data, made the current folder as a user would."""
    (tmp_path / "my_tool.py").write_text("print('hi')\n")
    (tmp_path / "conf.json").write_text("{}\n")
    (tmp_path / "data").mkdir()
    for s in ("a", "b", "c"):
        (tmp_path / "data" / f"{s}.txt").write_text(f"{s}\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_init_writes_python_and_study_dir_and_says_so(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "--", *CMD]) == 0
    spec = load_spec(here / "study.yaml")
    assert spec.application.command == [
        "{python}",
        "{study_dir}/my_tool.py",
        "{input}",
        "{outdir}",
        "--config={study_dir}/conf.json",
        "--seed",
        "{seed}",
        "--threads",
        "{threads}",
    ]
    out = capsys.readouterr().out.splitlines()
    assert out[:4] == [
        "wrote study.yaml",
        "  python -> {python}: the interpreter running reprovip (an environment's under an `environments` factor)",
        "  my_tool.py -> {study_dir}/my_tool.py: executions run in a fresh working folder",
        "  --config=conf.json -> --config={study_dir}/conf.json: executions run in a fresh working folder",
    ]
    assert out[-1] == (
        "next: edit subjects and outputs (marked EDIT), review factors, repetitions and criteria, "
        "then run `reprovip validate study.yaml`"
    )


def test_init_with_subjects_and_results_validates_and_runs_as_written(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "my_tool.py").write_text(
        "import json, sys\njson.dump({'n': len(open(sys.argv[1]).read())}, open(sys.argv[2] + '/n.json', 'w'))\n"
    )
    argv = ["init", "--subjects", "data/{subject}.txt", "--result", "count=n.json", "--result", "log=run.log:bytes"]
    assert main([*argv, "--", "python3", "my_tool.py", "{input}", "{outdir}"]) == 0
    out = capsys.readouterr().out
    assert "  subjects: data/{subject}.txt (3 found)\n  output: count = n.json (scalars)\n" in out
    assert (
        "  output: log = run.log (bytes: compared bit for bit only, no number read; :text reads a text file's)\n" in out
    )
    assert "next: review factors, repetitions and criteria, then run `reprovip validate study.yaml`" in out
    spec = load_spec(here / "study.yaml")
    assert {n: (o.path, o.kind) for n, o in spec.outputs.items()} == {
        "count": ("n.json", "scalars"),
        "log": ("run.log", "bytes"),
    }
    assert main(["validate", "study.yaml"]) == 0
    assert "3 subjects x 4 conditions x 3 repetitions = 36 executions" in capsys.readouterr().out


def test_init_guesses_labels_for_a_segmentation_by_its_name(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Review A: `--result seg=seg.nii.gz` was declared `kind: image` (no Dice, no HD95). A name that says
    segmentation is `labels`; a BIDS `_probseg` (probabilities, with its `label-GM` entity) and a T1w stay images."""
    results = ["seg=seg.nii.gz", "dseg=sub-01_dseg.nii.gz", "aseg=aparc+aseg.mgz", "mask=brain_mask.nii.gz"]
    results += ["gm=sub-01_label-GM_probseg.nii.gz", "t1=T1w.nii.gz", "len=segment_length.nii"]
    # FreeSurfer's label volumes without a segmentation word (review LB7), and its skull-stripped intensities
    results += ["wm=wmparc.mgz", "ribbon=ribbon.mgz", "synth=t1_synthseg.nii.gz", "bm=brainmask.mgz"]
    argv = ["init", *(x for r in results for x in ("--result", r)), "--", "true"]
    assert main(argv) == 0
    kinds = {n: o.kind for n, o in load_spec(here / "study.yaml").outputs.items()}
    labels = dict.fromkeys(("seg", "dseg", "aseg", "mask", "wm", "ribbon", "synth"), "labels")
    assert kinds == dict(labels, gm="image", t1="image", len="image", bm="image")
    assert load_spec(here / "study.yaml").name == "true"  # named after the command, quoted: YAML read True


def test_init_declares_the_voxels_of_a_pair_header(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Review BB: `--result a=pair.hdr` declared the header alone (`bytes`), and the study read "identical" while
    `pair.img` differed. Its voxels are declared beside it, unless given."""
    argv = ["init", "--result", "a=out/pair.hdr", "--result", "b=x.hdr.gz", "--result", "bv=x.img.gz", "--", "true"]
    assert main(argv) == 0
    outputs = {n: (o.path, o.kind) for n, o in load_spec(here / "study.yaml").outputs.items()}
    assert outputs == {
        "a": ("out/pair.hdr", "bytes"),
        "a_voxels": ("out/pair.img", "bytes"),
        "b": ("x.hdr.gz", "bytes"),
        "bv": ("x.img.gz", "bytes"),
    }
    assert "a_voxels = out/pair.img (bytes: the voxels of a's .hdr/.img pair)" in capsys.readouterr().out


def test_init_reads_text_reports_as_text(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Review KK: `.dat`, `.yaml`, `.xml`, `.ini` reports were declared `bytes`, and a report written `0.10`
    then `0.1` failed the study; the text reader reads their numbers by line."""
    results = ["a=vol.dat", "b=qc.yaml", "c=report.xml", "d=fit.ini", "e=mc.par", "f=blob.bin", "g=fit.table"]
    assert main(["init", *(x for r in results for x in ("--result", r)), "--", "true"]) == 0
    kinds = {n: o.kind for n, o in load_spec(here / "study.yaml").outputs.items()}
    assert kinds == dict(a="text", b="text", c="text", d="text", e="text", f="bytes", g="text")  # g: LCModel's
    assert "f = blob.bin (bytes: compared bit for bit only, no number read; :text reads a text file's)" in (
        capsys.readouterr().out
    )


def test_init_elsewhere_gives_files_outside_the_study_folder_absolute_paths(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "-o", "studies/one/study.yaml", "--", sys.executable, "my_tool.py", "{input}"]) == 0
    text = (here / "studies" / "one" / "study.yaml").read_text()
    assert f'command: ["{{python}}", "{here / "my_tool.py"}", "{{input}}"]' in text
    assert f"  my_tool.py -> {here / 'my_tool.py'}: executions run in a fresh working folder" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--result", "volumes"], "--result 'volumes': expected NAME=PATH or NAME=PATH:KIND"),
        (["--result", "v=v.csv:tabel"], "KIND one of image, labels, table, scalars, text, array, bytes"),
        (["--subjects", "data/*.txt"], "--subjects 'data/*.txt': the glob needs a {subject} capture"),
        (["-o", "data"], "data: is a folder; write the study file inside it with -o data/study.yaml"),
    ],
)
def test_init_bad_options_are_one_line_exit_2(
    here: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["init", *argv, "--", "python", "my_tool.py"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert not (here / "study.yaml").exists()


def test_init_over_a_folder_named_study_yaml_is_exit_2_even_with_force(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "study.yaml").mkdir()
    assert main(["init", "--force", "--", "python", "my_tool.py"]) == 2
    assert capsys.readouterr().err.strip() == (
        "reprovip: error: study.yaml: is a folder; write the study file inside it with -o study.yaml/study.yaml"
    )


def test_init_from_a_descriptor_proposes_its_output_files(tmp_path: Path, capsys) -> None:
    """Review U: `init --boutiques` wrote `result: result.nii.gz  # EDIT` beside a descriptor naming four outputs,
    and `extra_files: "<File>"` for a list input, which its own `validate` refused. The outputs come from the
    descriptor's `output-files` (relative to the output folder, value-keys as `*`, optional kept), and a list
    input's placeholder is a list; a printed result (`{stdout}`) is text."""
    import json

    desc = {
        "name": "bet",
        "command-line": "bet [IN] [OUT] [MASK_FLAG] [EXTRA]",
        "inputs": [
            {"id": "infile", "type": "File", "value-key": "[IN]"},
            {"id": "prefix", "type": "String", "value-key": "[OUT]"},
            {"id": "mask", "type": "Flag", "value-key": "[MASK_FLAG]", "command-line-flag": "-m", "optional": True},
            {"id": "extra_files", "type": "File", "list": True, "value-key": "[EXTRA]", "optional": True},
        ],
        "output-files": [
            {"id": "outfile", "path-template": "[OUT].nii.gz", "path-template-stripped-extensions": [".nii.gz"]},
            {"id": "mask_file", "path-template": "[OUT]_mask.nii.gz", "optional": True},
            {"id": "stats", "path-template": "[OUTDIR]/stats/volumes.csv"},
        ],
    }
    (tmp_path / "bet.json").write_text(json.dumps(desc))
    out = tmp_path / "study.yaml"
    assert main(["init", "-o", str(out), "--boutiques", str(tmp_path / "bet.json")]) == 0
    text = out.read_text()
    assert '  outfile: {path: "*.nii.gz", kind: image}' in text
    assert '  mask_file: {path: "*_mask.nii.gz", kind: labels, optional: true}' in text
    assert '  stats: {path: "stats/volumes.csv", kind: table}' in text
    assert 'extra_files: ["<File>"]' in text
    assert "output: mask_file = *_mask.nii.gz (labels, optional)" in capsys.readouterr().out
    printed = tmp_path / "printed.yaml"
    assert main(["init", "-o", str(printed), "--result", "out={stdout}", "--", "tool", "{input}"]) == 0
    assert '  out: {path: "{stdout}", kind: text}' in printed.read_text()


@pytest.mark.parametrize(
    ("result", "warned"),
    [("log=run.log", True), ("out=stdout.txt", True), ("r=report.txt", False), ("p={stdout}", False)],
)
def test_init_warns_that_a_log_reads_as_results(
    here: Path, capsys: pytest.CaptureFixture[str], result: str, warned: bool
) -> None:
    """Review NU: `--result log=run.log` was declared `text` without a word, and a deterministic tool read "not
    reproducible" on its log's time stamp, run time and thread count. `init` says what a log's numbers are."""
    assert main(["init", "--result", result, "--", "python3", "tool.py", "{outdir}"]) == 0
    out = capsys.readouterr().out
    assert (
        "a log: its time stamps, run times and settings vary between runs and will read as results" in out
    ) is warned


@pytest.mark.parametrize(
    ("command", "name"),
    [
        (["bet", "{input}", "{outdir}/brain"], "bet"),
        (["python", "-m", "mytool", "{input}", "{outdir}"], "mytool"),
        (["antsRegistration", "--dimensionality", "3", "--output", "{outdir}/x", "{input}"], "antsRegistration"),
        (["{python}", "{study_dir}/seg.py", "{input}"], "seg"),
    ],
)
def test_the_study_is_named_after_the_program_or_its_script(tmp_path: Path, command: list[str], name: str) -> None:
    """Review C: `init` named the study after the command's second word: `bet {input}` -> `_input_`, `python -m
    mytool` -> `s_-m`, `antsRegistration --dimensionality 3` -> `s_--dimensionality`."""
    out = tmp_path / "study.yaml"
    assert main(["init", "-o", str(out), "--", *command]) == 0
    assert f"name: {name}\n" in out.read_text()
