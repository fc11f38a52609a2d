"""Where it diverges in a Nipype workflow traced with `trace: files`: each node is a step, named by Nipype's
hierarchical name. The workflow (APP below, run by reprovip as a real subprocess) has six Function nodes:

- ``make``: an 8x8x8 NIfTI image from the subject's number (deterministic: the control, identical everywhere);
- ``noise``: adds noise from an unseeded generator when the seed is ``none`` (origin under seed=unseeded);
- ``smooth``: adds unseeded noise when OMP_NUM_THREADS=2 (origin under threads=2; propagates ``noise``);
- ``shape``: the noisy image's shape as JSON (reads ``noise``'s image, writes the same file: absorbed);
- ``mean``: returns the smoothed image's mean as a float (no file: only its result_mean.pklz carries it);
- ``report``: writes ``{outdir}/result.json`` from that float (outside every node folder).

The origin and the propagated nodes are known by construction."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reprovip.analyze.dataflow import dataflow
from reprovip.execute import nipype_trace, trace
from reprovip.study import Study
from tests.conftest import write_study

pytest.importorskip("nipype", reason="nipype (extra `workflows`) is not installed")

APP = '''"""A Nipype workflow: python nipype_app.py INPUT OUTDIR SEED; its base folder is ./work."""
import os
import sys

os.environ["NIPYPE_NO_ET"] = "1"  # no version check over the network
from nipype import Function, Node, Workflow


def make(subject_file):
    import os
    import nibabel as nib
    import numpy as np
    value = float(open(subject_file).read().split()[-1])
    data = np.arange(512, dtype="float32").reshape(8, 8, 8) * value
    nib.save(nib.Nifti1Image(data, np.eye(4)), "image.nii.gz")
    return os.path.abspath("image.nii.gz")


def noise(in_file, seed):
    import os
    import nibabel as nib
    import numpy as np
    img = nib.load(in_file)
    data = img.get_fdata()
    if seed == "none":
        data = data + np.random.default_rng().normal(0, 1e-3, data.shape)
    nib.save(nib.Nifti1Image(data.astype("float32"), img.affine), "noisy.nii.gz")
    return os.path.abspath("noisy.nii.gz")


def smooth(in_file):
    import os
    import nibabel as nib
    import numpy as np
    img = nib.load(in_file)
    data = img.get_fdata() * 0.5
    if os.environ.get("OMP_NUM_THREADS") == "2":
        data = data + np.random.default_rng().normal(0, 1e-3, data.shape)
    nib.save(nib.Nifti1Image(data.astype("float32"), img.affine), "smooth.nii.gz")
    return os.path.abspath("smooth.nii.gz")


def shape(in_file):
    import json
    import os
    import nibabel as nib
    with open("shape.json", "w") as fh:
        json.dump(list(nib.load(in_file).shape), fh)
    return os.path.abspath("shape.json")


def mean(in_file):
    import nibabel as nib
    return float(nib.load(in_file).get_fdata().mean())


def report(value, outdir):
    import json
    import os
    path = os.path.join(outdir, "result.json")
    with open(path, "w") as fh:
        json.dump({"value": value}, fh)
    return path


if __name__ == "__main__":
    subject_file, outdir, seed = sys.argv[1:4]
    wf = Workflow("wf", base_dir=os.path.abspath("work"))
    nodes = {}
    for f in (make, noise, smooth, shape, mean, report):
        args = list(f.__code__.co_varnames[: f.__code__.co_argcount])
        nodes[f.__name__] = Node(Function(args, ["out"], f), name=f.__name__)
    nodes["make"].inputs.subject_file = subject_file
    nodes["noise"].inputs.seed = seed
    nodes["report"].inputs.outdir = outdir
    wf.connect(
        [
            (nodes["make"], nodes["noise"], [("out", "in_file")]),
            (nodes["noise"], nodes["smooth"], [("out", "in_file")]),
            (nodes["noise"], nodes["shape"], [("out", "in_file")]),
            (nodes["smooth"], nodes["mean"], [("out", "in_file")]),
            (nodes["mean"], nodes["report"], [("out", "value")]),
        ]
    )
    wf.run()
'''

NODES = ["make", "noise", "smooth", "shape", "mean", "report"]


def _app(root: Path) -> Path:
    path = root / "nipype_app.py"
    path.write_text(APP)
    return path


def _by_label(flow: dict) -> dict:
    return {c["label"]: c for c in flow["contrasts"]}


def test_nipype_nodes_are_the_steps_origin_and_propagated_per_factor_level(study_dir: Path) -> None:
    study = Study.load(
        write_study(
            study_dir,
            app=str(_app(study_dir)),  # an absolute path: write_study joins it to tests/apps
            args='"{input}", "{outdir}", "{seed}"',
            factors="  threads: [1, 2]\n  seed: [42, {unseeded: none}]\n",
            repetitions=2,
            subjects=1,
            extra="trace: files\n",
        )
    )
    assert study.run(jobs=2).ok
    doc = study.analyze().document
    flow = doc["dataflow"]
    assert (flow["mode"], flow["step_source"], flow["traced"], flow["notes"]) == ("files", "nipype", 8, [])
    steps = {s["name"]: s for s in flow["steps"]}
    assert sorted(steps) == sorted(f"wf.{n}" for n in NODES)
    # What links the nodes: the files their inputs name and the result files of the nodes that feed them.
    assert steps["wf.smooth"]["reads"] == ["work/wf/noise/noisy.nii.gz", "work/wf/noise/result_noise.pklz"]
    assert steps["wf.smooth"]["writes"] == ["work/wf/smooth/result_smooth.pklz", "work/wf/smooth/smooth.nii.gz"]
    assert steps["wf.report"]["reads"] == ["work/wf/mean/result_mean.pklz"]  # a float, passed outside any file
    assert steps["wf.report"]["writes"] == ["out/result.json", "work/wf/report/result_report.pklz"]
    assert steps["wf.make"]["reads"] == []  # the subject's file is outside the working folder
    # Nipype's records of each run (pickled node and inputs, input hashes, report) are not traced files.
    paths = [f["relpath"] for f in flow["files"]]
    assert not [p for p in paths if p.endswith(("_node.pklz", "_inputs.pklz", "report.rst")) or "/_0x" in p]

    c = _by_label(flow)
    wf = {n: f"wf.{n}" for n in NODES}
    assert c["the reference condition (threads=1, seed=42)"]["steps"] == {s: "identical" for s in wf.values()}
    assert c["threads=2"]["steps"] == {
        wf["make"]: "identical",
        wf["noise"]: "identical",
        wf["smooth"]: "origin",
        wf["shape"]: "identical",
        wf["mean"]: "propagated",
        wf["report"]: "propagated",
    }
    assert c["seed=unseeded"]["steps"] == {
        wf["make"]: "identical",
        wf["noise"]: "origin",
        wf["smooth"]: "propagated",
        wf["shape"]: "absorbed",
        wf["mean"]: "propagated",
        wf["report"]: "propagated",
    }
    assert (c["threads=2"]["origins"], c["threads=2"]["unattributed"]) == (["wf.smooth"], [])
    # The control: make's image and shape's JSON are identical under every contrast.
    for contrast in flow["contrasts"]:
        for p in ("work/wf/make/image.nii.gz", "work/wf/shape/shape.json"):
            assert contrast["files"][p]["diverges"] is False
    assert c["seed=unseeded"]["sentence"] == (
        "under seed=unseeded the divergence starts at step `wf.noise`; 3 later files differ as a consequence"
    )
    # noisy.nii.gz, then smooth.nii.gz, result_mean.pklz and out/result.json (the result files holding a path
    # to a diverging image do not differ: the file itself is compared).
    assert "the divergence starts at step `wf.smooth`" in doc["outputs"][0]["attribution"]["summary"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working folder the workflow ran in, as reprovip runs it (cwd = the folder, outdir = its out/)."""
    root = tmp_path_factory.mktemp("nipype")
    (root / "sub.txt").write_text("subject 2.0\n")
    work = root / "work-folder"
    (work / "out").mkdir(parents=True)
    app = _app(root)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    subprocess.run(
        [sys.executable, str(app), str(root / "sub.txt"), str(work / "out"), "42"], cwd=work, env=env, check=True
    )
    return work


