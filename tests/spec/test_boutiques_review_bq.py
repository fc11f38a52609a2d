"""Boutiques false passes and late errors found by review BQ, refused (or accepted) by ``validate``.

1. a factor given only to an input that never reaches the tool (no value-key, or a value-key used only in an
   output's path-template) read "bit-for-bit identical";
2. levels the descriptor's types make equal (``["2", "02"]`` on a Number, ``[true, "yes"]`` on a Flag) built the
   same command;
3. an invocation naming neither ``{input}`` nor ``{subject}`` ran one input for "4 subjects";
4. a Number's ``minimum``/``maximum`` and ``integer`` were checked only when the execution started;
5. a broken group, or an environment variable taking the value of an omitted input, failed every execution
   with a crash, a schema dump or a bare KeyError;
6. ``OMP_NUM_THREADS: "[NTHREADS]"`` with ``nthreads: "{threads}"`` was refused though each level sets its own.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reprovip.cli.main import main
from reprovip.errors import InputError
from reprovip.spec.boutiques import cast_input, check_input
from reprovip.study import Study

TOOL = {
    "name": "seg",
    "tool-version": "1.0",
    "description": "writes what it got",
    "schema-version": "0.5",
    "command-line": "PYTHON [SCRIPT] [INPUT] [OUTDIR] [NTHREADS] [ROBUST] [SMOOTH] [RATE]",
    "environment-variables": [{"name": "SEG_MODE", "value": "[MODE]"}],
    "inputs": [
        {"id": "python", "name": "python", "type": "String", "value-key": "PYTHON"},
        {"id": "script", "name": "script", "type": "File", "value-key": "[SCRIPT]"},
        {"id": "input_file", "name": "input", "type": "File", "value-key": "[INPUT]"},
        {"id": "out_dir", "name": "out", "type": "String", "value-key": "[OUTDIR]"},
        {
            "id": "nthreads",
            "name": "threads",
            "type": "Number",
            "integer": True,
            "minimum": 1,
            "maximum": 8,
            "optional": True,
            "command-line-flag": "--threads",
            "value-key": "[NTHREADS]",
        },
        {
            "id": "robust",
            "name": "r",
            "type": "Flag",
            "optional": True,
            "command-line-flag": "-r",
            "value-key": "[ROBUST]",
        },
        {
            "id": "smooth",
            "name": "s",
            "type": "Number",
            "optional": True,
            "command-line-flag": "--smooth",
            "value-key": "[SMOOTH]",
        },
        {
            "id": "rate",
            "name": "rate",
            "type": "Number",
            "optional": True,
            "minimum": 0,
            "exclusive-minimum": True,
            "command-line-flag": "--rate",
            "value-key": "[RATE]",
        },
        {"id": "mode", "name": "mode", "type": "String", "optional": True, "value-key": "[MODE]"},
        {"id": "site", "name": "site (metadata)", "type": "String", "optional": True},
        {"id": "label", "name": "label", "type": "String", "optional": True, "value-key": "[LABEL]"},
    ],
    "output-files": [{"id": "res", "name": "res", "path-template": "[OUTDIR]/[LABEL]res.json", "optional": True}],
}
# The tool writes what it got: its arguments after the output folder, and the variables the descriptor sets.
APP = (
    "import json, os, sys\n"
    "got = {'args': sys.argv[3:], 'omp': os.environ.get('OMP_NUM_THREADS'), 'mode': os.environ.get('SEG_MODE')}\n"
    "open(os.path.join(sys.argv[2], 'res.json'), 'w').write(json.dumps(got))\n"
)
BASE = {
    "python": "{python}",
    "script": "{study_dir}/tool.py",
    "input_file": "{input}",
    "out_dir": "{outdir}",
    "mode": "fast",
}


def _study(root: Path, invocation: dict, factors: str = "", *, descriptor: dict | None = None, base=BASE) -> Path:
    (root / "data").mkdir(parents=True, exist_ok=True)
    for i in (1, 2):
        (root / "data" / f"sub-0{i}.txt").write_text(f"{i}\n")
    (root / "tool.json").write_text(json.dumps(descriptor or TOOL))
    (root / "tool.py").write_text(APP)
    path = root / "study.yaml"
    path.write_text(
        f"application:\n  boutiques: tool.json\n  invocation: {json.dumps({**base, **invocation})}\n"
        "subjects: {glob: 'data/{subject}.txt'}\n"
        f"{factors}repetitions: 1\noutputs:\n  res: {{path: res.json, kind: scalars}}\n"
    )
    return path


def _validate(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["validate", str(path)])
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("site", "(it has no value-key)"),
        ("label", "(its value-key [LABEL] is used only in output path-templates)"),
    ],
)
def test_a_factor_given_only_to_an_input_that_never_reaches_the_tool_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str, why: str
) -> None:
    """Finding 1 (c03_inert, c15_tmplonly): both levels ran the same command and read "bit-for-bit identical"."""
    code, lines = _validate(_study(tmp_path, {key: "{where}"}, "factors: {where: [lyon, paris]}\n"), capsys)
    assert code == 2 and len(lines) == 1, lines
    assert (
        f"factors.where: factor 'where' never reaches the application: it is given only to Boutiques input {key!r}, "
        f"which never reaches the tool {why}, so every level would run the same command" in lines[0]
    )


def test_a_factor_reaching_the_tool_through_an_environment_variable_is_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``SEG_MODE: "[MODE]"``: the input's value-key is in no command line, but the tool gets it."""
    code, lines = _validate(_study(tmp_path, {"mode": "{mode}"}, "factors: {mode: [fast, exact]}\n"), capsys)
    assert code == 0 and not [line for line in lines if "error" in line], lines


