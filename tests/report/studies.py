"""Small real studies for the report and dashboard tests: real executions of tests/apps, real analyses.

The criteria module is not involved: a verdict and alerts in its documented shape are added to the stored
document by hand, computed from the analysis' own numbers.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from reprovip.store import Catalog
from reprovip.store import schema as s
from reprovip.study import Study
from tests.conftest import write_study

XSS = "<script>alert(1)</script>"
IMAGE_OUTPUTS = "  image: {path: image.nii.gz, kind: image}\n  seg: {path: seg.nii.gz, kind: labels}\n"


def _store(study: Study, doc: dict[str, Any]) -> dict[str, Any]:
    """Write ``doc`` where ``analyze`` writes it: ``analysis.json`` and the catalog's history."""
    (study.results / "analysis.json").write_text(json.dumps(doc), encoding="utf-8")
    cat = Catalog.for_store(study.store)
    cat.save_analysis(cat.study_id(study.name), doc)
    cat.close()
    return doc


def add_verdicts(doc: dict[str, Any], *, min_digits: float = 6.0) -> dict[str, Any]:
    """A criterion ``sigdigits_min >= min_digits`` on every output, in the criteria module's shape."""
    counts: dict[str, int] = {}
    alerts = []
    for o in doc["outputs"]:
        value = o["summary"].get("sigdigits_min")
        passed = bool(o["bitwise"].get("identical")) or (isinstance(value, float) and value >= min_digits)
        status = "identical" if o["bitwise"].get("identical") else ("pass" if passed else "fail")
        message = (
            f"the worst observation keeps {value:.2f} significant digits, fewer than {min_digits:g}"
            if not passed
            else "enough significant digits"
        )
        o["verdict"] = {
            "status": status,
            "reasons": [
                {
                    "criterion": f"sigdigits_min >= {min_digits:g}",
                    "metric": "sigdigits_min",
                    "severity": "fail",
                    "passed": passed,
                    "value": value,
                    "threshold": min_digits,
                    "message": message,
                }
            ],
        }
        counts[status] = counts.get(status, 0) + 1
        if not passed:
            alerts.append({"output": o["name"], "severity": "fail", "message": message})
    worst = "fail" if counts.get("fail") else ("pass" if counts.get("pass") else "identical")
    doc["verdict"] = {
        "status": worst,
        "label": {
            "fail": "not reproducible",
            "pass": "sufficiently reproducible",
            "identical": "reproducible",
        }[worst],
        "counts": counts,
    }
    doc["alerts"] = alerts
    return doc


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
        extra=f'description: "{XSS} & <b>bold</b>"\n',
    )
    (root / "data" / "sub-04.txt").write_text("subject oops\n")
    study = Study.load(path)
    study.run(jobs=2)
    doc = study.analyze().document
    _store(study, add_verdicts(doc))
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
