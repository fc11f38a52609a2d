"""`trace_keep`: the traced files it names are stored in the study's blob store, not only hashed, and marked
`kept`; the others are not stored. The pipeline is tests/apps/pipeline_app.py, run by a real study."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import blake3
import pytest

from reprovip.errors import NotFoundError, SpecError
from reprovip.execute import trace
from reprovip.execute.sandbox import OutputDecl, Task, run_task
from reprovip.store import BlobStore
from reprovip.study import Study
from tests.conftest import APPS, write_study
from tests.execute.test_trace import PIPELINE, pipeline_study

KEEP = 'trace_keep: ["step2/*.json"]\n'


def test_kept_intermediates_are_in_the_blob_store_and_the_others_are_not(study_dir: Path) -> None:
    study = pipeline_study(study_dir, "files", extra=KEEP)
    assert study.run(jobs=2).ok
    catalog = study.catalog
    traces = catalog.traces(catalog.study_id(study.name))
    assert len(traces) == 4
    outputs = {o["blob"] for o in catalog.outputs(catalog.study_id(study.name))}
    kept_blobs = set()
    for t in traces:
        assert [f["relpath"] for f in t["files"]] == PIPELINE
        assert [f["relpath"] for f in t["files"] if f["kept"]] == ["step2/denoised.json"]
        denoised = t["files"][1]
        path = study.trace_file(t["execution_id"], "step2/denoised.json")
        assert path.name.endswith(".json") and blake3.blake3(path.read_bytes()).hexdigest() == denoised["blob"]
        kept_blobs.add(denoised["blob"])
        if t["condition"]["threads"] == 1:
            # The subject's input ends in 10.0; with one thread the denoise step adds no noise.
            assert path.read_bytes() == json.dumps([10.0]).encode()
    # The store holds the declared outputs and the kept intermediates, nothing else (step1's and step3's files
    # were hashed only; step1's copies step2's bytes when no noise was added, hence the same blob).
    on_disk = {p.name[:64] for p in BlobStore(study.store).all_blobs()}
    assert on_disk == outputs | kept_blobs and len(kept_blobs) == 3  # threads=2 adds noise: 2 distinct blobs
    eid = traces[0]["execution_id"]
    with pytest.raises(NotFoundError, match=r"'step3/count.json' of execution .* not kept; .* to `trace_keep`"):
        study.trace_file(eid, "step3/count.json")
    with pytest.raises(NotFoundError, match=r"traced no file 'step9/none.json'"):
        study.trace_file(eid, "step9/none.json")
    # The next run collects unreferenced blobs first: a kept intermediate is referenced.
    assert study.run(jobs=1).ok
    assert study.trace_file(eid, "step2/denoised.json").is_file()


def test_a_worker_without_a_shared_store_keeps_nothing_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("subject 10.0\n")
    task = Task(
        execution_id="e1",
        argv=[sys.executable, str(APPS / "pipeline_app.py"), "{input}", "{outdir}", "42"],
        values={"input": str(tmp_path / "in.txt")},
        env={},
        outputs=[OutputDecl("result", "result.json", "scalars")],
        timeout=60,
        work_root=str(tmp_path / "work"),
        return_bytes=True,  # a remote worker: outputs travel back as bytes
        extra={"trace": "files", "trace_keep": ["step2/*.json"]},
    )
    result = run_task(task)
    assert result["ok"]
    assert result["trace"]["note"] == ("trace_keep: 1 file(s) not kept, the executor shares no store with the runner")
    assert not any(f.get("kept") for f in result["trace"]["files"])


@pytest.mark.parametrize(
    ("globs", "kept"),
    [
        (["step2/*.json"], ["step2/a.json"]),
        (["**/*.json"], ["a.json", "step2/a.json", "step2/deep/b.json"]),
        (["step2/**"], ["step2/a.json", "step2/deep/b.json", "step2/a.json.gz"]),
        (["step?/[!x]*.json"], ["step2/a.json"]),
        ([], []),
    ],
)
def test_globs_match_within_a_folder_and_double_star_across_folders(globs: list[str], kept: list[str]) -> None:
    relpaths = ["a.json", "step2/a.json", "step2/deep/b.json", "step2/a.json.gz"]
    match = trace.keep_matcher(globs)
    assert [r for r in relpaths if match.fullmatch(r)] == kept


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (KEEP, r"trace_keep.*keeps traced files: add `trace: files` \(or `processes`\), or remove it"),
        ('trace: files\ntrace_keep: "step2/*.json"\n', r"trace_keep.*valid list"),
        ('trace: files\ntrace_keep: ["/tmp/*.json"]\n', r"glob '/tmp/\*.json' must be relative to the working"),
        ('trace: files\ntrace_keep: ["../*.json"]\n', r"glob '../\*.json' must be relative .* without `..`"),
    ],
    ids=["without-trace", "not-a-list", "absolute", "parent"],
)
def test_bad_trace_keep_is_a_one_line_error_naming_the_key(study_dir: Path, extra: str, match: str) -> None:
    path = write_study(study_dir, app="pipeline_app.py", args='"{input}", "{outdir}", "42"', extra=extra)
    with pytest.raises(SpecError, match=match) as info:
        Study.load(path)
    assert "\n" not in str(info.value)
