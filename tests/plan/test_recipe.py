"""The recipe of an execution covers its script and its input: edits run again, touches do not (real runs)."""

from __future__ import annotations

import importlib
import json
import os
import shutil
from pathlib import Path

import pytest

from reprovip.plan.expand import execution_recipes, expand
from reprovip.store import BlobStore
from reprovip.study import Study
from tests.conftest import write_study

APP = """import json, sys
from pathlib import Path
value = float(Path(sys.argv[1]).read_text().split()[-1])
(Path(sys.argv[2]) / "result.json").write_text(json.dumps({"value": value * 2.0}))
"""
# The module, not the function `reprovip.plan.expand` that the package exports under its name.
expand_module = importlib.import_module("reprovip.plan.expand")
RANDOM_APP = APP.replace("value * 2.0", "value * 2.0 + __import__('random').random()")


def _study(root: Path, *, subjects: str = "", extra_args: str = "") -> Study:
    """Three subjects x two repetitions running ``root/app.py`` through ``{study_dir}``."""
    path = write_study(root, subjects=3, repetitions=2, extra="name: recipe\n")
    (root / "app.py").write_text(APP)
    text = path.read_text().splitlines(keepends=True)
    text[1] = f'  command: ["{{python}}", "{{study_dir}}/app.py", "{{input}}", "{{outdir}}"{extra_args}]\n'
    if subjects:
        text[2] = f"subjects: {subjects}\n"
    path.write_text("".join(text))
    return Study.load(path)


def _values(study: Study) -> dict[str, list[float]]:
    """The stored `value` of each subject's done executions."""
    blobs, out = BlobStore(study.store), {}
    for r in study.catalog.outputs(study.catalog.study_id(study.name)):
        out.setdefault(r["subject"], []).append(json.loads(blobs.path(r["blob"], r["suffix"]).read_text())["value"])
    return out


def test_an_edited_script_runs_again_and_its_new_results_are_analysed(tmp_path: Path) -> None:
    """`{study_dir}/app.py` made random after a run (review fp-hunt6 C/07: "24 already done", still "bit-for-bit
    identical"): every execution is an earlier recipe, the check refuses, and the next run redoes all of them."""
    study = _study(tmp_path)
    assert study.run().done == 6
    assert study.analyze().document["verdict"]["status"] == "identical"
    (tmp_path / "app.py").write_text(RANDOM_APP)
    edited = Study.load(study.path)
    doc = edited.analyze().document
    assert doc["executions"]["plan"]["earlier_recipe"] == 6 and doc["verdict"]["status"] == "incomplete"
    summary = edited.run()
    assert (summary.skipped, summary.done) == (0, 6)
    doc = edited.analyze().document
    assert doc["executions"]["plan"]["earlier_recipe"] == 0 and doc["verdict"]["status"] != "identical"
    # Inputs hold 10, 17.5, 25: the new results are twice those plus a draw in [0, 1), two distinct ones each.
    for subject, base in {"sub-01": 20.0, "sub-02": 35.0, "sub-03": 50.0}.items():
        values = _values(edited)[subject]
        assert len(set(values)) == 2 and all(base <= v < base + 1 for v in values)