@pytest.mark.parametrize(
    ("invocation", "factors", "message"),
    [
        (
            {"nthreads": "{nt}"},
            "factors: {nt: ['2', '02']}\n",
            "factors.nt.1: levels '2' and '02' of factor 'nt' give Boutiques input 'nthreads' (a Number) the same "
            "value once typed by the descriptor",
        ),
        (
            {"robust": "{robust}"},
            "factors: {robust: [true, 'yes']}\n",
            "factors.robust.1: levels 'true' and 'yes' of factor 'robust' give Boutiques input 'robust' (a Flag)",
        ),
        (
            {"smooth": "{s}"},
            "factors: {s: [1, '1.0']}\n",
            "levels '1' and '1.0' of factor 's' give Boutiques input 'smooth' (a Number) the same value",
        ),
    ],
)
def test_levels_the_descriptor_types_alike_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], invocation: dict, factors: str, message: str
) -> None:
    """Finding 2 (c04_range/v/sh.yaml, c09_flag/study_b.yaml): both levels built the same argv."""
    code, lines = _validate(_study(tmp_path, invocation, factors), capsys)
    assert code == 2 and len(lines) == 1 and message in lines[0], lines


def test_levels_the_descriptor_types_apart_are_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = _validate(_study(tmp_path, {"robust": "{robust}"}, "factors: {robust: [true, 'no']}\n"), capsys)
    assert code == 0 and not [line for line in lines if "error" in line], lines


def test_an_invocation_naming_neither_input_nor_subject_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Finding 3 (c18_noinput): a literal input path ran one file for every subject."""
    base = {**BASE, "input_file": "{study_dir}/data/sub-01.txt"}
    code, lines = _validate(
        _study(tmp_path, {"nthreads": "{threads}"}, "factors: {threads: [1, 2]}\n", base=base), capsys
    )
    assert code == 2 and len(lines) == 1, lines
    assert (
        "application.invocation: the Boutiques invocation (with `env` and the `env` and `args` levels) names neither "
        "{input} nor {subject} in an input that reaches the tool, so each of the 2 subjects would run the same "
        "command on the same data" in lines[0]
    )
    # {input} given only to an input that never reaches the tool counts for nothing
    (tmp_path / "study.yaml").unlink()
    path = _study(tmp_path, {"site": "{input}"}, base={**base, "out_dir": "{outdir}"})
    code, lines = _validate(path, capsys)
    assert code == 2 and "names neither {input} nor {subject}" in lines[0], lines


@pytest.mark.parametrize(
    ("invocation", "factors", "message"),
    [
        (
            {"nthreads": "{threads}"},
            "factors: {threads: [1, 16]}\n",
            "application.invocation.nthreads: Boutiques input 'nthreads': 16 is above its maximum 8",
        ),
        (
            {"nthreads": 16},
            "",
            "application.invocation.nthreads: Boutiques input 'nthreads': 16 is above its maximum 8",
        ),
        ({"nthreads": 0}, "", "Boutiques input 'nthreads': 0 is below its minimum 1"),
        ({"nthreads": 2.5}, "", "Boutiques input 'nthreads' is an integer Number: 2.5 is not an integer"),
        ({"nthreads": 2.0}, "", "Boutiques input 'nthreads' is an integer Number: 2.0 is not an integer"),
        (
            {"rate": "{r}"},
            "factors: {r: [0.5, 0]}\n",
            "application.invocation.rate: Boutiques input 'rate': 0 is not above its exclusive minimum 0",
        ),
    ],
)
def test_a_number_outside_its_bounds_is_refused_at_validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], invocation: dict, factors: str, message: str
) -> None:
    """Finding 4 (c04_range, v/sa, v/se, v/sf): the run started and failed half way."""
    code, lines = _validate(_study(tmp_path, invocation, factors), capsys)
    assert code == 2 and len(lines) == 1 and message in lines[0], lines


def test_number_bounds_are_checked_on_typed_values() -> None:
    declared = {"id": "n", "type": "Number", "minimum": 1, "maximum": 8, "integer": True}
    assert cast_input("8", declared) == 8
    with pytest.raises(InputError, match=r"^Boutiques input 'n': 9 is above its maximum 8$"):
        cast_input("9", declared)
    with pytest.raises(InputError, match="not below its exclusive maximum 1"):
        check_input(1.0, {"id": "n", "type": "Number", "maximum": 1, "exclusive-maximum": True})


def _grouped(**group: object) -> dict:
    """TOOL with `smooth` given a default and the group ``group`` over `robust` and `smooth`."""
    inputs = [{**i, "default-value": 1.0} if i["id"] == "smooth" else i for i in TOOL["inputs"]]
    return {**TOOL, "inputs": inputs, "groups": [{"id": "intensity", "name": "i", **group}]}


@pytest.mark.parametrize(
    ("invocation", "group", "message"),
    [
        (
            {"robust": True, "smooth": 2},
            {"members": ["robust", "smooth"], "mutually-exclusive": True},
            "tool.json: group 'intensity' is mutually exclusive: the invocation gives 'robust' and 'smooth'; give "
            "one of them",
        ),
        (
            {"robust": True},
            {"members": ["robust", "smooth"], "mutually-exclusive": True},
            "tool.json: group 'intensity' is mutually exclusive: the invocation gives 'robust', and Boutiques adds "
            "the default-value of 'smooth' to it, so it refuses every execution; remove that default-value",
        ),
        (
            {},
            {"members": ["robust", "rate"], "one-is-required": True},
            "tool.json: group 'intensity' needs one of its members, and the invocation gives none: give one of "
            "'robust', 'rate'",
        ),
        (
            {"robust": True},
            {"members": ["robust", "rate"], "all-or-none": True},
            "tool.json: group 'intensity' is all-or-none, and the invocation leaves out 'rate': give all or none",
        ),
    ],
)
def test_a_group_the_invocation_breaks_is_one_line_at_validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], invocation: dict, group: dict, message: str
) -> None:
    """Finding 5 (c13_desc/study_g1, g2): "'NoneType' object is not iterable" or a schema dump, at run time."""
    code, lines = _validate(_study(tmp_path, invocation, descriptor=_grouped(**group)), capsys)
    assert code == 2 and len(lines) == 1 and f"application.invocation: {message}" in lines[0], lines


def test_a_smooth_default_alone_satisfies_its_groups(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Neither member given: Boutiques adds the default, which meets one-is-required and excludes nothing."""
    desc = _grouped(members=["robust", "smooth"], **{"mutually-exclusive": True})
    desc["groups"].append({"id": "need", "name": "n", "members": ["robust", "smooth"], "one-is-required": True})
    code, lines = _validate(_study(tmp_path, {}, descriptor=desc), capsys)
    assert code == 0 and not [line for line in lines if "error" in line], lines


