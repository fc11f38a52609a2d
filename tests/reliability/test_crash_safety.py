"""SIGKILL at many points of a study and of an analysis: nothing lost, nothing half-written, nothing orphaned.

21 kill points (3 fresh studies x 7 kills at random moments, seeded): after each kill the store must be
consistent, and the final rerun must end with exactly the planned executions.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reprovip.store.blobs import file_hash
from reprovip.study import Study
from tests.conftest import write_study

ROUNDS, KILLS = 3, 7


def _consistent(store: Path) -> None:
    """Every referenced blob exists and matches its hash; done executions have their outputs."""
    con = sqlite3.connect(store / "catalog.sqlite")
    tables = {r[0] for r in con.execute("select name from sqlite_master where type='table'")}
    if "outputs" not in tables:  # killed while the schema was being created: nothing stored yet
        assert not list((store / "blobs").glob("*/*")) if (store / "blobs").exists() else True
        return
    referenced = {r[0] for r in con.execute("select blob from outputs where blob is not null")}
    on_disk = {p.name[:64]: p for p in (store / "blobs").glob("*/*")}
    assert referenced <= set(on_disk), "a catalog row points to a missing blob"
    for digest in referenced:
        assert file_hash(on_disk[digest]) == digest
    orphan_done = con.execute(
        "select count(*) from executions e where e.status='done' and not exists "
        "(select 1 from outputs o where o.execution_id = e.id)"
    ).fetchone()[0]
    assert orphan_done == 0
    con.close()


def _run(path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "reprovip", "run", str(path), "-j", "2", "--no-progress"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(ROUNDS))
def test_runner_killed_at_random_points_then_resumed(tmp_path: Path, round_: int) -> None:
    rng = random.Random(1000 + round_)
    path = write_study(tmp_path, app="nondet_app.py", factors="  threads: [1, 2]\n")
    env = dict(os.environ, APP_DELAY="0.05")
    store = tmp_path / ".reprovip"
    for _ in range(KILLS):
        proc = _run(path, env)
        time.sleep(rng.uniform(0.05, 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if (store / "catalog.sqlite").exists():
            _consistent(store)
    final = subprocess.run(
        [sys.executable, "-m", "reprovip", "run", str(path), "--no-progress"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert final.returncode == 0, final.stderr
    study = Study.load(path)
    df = study.executions()
    assert len(df) == 18 and (df["status"] == "done").all()
    con = sqlite3.connect(store / "catalog.sqlite")
    assert con.execute("select count(*) from outputs").fetchone() == (18,)
    assert con.execute("select count(distinct execution_id) from outputs").fetchone() == (18,)
    _consistent(store)
    referenced = {r[0] for r in con.execute("select blob from outputs")}
    assert {p.name[:64] for p in (store / "blobs").glob("*/*")} == referenced, "orphaned blobs remain"
    assert not (store / "tmp").exists() or not list((store / "tmp").iterdir())
    assert not (store / "work").exists()


@pytest.mark.slow
def test_killed_analysis_leaves_previous_results_intact(tmp_path: Path) -> None:
    path = write_study(
        tmp_path,
        app="image_app.py",
        factors="  threads: [1, 2]\n",
        repetitions=2,
        args='"{input}", "{outdir}", "--noise", "threads"',
        outputs="  image: {path: image.nii.gz, kind: image}\n",
    )
    study = Study.load(path)
    study.run(jobs=2)
    previous = study.analyze().document
    target = study.results / "analysis.json"
    rng = random.Random(7)
    for _ in range(5):
        proc = subprocess.Popen(
            [sys.executable, "-m", "reprovip", "analyze", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.3, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        doc = json.loads(target.read_text())  # whole, never half-written
        assert doc["schema"] == previous["schema"] and len(doc["outputs"]) == len(previous["outputs"])
    again = Study.load(path).analyze().document
    assert again["outputs"][0]["bitwise"] == previous["outputs"][0]["bitwise"]
    assert not list(study.results.rglob(".*.part*"))
