"""A study copied into a folder of another name: its store holds it under the old name (the default name is
the folder's), and "nothing stored yet" read as if the results were lost (review D/12). A file that declares no
name takes its store's; one that declares another is told the names the store holds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from reprovip.cli.main import cli
from reprovip.errors import NotFoundError
from reprovip.store.names import nothing_stored, stored_names
from reprovip.study import StoredNameUsed, Study
from tests.conftest import ingested


def test_a_copied_study_takes_the_name_its_store_holds_with_a_warning(tmp_path: Path) -> None:
    """The copy's file declares no name: it takes the one its store knows it by, and says so (`status` of such a
    copy printed an empty table, `report` "no analysis yet": review D). A file that names another study is told
    the names the store holds."""
    files = {(s, r): {"r.json": json.dumps({"v": float(s[-1])})} for s in ("sub-1", "sub-2") for r in (1, 2)}
    ingested(tmp_path / "orig", "  r: {path: r.json, kind: scalars}\n", files).analyze()
    shutil.copytree(tmp_path / "orig", tmp_path / "copy")
    path = tmp_path / "copy" / "study.yaml"
    with pytest.warns(StoredNameUsed, match=r"declares no `name:`, and its store knows this study as 'orig'"):
        copy = Study.load(path)
    doc = copy.analyze().document
    assert doc["study"]["name"] == "orig" and doc["outputs"][0]["complete_subjects"] == 2
    path.write_text("name: other\n" + path.read_text())  # declared: never replaced
    other = Study.load(path)
    assert other.name == "other" and other.catalog.study_id("other") is None
    others = stored_names(other.catalog, other.name)
    assert others == ["orig"]
    assert nothing_stored(other.path, other.name, others) == (
        f"{other.path}: nothing stored under the name 'other' (a study's name is its folder's unless the study file "
        "sets `name:`), but this store holds the study 'orig': add `name: orig` to the study file if it is that one "
        "(copied or renamed), or run `reprovip run` or `reprovip ingest`"
    )
    # every command says so (review A: `status` read "nothing stored yet: `reprovip run` runs ...", `report` "no
    # analysis yet; run `reprovip analyze`", which then refused)
    said = nothing_stored(other.path, other.name, others)
    with pytest.raises(NotFoundError) as report:
        other.report()
    assert str(report.value) == said
    status = CliRunner().invoke(cli, ["status", str(path)])
    assert status.exit_code == 0 and said in " ".join(status.output.split())


def test_a_name_with_results_of_its_own_or_declared_quoted_is_kept(tmp_path: Path) -> None:
    """Code review: a folder whose own name has a results folder (its executions, no analysis yet) took another
    name the same file owned; and `"name": x` (a quoted key) was read as no name declared."""
    from reprovip.study import _stored_name

    results = tmp_path / ".reprovip" / "results"
    for name in ("proj", "old"):
        (results / name).mkdir(parents=True)
        (results / name / "study-file").write_text("study.yaml\n")
    path = tmp_path / "study.yaml"
    path.write_text("outputs: {r: {path: r.json, kind: scalars}}\n")
    assert _stored_name(path, "proj") is None
    assert _stored_name(path, "copy") is None  # two names owned by the file: which one is not guessed
    (results / "proj" / "study-file").unlink()
    (results / "proj").rmdir()
    assert _stored_name(path, "proj") == "old"
    path.write_text('"name": proj\noutputs: {r: {path: r.json, kind: scalars}}\n')
    assert _stored_name(path, "proj") is None


def test_studies_only_named_are_not_offered_and_several_are_listed(tmp_path: Path) -> None:
    from sqlalchemy import insert

    from reprovip.store import Catalog
    from reprovip.store import schema as s
    from reprovip.store.reader import SQLiteReader
    from tests.conftest import execution_rows

    catalog = Catalog.for_store(tmp_path)
    for name, n, failed in (("b", 2, ()), ("a", 1, (0,)), ("named", 0, ()), ("me", 1, ())):
        sid = catalog.ensure_study(name, {"name": name}, str(tmp_path))
        if n:  # none: a validate, or an ingest that stored nothing
            with catalog.engine.begin() as conn:
                rows = [dict(r, id=f"{name}-{r['id']}") for r in execution_rows(sid, n, failed=failed)]
                conn.execute(insert(s.executions), rows)
    catalog.close()
    others = stored_names(Catalog.for_store(tmp_path), "me")
    assert others == ["a", "b"] == stored_names(SQLiteReader.open(tmp_path / "catalog.sqlite"), "me")
    assert nothing_stored("s.yaml", "me", others).endswith(
        "but this store holds the studies 'a', 'b': add `name: <one of them>` to the study file if it is one of them "
        "(copied or renamed), or run `reprovip run` or `reprovip ingest`"
    )
    assert (
        nothing_stored("s.yaml", "me", [])
        == "s.yaml: nothing stored yet; run `reprovip run` or `reprovip ingest` first"
    )
