"""False passes of Boutiques applications found by a review (fp-hunt10/A), each with the launcher it hit.

- b9: a placeholder inside a list value of the invocation (``labels: ["{mode}", "{subject}"]``) reached the tool
  as the literal ``{mode}`` with both launchers; the factor changed nothing and the study read "identical".
- b12: ``launcher: simulate`` dropped the descriptor's ``environment-variables`` (``bosh exec launch`` sets them).
- b7: ``launcher: bosh`` printed ``reprovip: Boutiques record <path>`` on the tool's stdout: a deterministic
  ``{stdout}`` output differed between repetitions, and an empty one was never empty.
- b2, b3, b5, b8, b13: a descriptor the study cannot use as asked passed ``validate`` (see
  :func:`reprovip.spec.boutiques_checks.boutiques_problems`).

Real ``bosh`` (the boutiques package) builds and launches every command here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from reprovip.errors import InputError
from reprovip.execute.render import render_argv
from reprovip.spec.boutiques import (
    bosh_launch_template,
    boutiques_command,
    descriptor_env,
    launch_main,
    typed_invocation,
)
from reprovip.spec.boutiques_checks import boutiques_problems
from reprovip.spec.loader import locator
from reprovip.store import BlobStore
from reprovip.study import Study

TOOL = {
    "name": "lister",
    "tool-version": "1.0",
    "description": "writes what it got",
    "schema-version": "0.5",
    "command-line": "PYTHON [SCRIPT] [INPUT] [OUTDIR] [LABELS] [SIZES]",
    "environment-variables": [{"name": "SMOOTH", "value": "[SMOOTH]"}, {"name": "FIXED", "value": "yes"}],
    "inputs": [
        {"id": "python", "name": "python", "type": "String", "value-key": "PYTHON"},
        {"id": "script", "name": "script", "type": "File", "value-key": "[SCRIPT]"},
        {"id": "input_file", "name": "input", "type": "File", "value-key": "[INPUT]"},
        {"id": "out_dir", "name": "out", "type": "String", "value-key": "[OUTDIR]"},
        {
            "id": "labels",
            "name": "labels",
            "type": "String",
            "list": True,
            "optional": True,
            "command-line-flag": "--labels",
            "value-key": "[LABELS]",
        },
        {
            "id": "sizes",
            "name": "sizes",
            "type": "Number",
            "list": True,
            "optional": True,
            "command-line-flag": "--sizes",
            "value-key": "[SIZES]",
        },
        {"id": "smooth", "name": "smooth", "type": "String", "optional": True, "value-key": "[SMOOTH]"},
    ],
}
# The result is what the tool got: its arguments after the input and the variables the descriptor sets.
APP = (
    "import json, os, sys\n"
    "got = {'args': sys.argv[3:], 'smooth': os.environ.get('SMOOTH'), 'fixed': os.environ.get('FIXED')}\n"
    "open(os.path.join(sys.argv[2], 'res.json'), 'w').write(json.dumps(got))\n"
    "print(open(sys.argv[1]).read().strip())\n"
)
BASE = {
    "python": "{python}",
    "script": "{study_dir}/tool.py",
    "input_file": "{input}",
    "out_dir": "{outdir}",
    "smooth": "1",
}


def _files(root: Path, descriptor: dict | None = None) -> Path:
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "data" / "sub-01.txt").write_text("13.5\n")
    (root / "tool.json").write_text(json.dumps(descriptor or TOOL))
    (root / "tool.py").write_text(APP)
    return root / "tool.json"


RESULT = "outputs:\n  res: {path: res.json, kind: scalars}\n"


def _study(root: Path, application: str, rest: str = RESULT, descriptor: dict | None = None) -> Path:
    _files(root, descriptor)
    path = root / "study.yaml"
    path.write_text(
        f"application:\n  boutiques: tool.json\n{application}subjects: {{glob: 'data/{{subject}}.txt'}}\n{rest}"
    )
    return path


def test_placeholders_inside_a_list_reach_the_tool_with_both_launchers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """b9: each item of ``["{mode}", "{subject}"]`` is filled, and typed as one value of the input."""
    desc = _files(tmp_path)
    inv = {**BASE, "labels": ["{mode}", "{subject}"]}
    values = {
        "python": sys.executable,
        "study_dir": str(tmp_path),
        "input": str(tmp_path / "data" / "sub-01.txt"),
        "outdir": str(tmp_path / "out"),
        "subject": "sub-01",
        "mode": "smooth",
    }
    (tmp_path / "out").mkdir()
    simulated = boutiques_command(str(desc), inv, values, tmp_path)
    assert simulated.argv[-3:] == ["--labels", "smooth", "sub-01"]
    assert typed_invocation(TOOL, {"sizes": ["{n}", 3]}, {"n": "2"}) == {"sizes": [2, 3]}
    # launcher: bosh, through the argv tasks.py builds, the values filled as the sandbox fills them
    argv = render_argv(bosh_launch_template(str(desc), inv, factors=["mode"]), values)[4:]
    monkeypatch.chdir(tmp_path)
    import boutiques.localExec

    # launch_main points Boutiques' cache at the execution's folder for its process: restored after this test
    monkeypatch.setattr(boutiques.localExec, "getDataCacheDir", boutiques.localExec.getDataCacheDir)
    assert launch_main(argv) == 0
    assert json.loads((tmp_path / "out" / "res.json").read_text())["args"] == ["--labels", "smooth", "sub-01"]


@pytest.mark.parametrize("launcher", ["simulate", "bosh"])
def test_descriptor_environment_variables_reach_the_tool(tmp_path: Path, launcher: str) -> None:
    """b12: ``SMOOTH=[SMOOTH]`` is the input's value for each level, ``FIXED=yes`` is literal, with both
    launchers alike; the attempt records them (simulate: they are part of what reprovip set)."""
    inv = {**BASE, "smooth": "{smooth}"}
    study = Study.load(
        _study(
            tmp_path,
            f"  launcher: {launcher}\n  invocation: {json.dumps(inv)}\n",
            "factors: {smooth: ['0', '2']}\nrepetitions: 1\noutputs:\n  res: {path: res.json, kind: scalars}\n",
        )
    )
    summary = study.run()
    assert (summary.done, summary.failed) == (2, 0), summary.failures
    blobs = BlobStore(study.store)
    got = {
        o["condition_key"]: json.loads(blobs.path(o["blob"], o["suffix"]).read_text())
        for o in study.catalog.outputs(study.catalog.study_id(study.name))
    }
    assert {k: (v["smooth"], v["fixed"]) for k, v in got.items()} == {
        "smooth=0": ("0", "yes"),
        "smooth=2": ("2", "yes"),
    }
    if launcher == "simulate":
        attempts = [study.catalog.attempts(i)[0] for i in study.executions()["id"]]
        assert sorted(a["env"]["SMOOTH"] for a in attempts) == ["0", "2"]
        # bosh stops with a bare KeyError ('smooth') when the input is left out
        with pytest.raises(InputError, match=r"^the descriptor's environment variable SMOOTH takes the value of"):
            descriptor_env(TOOL, {})


def test_bosh_launcher_leaves_the_tools_stdout_alone(tmp_path: Path) -> None:
    """b7: a deterministic ``{stdout}`` output is identical across repetitions with ``launcher: bosh`` (the
    record's path was printed into it); a tool printing nothing leaves the output missing, not a pass."""
    inv = json.dumps(BASE)
    rest = "repetitions: 2\noutputs:\n  out: {path: '{stdout}', kind: text}\n"
    study = Study.load(_study(tmp_path / "prints", f"  launcher: bosh\n  invocation: {inv}\n", rest))
    summary = study.run()
    assert (summary.done, summary.failed) == (2, 0), summary.failures
    outs = study.catalog.outputs(study.catalog.study_id(study.name))
    assert len(outs) == 2 and len({o["blob"] for o in outs}) == 1
    attempt = study.catalog.attempts(outs[0]["execution_id"])[0]
    assert attempt["stdout"] == "13.5\n" and "Boutiques record" not in attempt["stderr"]
    assert len(list((study.store / "boutiques-records").glob(f"*_{outs[0]['execution_id']}.json"))) == 1

    silent = _study(tmp_path / "silent", f"  launcher: bosh\n  invocation: {inv}\n", rest)
    (silent.parent / "tool.py").write_text(APP.replace("print(", "len("))
    study = Study.load(silent)
    summary = study.run(keep_going=True)
    assert (summary.done, summary.failed) == (0, 2)
    errors = {study.catalog.attempts(i)[0]["error"] for i in study.executions()["id"]}
    assert errors == {"missing output: out ({stdout} printed nothing); {outdir} holds: res.json"}


SHELL = {**TOOL, "command-line": "cd [OUTDIR] && PYTHON [SCRIPT] [INPUT] . > log.txt; echo done"}
OMP = {**TOOL, "environment-variables": [{"name": "OMP_NUM_THREADS", "value": "1"}]}
IMAGE = {**TOOL, "container-image": {"type": "docker", "image": "python:3.10-slim"}}


@pytest.mark.parametrize(
    ("descriptor", "application", "factors", "expected"),
    [
        (
            SHELL,
            "",
            "",
            [
                "application.boutiques: tool.json: command-line uses the shell (&& > ;), but launcher `simulate` runs "
                "it as an argv list, never through a shell; use `launcher: bosh` (Boutiques runs it with a shell) or "
                'make the shell explicit in the descriptor: "command-line": "/bin/sh -c \'...\'"'
            ],
        ),
        (SHELL, "  launcher: bosh\n", "", []),
        (
            SHELL,
            "  launcher: bosh\n",
            "factors: {args: {plain: [], smooth: [--smooth, '2']}}\n",
            [
                "factors.args: tool.json: command-line uses the shell (&& > ;) and the `args` factor's arguments "
                "would be appended at its end, where its last command, not the tool, gets them; pass them through "
                "an input of the descriptor (a factor in `invocation`) instead"
            ],
        ),
        (
            OMP,
            "  launcher: bosh\n",
            "factors: {threads: [1, 4]}\n",
            [
                "factors.threads: tool.json: environment-variables sets OMP_NUM_THREADS, which the `threads` factor "
                "sets (to each of its levels); the descriptor's value would win and every level run alike: remove it "
                "from (a copy of) the descriptor"
            ],
        ),
        (OMP, "", "factors: {seed: [1, 2]}\n", []),
        (  # review F: the descriptor's FOO won over the env factor's levels: read bit-for-bit identical
            {**TOOL, "environment-variables": [{"name": "FOO", "value": "0"}]},
            "",
            "factors: {env: {off: {FOO: '0'}, on: {FOO: '1'}}}\n",
            [
                "factors.env.on.FOO: tool.json: environment-variables sets FOO, which the `env` factor's levels set; "
                "the descriptor's value would win and every level run alike: remove it from (a copy of) the "
                "descriptor"
            ],
        ),
        (  # and a seed the study passes through its env, pinned by the descriptor
            {**TOOL, "environment-variables": [{"name": "TOOL_SEED", "value": "7"}]},
            "",
            "factors: {seed: [1, random]}\nenv: {TOOL_SEED: '{seed}'}\n",
            [
                "env.TOOL_SEED: tool.json: environment-variables sets TOOL_SEED, which the study's `env` sets too; "
                "the descriptor's value would win: remove it from (a copy of) the descriptor, or from `env`"
            ],
        ),
        (
            IMAGE,
            "",
            "",
            [
                "application.boutiques: tool.json: container-image 'python:3.10-slim' is not used by launcher "
                "`simulate`, which runs the command on this host; use `launcher: bosh` to run it in that image, or "
                "`application.container: {engine: docker, image: 'python:3.10-slim'}` (docs/containers.md)"
            ],
        ),
        (IMAGE, "  launcher: bosh\n", "", []),
        (IMAGE, "  container: {engine: docker, image: 'python:3.10-slim'}\n", "", []),
        (
            TOOL,
            "",
            "factors: {sizes: ['1 2', '3']}\n",
            [
                "application.invocation.sizes: tool.json: Boutiques input 'sizes' is a list: give a YAML list of "
                "values ([\"{sizes}\"] for one value), not the text '{sizes}'"
            ],
        ),
    ],
)
def test_validate_refuses_what_no_execution_would_do(
    tmp_path: Path, descriptor: dict, application: str, factors: str, expected: list[str]
) -> None:
    """b2 (shell syntax run without a shell: every execution failed "could not start 'cd'"), b5 (`args` after a
    `;`: given to `echo`), b3 (the descriptor's OMP_NUM_THREADS won over the threads factor: read identical),
    b13 (the image ignored: two images compared the host with itself), b8 (a list input given a text); review
    F: the descriptor's value of a variable the `env` factor's levels (or the study's `env`) set won too."""
    inv = {**BASE, "sizes": "{sizes}"} if "sizes" in factors else BASE
    path = _study(tmp_path, f"{application}  invocation: {json.dumps(inv)}\n{factors}", RESULT, descriptor)
    study = Study.load(path)
    found = boutiques_problems(study.spec, study.directory, locator(path))
    assert [f"{e.key}: {e.message}" for e in found] == expected
    assert all(e.line for e in found)


def test_bosh_launcher_refuses_args_after_the_shell_and_an_image_it_cannot_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """At run time too (a study not validated on this machine): `args` after a `;` never reach the tool (b5),
    and without a container engine the image would silently be the host (b13)."""
    monkeypatch.chdir(tmp_path)
    for name, desc, extra in (("shell", SHELL, ["--smooth", "2"]), ("image", IMAGE, [])):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(desc))
        argv = [str(path), bosh_launch_template(str(path), BASE)[5], f"--records={tmp_path}/r", "--", *extra]
        monkeypatch.setenv("PATH", str(tmp_path / "no-engine"))
        assert launch_main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("bosh exec launch refused the `args` factor: command-line uses the shell (&& > ;)")
    assert err[1].startswith("bosh exec launch: no container engine (docker, apptainer, singularity) on ")
    assert err[1].endswith("to run container-image 'python:3.10-slim'; install one (docs/containers.md)")