def test_trace_stores_each_node_as_a_row_with_its_name_folder_and_files(workdir: Path) -> None:
    t = trace.trace_execution("files", str(workdir), skip=(), note=None)
    assert t["note"] is None
    rows = {r["argv"][1]: r for r in t["processes"]}
    assert sorted(rows) == sorted(f"wf.{n}" for n in NODES)
    assert {r["argv"][0] for r in rows.values()} == {nipype_trace.NIPYPE_NODE}
    assert rows["wf.noise"] == dict(
        number=rows["wf.noise"]["number"],
        parent=None,
        argv=[nipype_trace.NIPYPE_NODE, "wf.noise"],
        cwd="work/wf/noise",
        exit_code=None,
        reads=["work/wf/make/image.nii.gz", "work/wf/make/result_make.pklz"],
        writes=["work/wf/noise/noisy.nii.gz", "work/wf/noise/result_noise.pklz"],
    )
    # Start order: make runs first, report last (the only order the connections allow at the ends).
    assert (rows["wf.make"]["number"], rows["wf.report"]["number"]) == (0, 5)
    files = {f["relpath"]: f for f in t["files"]}
    assert [f["write_order"] for f in t["files"]] == list(range(len(t["files"])))
    # A result file is compared by the outputs it holds (its bytes hold timestamps): a semantic hash of its own.
    assert all(files[f"work/wf/{n}/result_{n}.pklz"]["semantic_hash"] for n in NODES)