def test_a_subject_pointed_at_another_input_runs_again(tmp_path: Path) -> None:
    """`subjects: {map: ...}` with sub-01 moved to another file (review fp-hunt6 C/17: "15 already done", and
    `check` passed where a fresh store failed): only sub-01's executions run again, on the new file."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "other.txt").write_text("subject 77.0\n")
    mapping = "{map: {sub-01: data/sub-01.txt, sub-02: data/sub-02.txt, sub-03: data/sub-03.txt}}"
    study = _study(tmp_path, subjects=mapping)
    assert study.run().done == 6
    study.path.write_text(study.path.read_text().replace("sub-01: data/sub-01.txt", "sub-01: data/other.txt"))
    edited = Study.load(study.path)
    assert edited.analyze().document["executions"]["plan"]["earlier_recipe"] == 2
    summary = edited.run()
    assert (summary.skipped, summary.done) == (4, 2)
    assert _values(edited)["sub-01"] == [154.0, 154.0]
    assert edited.analyze().document["executions"]["plan"]["earlier_recipe"] == 0
    # The catalog names the file the executions now ran on (it kept the old path).
    rows = edited.catalog.executions(edited.catalog.study_id(edited.name))
    assert {r["input"] for r in rows if r["subject"] == "sub-01"} == {str(tmp_path / "data" / "other.txt")}


def test_an_input_whose_bytes_change_runs_again(tmp_path: Path) -> None:
    """The same path with other bytes (review fp-hunt6 C/07: an edited input was "already done")."""
    study = _study(tmp_path)
    assert study.run().done == 6
    (tmp_path / "data" / "sub-02.txt").write_text("subject 100.0\n")
    summary = Study.load(study.path).run()
    assert (summary.skipped, summary.done) == (4, 2)
    assert _values(study)["sub-02"] == [200.0, 200.0]


def test_touched_files_do_not_run_again(tmp_path: Path) -> None:
    """A newer modification time with the same bytes (a checkout, a copy) is the same recipe."""
    study = _study(tmp_path)
    assert study.run().done == 6
    later = (tmp_path / "app.py").stat().st_mtime + 60
    for p in [tmp_path / "app.py", *(tmp_path / "data").iterdir()]:
        os.utime(p, (later, later))
    summary = Study.load(study.path).run()
    assert (summary.skipped, summary.done) == (6, 0)


def test_inputs_gone_still_compare_the_script(tmp_path: Path) -> None:
    """Inputs moved away after the run (the subjects are taken from the catalog): their bytes cannot be
    compared, so only the condition's part of the recipe is; an edited script is still an earlier recipe."""
    study = _study(tmp_path)
    assert study.run().done == 6
    shutil.move(tmp_path / "data", tmp_path / "moved")
    plan = Study.load(study.path).analyze().document["executions"]["plan"]
    assert (plan["subjects"], plan["earlier_recipe"]) == ("as stored", 0)
    (tmp_path / "app.py").write_text(RANDOM_APP)
    plan = Study.load(study.path).analyze().document["executions"]["plan"]
    assert (plan["subjects"], plan["earlier_recipe"]) == ("as stored", 6)


def test_a_copy_archived_without_its_data_is_not_an_earlier_recipe(tmp_path: Path) -> None:
    """Review M: the study copied elsewhere without `data/`, the original still in place: its stored inputs
    (the original's) were compared with their path relative to the copy, and 6 executions read "run with an
    earlier recipe" (exit 3). They belong to another folder: gone for this one, the script still compared."""
    study = _study(tmp_path / "a")
    assert study.run().done == 6
    shutil.copytree(tmp_path / "a", tmp_path / "archive")
    shutil.rmtree(tmp_path / "archive" / "data")
    plan = Study.load(tmp_path / "archive" / "study.yaml").analyze().document["executions"]["plan"]
    assert (plan["subjects"], plan["earlier_recipe"]) == ("as stored", 0)
    (tmp_path / "archive" / "app.py").write_text(RANDOM_APP)
    plan = Study.load(tmp_path / "archive" / "study.yaml").analyze().document["executions"]["plan"]
    assert (plan["subjects"], plan["earlier_recipe"]) == ("as stored", 6)


def test_recipes_are_stable_and_survive_a_copy_of_the_folder(tmp_path: Path) -> None:
    """Pinned values: an unchanged study keeps its recipes within this version (a change here, such as a new
    field of the application's model, runs every stored study again: say so in the changes); paths are taken relative to the study folder, so a copied folder keeps them too."""
    study = _study(tmp_path / "a")
    recipes = execution_recipes(study.spec, study.directory, expand(study.spec, study.subjects))
    # The condition's 16 hex digits (the study's), then each subject's input's 16.
    assert sorted(set(recipes.values())) == [
        "9396ced7669d654a74039cc5adcf0c16",
        "9396ced7669d654ae4c91653b818fcea",
        "9396ced7669d654aec571c695cc75633",
    ]
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    copy = Study.load(tmp_path / "b" / "study.yaml")
    assert execution_recipes(copy.spec, copy.directory, expand(copy.spec, copy.subjects)) == recipes


