"""``validate``: every error at once, each at its file:line:column, and what would certainly fail at run time."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reprovip.cli.main import main
from reprovip.errors import SpecError
from reprovip.spec import parse_spec
from reprovip.spec.checks import command_problems, same_payload_problems
from reprovip.spec.loader import locator
from reprovip.spec.subjects import from_glob
from reprovip.study import Study
from tests.conftest import unavailable

STUDY = """\
application:
  command: [{program}, "{{study_dir}}/tool.py", "{{input}}", "{{outdir}}"{extra}]
subjects: {{glob: "data/{{subject}}.txt"}}
{rest}outputs:
  result: {{path: result.json, kind: scalars}}
"""


def _study(root: Path, *, program: str = "python3", extra: str = "", rest: str = "", subjects: int = 2) -> Path:
    (root / "data").mkdir(parents=True, exist_ok=True)
    for i in range(subjects):
        (root / "data" / f"s{i}.txt").write_text(f"{i}\n")
    (root / "tool.py").write_text("print(1)\n")
    path = root / "study.yaml"
    path.write_text(STUDY.format(program=program, extra=extra, rest=rest))
    return path


def _validate(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["validate", str(path)])
    return code, capsys.readouterr().err.strip().splitlines()


def test_every_error_is_reported_at_once_each_at_its_place() -> None:
    text = (
        "application: {command: [echo, '{outdr}']}\n"
        "subjects: {glob: 'd/{subject}'}\n"
        "factors:\n"
        "  threads: [1, 0]\n"
        "  seed: [42, fresh]\n"
        "repetitions: 0\n"
        "outputs: {o: {path: o, kind: txt}}\n"
    )
    with pytest.raises(SpecError, match=r"factors.threads.1") as info:
        parse_spec(text, file="s.yaml")
    lines = str(info.value).splitlines()
    assert lines == [
        "s.yaml:4:16: factors.threads.1: `threads` levels must be integers >= 1 and <= 4096, got 0",
        "s.yaml:5:14: factors.seed.1: `seed` levels must be integers or 'random' (a fresh seed drawn per "
        "execution), or {unseeded: WORD} (the application's own word for unseeded, e.g. none or -1), got 'fresh'",
        "s.yaml:6:1: repetitions: Input should be greater than or equal to 1 (got 0)",
        "s.yaml:7:24: outputs.o.kind: Input should be 'image', 'labels', 'table', 'scalars', 'text', 'array' or "
        "'bytes' (got 'txt')",
    ]
    assert len(info.value.others) == 3


def test_spec_checks_needing_a_spec_are_all_reported() -> None:
    text = (
        "application: {command: [echo, '{outdr}', '{seed}']}\n"
        "env: {A: '{sed}'}\n"
        "outputs: {o: {path: o, kind: text}}\n"
        "criteria: [{require: 'dice_min >= 0.9', outputs: [nope]}]\n"
    )
    with pytest.raises(SpecError, match=r"outdr") as info:
        parse_spec(text, file="s.yaml")
    lines = str(info.value).splitlines()
    assert [line.split(": ")[0] + ": " + line.split(": ")[1] for line in lines] == [
        "s.yaml:1:31: application.command.1",
        "s.yaml:1:42: application.command.2",
        "s.yaml:2:7: env.A",
        "s.yaml:4:51: criteria.0.outputs.0",
    ]
    assert lines[2].startswith("s.yaml:2:7: env.A: unknown placeholder {sed} (known: input, outdir, python,")


@pytest.mark.parametrize("metric", ["dice_min >= 0.9", "voxel_icc_a1_median >= 0.9", "identical", "failure_rate <= 0"])
def test_observations_on_a_whole_output_metric_are_refused(metric: str) -> None:
    """`observations:` on a metric with one value per output was ignored: the criterion read as covering only
    those labels while it judged them all (found by review, left alone in session 8)."""
    text = (
        "application: {command: [echo, '{outdir}']}\noutputs: {o: {path: o.nii.gz, kind: labels}}\n"
        f"criteria:\n  - {{require: '{metric}', observations: ['label 3']}}\n"
    )
    with pytest.raises(SpecError) as info:
        parse_spec(text, file="s.yaml")
    name = metric.split()[0]
    assert str(info.value) == (
        f"s.yaml:4:5: criteria.0: `observations` selects observations of a table, scalars or label-volume output; "
        f"`{name}` is one value for the whole output (or study): remove `observations`, or use a per-observation "
        "metric (docs/criteria.md)"
    )
    # A per-observation metric keeps its patterns.
    ok = parse_spec(text.replace(metric, "ICC(A,1).ci_low >= 0.9"), file="s.yaml")
    assert ok.criteria_list()[0].observations == ("label 3",)


def test_output_paths_may_name_the_execution_and_nothing_else() -> None:
    """{subject}, {repetition} and factors name an execution's file; {outdir} and {input} cannot be in a path
    relative to {outdir}; a typo is named with its suggestion."""
    ok = parse_spec(
        "application: {command: [echo, '{outdir}']}\nfactors: {threads: [1, 2]}\n"
        "outputs: {o: {path: 'sub/{subject}_{repetition}_t{threads}.csv', kind: table}, s: {path: '{stdout}', kind: text}}",
        file="s.yaml",
    )
    assert ok.outputs["o"].path == "sub/{subject}_{repetition}_t{threads}.csv"
    with pytest.raises(SpecError) as info:
        parse_spec(
            "application: {command: [echo, '{outdir}']}\noutputs:\n  a: {path: '{outdir}/a.csv', kind: table}\n"
            "  b: {path: '{subjct}.csv', kind: table}\n  c: {path: '{input}.csv', kind: table}\n",
            file="s.yaml",
        )
    assert str(info.value).splitlines() == [
        "s.yaml:3:7: outputs.a.path: {outdir} cannot be used in an output path: output paths are relative to {outdir} "
        "already",
        "s.yaml:4:7: outputs.b.path: unknown placeholder {subjct}; did you mean {subject}? (known: repetition, subject)",
        "s.yaml:5:7: outputs.c.path: {input} cannot be used in an output path: it is an absolute path; name the file "
        "with {subject} instead",
    ]


@pytest.mark.parametrize(
    ("factors", "match"),
    [
        (
            "perturb: [0, 0.0]",
            r"^s\.yaml:3:16: factors\.perturb\.1: factor 'perturb' has duplicate levels \['0', '0\.0'\]$",
        ),
        ("perturb: [4, 4.0]", r"factors\.perturb\.1: factor 'perturb' has duplicate levels \['4', '4\.0'\]$"),
        # review NN: the "unseeded" level gave the application 42 too and read identical
        (
            "seed: [42, {unseeded: 42}]",
            r"^s\.yaml:3:\d+: factors\.seed\.1: the seed level \{unseeded: 42\} gives the application 42, as the "
            r"level 42 does: the unseeded condition would run seeded",
        ),
        ("seed: {fixed: 7, off: {unseeded: '7'}}", r"factors\.seed\.off: the seed level \{unseeded: 7\} gives"),
        # review QQ: the same number in another spelling, as int(), strtol or a float parser reads it
        ("seed: [42, {unseeded: '042'}]", r"factors\.seed\.1: the seed level \{unseeded: 042\} gives the application"),
        ("seed: [42, {unseeded: '0x2a'}]", r"factors\.seed\.1: the seed level \{unseeded: 0x2a\}"),
    ],
)
def test_number_levels_equal_by_value_are_duplicates(factors: str, match: str) -> None:
    """`perturb: [0, 0.0]`, two unperturbed levels, read "bit-for-bit identical" comparing nothing (a review)."""
    text = (
        f"application: {{command: [echo, '{{input}}']}}\nfactors:\n  {factors}\noutputs: {{o: {{path: o, kind: text}}}}"
    )
    with pytest.raises(SpecError, match=match):
        parse_spec(text, file="s.yaml")


@pytest.mark.parametrize(
    ("factors", "message"),
    [
        (
            "env: {a: {X: '1'}, b: {X: '1'}}",
            "s.yaml:3:22: factors.env.b: levels 'a' and 'b' of factor 'env' give the application the same "
            "{'X': '1'}: they would run alike and compare nothing; make them differ, or remove one",
        ),
        ("args: {a: [-v], b: [-v]}", "s.yaml:3:19: factors.args.b: levels 'a' and 'b' of factor 'args' give the"),
        ("mode: {fast: '1', slow: '1'}", "s.yaml:3:21: factors.mode.slow: levels 'fast' and 'slow' of factor 'mode'"),
    ],
)
def test_map_levels_with_one_payload_are_refused_when_an_application_runs(
    tmp_path: Path, factors: str, message: str
) -> None:
    """Two `env` levels setting the same variables read "bit-for-bit identical" comparing nothing (a review). An
    ingest-only study may declare `{old: [], new: []}` to order its levels: nothing runs, nothing is refused."""
    path = tmp_path / "s.yaml"
    mode = ", '{mode}'" if factors.startswith("mode") else ""
    path.write_text(
        f"application: {{command: [echo, '{{input}}'{mode}]}}\nfactors:\n  {factors}\n"
        "outputs: {o: {path: o, kind: text}}\n"
    )
    spec = parse_spec(path.read_text(), file=str(path))
    problems = [str(e).replace(f"{tmp_path}/", "") for e in same_payload_problems(spec, locator(path))]
    assert len(problems) == 1 and problems[0].startswith(message), problems
    path.write_text("factors: {environments: {old: [], new: []}}\noutputs: {o: {path: o, kind: text}}\n")
    assert command_problems(parse_spec(path.read_text(), file=str(path)), tmp_path, locator(path)) == []


def test_a_duplicate_level_points_at_the_level() -> None:
    with pytest.raises(SpecError, match=r"^s\.yaml:3:24: factors\.solver\.2: factor 'solver' has duplicate levels"):
        parse_spec(
            "application: {command: [echo]}\nfactors:\n  solver: [lsq, trust, lsq]\noutputs: {o: {path: o, kind: text}}",
            file="s.yaml",
        )


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("residual", r"it is the analysis' name for the repetitions' term"),
        ("subject", r"it is the placeholder \{subject\} and the subjects' term"),
        ("repetition", r"it is the placeholder \{repetition\}"),
        ("2nd", r"use letters, digits, '_' and '-', starting with a letter or '_'"),
    ],
)
def test_reserved_factor_names_are_refused_at_their_line(name: str, why: str) -> None:
    """`residual` names the repetitions' term of the variance components: a factor of that name passed validate
    and run, then every analysis failed with an internal message (review case c28-factor-named-residual)."""
    spec = f"application: {{command: [echo]}}\nfactors:\n  {name}: [x, y]\noutputs: {{o: {{path: o, kind: text}}}}"
    with pytest.raises(
        SpecError, match=rf"^s\.yaml:3:3: factors\.{name}: factor name '{name}' is reserved or invalid: {why}"
    ):
        parse_spec(spec, file="s.yaml")


def test_threads_have_an_upper_bound() -> None:
    spec = "application: {command: [echo]}\nfactors: {threads: [THREADS]}\noutputs: {o: {path: o, kind: text}}"
    assert parse_spec(spec.replace("THREADS", "4096")).factors["threads"] == [4096]
    with pytest.raises(SpecError, match=r"<= 4096, got 1000000"):
        parse_spec(spec.replace("THREADS", "1000000"))


def test_yaml_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    """A 'billion laughs' document: 9 aliases of 9 aliases, 9**9 values once expanded, from under 500 bytes."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    path = tmp_path / "study.yaml"
    path.write_text("\n".join([*lines, "outputs: *a8", ""]))
    assert path.stat().st_size < 500
    t0 = time.perf_counter()
    with pytest.raises(SpecError, match=r"expands to more than 100000 values \(through YAML aliases"):
        Study.load(path)
    assert time.perf_counter() - t0 < 30  # minutes and gigabytes before; a generous bound, not a benchmark


