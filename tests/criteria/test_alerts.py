"""Study alerts from the executions' notes: a process left running (outputs may be half-written) makes the study
not analysable; an execution that wrote into its input is a warning."""

from __future__ import annotations

from reprovip.criteria.alerts import execution_alerts


def _executions(**notes) -> dict:
    rows = [dict(subject=f"sub-0{i}", condition="-", repetition=1, id=f"e{i}", message="m") for i in range(1, 5)]
    return dict(total=8, failed=0, notes={tag: dict(count=4, message="m", executions=rows) for tag in notes})


def test_a_process_left_running_fails_and_names_the_executions() -> None:
    (alert,) = execution_alerts(_executions(**{"left running": True}))
    assert alert["severity"] == "fail" and alert["note"] == "left running"
    assert alert["message"] == (
        "4 done execution(s) left processes running, killed when the application exited: their outputs may be "
        "incomplete (make the application wait for what it starts): subject sub-01, repetition 1; subject sub-02, "
        "repetition 1; subject sub-03, repetition 1 and 1 more"
    )


def test_an_input_written_into_is_a_warning() -> None:
    (alert,) = execution_alerts(_executions(**{"changed its input": True}))
    assert alert["severity"] == "warn" and alert["message"].startswith("4 execution(s) wrote into their subject's")


def test_no_note_no_alert() -> None:
    assert execution_alerts(dict(total=8, failed=0)) == []
