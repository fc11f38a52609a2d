"""A full disk and a read-only store under a real run: one line and exit code 2, never a crash report.

Both mount a filesystem (a 1 MiB tmpfs; a read-only bind mount), which needs root: skipped otherwise.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import write_study

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a filesystem needs root")


def _mount(*args: str) -> None:
    proc = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount here: {proc.stderr.strip()}")


@pytest.fixture
def mounted() -> Iterator[list[Path]]:
    points: list[Path] = []
    yield points
    for p in reversed(points):
        subprocess.run(["umount", str(p)], check=False)


def _run(path: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "reprovip", "run", str(path), "-j", "2", "--no-progress"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_full_disk_is_one_line_and_what_finished_is_kept(tmp_path: Path, mounted: list[Path]) -> None:
    """Outputs of 120 KB of random text each fill a 1 MiB tmpfs holding the study within a few executions."""
    root = tmp_path / "small"
    root.mkdir()
    _mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(root))
    mounted.append(root)
    app = root / "big.py"
    app.write_text(
        "import os, sys\nopen(sys.argv[2] + '/result.json', 'w').write("
        '\'{"value": 1, "pad": "%s"}\' % os.urandom(60000).hex())\n'
    )
    path = write_study(root, factors="  threads: [1, 2]\n")
    path.write_text(path.read_text().replace(str(Path(__file__).parents[1] / "apps" / "det_app.py"), str(app)))
    proc = _run(path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("reprovip: error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert "no space left on the disk of the study's store; free some space" in proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reprovip", *args], capture_output=True, text=True, timeout=60)


def test_read_only_store_is_one_line_and_status_still_reads_it(tmp_path: Path, mounted: list[Path]) -> None:
    """`run` refuses in one line; `status`, `report` and `check --no-reanalyze` read it (the report crashed and
    check said "check the folder's permissions": a review)."""
    path = write_study(tmp_path, repetitions=2)
    assert _run(path).returncode == 0
    assert _cli("analyze", str(path)).returncode == 0
    gate = _cli("check", str(path), "--no-reanalyze")
    store = tmp_path / ".reprovip"
    _mount("--bind", str(store), str(store))
    mounted.append(store)
    _mount("-o", "remount,bind,ro", str(store))
    proc = _run(path)
    assert proc.returncode == 2
    assert proc.stderr == (
        f"reprovip: error: {store / 'run.lock'}: cannot write there (Read-only file system); reprovip stores "
        "results in the study folder's .reprovip/: run it where you can write (or copy the folder)\n"
    )
    status = _cli("status", str(path))
    assert status.returncode == 0 and "│ -         │    6 │      0 │       0 │       0 │     6 │" in status.stdout
    report = _cli("report", str(path), "-o", str(tmp_path / "r.html"))
    assert report.returncode == 0, report.stderr
    assert "reproducible (bit-for-bit identical)" in (tmp_path / "r.html").read_text()
    again = _cli("check", str(path), "--no-reanalyze")
    assert (again.returncode, again.stdout) == (gate.returncode, gate.stdout) == (0, gate.stdout), again.stderr
    analysed = _cli("check", str(path))  # it must write the analysis: it says which commands still read the store
    assert analysed.returncode == 2 and analysed.stderr.count("\n") == 1, analysed.stderr
    assert "is still read by `status`, `report` and `check --no-reanalyze`" in analysed.stderr
