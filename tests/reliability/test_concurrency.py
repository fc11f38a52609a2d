"""The dashboard reads a catalog while a runner writes it: no error, no torn read (SQLite WAL).

PostgreSQL concurrency (two runners on one team catalog) is tested in tests/store/test_postgres.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reprovip.study import Study
from tests.conftest import write_study

pytest.importorskip("fastapi", reason="the dashboard extra")


@pytest.mark.slow
def test_dashboard_reads_while_a_run_writes(study_dir: Path) -> None:
    from reprovip.dashboard import create_app, open_sources
    from tests.dashboard.conftest import Client

    path = write_study(study_dir, app="nondet_app.py", factors="  threads: [1, 2]\n", repetitions=4, subjects=4)
    _ = Study.load(path).catalog  # the catalog exists before the dashboard opens it read-only
    runner = subprocess.Popen(
        [sys.executable, "-m", "reprovip", "run", str(path), "-j", "2", "--no-progress"],
        env=dict(os.environ, APP_DELAY="0.05"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[int] = []
    try:
        # Wait for the runner to register the study, then poll while it writes.
        deadline = time.monotonic() + 60
        client = None
        while runner.poll() is None and time.monotonic() < deadline:
            if client is None:
                client = Client(create_app(open_sources([str(path)])))
            index = client.get("/index.json")
            assert index.status_code == 200, index.text
            studies = index.json()["studies"]
            if studies:
                key = studies[0]["key"]
                progress = client.get(f"/studies/{key}/progress.json")
                page = client.get(f"/studies/{key}")
                assert progress.status_code == 200 and page.status_code == 200
                counts = studies[0]["counts"]
                assert sum(counts.values()) in (0, 32), counts  # never a half-inserted plan
                seen.append(counts["done"])
            time.sleep(0.05)
    finally:
        _, err = runner.communicate(timeout=120)
    assert runner.returncode == 0, err
    assert seen == sorted(seen), "done counts went backwards: a torn read"
    assert len(set(seen)) >= 2, "the dashboard never saw the run progress"
