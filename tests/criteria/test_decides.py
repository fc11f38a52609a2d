"""Which criteria decide a verdict: review 10's false passes and wrong verdicts on real (ingested) studies.

b06: an ICC threshold at 1 passed executions 1 ulp apart. b20: `repetitions_identical` silenced the "every
observation judged" warning though an unselected observation changed with the thread count. b26: a warn-only
criterion replaced the default gate (ICC lower bound 0.19 read "sufficiently reproducible, with warnings").
b17: `within_envelope` in a study without a version factor failed as "within_envelope: no".
"""

from __future__ import annotations

import math
from pathlib import Path

from tests.conftest import ingested


def _reason(output: dict, criterion: str) -> dict:
    (found,) = [r for r in output["verdict"]["reasons"] if r["criterion"] == criterion]
    return found


def test_icc_thresholds_at_1_fail_executions_one_ulp_apart(tmp_path: Path) -> None:
    """The reviewer's data: 8 subjects x 3 repetitions, repetition 2 one ulp above the others. ICC(A,1) computes
    as exactly 1 with its CI; `wsd <= 0` fails these executions, and so must the ICC thresholds at 1."""
    files = {}
    for s in range(8):
        v = 10.0 * (s + 1) + 0.1
        for r in (1, 2, 3):
            files[(f"sub-{s}", r)] = {
                "m.csv": f"region,volume\nhippo,{math.nextafter(v, math.inf) if r == 2 else v!r}\n"
            }
    rules = ("ICC(A,1).ci_low >= 1", "ICC(C,1).ci_low >= 1", "ICC(1,1) >= 1", "wsd <= 0")
    criteria = "".join(f"  - '{r}'\n" for r in rules)
    doc = ingested(tmp_path, f"  m: {{path: m.csv, kind: table}}\ncriteria:\n{criteria}", files).analyze().document
    (out,) = doc["outputs"]
    assert out["observations"][0]["icc"]["ICC(A,1)"]["ci_low"] == 1.0  # what the criteria read
    for rule in rules:
        reason = _reason(out, rule)
        assert (reason["passed"], reason["estimable"]) == (False, True), rule
    assert "the ICC rounds to 1" in _reason(out, "ICC(A,1).ci_low >= 1")["message"]
    assert doc["verdict"]["status"] == "fail"
