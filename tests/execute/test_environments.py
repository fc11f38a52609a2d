"""The environments factor: two real environments with two versions of a pure-Python package."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reprovip.errors import InputError, SpecError
from reprovip.execute.environments import ensure
from reprovip.spec import parse_spec
from reprovip.study import Study
from tests.conftest import write_study

ENVS = '  environments:\n    six-1.15: ["six==1.15.0"]\n    six-1.16: ["six==1.16.0"]\n'


def test_two_environments_are_built_recorded_and_attributed(
    study_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPROVIP_ENV_CACHE", str(tmp_path / "envs"))
    path = write_study(study_dir, app="libversion_app.py", factors=ENVS, repetitions=2, interpreter="{python}")
    study = Study.load(path)
    summary = study.run(jobs=2)
    assert (summary.done, summary.failed) == (12, 0)
    # Each level ran in its own interpreter, and the resolved packages are in the provenance.
    df = study.executions()
    for eid, cond in zip(df["id"], df["condition_key"], strict=True):
        att = study.catalog.attempts(eid)[0]
        prov = study.catalog.provenance(att["provenance"])
        level = cond.split("=")[1]
        assert prov["environment"]["name"] == level
        assert prov["environment"]["packages"]["six"] == {"six-1.15": "1.15.0", "six-1.16": "1.16.0"}[level]
        assert att["argv"][0].startswith(str(tmp_path / "envs"))
    doc = study.analyze().document
    out = doc["outputs"][0]
    env_effect = out["bitwise"]["factors"]["environments"]
    assert env_effect["changes_result"] and env_effect["between_differ"] == env_effect["between_pairs"] == 3
    assert "environments changes the result" in out["attribution"]["summary"]
    assert doc["provenance"]["differing"]["environment.packages.six"] == ["1.15.0", "1.16.0"]


def test_cached_environment_is_reused(tmp_path: Path) -> None:
    first = ensure("a", ["six==1.16.0"], tmp_path)
    marker = first.path / "reprovip-environment.json"
    before = marker.stat().st_mtime_ns
    again = ensure("b", ["six==1.16.0"], tmp_path)
    assert again.path == first.path and marker.stat().st_mtime_ns == before
    assert json.loads(marker.read_text())["packages"]["six"] == "1.16.0"


def test_uninstallable_requirement_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(
        InputError, match=r"could not install \['reprovip-no-such-package-xyz==9.9'\] into environment 'bad'"
    ):
        ensure("bad", ["reprovip-no-such-package-xyz==9.9"], tmp_path)


def test_environments_levels_must_be_requirement_lists() -> None:
    with pytest.raises(SpecError, match=r"`environments` must map level names to lists of requirements"):
        parse_spec(
            "application: {command: [x]}\nsubjects: {list: [a]}\nfactors:\n  environments: [a, b]\n"
            "outputs: {o: {path: o, kind: text}}\n"
        )
