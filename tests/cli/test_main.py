"""The CLI end to end: exit codes and one-line errors, through ``python -m reprovip`` as a user runs it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reprovip.cli.main import main
from tests.conftest import write_study


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reprovip", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t + "factors: [\n", "malformed YAML"),
        (lambda t: t + "colour: blue\n", "unknown key `colour`"),
        (lambda t: t + "repetitions: 3\n".replace("3", "three"), "repetitions: Input should be a valid integer"),
        (lambda t: t.replace('"{outdir}"', '"{outdri}"'), "unknown placeholder {outdri}; did you mean {outdir}?"),
        (lambda t: t.replace("data/{subject}.txt", "nodata/{subject}.txt"), "subjects: no subject found"),
        (
            lambda t: t.replace('{glob: "data/{subject}.txt"}', "{list: [data/sub-01.txt, data/missing.txt]}"),
            "input of subject 'missing' does not exist",
        ),
        (
            lambda t: t.replace('{glob: "data/{subject}.txt"}', "{list: []}"),
            "subjects.list: List should have at least 1 item",
        ),
    ],
)
def test_bad_input_is_one_line_with_exit_2(study_dir: Path, edit, expected: str) -> None:
    path = write_study(study_dir)
    text = path.read_text().replace("repetitions: 3\n", "")
    path.write_text(edit(text))
    for verb in ("validate", "run"):
        proc = _cli(verb, str(path))
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("reprovip: error: ") and expected in lines[0], proc.stderr
        assert "Traceback" not in proc.stderr


def test_missing_study_file(tmp_path: Path) -> None:
    proc = _cli("validate", str(tmp_path / "nope.yaml"))
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == f"reprovip: error: {tmp_path / 'nope.yaml'}: no such study file; create one with `reprovip init`"
    )


def test_validate_run_status_and_exit_3_on_failures(study_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_study(study_dir, factors="  threads: [1, 2]\n", repetitions=2)
    assert main(["validate", str(path)]) == 0
    assert "3 subjects x 2 conditions x 2 repetitions = 12 executions" in capsys.readouterr().out
    assert main(["run", str(path), "--no-progress"]) == 0
    assert main(["status", str(path)]) == 0
    out = capsys.readouterr().out
    assert "threads=1" in out and "threads=2" in out
    crash = write_study(
        study_dir / "crash", app="misbehaving_app.py", args='"crash", "{outdir}"', repetitions=1, subjects=1
    )
    assert main(["run", str(crash), "--no-progress"]) == 3
    assert "exit code 3: segmentation of nothing failed" in capsys.readouterr().err


def test_validate_warns_of_a_design_with_nothing_to_compare(study_dir: Path, capsys) -> None:
    """Reviews Y, P2 and M3: `validate` said "ok" for one execution per subject (and for one subject), and the
    run's analysis said only then that nothing could be compared. Still valid (exit 0), with the warning."""
    path = write_study(study_dir, repetitions=1, subjects=1)
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert f"{path}: warning: each subject runs once (1 condition x 1 repetition): nothing to compare" in err
    assert f"{path}: warning: one subject: no ICC" in err
    assert main(["validate", str(write_study(study_dir / "ok", repetitions=2))]) == 0
    assert "warning" not in capsys.readouterr().err


