"""Built-in factors that change how an execution runs: blas, perturb, container, Python callables."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from reprovip.errors import MetricInputError, SpecError
from reprovip.execute.container import wrap
from reprovip.execute.perturb import perturb_file
from reprovip.spec import parse_spec
from reprovip.study import Study
from tests.conftest import write_study


def _blob_json(study: Study, eid: str) -> dict:
    out = next(o for o in study.catalog.outputs(study.catalog.study_id(study.name)) if o["execution_id"] == eid)
    return json.loads(study.store.joinpath("blobs", out["blob"][:2], out["blob"] + out["suffix"]).read_text())


def test_blas_factor_sets_openblas_and_mkl_variables(study_dir: Path) -> None:
    app = study_dir / "envdump.py"
    app.write_text(
        "import json, os, sys\njson.dump({k: os.environ.get(k) for k in ('OPENBLAS_CORETYPE', 'MKL_CBWR')},"
        " open(sys.argv[2] + '/result.json', 'w'))\n"
    )
    path = write_study(
        study_dir,
        factors="  blas: [Haswell, AVX2]\n",
        repetitions=1,
        subjects=1,
        outputs="  result: {path: result.json, kind: text}\n",
    )
    path.write_text(path.read_text().replace(str(Path(__file__).parents[1] / "apps" / "det_app.py"), str(app)))
    study = Study.load(path)
    study.run()
    got = {row.condition_key: _blob_json(study, row.id) for row in study.executions().itertuples()}
    assert got == {
        "blas=Haswell": {"OPENBLAS_CORETYPE": "Haswell", "MKL_CBWR": None},
        "blas=AVX2": {"OPENBLAS_CORETYPE": "Haswell", "MKL_CBWR": "AVX2"},  # the same instruction set for both
    }


def test_perturb_factor_reveals_sensitivity_and_records_its_seed(study_dir: Path) -> None:
    study = Study.load(write_study(study_dir, factors="  perturb: [0, 4]\n", repetitions=3))
    assert study.run(jobs=2).failed == 0
    doc = study.analyze().document
    out = doc["outputs"][0]
    assert out["bitwise"]["factors"]["perturb"]["nondeterministic_levels"] == ["4"]
    assert "a few ULPs of input noise change the result" in out["attribution"]["summary"]
    envs = [
        study.catalog.attempts(r.id)[0]["env"]
        for r in study.executions().itertuples()
        if r.condition_key == "perturb=4"
    ]
    assert len({e["REPROVIP_PERTURB_SEED"] for e in envs}) == 9 and {e["REPROVIP_PERTURB_ULPS"] for e in envs} == {"4"}
    # The application still sees values within 4 ULPs of its input.
    values = [o for o in out["observations"] if o["name"] == "value"][0]
    assert values["wsd"] < 1e-13


def test_perturb_nifti_keeps_header_and_leaves_integers_alone(tmp_path: Path) -> None:
    data = np.linspace(1, 100, 60, dtype=np.float32).reshape(3, 4, 5)
    affine = np.diag([2.0, 2.0, 3.0, 1.0])
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "t1.nii.gz")
    (tmp_path / "out").mkdir()
    got = nib.load(perturb_file(tmp_path / "t1.nii.gz", tmp_path / "out", ulps=3, seed=1))
    moved = np.asarray(got.dataobj)
    assert got.get_data_dtype() == np.float32 and np.array_equal(got.affine, affine)
    assert not np.array_equal(moved, data) and np.all(np.abs(moved - data) <= 3 * np.spacing(data))
    labels = np.arange(60, dtype=np.int16).reshape(3, 4, 5)
    nib.save(nib.Nifti1Image(labels, affine), tmp_path / "seg.nii.gz")
    assert np.array_equal(
        np.asarray(nib.load(perturb_file(tmp_path / "seg.nii.gz", tmp_path / "out", ulps=3, seed=1)).dataobj), labels
    )


_DOCKER_LIKE = ["run", "--rm", "--network", "none", "-v", "/s:/s", "-v", "/w:/w", "-w", "/w", "-e", "A=1"]
_APPTAINER_LIKE = ["exec", "--containall", "--bind", "/s:/s", "--bind", "/w:/w", "--pwd", "/w", "--env", "A=1"]
_UDOCKER = ["run", "--rm", "--volume=/s:/s", "--volume=/w:/w", "--workdir=/w", "--env=A=1"]


@pytest.mark.parametrize(
    ("engine", "expected"),
    [
        (engine, [engine, *options, "img", "tool", "x"])
        for engine, options in [
            ("docker", _DOCKER_LIKE),
            ("podman", _DOCKER_LIKE),
            ("apptainer", _APPTAINER_LIKE),
            ("singularity", _APPTAINER_LIKE),
            ("udocker", _UDOCKER),
        ]
    ],
)
def test_container_wrapping_per_engine(engine: str, expected: list[str]) -> None:
    assert wrap(engine, "img", ["tool", "x"], binds=["/s"], workdir="/w", env={"A": "1"}) == expected


def test_unknown_engine_is_rejected() -> None:
    with pytest.raises(MetricInputError, match=r"`engine` must be one of \{'apptainer', 'docker'"):
        wrap("lxc", "img", ["x"], binds=[], workdir="/w", env={})
    with pytest.raises(SpecError, match=r"container engine must be one of"):
        parse_spec(
            "application: {command: [x]}\nsubjects: {list: [a]}\nfactors:\n  container: {a: {engine: lxc, image: i}}\n"
            "outputs: {o: {path: o, kind: text}}\n"
        )


@pytest.mark.skipif(
    shutil.which("valgrind") is None
    or subprocess.run(["valgrind", "--tool=verrou", "--help"], capture_output=True, check=False).returncode != 0,
    reason="Verrou (valgrind --tool=verrou) is not installed here; Debian does not package it",
)
def test_verrou_level_runs_under_random_rounding(study_dir: Path) -> None:  # pragma: no cover - needs Verrou
    study = Study.load(write_study(study_dir, factors="  perturb: [verrou]\n", repetitions=2, subjects=1))
    assert study.run().done == 2


def test_python_callable_application(study_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = study_dir / "mytool.py"
    pkg.write_text(
        "import json, os\n"
        "def segment(input, outdir, subject, repetition, threads):\n"
        "    json.dump({'threads': float(os.environ['OMP_NUM_THREADS']), 'rep': float(repetition)},"
        " open(os.path.join(outdir, 'result.json'), 'w'))\n"
        "    return int(subject[-1])  # a count it found (review H: a returned int became the exit code)\n"
    )
    path = write_study(study_dir, factors="  threads: [1, 2]\n", repetitions=2, subjects=1)
    text = path.read_text().split("subjects:")[1]
    path.write_text(
        "application:\n  python: mytool:segment\nenv: {PYTHONPATH: "
        + json.dumps(str(study_dir))
        + "}\nsubjects:"
        + text
    )
    study = Study.load(path)
    summary = study.run()
    assert (summary.done, summary.failed) == (4, 0)
    att = study.catalog.attempts(study.executions()["id"][0])[0]
    assert att["argv"][:4] == [sys.executable, "-m", "reprovip.execute.pycall", "mytool:segment"]


def test_every_perturb_level_gets_its_input_through_the_same_copy(tmp_path: Path) -> None:
    """Review G: a scaled int16 input (scl_slope 0.37) reached level 0 as the original int16 file and level 4
    as the float64 copy; a tool keeping its input's type truncated one and not the other, and the difference
    read "perturb changes the result". Level 0 gets the same copy, without noise."""
    data = tmp_path / "data"
    data.mkdir()
    for s in range(3):
        img = nib.Nifti1Image(np.arange(24, dtype=np.int16).reshape(2, 3, 4) + 10 * s, np.eye(4))
        img.header.set_slope_inter(0.37, 1.5)
        nib.save(img, data / f"sub-{s}.nii.gz")
    app = tmp_path / "app.py"
    app.write_text(
        "import json, sys\nimport nibabel as nib\n"
        "img = nib.load(sys.argv[1])\n"
        "json.dump({'dtype': str(img.get_data_dtype()), 'scaled': float(img.dataobj.slope)}, "
        "open(sys.argv[2] + '/r.json', 'w'))\n"
    )
    (tmp_path / "study.yaml").write_text(
        f'application:\n  command: ["{sys.executable}", "{app}", "{{input}}", "{{outdir}}"]\n'
        'subjects: {glob: "data/{subject}.nii.gz"}\nfactors:\n  perturb: [0, 4]\nrepetitions: 1\n'
        "outputs:\n  r: {path: r.json, kind: scalars}\n"
    )
    study = Study.load(tmp_path / "study.yaml")
    assert study.run(jobs=2).done == 6
    seen = {_blob_json(study, row.id)["dtype"] for row in study.executions().itertuples()}
    assert seen == {"float64"}  # level 0 as well, not the original int16
