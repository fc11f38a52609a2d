"""Errors of the machine, not of reprovip, are one line and exit 2 in every command (a review): a damaged
catalog (``report`` alone was an internal error), ``ulimit -f`` too small for the catalog (``run``: SQLite's
"disk I/O error"), for the analysis document (``analyze``) or for a blob (``ingest``: ``[Errno 27] File too
large``), a catalog that cannot be written (``chattr +i``: "attempt to write a readonly database"). No
half-written file is left behind."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli.stale_study import make_study, one_line_error, rp


def _parts(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if ".part" in p.name]


@pytest.mark.parametrize("damage", ["half", "garbage"])
def test_a_damaged_catalog_is_one_line_in_report_too(tmp_path: Path, damage: str) -> None:
    make_study(tmp_path)
    assert rp(tmp_path, "run", "study.yaml", "--no-progress").returncode == 0
    assert rp(tmp_path, "analyze", "study.yaml").returncode == 0
    catalog = tmp_path / ".reprovip" / "catalog.sqlite"
    data = catalog.read_bytes()
    catalog.write_bytes(data[: len(data) // 2] if damage == "half" else bytes(range(256)) * (len(data) // 256))
    for command in (("report", "study.yaml", "-o", "r.html"), ("status", "study.yaml"), ("analyze", "study.yaml")):
        line = one_line_error(rp(tmp_path, *command))
        assert str(catalog) in line and "not a readable catalog" in line, (command, line)
    assert not (tmp_path / "r.html").exists()


def test_run_under_a_small_file_size_limit_is_one_line(tmp_path: Path) -> None:
    make_study(tmp_path)
    line = one_line_error(rp(tmp_path, "run", "study.yaml", "--no-progress", limit_kb=64))
    assert "catalog.sqlite" in line and "`ulimit -f`" in line
    assert rp(tmp_path, "run", "study.yaml", "--no-progress").returncode == 0  # without the limit: it resumes


def test_analyze_under_a_small_file_size_limit_is_one_line_and_leaves_no_part(tmp_path: Path) -> None:
    make_study(tmp_path)
    assert rp(tmp_path, "run", "study.yaml", "--no-progress", rows=300, noise=5.0).returncode == 0
    assert rp(tmp_path, "analyze", "study.yaml").returncode == 0  # about 1 MB of analysis document
    document = tmp_path / ".reprovip" / "results" / tmp_path.name / "analysis.json"
    before = document.read_bytes()
    line = one_line_error(rp(tmp_path, "analyze", "study.yaml", limit_kb=200))
    assert line == (
        f"reprovip: error: {document}: cannot write it (File too large); raise the file size limit (`ulimit -f`, "
        "set by the shell or the batch system) and run the command again"
    )
    assert not _parts(tmp_path / ".reprovip")
    assert document.read_bytes() == before  # the previous document, whole


def test_ingest_under_a_small_file_size_limit_names_the_blob_and_leaves_no_part(tmp_path: Path) -> None:
    for s in (1, 2):
        for r in (1, 2):
            d = tmp_path / "res" / f"sub-{s}" / f"run-{r}"
            d.mkdir(parents=True)
            (d / "vol.csv").write_text("roi,vol\n" + "".join(f"r{k},{s * k}\n" for k in range(20000)))
    (tmp_path / "study.yaml").write_text("outputs:\n  vol: {path: vol.csv, kind: table, key_columns: [roi]}\n")
    line = one_line_error(
        rp(tmp_path, "ingest", "study.yaml", "--pattern", "res/{subject}/run-{repetition}", limit_kb=150)
    )
    assert f"{tmp_path}/.reprovip/blobs/" in line and "cannot write it (File too large)" in line
    assert not _parts(tmp_path / ".reprovip")


@pytest.fixture
def immutable_catalog(tmp_path: Path):
    """An analysed study whose catalog and WAL cannot be written (``chattr +i``; root passes permissions)."""
    make_study(tmp_path)
    assert rp(tmp_path, "run", "study.yaml", "--no-progress").returncode == 0
    assert rp(tmp_path, "analyze", "study.yaml").returncode == 0
    files = [tmp_path / ".reprovip" / "catalog.sqlite", tmp_path / ".reprovip" / "catalog.sqlite-wal"]
    files[1].touch()
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", *map(str, files)], check=False).returncode:
        pytest.skip("chattr +i is not available here")
    yield tmp_path
    subprocess.run(["chattr", "-i", *map(str, files)], check=False)


def test_a_catalog_that_cannot_be_written_is_one_line(immutable_catalog: Path) -> None:
    for command in (("analyze", "study.yaml"), ("check", "study.yaml"), ("run", "study.yaml", "--force")):
        line = one_line_error(rp(immutable_catalog, *command))
        assert "catalog.sqlite: cannot write it (attempt to write a readonly database)" in line, (command, line)
        assert "make them writable" in line