def test_a_folder_given_as_study_file_is_one_line_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "study.yaml"
    folder.mkdir()
    code, lines = _validate(folder, capsys)
    assert code == 2
    assert lines == [
        f"reprovip: error: {folder}: is a folder, not a study file; create a study file with "
        f"`reprovip init -o {folder / 'study.yaml'} -- COMMAND...`"
    ]
    path = _study(tmp_path / "st")
    assert _validate(path.parent, capsys) == (2, [f"reprovip: error: {path.parent}: is a folder, not a study file; "
                                                  f"pass the study file inside it: {path}"])  # fmt: skip


def test_glob_matching_nothing_gives_its_line_and_pattern(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _study(tmp_path, subjects=0)
    code, lines = _validate(path, capsys)
    assert code == 2
    assert lines == [
        f"reprovip: error: {path}:3:12: subjects: no subject found: no file or folder matches the glob "
        f"'data/{{subject}}.txt' ({tmp_path}/data/*.txt); check the pattern and that the inputs exist"
    ]


def test_every_missing_input_and_every_certain_failure_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _study(tmp_path, program="no-such-program-xyz", extra=', "--config=tool.py", tool.py')
    path.write_text(path.read_text().replace('{glob: "data/{subject}.txt"}', "{list: [data/s0.txt, a.txt, b.txt]}"))
    code, lines = _validate(path, capsys)
    assert code == 2
    file = str(path)
    assert [line.removeprefix("reprovip: error: ").split(": ", 2)[:2] for line in lines] == [
        [f"{file}:3:32", "subjects.list.1"],
        [f"{file}:3:39", "subjects.list.2"],
        [f"{file}:2:13", "application.command.0"],
        [f"{file}:2:80", "application.command.4"],
        [f"{file}:2:100", "application.command.5"],
    ]
    assert "input of subject 'a' does not exist" in lines[0]
    assert "program 'no-such-program-xyz' is not found on PATH" in lines[2]
    assert lines[3].endswith(
        "'tool.py' is a file of the study folder given by a relative path, but each execution runs in a fresh "
        "working folder; write {study_dir}/tool.py"
    )


@pytest.mark.parametrize(
    ("program", "extra", "rest", "problem"),
    [
        ("python3", ', "./tool.py"', "", None),  # `./` names the working folder on purpose
        ("python3", "", "env: {PATH: /nonexistent}\n", "program 'python3' is not found on PATH"),
        ("'{python}'", "", "", None),
        (sys.executable, "", "", None),
        ("./tool.py", "", "", "program './tool.py' is a file of the study folder given by a relative path"),
        ("bin/tool", "", "", "program 'bin/tool' is a relative path: give {study_dir}/... or an absolute path"),
        ("'{study_dir}/tool.py'", "", "", "is not executable; chmod +x it or run it with its interpreter"),
        ("'{study_dir}/nope'", "", "", "does not exist"),
        ("no-such-program-xyz", "", "factors: {container: {a: {engine: docker, image: x}}}\n", None),
        # Review H: `perturb: verrou` validated where Verrou is missing, then every execution of the level failed
        (
            sys.executable,
            "",
            "env: {PATH: /nonexistent}\nfactors: {perturb: [0, verrou]}\n",
            "factors.perturb: level 'verrou' runs the application under valgrind's Verrou tool, and `valgrind` is "
            "not found on PATH; install Verrou",
        ),
    ],
)
def test_certain_failures_of_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], program: str, extra: str, rest: str, problem: str | None
) -> None:
    path = _study(tmp_path, program=program, extra=extra, rest=rest)
    code, lines = _validate(path, capsys)
    if problem is None:
        assert code == 0, lines
    else:
        assert code == 2 and len(lines) == 1 and problem in lines[0], lines


