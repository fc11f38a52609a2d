"""`trace: files` and `trace: processes`: what a real four-step pipeline (tests/apps/pipeline_app.py) wrote, in
which order, and which process read and wrote each file (strace -f), stored in a real SQLite catalog."""

from __future__ import annotations

import json
import re
from pathlib import Path

import blake3
import pytest

from reprovip.execute import trace
from reprovip.study import Study
from tests.conftest import write_study

PIPELINE = ["step1/loaded.json", "step2/denoised.json", "step3/count.json", "step3/scaled.json", "out/result.json"]


def pipeline_study(
    root: Path,
    mode: str,
    *,
    factors: str = "  threads: [1, 2]\n  seed: [42]\n",
    subjects: int = 1,
    extra: str = "",
) -> Study:
    return Study.load(
        write_study(
            root,
            app="pipeline_app.py",
            args='"{input}", "{outdir}", "{seed}"',
            factors=factors,
            repetitions=2,
            subjects=subjects,
            extra=f"trace: {mode}\n{extra}",
        )
    )


def test_files_trace_lists_every_file_of_the_working_folder_in_write_order(study_dir: Path) -> None:
    study = pipeline_study(study_dir, "files")
    assert study.run(jobs=2).ok
    traces = study.catalog.traces(study.catalog.study_id(study.name))
    assert len(traces) == 4 and {t["mode"] for t in traces} == {"files"} and {t["note"] for t in traces} == {None}
    for t in traces:
        # Intermediates included, the declared output too; reprovip's own files (pid, strace) excluded.
        assert [f["relpath"] for f in t["files"]] == PIPELINE
        assert [f["write_order"] for f in t["files"]] == [0, 1, 2, 3, 4]
        assert [f["mtime_ns"] for f in t["files"]] == sorted(f["mtime_ns"] for f in t["files"])
        count = t["files"][2]
        # The count step writes {"n": 1}: its size and byte hash are those of that text.
        assert count["size"] == len(b'{"n": 1}') and count["blob"] == blake3.blake3(b'{"n": 1}').hexdigest()
        assert all(f["semantic_hash"] for f in t["files"])  # JSON: the readers decode it
        assert t["processes"] == []
    # The declared output's hashes are the traced file's hashes.
    outputs = {o["execution_id"]: o for o in study.catalog.outputs(study.catalog.study_id(study.name))}
    for t in traces:
        assert t["files"][-1]["blob"] == outputs[t["execution_id"]]["blob"]


@pytest.mark.skipif(trace.strace_problem() is not None, reason=f"strace cannot trace here: {trace.strace_problem()}")
def test_processes_trace_records_the_process_tree_and_who_read_and_wrote_each_file(study_dir: Path) -> None:
    study = pipeline_study(study_dir, "processes")
    assert study.run(jobs=2).ok
    traces = study.catalog.traces(study.catalog.study_id(study.name))
    assert len(traces) == 4 and {t["mode"] for t in traces} == {"processes"}
    for t in traces:
        assert [f["relpath"] for f in t["files"]] == PIPELINE  # the strace files are not traced files
        procs = t["processes"]
        assert [p["number"] for p in procs] == [0, 1, 2, 3, 4]
        assert [p["parent"] for p in procs] == [None, 0, 0, 0, 0]
        assert [p["exit_code"] for p in procs] == [0] * 5
        assert {p["cwd"] for p in procs} == {"."}
        assert procs[0]["argv"][1].endswith("pipeline_app.py") and procs[0]["argv"][3].endswith("/out")
        assert [p["argv"][2:4] for p in procs[1:]] == [
            ["--step", "1"],
            ["--step", "2"],
            ["--step", "3"],
            ["--step", "4"],
        ]
        assert [(p["reads"], p["writes"]) for p in procs] == [
            ([], []),  # the driver only starts the steps (the input it passes on is outside the working folder)
            ([], ["step1/loaded.json"]),
            (["step1/loaded.json"], ["step2/denoised.json"]),
            (["step2/denoised.json"], ["step3/count.json", "step3/scaled.json"]),
            (["step3/scaled.json"], ["out/result.json"]),
        ]


@pytest.mark.skipif(trace.strace_problem() is not None, reason=f"strace cannot trace here: {trace.strace_problem()}")
def test_strace_stops_only_on_the_traced_calls_where_it_can(tmp_path: Path) -> None:
    """Debian's strace (6.x) on a kernel with seccomp takes --seccomp-bpf: the process then stops only on the
    calls of -e trace=, not on every system call (2-3x less overhead for many short processes, docs/running.md)."""
    argv = trace.wrap(["app", "x"], str(tmp_path))
    assert argv[:3] == ["strace", "-f", "--seccomp-bpf"] and argv[-3:] == ["--", "app", "x"]


@pytest.mark.parametrize(
    ("extra", "which", "match"),
    [
        ({"container": {"engine": "docker", "image": "x"}}, "/usr/bin/strace", "under the `container` factor"),
        ({}, None, r"strace is not installed \(Debian package `strace`\)"),
    ],
    ids=["container", "no-strace"],
)
def test_processes_falls_back_to_files_with_one_line_saying_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: dict, which: str | None, match: str
) -> None:
    monkeypatch.setattr(trace.shutil, "which", lambda _name: which)
    trace._strace_problem.cache_clear()
    try:
        argv, mode, note = trace.prepare("processes", ["app", "x"], str(tmp_path), extra)
    finally:
        monkeypatch.undo()
        trace._strace_problem.cache_clear()
    assert (argv, mode) == (["app", "x"], "files")
    assert note.startswith("traced with `files` instead of `processes`: ") and "\n" not in note
    assert re.search(match, note)


def test_untraced_study_records_no_trace(study_dir: Path) -> None:
    study = Study.load(write_study(study_dir, repetitions=1, subjects=1))
    assert study.run(jobs=1).ok
    assert study.catalog.traces(study.catalog.study_id(study.name)) == []
    doc = study.analyze().document
    assert doc["dataflow"] is None
    assert json.loads(json.dumps(doc))["dataflow"] is None
