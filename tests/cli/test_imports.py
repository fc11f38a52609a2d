"""The CLI starts at once: each command imports only the heavy libraries it needs (checked, not timed).

A fresh interpreter runs one command through ``reprovip.cli.main.main`` and reports which of the heavy modules
ended up in ``sys.modules``. The figures (wall time against ``python -c pass``) are printed by
``benchmarks/cli_start.py``; docs/running.md states them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reprovip.study import Study
from tests.conftest import write_study

HEAVY = ("pandas", "numpy", "sqlalchemy", "pydantic", "rich", "nibabel", "ruamel", "scipy", "alembic")


def _imported(*argv: str) -> set[str]:
    """The top-level packages of :data:`HEAVY` that ``reprovip ARGV`` imports."""
    code = (
        "import json, sys\n"
        "from reprovip.cli.main import main\n"
        f"code = main({list(argv)!r})\n"
        f"print(json.dumps([code, sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    code, modules = json.loads(proc.stdout.strip().splitlines()[-1])
    assert code == 0, proc.stderr
    return set(modules)


@pytest.fixture(scope="module")
def run_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = write_study(tmp_path_factory.mktemp("study"), repetitions=1, subjects=2)
    assert Study.load(path).run(jobs=1, progress=False).done == 2
    return path


@pytest.mark.parametrize("argv", [("--version",), ("--help",), ("run", "--help"), ("status", "--help")])
def test_version_and_help_import_no_heavy_library(argv: tuple[str, ...]) -> None:
    assert _imported(*argv) == set()


def test_validate_imports_pydantic_and_the_yaml_parser_only(run_study: Path) -> None:
    assert _imported("validate", str(run_study)) == {"pydantic", "ruamel"}


def test_status_reads_the_sqlite_catalog_without_sqlalchemy(run_study: Path) -> None:
    # The spec (pydantic, ruamel) and the table (rich); the catalog is read with sqlite3: nothing of the analysis.
    assert _imported("status", str(run_study)) == {"pydantic", "ruamel", "rich"}


def test_status_of_a_database_url_opens_the_catalog(run_study: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPROVIP_CATALOG", f"sqlite:///{run_study.parent / '.reprovip' / 'catalog.sqlite'}")
    assert _imported("status", str(run_study)) == {"pydantic", "ruamel", "rich", "sqlalchemy"}


def test_run_without_a_progress_bar_does_not_import_rich(tmp_path: Path) -> None:
    path = write_study(tmp_path, repetitions=1, subjects=1)
    assert _imported("run", str(path), "--no-progress") == {"pydantic", "ruamel", "sqlalchemy"}