def test_a_verrou_level_needs_valgrinds_verrou_tool(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Debian's valgrind has no Verrou tool (scripts/test.sh installs it): `validate` says so, where `run` failed
    every execution of the level."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        unavailable("valgrind is not installed (scripts/test.sh installs Debian's)")
    if subprocess.run([valgrind, "--tool=verrou", "--help"], capture_output=True).returncode == 0:
        pytest.skip("Verrou is installed here: validate accepts the level")
    path = _study(tmp_path, program=sys.executable, rest="factors: {perturb: [0, verrou]}\n")
    code, lines = _validate(path, capsys)
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].endswith(
        f"factors.perturb: level 'verrou' runs the application under valgrind's Verrou tool, and {valgrind} has no "
        "Verrou tool (`--tool=verrou` fails); install Verrou (https://github.com/edf-hpc/verrou; Debian does not "
        "package it) or remove the level"
    )


def test_args_levels_are_checked_like_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _study(tmp_path, rest="factors:\n  args: {plain: [], cfg: [--config, tool.py, '{sed}']}\n")
    code, lines = _validate(path, capsys)
    assert code == 2
    assert ":5:46: factors.args.cfg.2: unknown placeholder {sed} (known: args, args_level, input," in lines[0]
    assert ":5:37: factors.args.cfg.1: 'tool.py' is a file of the study folder" in lines[1]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ("env: {SEED: '{seed}'}", None),
        ("env: {SEED: '{sed}'}", "env.SEED: unknown placeholder {sed}; did you mean {seed}?"),
        ("env: {OUT: '{outdir}/tmp'}", "env.OUT: {outdir} cannot be used in an environment variable"),
        ("factors: {env: {a: {X: '{subject}'}, b: {X: '{subjct}'}}}", "factors.env.b.X: unknown placeholder {subjct}"),
        ("factors: {perturb: [0, 2]}\nenv: {IN: '{input}'}", "{input} cannot be used in an environment variable"),
    ],
)
def test_env_placeholders_are_checked(env: str, message: str | None) -> None:
    text = f"application: {{command: [echo]}}\n{env}\nfactors: {{seed: [1]}}\noutputs: {{o: {{path: o, kind: text}}}}"
    if "factors:" in env:
        text = text.replace("factors: {seed: [1]}", "").replace("'{seed}'", "x")
        text = text.replace("application: {command: [echo]}", "application: {command: [echo]}\n")
    if message is None:
        parse_spec(text)
        return
    with pytest.raises(SpecError, match=message.replace("{", r"\{").replace("}", r"\}").replace(".", r"\.")):
        parse_spec(text)