def test_validate_warns_of_two_subjects_and_of_factors_the_command_does_not_pass(study_dir: Path, capsys) -> None:
    """Reviews DG and MC: two subjects passed with uninformative CIs said only in the JSON and the report; a
    `seed` factor named nowhere (a literal `--seed 42`) and a literal `--threads 1` beside a `threads` factor
    ran every level alike and read "bit-for-bit identical". Still valid (exit 0), with the warnings."""
    path = write_study(
        study_dir,
        subjects=2,
        factors="  threads: [1, 2]\n  seed: [42, random]\n",
        args='"{input}", "{outdir}", "--threads", "1"',
    )
    assert main(["validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert f"{path}: warning: two subjects: the subjects' spread rests on one degree of freedom" in err
    assert f"{path}: warning: factor 'seed' is named nowhere in the command" in err
    assert "factor 'threads' has its levels but the command sets a literal thread count (--threads 1)" in err
    fixed = write_study(
        study_dir / "ok",
        factors="  threads: [1, 2]\n  seed: [42, random]\n",
        args='"{input}", "{outdir}", "--seed={seed}"',
    )
    assert main(["validate", str(fixed)]) == 0
    assert "warning" not in capsys.readouterr().err


def test_unknown_executor_is_exit_2(study_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_study(study_dir)
    assert main(["run", str(path), "--executor", "nope"]) == 2
    assert "unknown executor 'nope'" in capsys.readouterr().err


def test_init_scaffolds_a_study_that_validates_after_editing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "study.yaml"
    assert main(["init", "-o", str(out), "--", "python", "app.py", "{input}", "{outdir}"]) == 0
    text = out.read_text()
    assert 'command: ["{python}", "app.py", "{input}", "{outdir}"]' in text and "# reprovip study" in text
    assert main(["init", "-o", str(out), "--", "python", "x"]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "s1.nii.gz").write_bytes(b"x")
    # app.py is nowhere: each execution's fresh working folder would not have it either (review NU)
    assert main(["validate", str(out)]) == 2
    assert "script 'app.py' is no file of the study folder" in capsys.readouterr().err
    (tmp_path / "app.py").write_text("print(1)\n")
    out.write_text(out.read_text().replace('"app.py"', '"{study_dir}/app.py"'))
    assert main(["validate", str(out)]) == 0


def test_init_from_boutiques_descriptor(tmp_path: Path) -> None:
    desc = Path(__file__).parents[1] / "spec" / "data" / "tool.json"
    out = tmp_path / "study.yaml"
    assert main(["init", "-o", str(out), "--boutiques", str(desc)]) == 0
    text = out.read_text()
    assert "boutiques:" in text and "input_file:" in text and "name: det_tool" in text


def test_internal_error_writes_bug_report(
    monkeypatch: pytest.MonkeyPatch, study_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import reprovip.cli.validate as v

    def boom(path: str) -> int:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(v, "validate_study", boom)
    path = write_study(study_dir)
    assert main(["validate", str(path)]) == 4
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: kaboom" in err
    report = err.split("written to ")[1].split(";")[0]
    assert "kaboom" in Path(report).read_text()
    assert Path(report).stem.endswith(f"-{os.getpid()}")  # two crashes in one second: two reports


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("-j", "0"), "reprovip: error: jobs (--jobs) must be between 1 and 4096, got 0; leave it out"),
        (("--keep-failed", "-1"), "reprovip: error: keep_failed (--keep-failed) must be 0 or more, got -1"),
        (("--bogus",), "reprovip: error: No such option '--bogus'."),
    ],
)
def test_bad_run_options_are_one_line_with_exit_2(study_dir: Path, args: tuple[str, ...], expected: str) -> None:
    proc = _cli("run", str(write_study(study_dir)), *args)
    assert proc.returncode == 2 and proc.stderr.startswith(expected) and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.rstrip().endswith(("per CPU", "got -1", "(see `reprovip run --help`)")), proc.stderr


def test_status_groups_failures_and_shows_their_output(study_dir: Path) -> None:
    """9 executions failing alike, in colour: one paragraph, no escape codes; --failed adds the command and tails."""
    path = write_study(study_dir, app="first_hour_app.py", args='"colour", "{input}", "{outdir}"')
    run = _cli("run", str(path), "--no-progress", "--keep-going")
    assert run.returncode == 3
    assert "9 executions failed with: exit code 2: ERROR: cannot read {input}\n" in run.stderr
    assert "\x1b" not in run.stderr and run.stderr.count("failed with") == 1
    plain = _cli("status", str(path)).stdout
    assert "9 executions failed with: exit code 2: ERROR: cannot read {input}\n" in plain
    assert "  subjects: sub-01, sub-02, sub-03; conditions: -\n" in plain and "stderr" not in plain
    detailed = _cli("status", str(path), "--failed").stdout
    assert "\x1b" not in detailed
    assert f"    | ERROR: cannot read {study_dir / 'data' / 'sub-01.txt'}\n" in detailed
    assert "  command: " in detailed and "first_hour_app.py colour" in detailed
    assert f"  working folder kept in {study_dir / '.reprovip' / 'failed'}" in detailed


def test_a_command_exits_with_its_catalog_closed_and_its_output_whole(
    study_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command skips the interpreter's teardown (reprovip.cli.main.entry): its exit handlers still close the
    catalog, so SQLite folds its WAL into catalog.sqlite (a copy of that file alone holds every result), and what
    it printed is all there, with its exit code."""
    import sqlite3

    path = write_study(study_dir)
    run = _cli("run", str(path), "--no-progress")
    assert run.returncode == 0, run.stderr
    assert run.stderr == "study: 9 executions planned, 0 already done, 9 completed, 0 failed\n"
    store = study_dir / ".reprovip"
    assert not (store / "catalog.sqlite-wal").exists()
    alone = tmp_path / "alone.sqlite"
    alone.write_bytes((store / "catalog.sqlite").read_bytes())
    with contextlib.closing(sqlite3.connect(alone)) as db:
        assert db.execute("SELECT count(*) FROM executions WHERE status = 'done'").fetchone() == (9,)
    status = _cli("status", str(path))
    assert status.returncode == 0 and status.stdout.endswith("┘\n") and "│    9 │" in status.stdout, status.stdout
    check = _cli("check", str(path))
    capsys.readouterr()
    code = main(["check", str(path)])
    assert (check.returncode, check.stdout) == (code, capsys.readouterr().out)


def test_serve_port_0_prints_the_port_it_bound_and_a_taken_port_is_one_line(study_dir: Path) -> None:
    import socket

    path = write_study(study_dir)
    assert main(["run", str(path), "--no-progress"]) == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "reprovip", "serve", "--port", "0", str(path)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stderr.readline()
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
        assert port > 0
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            # The Host header must name the bound address (DNS-rebinding guard), as every browser and curl send it.
            conn.sendall(f"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            assert conn.recv(100).startswith(b"HTTP/1.1 200")
        taken = _cli("serve", "--port", str(port), str(path))
        assert taken.returncode == 2
        assert taken.stderr == (
            f"reprovip: error: cannot listen on 127.0.0.1:{port}: Address already in use; "
            "pick another --port, or --port 0 for any free one\n"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_analyse_is_analyze(study_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Review NU: reprovip's messages say "analyse again", and `reprovip analyse` read "No such command"."""
    assert main(["analyse", str(study_dir / "study.yaml"), "--help"]) == 0
    assert "Usage: reprovip analyse [OPTIONS] [STUDY]" in capsys.readouterr().out


def test_status_before_any_run_says_what_to_do(study_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Review NU2: `status` before any `run` printed an empty table and nothing else."""
    path = write_study(study_dir, subjects=2, repetitions=2)
    assert main(["status", str(path)]) == 0
    assert "nothing stored yet: `reprovip run` runs the 4 executions the study file declares" in capsys.readouterr().out
