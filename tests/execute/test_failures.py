"""Failures grouped by their error, whatever belongs to one execution (path, subject, moment, process)."""

from __future__ import annotations

from reprovip.execute.failures import group_failures


def test_errors_logged_with_their_time_and_process_are_one_error() -> None:
    """Review H: a tool logging `2026-12-02 13:56:26,258 [30142] ERROR cannot open license file` (Python logging's
    usual format) printed one group per execution, and the early stop, which needs one error, never came."""
    failures = [
        dict(
            subject=f"sub-0{i}",
            condition="threads=1",
            repetition=1,
            id=f"e{i}",
            input=f"/data/sub-0{i}.nii",
            error=f"exit code 1: 2026-12-02 13:56:2{i},25{i} [3014{i}] ERROR cannot open license file for /data/sub-0{i}.nii",
        )
        for i in range(1, 5)
    ]
    (group,) = group_failures(failures)
    assert group.error == "exit code 1: {time} [{pid}] ERROR cannot open license file for {input}"
    assert group.subjects == ["sub-01", "sub-02", "sub-03", "sub-04"]
    other = dict(failures[0], id="e9", error="exit code 2: 2026-12-02 13:56:29,000 [30149] ERROR out of memory")
    assert [g.error for g in group_failures([*failures, other])] == [
        group.error,
        "exit code 2: {time} [{pid}] ERROR out of memory",
    ]