def test_subject_folders_and_globs_outside_the_study_folder(tmp_path: Path) -> None:
    study = tmp_path / "study"
    for sub in ("sub-01", "sub-02"):
        (study / "subjects" / sub).mkdir(parents=True)
        (tmp_path / "shared").mkdir(exist_ok=True)
        (tmp_path / "shared" / f"{sub}.nii").write_bytes(b"x")
    (study / "subjects" / "notes.txt").write_text("a file among the subject folders")
    folders = from_glob("subjects/{subject}/", study)
    assert [(s.id, s.input) for s in folders] == [
        ("sub-01", str(study / "subjects" / "sub-01")),
        ("sub-02", str(study / "subjects" / "sub-02")),
    ]
    outside = from_glob("../shared/{subject}.nii", study)
    assert [(s.id, s.input) for s in outside] == [
        (s, str(tmp_path / "shared" / f"{s}.nii")) for s in ("sub-01", "sub-02")
    ]
    absolute = from_glob(str(tmp_path / "shared" / "{subject}.nii"), study)
    assert [s.input for s in absolute] == [s.input for s in outside]


def test_validate_passes_a_clean_study(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _study(tmp_path, rest="factors: {seed: [42, random, {unseeded: none}]}\n")
    assert main(["validate", str(path)]) == 0
    assert "2 subjects x 3 conditions x 3 repetitions = 18 executions" in capsys.readouterr().out
    assert os.path.exists(path)


def test_gathered_errors_survive_a_copy_that_returns_the_same_object(monkeypatch: pytest.MonkeyPatch) -> None:
    """Some library in the full test run registered exceptions as immutable for copy.copy: gathered errors then
    kept only the first (a missing input went unreported). The errors no longer depend on copy.copy."""
    import copy

    monkeypatch.setitem(copy._copy_dispatch, SpecError, lambda x: x)  # type: ignore[attr-defined]
    err = SpecError.gather([SpecError("a", key="k1"), SpecError("b", key="k2"), SpecError("c", line=3)])
    assert [str(x) for x in err.all] == ["<study>: k1: a", "<study>: k2: b", "<study>:3: c"]


_BASE = "application: {command: [echo]}\noutputs: {o: {path: o, kind: text}}\n"


def test_subject_ids_that_yaml_reads_as_numbers_are_refused() -> None:
    """`map: {01: a.txt, 0x1F: b.txt}` named the subjects 1 and 31, without a word (a review)."""
    with pytest.raises(SpecError, match=r"3:18: subjects\.map\.1: the subject id written here reads as the number 1"):
        parse_spec(_BASE + "subjects: {map: {01: a.txt, '02': b.txt}}\n")
    spec = parse_spec(_BASE + "subjects: {map: {'01': a.txt, sub-02: b.txt}}\n")
    assert list(spec.subjects.map) == ["01", "sub-02"]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("data/*/{subject}_T1w.nii.gz", ["site1a", "site1b", "site2a"]),
        ("data/site?/{subject}_T1w.nii.gz", ["site1a", "site1b", "site2a"]),
        ("data/site[1]/{subject}_T1w.nii.gz", ["site1a", "site1b"]),
        ("data/site1/{subject}_*.nii.gz", ["site1a", "site1b"]),
    ],
)
def test_other_wildcards_in_a_subject_glob_match_as_in_a_glob(tmp_path: Path, pattern: str, expected: list) -> None:
    """Wildcards beside {subject} were matched literally: "no file or folder matches" although the glob listed
    the files (a review's `data/*/{subject}_T1w.nii.gz`)."""
    for site, subject in (("site1", "a"), ("site1", "b"), ("site2", "a")):
        (tmp_path / "data" / site).mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / site / f"{site}{subject}_T1w.nii.gz").write_text(f"{site}{subject}")
    assert [s.id for s in from_glob(pattern, tmp_path)] == expected


