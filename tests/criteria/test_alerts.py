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


def _flaky(errors: list[str], lost: bool) -> dict:
    flaky = dict(errors=errors, lost_by_backend=lost)
    return dict(total=12, failed=0, attempt_failure_rate=0.5, flaky_executions=12, flaky=flaky)


def test_attempts_the_backend_lost_are_not_the_application_s_flakiness() -> None:
    """Review A: every worker failed to start (an import error), the retries succeeded, and the alert said "the
    application is flaky". When every failed attempt of every flaky execution was lost by the backend
    (`flaky.lost_by_backend`, from the catalog's attempts), the workers are named; else the application."""
    lost = "backend error: BrokenExecutor: a local worker could not start (process 10292, exit code 1)"
    (alert,) = execution_alerts(_flaky([lost], True))
    assert alert["severity"] == "warn" and alert["message"].endswith(
        f"failed attempts: {lost}): reprovip's workers failed, not the application (a worker could not start or "
        "was lost): look at the machine (memory, the Python environment), not the application"
    )
    (alert,) = execution_alerts(_flaky([lost], False))  # some other failure, or more executions than were read
    assert alert["message"].endswith("): the application is flaky")


def test_a_level_ingested_beside_levels_run_here_is_said() -> None:
    """Review ZZ: a `threads=2` level ingested from another machine beside `threads=1` run here read
    "nondeterminism under multithreading": where it ran is unknown, the difference may be the machine's."""
    from reprovip.analyze.executions import ingested_conditions

    rows = [
        dict(condition_key=f"threads={t}", status="done", source="run" if t == 1 else "ingest") for t in (1, 2, 1, 2)
    ]
    (alert,) = execution_alerts(dict(total=4, failed=0, ingested_conditions=ingested_conditions(rows)))
    assert alert["severity"] == "warn" and alert["message"] == (
        "the executions of threads=2 were all ingested (where they ran is unknown) while the others ran here: a "
        "difference between them may be the machine's, not the factor's"
    )
    rows[1]["source"] = "run"  # one threads=2 execution ran here too: compared on one machine at least
    assert ingested_conditions(rows) == []


def test_a_condition_mixing_runs_and_ingested_results_is_said() -> None:
    """Review IN: two subjects' threads=4 results made elsewhere replaced the ones run here, the others stayed:
    the subject:threads effect read "nondeterminism under multithreading", and nothing said the condition mixed
    results of two machines."""
    from reprovip.analyze.executions import ingested_conditions, mixed_conditions

    rows = [dict(condition_key="threads=1", status="done", source="run") for _ in range(4)]
    rows += [dict(condition_key="threads=4", status="done", source=s) for s in ("run", "run", "ingest", "ingest")]
    ex = dict(total=8, failed=0, ingested_conditions=ingested_conditions(rows), mixed_conditions=mixed_conditions(rows))
    (alert,) = execution_alerts(ex)
    assert alert["severity"] == "warn" and alert["message"].startswith(
        "the executions of threads=4 were some run here and some ingested"
    )
    assert execution_alerts(dict(total=4, failed=0, mixed_conditions=mixed_conditions(rows[:4]))) == []


def test_every_subject_writing_the_same_files_is_said(tmp_path) -> None:
    """Review NU2: a tool that cached its result under a name no subject changed wrote one subject's CSV for all
    four; the study read "bit-for-bit identical" in 20 comparisons, with nothing said."""
    import json

    from tests.conftest import ingested

    files = {(f"sub-{s}", r): {"v.json": json.dumps({"volume": 1234.5})} for s in range(4) for r in (1, 2)}
    doc = ingested(tmp_path, "  v: {path: v.json, kind: scalars}\n", files).analyze().document
    assert doc["executions"]["same_for_every_subject"] is True
    assert any(a["message"].startswith("every subject wrote the same files") for a in doc["alerts"])
    assert doc["verdict"]["status"] == "warn"
