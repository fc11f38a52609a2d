"""An environment that sets a variable the `threads` factor sets is refused: the factor would compare nothing.

Review case fp-hunt6/C/18: `threads: [1, 4]` with an `env` level pinning `OMP_NUM_THREADS: "1"` ran every
execution with one thread, and the study read "bit-for-bit identical".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reprovip.cli.main import main
from reprovip.errors import SpecError
from reprovip.execute.render import THREAD_VARIABLES
from reprovip.spec import parse_spec
from reprovip.study import Study

BASE = "application: {command: [echo]}\noutputs: {o: {path: o, kind: text}}\n"


def test_an_env_level_setting_a_thread_variable_is_refused_at_its_key(tmp_path: Path, capsys) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "s1.txt").write_text("1\n")
    path = tmp_path / "study.yaml"
    path.write_text(
        BASE + "subjects: {glob: 'data/{subject}.txt'}\n"
        "factors:\n  threads: [1, 4]\n  env:\n    bound: {OMP_PROC_BIND: 'true', OMP_NUM_THREADS: '1'}\n"
    )
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"reprovip: error: {path}:7:36: factors.env.bound.OMP_NUM_THREADS: remove OMP_NUM_THREADS from this `env`: "
        "the `threads` factor sets it (to each of its levels)"
    ]
    # Without a threads factor the variable is the study's to set; other variables are free under one.
    spec = parse_spec(BASE + "factors: {env: {a: {OMP_NUM_THREADS: '1'}}}\nenv: {MKL_NUM_THREADS: '2'}\n")
    assert spec.env == {"MKL_NUM_THREADS": "2"}
    spec = parse_spec(BASE + "factors: {threads: [1, 2], env: {a: {OMP_PROC_BIND: 'true'}}}\n")
    assert spec.factors["env"] == {"a": {"OMP_PROC_BIND": "true"}}


@pytest.mark.parametrize("variable", [THREAD_VARIABLES[0], THREAD_VARIABLES[-1], "MKL_NUM_THREADS", "OMP_THREAD_LIMIT"])
def test_the_top_level_env_setting_a_thread_variable_is_refused(variable: str) -> None:
    text = BASE + f"factors: {{threads: [1, 2]}}\nenv: {{{variable}: '8', OTHER: x}}\n"
    with pytest.raises(SpecError, match=rf"env\.{variable}: remove {variable} from this `env`: the `threads` factor"):
        parse_spec(text)


@pytest.mark.parametrize(
    ("factor", "variable"),
    [("seed: [1, 2]", "REPROVIP_SEED"), ("blas: [Haswell, SkylakeX]", "OPENBLAS_CORETYPE")],
)
def test_other_factors_own_their_variables_too(factor: str, variable: str) -> None:
    """An `env` setting REPROVIP_SEED under a `seed` factor was silently overridden (a review): refused too."""
    with pytest.raises(SpecError, match=rf"env.{variable}: remove {variable} from this `env`: the `{factor[:4]}"):
        parse_spec(BASE + f"factors: {{{factor}}}\nenv: {{{variable}: '7'}}\n")


@pytest.mark.parametrize("variable", ["OMP_THREAD_LIMIT", "MRTRIX_NTHREADS"])
def test_a_thread_limit_in_the_callers_environment_does_not_pin_every_level(
    tmp_path: Path, monkeypatch, variable: str
) -> None:
    """`OMP_THREAD_LIMIT=1` in the caller's environment ran `threads: [1, 2]` on one thread every time, and an
    OpenMP reduction read "bit-for-bit identical" (a review): the factor sets the limit to its level too. MRtrix3
    reads its own variable, else takes every core: both levels ran on 2 threads, "identical" (review RR)."""
    monkeypatch.setenv(variable, "1")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "s1.txt").write_text("1\n")
    (tmp_path / "study.yaml").write_text(
        "application: {command: ['{python}', '-c', 'import os, sys; open(sys.argv[1] + \"/o\", \"w\").write("
        f"os.environ[\"{variable}\"])', '{{outdir}}']}}\nsubjects: {{glob: 'data/{{subject}}.txt'}}\n"
        "factors: {threads: [1, 2]}\nrepetitions: 1\noutputs: {o: {path: o, kind: text}}\n"
    )
    study = Study.load(tmp_path / "study.yaml")
    assert study.run(jobs=1).done == 2
    written = {
        row.condition_key: study.catalog.attempts(row.id)[0]["env"][variable] for row in study.executions().itertuples()
    }
    assert written == {"threads=1": "1", "threads=2": "2"}


def test_an_env_level_overriding_what_the_top_level_env_sets_from_a_factor_is_refused() -> None:
    """Review CC: `env: {TOOL_MODE: "{mode}"}` beside an `env` factor whose levels set TOOL_MODE too: the level
    won, `mode: [fast, exact]` ran `exact` every time, and the study read "bit-for-bit identical"."""
    text = (
        BASE + "factors:\n  mode: [fast, exact]\n  env: {a: {MYVAR: x, TOOL_MODE: exact}, b: {MYVAR: y}}\n"
        "env: {TOOL_MODE: '{mode}', OTHER: '{mode_level}x'}\n"
    )
    with pytest.raises(SpecError) as err:
        parse_spec(text)
    assert str(err.value).endswith(
        "factors.env.a.TOOL_MODE: remove TOOL_MODE from this `env`: the top-level `env` sets it from {mode}, to "
        "each level of that factor"
    )
    # A top-level variable set without a factor's placeholder is the levels' default: they may override it, and
    # so may a level whose own value names the factor (review FF2: `{mode}-fast` still differs by `mode`).
    spec = parse_spec(text.replace("TOOL_MODE: '{mode}'", "TOOL_MODE: fast"))
    assert spec.factors["env"]["a"]["TOOL_MODE"] == "exact"
    spec = parse_spec(text.replace("TOOL_MODE: exact}", "TOOL_MODE: '{mode_level}-fast'}"))
    assert spec.factors["env"]["a"]["TOOL_MODE"] == "{mode_level}-fast"


@pytest.mark.parametrize(("level", "hint"), [("Sandybrige", "did you mean sandybridge?"), ("foo", "e.g. Haswell")])
def test_a_blas_level_openblas_does_not_know_is_refused(level: str, hint: str) -> None:
    """Review CC: OpenBLAS runs the machine's own kernel for a core type it does not know, unsaid: a misspelt
    level compared the native kernel with itself and read "bit-for-bit identical"."""
    with pytest.raises(SpecError, match=rf"`blas` levels are OpenBLAS core types or MKL_CBWR .*{level!r} \({hint}"):
        parse_spec(BASE + f"factors: {{blas: [Haswell, {level}]}}\n")
    levels = "[haswell, SkylakeX, AVX2, neoversen1, AUTO, 'avx2,STRICT', AVX512_E1]"
    assert parse_spec(BASE + f"factors: {{blas: {levels}}}\n").factors["blas"][0] == "haswell"


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("Sandybridge", {"OPENBLAS_CORETYPE": "Sandybridge"}),
        ("AVX2", {"OPENBLAS_CORETYPE": "Haswell", "MKL_CBWR": "AVX2"}),
        ("compatible,strict", {"OPENBLAS_CORETYPE": "Prescott", "MKL_CBWR": "COMPATIBLE,STRICT"}),
        ("AUTO", {"MKL_CBWR": "AUTO"}),
    ],
)
def test_an_mkl_level_sets_the_openblas_core_of_its_instruction_set(tmp_path: Path, level: str, expected: dict) -> None:
    """Review FF2: `blas: [COMPATIBLE, AVX2]` set OPENBLAS_CORETYPE to those words, which OpenBLAS ignores: an
    OpenBLAS application ran its native kernel twice, "bit-for-bit identical". Both libraries get the level."""
    from reprovip.execute.tasks import argv_template, build_task
    from reprovip.plan import expand
    from reprovip.spec.subjects import Subject

    spec = parse_spec(BASE + f"factors: {{blas: ['{level}']}}\nrepetitions: 1\n")
    (planned,) = expand(spec, [Subject("s1", str(tmp_path / "s1.txt"))])
    task = build_task(spec, tmp_path, planned, template=argv_template(spec, tmp_path), work_root=None)
    assert {k: v for k, v in task.env.items() if k in ("OPENBLAS_CORETYPE", "MKL_CBWR")} == expected
    assert ("OPENBLAS_CORETYPE" in task.unset) is (level == "AUTO")  # AUTO: the library's own choice


def test_a_variable_other_env_levels_set_is_not_handed_down_from_the_callers_environment(
    tmp_path: Path, monkeypatch
) -> None:
    """Review CC: `env: {default: {}, fast: {TOOL_MODE: fast}}` run from a shell with TOOL_MODE=fast ran both levels
    in fast mode, "bit-for-bit identical"; a level that does not set it runs without it."""
    monkeypatch.setenv("TOOL_MODE", "fast")
    monkeypatch.setenv("UNRELATED", "kept")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "s1.txt").write_text("1\n")
    (tmp_path / "study.yaml").write_text(
        "application: {command: ['{python}', '-c', 'import os, sys; open(sys.argv[1], \"w\").write("
        'os.environ.get("TOOL_MODE", "unset") + os.environ["UNRELATED"]); open(sys.argv[2] + "/o", '
        "\"w\").write(\"x\")', '{study_dir}/seen-{env_level}.txt', '{outdir}']}\n"
        "subjects: {glob: 'data/{subject}.txt'}\n"
        "factors: {env: {default: {}, fast: {TOOL_MODE: fast}}}\nrepetitions: 1\noutputs: {o: {path: o, kind: text}}\n"
    )
    assert Study.load(tmp_path / "study.yaml").run(jobs=1).done == 2
    seen = {level: (tmp_path / f"seen-{level}.txt").read_text() for level in ("default", "fast")}
    assert seen == {"default": "unsetkept", "fast": "fastkept"}


def test_a_level_setting_path_leaves_the_callers_path_to_the_others() -> None:
    """Review FF2: a level pointing PATH (and LD_LIBRARY_PATH) at a debug build ran the other level with no PATH:
    what finds programs and libraries is handed down where a level does not set it."""
    from reprovip.execute.tasks import KEPT_VARIABLES

    assert {"PATH", "LD_LIBRARY_PATH", "HOME"} <= KEPT_VARIABLES