@pytest.mark.parametrize(
    ("inputs", "command", "refused"),
    [
        ({"s1": "a.txt", "s2": "b.txt", "s3": "a.txt"}, "['true', '{input}']", "s1, s3"),  # one file twice
        ({"s1": "a.txt", "s2": "b.txt", "s3": "c.txt"}, "['true', '{input}']", "s1, s3"),  # c.txt: a.txt's bytes
        ({"s1": "ds", "s2": "ds"}, "['true', '{input}']", "s1, s2"),  # one folder, nothing else tells them apart
        ({"s1": "ds", "s2": "ds"}, "['true', '{input}', '--participant_label', '{subject}']", None),  # a BIDS app
        ({"s1": "a.txt", "s2": "c.txt"}, "['true', '{input}', '{subject}']", None),  # settings alike, data by id
        ({"s1": "a.txt", "s2": "b.txt"}, "['true', '{input}']", None),
        # review N6: `{subject}` in an output path under {outdir} names a file, not the data
        ({"s1": "a.txt", "s2": "c.txt"}, "['true', '{input}', '{outdir}/{subject}_res.csv']", "s1, s2"),
        ({"s1": "a.txt", "s2": "c.txt"}, "['true', '{input}', '--out={outdir}/{subject}']", "s1, s2"),
    ],
)
def test_subjects_with_the_same_input_are_one_subject_counted_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], inputs: dict[str, str], command: str, refused: str | None
) -> None:
    """A review: a `map` pointing 8 ids at 2 inputs (one file twice, byte-identical copies) narrowed the ICC's CI
    and passed a study its 2 real subjects fail. Inputs shared by subjects the command names are not (a dataset
    folder, a settings file alike for all: another review's study was refused)."""
    (tmp_path / "a.txt").write_text("10\n")
    (tmp_path / "b.txt").write_text("20\n")
    (tmp_path / "c.txt").write_text("10\n")
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "participants.tsv").write_text("participant_id\ns1\ns2\n")
    listed = ", ".join(f"{k}: {v}" for k, v in inputs.items())
    study = tmp_path / "study.yaml"
    study.write_text(
        f"application: {{command: {command}}}\nsubjects: {{map: {{{listed}}}}}\noutputs: {{o: {{path: o, kind: text}}}}\n"
    )
    code = main(["validate", str(study)])
    err = capsys.readouterr().err
    if refused is None:
        assert code == 0, err
    else:
        assert code == 2 and "subjects: subjects with the same input (one file, a byte-identical copy" in err
        assert f"or one folder) that the command tells apart by nothing else: {refused}; one subject counted" in err


