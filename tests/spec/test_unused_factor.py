"""A factor that never reaches the application is refused by ``validate`` and ``run``.

A review: ``factors: {solver: [lsq, trust]}`` with a command that never passed ``{solver}`` ran the same command at
every level, and the study read "bit-for-bit identical" (15 comparisons counted as evidence).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reprovip.cli.main import main
from reprovip.errors import SpecError
from reprovip.spec import parse_spec
from reprovip.spec.checks import unused_factor_problems
from reprovip.spec.loader import locator
from reprovip.study import Study

STUDY = """\
application:
  command: ["{{python}}", "{{study_dir}}/tool.py", "{{input}}", "{{outdir}}"{extra}]
subjects: {{glob: "data/{{subject}}.txt"}}
{top}factors:
  solver: [lsq, trust]
{rest}outputs:
  result: {{path: result.txt, kind: text}}
"""


def _study(root: Path, *, extra: str = "", top: str = "", rest: str = "") -> Path:
    (root / "data").mkdir()
    for i in range(2):
        (root / "data" / f"s{i}.txt").write_text(f"{i}\n")
    (root / "tool.py").write_text("import sys, pathlib; pathlib.Path(sys.argv[2], 'result.txt').write_text('1')\n")
    path = root / "study.yaml"
    path.write_text(STUDY.format(extra=extra, top=top, rest=rest))
    return path


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    spec = parse_spec(text, file=str(path))
    return [str(e).replace(f"{tmp_path}/", "") for e in unused_factor_problems(spec, locator(path))]


def test_validate_refuses_a_factor_no_placeholder_uses_naming_it_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _study(tmp_path)
    assert main(["validate", str(path)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"reprovip: error: {path}:5:3: factors.solver: factor 'solver' never reaches the application: no {{solver}} "
        "(or {solver_level}) in the command, an `env` value or an `args` level, so every level would run the same "
        'command and the study compare nothing; pass it, e.g. `"--solver={solver}"` in the command, or remove the '
        "factor"
    ]


def test_run_refuses_it_before_running_anything(tmp_path: Path) -> None:
    study = Study.load(_study(tmp_path))
    with pytest.raises(SpecError, match=r"factors.solver: factor 'solver' never reaches the application"):
        study.run(jobs=1)
    assert not (tmp_path / ".reprovip" / "blobs").exists()


@pytest.mark.parametrize(
    ("extra", "top", "rest"),
    [
        (', "--solver={solver}"', "", ""),  # the command
        (', "{solver_level}"', "", ""),  # its level's name
        ("", 'env: {SOLVER: "{solver}"}\n', ""),  # the environment of every execution
        ("", "", "  env: {a: {SOLVER: '{solver}'}, b: {}}\n"),  # an `env` level
        ("", "", "  args: {plain: ['--solver', '{solver}']}\n"),  # an `args` level
    ],
)
def test_every_place_a_placeholder_is_filled_is_accepted(tmp_path: Path, extra: str, top: str, rest: str) -> None:
    """Where placeholders are filled for the application (docs/study-format.md): nothing is refused."""
    assert Study.load(_study(tmp_path, extra=extra, top=top, rest=rest)).problems() == []


def test_a_boutiques_study_is_told_to_name_the_factor_in_its_invocation(tmp_path: Path) -> None:
    text = (
        "application: {boutiques: tool.json, invocation: {in: '{input}', out: '{outdir}'}}\n"
        "factors: {mode: [fast, exact]}\n"
        "outputs: {o: {path: o.txt, kind: text}}\n"
    )
    assert _problems(tmp_path, text) == [
        "s.yaml:2:11: factors.mode: factor 'mode' never reaches the application: no {mode} (or {mode_level}) in the "
        "Boutiques `invocation`, an `env` value or an `args` level, so every level would run the same command and "
        'the study compare nothing; pass it, e.g. `invocation: {mode: "{mode}"}`, or remove the factor'
    ]
    assert _problems(tmp_path, text.replace("out: '{outdir}'", "out: '{outdir}', mode: '{mode}'")) == []
    # A list input's items are rendered one by one (spec.boutiques._typed).
    assert _problems(tmp_path, text.replace("out: '{outdir}'", "out: '{outdir}', labels: ['{mode}', x]")) == []


def test_built_in_factors_and_python_callables_reach_the_application_by_themselves(tmp_path: Path) -> None:
    """Built-in factors set the environment, the argv, the image or the input (docs/study-format.md, "Built-in
    factors"); a Python callable gets every factor as a keyword argument."""
    builtins = (
        "factors:\n"
        "  threads: [1, 2]\n  seed: [1, random]\n  blas: [Haswell, Sandybridge]\n  perturb: [0, 4, verrou]\n"
        "  os: [bookworm, trixie]\n  env: {a: {X: '1'}, b: {}}\n  args: {a: [], b: ['-v']}\n"
        "  environments: {old: ['numpy==1.26.4'], new: ['numpy==2.1.0']}\n"
        "  container: {a: {engine: podman, image: 'debian:12'}}\n"
    )
    command = "application: {command: [tool, '{input}', '{outdir}']}\n"
    assert _problems(tmp_path, command + builtins + "outputs: {o: {path: o.txt, kind: text}}\n") == []
    python = "application: {python: 'pkg.mod:fit'}\nfactors: {solver: [lsq, trust]}\n"
    assert _problems(tmp_path, python + "outputs: {o: {path: o.txt, kind: text}}\n") == []
    # Named in an output path only: the application never sees it.
    unused = command + "factors: {solver: [lsq, trust]}\noutputs: {o: {path: '{solver}.txt', kind: text}}\n"
    assert [p.split(": ", 2)[1] for p in _problems(tmp_path, unused)] == ["factors.solver"]


def test_a_perturb_factor_whose_input_the_command_never_takes_is_refused(tmp_path: Path) -> None:
    """`perturb: [0, 4]` with a command reading `{study_dir}/data/{subject}.txt` instead of `{input}`: the
    perturbed copy never reached the application and the study read "bit-for-bit identical" (a review)."""
    text = (
        "application: {command: [tool, '{study_dir}/data/{subject}.txt', '{outdir}']}\n"
        "factors: {perturb: [0, 4]}\noutputs: {o: {path: o.txt, kind: text}}\n"
    )
    assert _problems(tmp_path, text) == [
        "s.yaml:2:11: factors.perturb: factor 'perturb' never reaches the application: it perturbs a copy of the "
        "subject's input, given as {input}, and the command never names {input}, so every level would read the "
        "same file; pass {input} to the application, or perturb the computation instead (`perturb: [verrou]`)"
    ]
    assert _problems(tmp_path, text.replace("[0, 4]", "[verrou]")) == []  # valgrind reaches it by itself
    assert _problems(tmp_path, text.replace("{study_dir}/data/{subject}.txt", "{input}")) == []