@pytest.mark.parametrize(
    ("extra_args", "edited"),
    [
        (', "--config={study_dir}/cfg.json"', "cfg.json"),  # after an option's `=`
        (', "{study_dir}/../tool.py"', "../tool.py"),  # outside the folder, named through {study_dir}
    ],
)
def test_files_the_command_names_are_in_the_recipe(tmp_path: Path, extra_args: str, edited: str) -> None:
    """Each file the command names through ``{study_dir}`` is hashed; editing it changes every recipe."""
    root = tmp_path / "study"
    study = _study(root, extra_args=extra_args)
    (root / edited).write_text("a")
    planned = expand(study.spec, study.subjects)
    before = execution_recipes(study.spec, study.directory, planned)
    (root / edited).write_text("b")
    after = execution_recipes(study.spec, study.directory, planned)
    assert all(before[eid] != after[eid] for eid in before)


def test_each_file_is_hashed_once_while_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Six executions of three inputs and a script: four files read, however often the recipes are asked for;
    one file rewritten: that file only is read again."""
    study = _study(tmp_path)
    read: list[str] = []
    monkeypatch.setattr(expand_module, "_DIGESTS", {})
    monkeypatch.setattr(expand_module, "file_hash", lambda p: read.append(Path(p).name) or Path(p).name)
    planned = expand(study.spec, study.subjects)
    for _ in range(3):
        execution_recipes(study.spec, study.directory, planned)
    assert sorted(read) == ["app.py", "sub-01.txt", "sub-02.txt", "sub-03.txt"]
    (tmp_path / "data" / "sub-02.txt").write_text("subject 99.0 (longer)\n")
    execution_recipes(study.spec, study.directory, planned)
    assert read[4:] == ["sub-02.txt"]


def test_a_tool_writing_into_its_input_folder_completes(tmp_path: Path) -> None:
    """Inputs as folders (BIDS, FreeSurfer subjects) into which the tool appends a log: hashing the folder's
    files changed the recipe at every run, and the study stayed `incomplete` for good (a review). A folder
    input counts by its path."""
    for s in ("sub-01", "sub-02"):
        (tmp_path / "subjects" / s).mkdir(parents=True)
        (tmp_path / "subjects" / s / "value.txt").write_text("subject 3.0\n")
    study = _study(tmp_path, subjects='{glob: "subjects/{subject}"}')
    (tmp_path / "app.py").write_text(
        APP.replace("Path(sys.argv[1]).read_text()", '(Path(sys.argv[1]) / "value.txt").read_text()')
        + 'open(Path(sys.argv[1]) / "tool.log", "a").write("ran\\n")\n'
    )
    study = Study.load(study.path)
    assert study.run().done == 4
    doc = study.analyze().document
    # complete: no earlier recipe; the log it appends to its input is a warning (a result saved there may be reused)
    assert doc["executions"]["plan"]["earlier_recipe"] == 0 and doc["verdict"]["status"] == "warn"
    assert [a["note"] for a in doc["alerts"] if a.get("note")] == ["changed its input"]
    assert Study.load(study.path).run().skipped == 4


def test_a_key_at_its_default_leaves_the_recipe_and_the_spec_digest_alone(tmp_path: Path) -> None:
    """Review V: the recipe hashed every key with its default, so a reprovip adding a key (an output's
    `optional`) made every stored execution "an earlier recipe" after the upgrade, and CI re-ran them all.
    A key written at its default is the key left out; another value is another recipe."""
    from reprovip.analyze.executions import spec_digest
    from reprovip.plan.expand import recipe_hash

    study = _study(tmp_path)
    path = study.directory / "study.yaml"
    text = path.read_text()
    before = (recipe_hash(study.spec, study.directory), spec_digest(study.spec))
    path.write_text(text.replace("kind: scalars}", "kind: scalars, optional: false, key_columns: []}"))
    explicit = Study.load(path)
    assert (recipe_hash(explicit.spec, explicit.directory), spec_digest(explicit.spec)) == before
    path.write_text(text.replace("kind: scalars}", "kind: scalars, optional: true}"))
    optional = Study.load(path)
    assert recipe_hash(optional.spec, optional.directory) != before[0]
    assert spec_digest(optional.spec) != before[1]


def test_an_outputs_ignore_list_is_no_part_of_the_recipe() -> None:
    """Review R4: `compare` asks both study files to declare the same `ignore`; adding it to a baseline already run
    must run nothing again. Its path still is part of the recipe."""
    from reprovip.spec import parse_spec

    def spec(output: str):
        return parse_spec(f"application: {{command: [x]}}\noutputs: {{m: {output}}}\n")

    plain = expand_module.recipe_hash(spec("{path: m.json, kind: scalars}"))
    assert expand_module.recipe_hash(spec("{path: m.json, kind: scalars, ignore: [start_time]}")) == plain
    assert expand_module.recipe_hash(spec("{path: n.json, kind: scalars}")) != plain


def test_key_columns_are_no_part_of_the_recipe_and_an_earlier_recipe_with_them_is_kept(tmp_path, monkeypatch) -> None:
    """Review C: declaring `key_columns` (how a table is read) after a run made every done execution "run with an
    earlier recipe", and the study incomplete until it ran again. Executions stored by an earlier reprovip, whose
    recipe hashed `key_columns`, keep theirs: upgrading runs nothing again."""
    path = write_study(tmp_path, outputs="  r: {path: r.csv, kind: table}\n")
    plain = Study.load(path)
    path.write_text(path.read_text().replace("kind: table}", "kind: table, key_columns: [region]}"))
    keyed = Study.load(path)
    planned = expand(keyed.spec, keyed.subjects)
    now = execution_recipes(keyed.spec, keyed.directory, planned)
    assert now == execution_recipes(plain.spec, plain.directory, planned)
    real = expand_module.recipe_hash
    with monkeypatch.context() as m:  # the recipes an earlier reprovip stored
        m.setattr(expand_module, "recipe_hash", lambda *a, **k: real(*a, **dict(k, legacy=True)))
        earlier = execution_recipes(keyed.spec, keyed.directory, planned)
    assert set(earlier.values()).isdisjoint(now.values())
    assert execution_recipes(keyed.spec, keyed.directory, planned, earlier) == earlier  # kept
    assert execution_recipes(keyed.spec, keyed.directory, planned, dict.fromkeys(now, "other")) == now


@pytest.mark.parametrize(
    "env",
    [
        'env: {SEG_CONFIG: "{study_dir}/cfg.json"}\n',
        'factors:\n  env: {a: {SEG_CONFIG: "{study_dir}/cfg.json"}, b: {SEG_CONFIG: "{study_dir}/cfg.json", X: "1"}}\n',
    ],
)
def test_a_file_an_env_value_names_is_in_the_recipe(tmp_path: Path, env: str) -> None:
    """Review CA: a configuration named through the study's `env` (`SEG_CONFIG: "{study_dir}/cfg.json"`), edited,
    ran nothing again ("12 already done"), where the same file named on the command line would have."""
    root = tmp_path / "study"
    study = _study(root)
    (root / "cfg.json").write_text("a")
    path = root / "study.yaml"
    path.write_text(path.read_text() + env)
    study = Study.load(path)
    planned = expand(study.spec, study.subjects)
    before = execution_recipes(study.spec, study.directory, planned)
    (root / "cfg.json").write_text("b")
    after = execution_recipes(study.spec, study.directory, planned)
    assert all(before[eid] != after[eid] for eid in before)
