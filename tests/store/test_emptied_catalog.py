"""A catalog cut to 0 bytes beside stored outputs (a full disk): `status` made a new empty catalog over it and
showed an empty table (exit 0), then `check` said "nothing stored yet", the outputs orphaned (review D). Every
command refuses it in one line; a new store (no output yet) still starts from an empty file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reprovip.cli.main import main
from reprovip.errors import StoreError
from reprovip.store import Catalog
from reprovip.study import Study
from tests.conftest import ingested


def test_an_emptied_catalog_beside_stored_outputs_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {(s, r): {"r.json": json.dumps({"v": float(s[-1])})} for s in ("sub-1", "sub-2") for r in (1, 2)}
    study = ingested(tmp_path / "s", "  r: {path: r.json, kind: scalars}\n", files)
    catalog = study.store / "catalog.sqlite"
    catalog.write_bytes(b"")
    message = f"{catalog}: the catalog is empty (0 bytes) while {study.store / 'blobs'} holds stored outputs"
    for command in ("status", "check", "analyze"):
        assert main([command, str(study.path)]) == 2, command
        assert capsys.readouterr().err.startswith(f"reprovip: error: {message}: it was cut"), command
    assert catalog.stat().st_size == 0  # nothing written over it
    with pytest.raises(StoreError, match="restore it from a copy, or move it away and run the study again$"):
        Study.load(study.path).catalog  # noqa: B018 (the property opens it)


def test_an_empty_catalog_file_of_a_new_store_is_created(tmp_path: Path) -> None:
    (tmp_path / "catalog.sqlite").write_bytes(b"")
    assert Catalog.for_store(tmp_path).studies() == []