@pytest.mark.parametrize("key", ["outputs", "observations"])
def test_an_empty_selection_of_a_criterion_is_refused(key: str) -> None:
    """Review SS: `outputs: []` or `observations: []` validated and meant "all", as if the key were absent."""
    text = (
        "application: {command: [x, '{input}']}\noutputs: {o: {path: o.csv, kind: table}}\n"
        f"criteria:\n  - {{require: 'wcv <= 0.5', {key}: []}}\n"
    )
    with pytest.raises(SpecError, match=rf"^s\.yaml:4:\d+: criteria\.0\.{key}: an empty list selects nothing; remove"):
        parse_spec(text, file="s.yaml")


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("repetitions: true", "repetitions: must be a whole number, got true"),
        ("factors: {python: [py311, py312]}", "factor name 'python' is reserved or invalid: it is the placeholder"),
        ("outputs: {o: {path: '', kind: text}}", "outputs.o.path: is empty: name the file the application writes"),
    ],
)
def test_a_boolean_count_a_factor_named_python_and_an_empty_output_path_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, said: str
) -> None:
    """Reviews M6 and N10: `repetitions: true` validated as 1 repetition; a factor `python` replaced `{python}` in
    the command (`py311 app.py ...`, every execution failed); `path: ''` validated and every execution failed
    "missing output: o ( is a folder ...)"."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("1")
    (tmp_path / "app.py").write_text("")
    outputs = "" if line.startswith("outputs") else "outputs: {o: {path: o.txt, kind: text}}\n"
    (tmp_path / "study.yaml").write_text(
        "application: {command: ['{python}', '{study_dir}/app.py', '{input}', '{outdir}']}\n"
        f"subjects: {{glob: 'data/{{subject}}.txt'}}\n{line}\n{outputs}"
    )
    assert main(["validate", str(tmp_path / "study.yaml")]) == 2
    assert said in capsys.readouterr().err
