"""A study copied into a folder of another name: its store holds it under the old name (the default name is
the folder's), and "nothing stored yet" read as if the results were lost (review D/12)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from reprovip.stored_names import nothing_stored, stored_names
from reprovip.study import Study
from tests.conftest import ingested


def test_a_copied_study_is_told_the_name_its_store_holds_and_that_name_analyses_it(tmp_path: Path) -> None:
    files = {(s, r): {"r.json": json.dumps({"v": float(s[-1])})} for s in ("sub-1", "sub-2") for r in (1, 2)}
    ingested(tmp_path / "orig", "  r: {path: r.json, kind: scalars}\n", files)
    shutil.copytree(tmp_path / "orig", tmp_path / "copy")
    copy = Study.load(tmp_path / "copy" / "study.yaml")
    assert copy.name == "copy" and copy.catalog.study_id("copy") is None
    others = stored_names(copy.catalog, copy.name)
    assert others == ["orig"]
    assert nothing_stored(copy.path, copy.name, others) == (
        f"{copy.path}: nothing stored under the name 'copy' (a study's name is its folder's unless the study file "
        "sets `name:`), but this store holds the study 'orig': add `name: orig` to the study file if it is that one "
        "(copied or renamed), or run `reprovip run` or `reprovip ingest`"
    )
    # Following the message analyses the copy's stored results.
    copy.path.write_text("name: orig\n" + copy.path.read_text())
    doc = Study.load(copy.path).analyze().document
    assert doc["study"]["name"] == "orig" and doc["outputs"][0]["complete_subjects"] == 2


def test_studies_only_named_are_not_offered_and_several_are_listed(tmp_path: Path) -> None:
    class _Catalog:
        def studies(self) -> list[dict]:
            return [
                dict(name="b", counts={"done": 2}),
                dict(name="a", counts={"failed": 1}),
                dict(name="named", counts={}),  # no execution: a validate, or an ingest that stored nothing
                dict(name="me", counts={"done": 1}),
            ]

    others = stored_names(_Catalog(), "me")
    assert others == ["a", "b"]
    assert nothing_stored("s.yaml", "me", others).endswith(
        "but this store holds the studies 'a', 'b': add `name: <one of them>` to the study file if it is one of them "
        "(copied or renamed), or run `reprovip run` or `reprovip ingest`"
    )
    assert (
        nothing_stored("s.yaml", "me", [])
        == "s.yaml: nothing stored yet; run `reprovip run` or `reprovip ingest` first"
    )