def test_without_nipype_the_nodes_are_not_read_and_one_note_says_why(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    find_spec = nipype_trace.importlib.util.find_spec
    monkeypatch.setattr(
        nipype_trace.importlib.util, "find_spec", lambda name: None if name == "nipype" else find_spec(name)
    )
    t = trace.trace_execution("files", str(workdir), skip=(), note=None)
    monkeypatch.undo()
    assert t["note"] == (
        "the Nipype workflow's nodes were not read: nipype is not importable by reprovip "
        "(install it to name the steps by node)"
    )
    assert t["processes"] == []
    # Nothing Nipype wrote about its runs is left to differ between repetitions: no .pklz at all.
    assert [f["relpath"] for f in t["files"] if f["relpath"].endswith(".pklz")] == []
    assert "work/wf/noise/noisy.nii.gz" in {f["relpath"] for f in t["files"]}


def test_under_trace_processes_the_node_files_are_dropped_without_being_read(
    tmp_path: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under `processes` the steps are processes: Nipype's pickles are not loaded (before, they were, and a file
    that did not load added a note about nodes that this mode never names), yet its records are still dropped."""
    import shutil

    copy = tmp_path / "w"
    shutil.copytree(workdir, copy)
    (copy / "work/wf/shape/_node.pklz").write_bytes(b"not a pickle")
    monkeypatch.setattr(trace, "parse", lambda workdir, files: [])  # no strace log in this folder
    t = trace.trace_execution("processes", str(copy), skip=(), note=None)
    assert t["note"] is None and t["processes"] == []
    assert [f["relpath"] for f in t["files"] if f["relpath"].endswith(".pklz")] == []
    assert "work/wf/noise/noisy.nii.gz" in {f["relpath"] for f in t["files"]}


def test_an_unreadable_node_file_reads_no_node_and_says_which_error(tmp_path: Path, workdir: Path) -> None:
    import shutil

    copy = tmp_path / "w"
    shutil.copytree(workdir, copy)
    (copy / "work/wf/shape/_node.pklz").write_bytes(b"not a pickle")
    t = trace.trace_execution("files", str(copy), skip=(), note="traced with `files` instead of `processes`: x")
    assert t["processes"] == []
    assert t["note"].startswith(
        "traced with `files` instead of `processes`: x; "
        "the Nipype workflow's nodes were not read: its files could not be read with nipype ("
    )


def test_steps_only_when_every_execution_has_them() -> None:
    node = dict(number=0, parent=None, argv=[nipype_trace.NIPYPE_NODE, "wf.a"], cwd="w/a", exit_code=None, reads=[])
    rows = [dict(relpath="w/a/x", write_order=0, semantic_hash=None, blob="h")]
    with_nodes = dict(
        subject="s", condition={}, mode="files", note=None, files=rows, processes=[dict(node, writes=["w/a/x"])]
    )
    without = dict(with_nodes, processes=[], note="the Nipype workflow's nodes were not read: ...")
    assert dataflow([with_nodes, dict(with_nodes)], {}, 2)["step_source"] == "nipype"
    flow = dataflow([with_nodes, without], {}, 2)
    assert (flow["step_source"], flow["steps"], "steps" in flow["contrasts"][0]) == (None, None, False)