def test_an_environment_variable_of_an_omitted_input_is_refused_at_validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Finding 5: ``SEG_MODE: "[MODE]"`` and no `mode` in the invocation failed every execution at run time."""
    base = {k: v for k, v in BASE.items() if k != "mode"}
    code, lines = _validate(_study(tmp_path, {}, base=base), capsys)
    assert code == 2 and len(lines) == 1, lines
    assert (
        "application.invocation: tool.json: environment variable SEG_MODE takes the value of input 'mode', which "
        "the invocation leaves out: give it in the invocation" in lines[0]
    )


def _omp(value: str) -> dict:
    env = [*TOOL["environment-variables"], {"name": "OMP_NUM_THREADS", "value": value}]
    return {**TOOL, "environment-variables": env}


def test_a_thread_variable_following_the_threads_factor_runs_each_level_with_its_count(tmp_path: Path) -> None:
    """Finding 6 (c16_envomp): each level sets OMP_NUM_THREADS to its own count through the input; run, the
    tool gets 1 and 2 (was refused: "the descriptor's value would win and every level run alike")."""
    path = _study(tmp_path, {"nthreads": "{threads}"}, "factors: {threads: [1, 2]}\n", descriptor=_omp("[NTHREADS]"))
    study = Study.load(path)
    summary = study.run()
    assert (summary.done, summary.failed) == (4, 0)
    got = {
        (row.subject, row.condition_key): study.catalog.attempts(row.id)[0]["env"]["OMP_NUM_THREADS"]
        for row in study.executions().itertuples()
    }
    assert got == {(s, f"threads={n}"): n for s in ("sub-01", "sub-02") for n in ("1", "2")}


@pytest.mark.parametrize(("value", "nthreads"), [("1", "{threads}"), ("[NTHREADS]", 1)])
def test_a_thread_variable_pinned_by_the_descriptor_is_still_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, nthreads: object
) -> None:
    path = _study(tmp_path, {"nthreads": nthreads}, "factors: {threads: [1, 2]}\n", descriptor=_omp(value))
    code, lines = _validate(path, capsys)
    assert code == 2 and len(lines) == 1, lines
    assert "environment-variables sets OMP_NUM_THREADS, which the `threads` factor sets" in lines[0]
