"""Small real studies for the report and dashboard tests: real executions of tests/apps, real analyses.

The verdicts are the ones ``analyze`` stores, from the studies' own criteria (one verdict, never made by hand).
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import insert

from reprovip.store import Catalog
from reprovip.store import schema as s
from reprovip.study import Study
from tests.conftest import write_study

XSS = "<script>alert(1)</script>"
IMAGE_OUTPUTS = "  image: {path: image.nii.gz, kind: image}\n  seg: {path: seg.nii.gz, kind: labels}\n"


def build_scalar_study(root: Path) -> Study:
    """4 subjects x threads {1, 2} x 2 repetitions of the nondeterministic app; sub-04 fails every time.

    The description carries markup that must come out escaped.
    """
    path = write_study(
        root,
        app="nondet_app.py",
        factors="  threads: [1, 2]\n",
        repetitions=2,
        subjects=4,
        extra=f'description: "{XSS} & <b>bold</b>"\ncriteria: ["sigdigits_min >= 6"]\n',
    )
    (root / "data" / "sub-04.txt").write_text("subject oops\n")
    study = Study.load(path)
    study.run(jobs=2)
    study.analyze()
    study.analyze()  # analysed again, as after a change of criteria: the dashboard's trend has two points
    return study


def build_image_study(root: Path) -> Study:
    """3 subjects x threads {1, 2} x 2 repetitions of the image app (noise with 2 threads): maps and Dice."""
    path = write_study(
        root,
        app="image_app.py",
        factors="  threads: [1, 2]\n",
        repetitions=2,
        subjects=3,
        args='"{input}", "{outdir}", "--noise", "threads"',
        outputs=IMAGE_OUTPUTS,
    )
    study = Study.load(path)
    study.run(jobs=2)
    study.analyze()
    return study


def build_labels_study(root: Path, *, frames: int = 0) -> Study:
    """2 subjects x 3 repetitions of tests/apps/labels_app.py, no factor: odd repetitions move one voxel into
    label 1 (Dice 112/113 between an odd and an even one); ``frames`` > 0 writes 4-D label maps instead."""
    path = write_study(
        root,
        app="labels_app.py",
        repetitions=3,
        subjects=2,
        args='"{input}", "{outdir}", "{repetition}", "--flip"' + (f', "--frames", "{frames}"' if frames else ""),
        outputs="  seg: {path: seg.nii.gz, kind: labels}\n",
    )
    study = Study.load(path)
    assert study.run(jobs=2).ok
    study.analyze()
    return study


def build_pipeline_study(root: Path) -> Study:
    """The four-step pipeline of tests/apps/pipeline_app.py traced with ``trace: processes``, 1 subject x
    threads {1, 2} x 2 repetitions: step 2 adds unseeded noise under OMP_NUM_THREADS=2, so under threads=2 step 2
    is the origin, steps 3 and 4 propagate it, step 1 is identical (known by construction, see
    tests/analyze/test_dataflow.py)."""
    from tests.execute.test_trace import pipeline_study

    study = pipeline_study(root, "processes", factors="  threads: [1, 2]\n  seed: [42]\n", subjects=1)
    assert study.run(jobs=2).ok
    study.analyze()
    return study


def build_hostile_catalog(root: Path) -> Path:
    """A store whose study is named like an XSS payload, with executions still pending and running."""
    store = root / ".reprovip"
    cat = Catalog.for_store(store)
    sid = cat.ensure_study(XSS, {"name": "x"}, str(root))
    now = time.time()
    rows = [
        dict(
            id=f"e{i:04d}",
            study_id=sid,
            subject=f"sub-{i % 5}",
            condition_key=f"threads={1 + i % 2}",
            condition={"threads": str(1 + i % 2)},
            repetition=i // 10,
            status=st,
            attempts=int(st != "pending"),
            error=XSS if st == "failed" else None,
            finished_at=now if st in ("done", "failed") else None,
            duration=1.0 if st == "done" else None,
        )
        for i, st in enumerate(["done"] * 6 + ["failed"] * 2 + ["running"] * 2 + ["pending"] * 10)
    ]
    with cat.engine.begin() as conn:
        conn.execute(insert(s.executions), rows)
        conn.execute(
            insert(s.attempts).values(
                execution_id="e0006",
                number=1,
                argv=["app", XSS],
                env={"API_TOKEN": "s3cret-value", "OMP_NUM_THREADS": "2"},
                exit_code=1,
                stderr=f"Traceback ...\n{XSS}\n",
                stdout="",
                timed_out=False,
            )
        )
    cat.start_run(sid, "run", len(rows), "host", 1)
    # A tampered document: its map paths point outside the store.
    cat.save_analysis(
        sid,
        {
            "schema": "reprovip.analysis/2",
            "created_at": "2026-01-01T00:00:00+00:00",
            "study": {"name": XSS, "path": str(root / "study.yaml"), "factors": {}, "repetitions": 1},
            "executions": {"total": 20, "counts": {"done": 6, "failed": 2}, "failed": 2, "failures": []},
            "provenance": {},
            "alerts": [{"output": XSS, "severity": "warn", "message": XSS}],
            "outputs": [
                {
                    "name": "img",
                    "kind": "image",
                    "bitwise": {"identical": False},
                    "observations": [],
                    "summary": {},
                    "voxelwise": {"maps": {"sd": "/etc/passwd", "differ": str(store / ".." / ".." / "x")}},
                }
            ],
        },
    )
    cat.close()
    return store
