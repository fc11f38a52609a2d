"""What the sandbox says of a missing output: its declared path, and what stands there instead."""

from __future__ import annotations

import os
from pathlib import Path

from reprovip.execute.sandbox import OutputDecl, missing_message


def test_a_link_to_nothing_at_an_output_path_is_named_as_such(tmp_path: Path) -> None:
    """Review W: `res.csv` a symbolic link to a file that does not exist read "missing output: res (res.csv);
    {outdir} holds: res.csv", which contradicts itself; a folder there is said too."""
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(tmp_path / "does-not-exist.csv", out / "res.csv")
    (out / "stats").mkdir()
    decls = [OutputDecl("res", "res.csv", "table"), OutputDecl("stats", "stats", "table")]
    message = missing_message(str(tmp_path), decls, {"res", "stats"})
    assert message.startswith(
        f"missing outputs: res (res.csv is a symbolic link to {tmp_path / 'does-not-exist.csv'}, which is no file), "
        "stats (stats is a folder, not a file: declare its files with a glob, stats/**); {outdir} holds: res.csv"
    )


GLOB_APP = """import os, sys
inp, out, rep = sys.argv[1:]
os.makedirs(os.path.join(out, "stats"))
for i in range(3):
    with open(os.path.join(out, "stats", f"roi_{i}.csv"), "w") as f:
        f.write(f"roi,vol\\nA,{i}.5\\n")
if inp.endswith("sub-02.txt") and rep == "2":  # one execution's extra match: a link to a deleted file, a folder
    os.symlink("/tmp/reprovip-test-deleted-scratch.csv", os.path.join(out, "stats", "roi_5.csv"))
    os.makedirs(os.path.join(out, "stats", "roi_6.csv", "part"))
"""


def test_what_a_glob_matches_that_is_no_file_fails_its_execution(tmp_path: Path) -> None:
    """Review EE: one execution's extra `stats/roi_5.csv`, a link to a deleted scratch file, or a folder
    `stats/roi_6.csv/`, was skipped unsaid: "5 of 5 outputs bit-for-bit identical", exit 0. Each is said, and the
    execution fails, as a literal path's link to nothing does."""
    from reprovip.study import Study
    from tests.conftest import write_study

    app = tmp_path / "globapp.py"
    app.write_text(GLOB_APP)
    path = write_study(
        tmp_path,
        app=str(app),
        repetitions=2,
        args='"{input}", "{outdir}", "{repetition}"',
        outputs="  stats: {path: stats/*.csv, kind: table, key_columns: [roi]}\n",
    )
    study = Study.load(path)
    failed = study.run().failures
    assert [(e["subject"], e["repetition"]) for e in failed] == [("sub-02", 2)]
    assert failed[0]["error"].startswith(
        "missing output: stats (stats/roi_5.csv is a symbolic link to /tmp/reprovip-test-deleted-scratch.csv, "
        "which is no file; stats/roi_6.csv is a folder, not a file); {outdir} holds: "
    )
    assert study.check().exit_code != 0


def test_a_worker_seeing_other_application_files_than_the_runner_does_not_run(tmp_path: Path) -> None:
    """Review K: a Dask worker with no folder shared with the runner saw an older copy of the study at the same path
    and ran that code, its results recorded under the runner's recipe: "identical" while the runner's script was
    unseeded. The worker checks the files' digests the runner sent before it runs anything."""
    import sys

    from reprovip.execute.sandbox import Task, run_task
    from reprovip.plan.expand import content_digest

    script = tmp_path / "app.py"
    script.write_text("import sys, pathlib; pathlib.Path(sys.argv[1], 'o.txt').write_text('1')\n")
    runner_saw = content_digest(script)
    task = Task(
        execution_id="e1",
        argv=[sys.executable, str(script), "{outdir}"],
        values={},
        env={},
        outputs=[OutputDecl("o", "o.txt", "text")],
        timeout=30,
        work_root=str(tmp_path / "work"),
        extra={"files": {str(script): runner_saw}},
    )
    assert run_task(task)["ok"]
    script.write_text("import sys, pathlib; pathlib.Path(sys.argv[1], 'o.txt').write_text('2')\n")  # the worker's copy
    result = run_task(task)
    assert not result["ok"] and result["outputs"] == []
    assert result["error"].startswith("this worker (") and f"sees another {script} than the runner" in result["error"]
