"""The CARMIN backend against a local test double (tests/carmin_double.py) that really runs the pipelines.

Oracles: the published CARMIN 0.3.1 OpenAPI document (every request and response of the double is validated
against it with openapi-schema-validator), and reprovip's local executor (the same study run locally gives the
same output bytes).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reprovip.cli.main import main
from reprovip.errors import InputError
from reprovip.execute import backends
from reprovip.execute.carmin import CarminExecutor, executor_options
from reprovip.execute.carmin_client import CarminClient, CarminError, RetryPolicy, parse_retry_after
from reprovip.execute.sandbox import OutputDecl, Task, run_task
from reprovip.study import Study
from tests.carmin_double import API_KEY, CarminDouble, SpecValidator
from tests.conftest import BOSH_SCALE_INVOCATION

APPS = Path(__file__).parents[1] / "apps"
SCALE, NOISY = APPS / "bosh_scale.json", APPS / "bosh_noisy.json"
# CI keeps ../shared beside the checkout; the spec is data, not copied into the repo.
SPEC = Path(__file__).resolve().parents[2].parent / "shared" / "specs" / "carmin-0.3.1.yaml"
INVOCATION = BOSH_SCALE_INVOCATION


@pytest.fixture(scope="module")
def spec() -> dict:
    if not SPEC.is_file():
        pytest.skip(f"CARMIN OpenAPI document not found at {SPEC} (CI keeps ../shared beside the checkout)")
    for module in ("openapi_schema_validator", "openapi_spec_validator", "jsonschema_path", "referencing"):
        pytest.importorskip(module, reason=f"{module} (test extra) validates the double against the spec")
    from ruamel.yaml import YAML

    return YAML(typ="safe").load(SPEC.read_text())


@pytest.fixture
def double(tmp_path: Path, spec: dict, monkeypatch: pytest.MonkeyPatch) -> Iterator[CarminDouble]:
    """The double on 127.0.0.1, the API key in the environment, the carmin schemes registered."""
    d = CarminDouble(
        tmp_path / "platform", {"scale/1.0": SCALE, "noisy scale/1.0": NOISY}, validator=SpecValidator(spec)
    )
    d.url = d.start()
    monkeypatch.setenv("VIP_API_KEY", API_KEY)
    monkeypatch.delenv("CARMIN_API_KEY", raising=False)
    for scheme in ("carmin+http", "carmin+https"):
        monkeypatch.setitem(backends.BACKENDS, scheme, "reprovip.execute.carmin:carmin_backend")
    yield d
    d.stop()


def _study(
    root: Path,
    *,
    subjects: dict[str, str],
    factors: str = "factors: {factor: [1, 2]}\n",
    repetitions: int = 2,
    invocation: dict | None = None,
    extra: str = "",
) -> Path:
    (root / "data").mkdir(parents=True)
    for s, text in subjects.items():
        (root / "data" / f"{s}.txt").write_text(text)
    inv = json.dumps(invocation or INVOCATION)
    (root / "study.yaml").write_text(
        f"name: carmin\napplication:\n  boutiques: {SCALE}\n  invocation: {inv}\n"
        'subjects: {glob: "data/{subject}.txt"}\n' + factors + f"repetitions: {repetitions}\n"
        "outputs:\n  result: {path: result.json, kind: scalars}\n" + extra
    )
    return root / "study.yaml"


def _executor(double: CarminDouble, **kw) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"poll": 0.05, "max_poll": 0.2, "backoff": 0.01, **kw}.items())
    return f"carmin+{double.url}?{query}"


def test_published_spec_is_a_valid_openapi_document(spec: dict) -> None:
    """openapi-spec-validator; the one external $ref (Boutiques' descriptor schema) read from the package."""
    import boutiques
    from jsonschema_path import SchemaPath
    from openapi_spec_validator.validation import OpenAPIV30SpecValidator

    local = json.loads((Path(boutiques.__file__).parent / "schema" / "descriptor.schema.json").read_text())
    path = SchemaPath.from_dict(spec, handlers={"http": lambda uri: local, "https": lambda uri: local})
    OpenAPIV30SpecValidator(path).validate()


def test_the_validator_catches_what_the_spec_forbids(spec: dict) -> None:
    """The oracle itself: a bad status enum, a missing required field, a read-only field sent by a client."""
    v = SpecValidator(spec)
    bad = json.dumps({"identifier": "x", "status": "Done", "inputValues": {}}).encode()
    errors = v.response("GET", "/rest/executions/x", 200, "application/json", bad)
    assert any("'Done' is not one of" in e for e in errors)
    assert any("'name' is a required" in e for e in errors)
    sent = json.dumps({"identifier": "x", "name": "n", "pipelineIdentifier": "p", "inputValues": {}}).encode()
    headers = {"apikey": "k", "content-type": "application/json"}
    errors = v.request("POST", "/rest/executions", {}, headers, sent)
    assert any("read-only" in e for e in errors)
    assert v.request("GET", "/rest/path/a/b", {}, {"apikey": "k"}, b"") == [
        "GET /path/{completePath}: missing query parameter action"
    ]


def test_study_runs_on_carmin_like_locally(double: CarminDouble, tmp_path: Path) -> None:
    """2 subjects x factor 1|2 x 2 repetitions: 8 CARMIN executions, catalog equal to the local run's."""
    subjects = {"sub-01": "subject 10.0\n", "sub-02": "subject 17.5\n"}
    remote = _study(tmp_path / "remote", subjects=subjects)
    assert main(["run", str(remote), "--executor", _executor(double), "-j", "4", "--no-progress"]) == 0
    local = Study.load(_study(tmp_path / "local", subjects=subjects))
    assert local.run(jobs=2).ok
    study = Study.load(remote)
    df = study.executions()
    assert len(df) == 8 and set(df["status"]) == {"done"}

    def blobs(s: Study) -> dict:
        rows = s.catalog.outputs(s.catalog.study_id(s.name))
        return {
            (o["subject"], o["condition_key"], o["repetition"], o["relpath"]): (o["blob"], o["semantic_hash"])
            for o in rows
        }

    assert blobs(study) == blobs(local) and len(blobs(study)) == 8
    attempt = study.catalog.attempts(df["id"][0])[0]
    assert attempt["argv"][0] == "carmin" and attempt["argv"][2] == "pipeline=scale/1.0"
    inputs = json.loads(attempt["argv"][3].split("=", 1)[1])
    assert inputs["out_dir"] == "." and inputs["input_file"].startswith("/vip/Home/reprovip/inputs/")
    row = study.catalog.executions(study.catalog.study_id(study.name))[0]
    prov = study.catalog.provenance(row["provenance"])
    assert prov["carmin"]["pipeline"] == {"identifier": "scale/1.0", "name": "scale", "version": "1.0"}
    assert prov["carmin"]["statuses"][-1] == "Finished"
    creates = [x for x in double.log if x[:2] == ("POST", "/rest/executions")]
    uploads = [x for x in double.log if x[0] == "PUT" and x[1].endswith((".py", ".txt"))]
    assert len(creates) == 8 and len(uploads) == 3  # the script once, each subject once
    assert double.errors == []


def test_failed_executions_are_failed_results(
    double: CarminDouble, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = _study(
        tmp_path / "s",
        subjects={"sub-01": "subject 1\n", "sub-02": "crash 2\n"},
        factors="",
        repetitions=1,
        invocation={k: v for k, v in INVOCATION.items() if k != "factor"},
    )
    assert main(["run", str(study), "--executor", _executor(double), "--no-progress"]) == 3
    df = Study.load(study).executions().set_index("subject")
    assert df.loc["sub-01", "status"] == "done" and df.loc["sub-02", "status"] == "failed"
    why = "ExecutionFailed, error code 3: bosh_scale: this input makes the tool crash"
    assert why in df.loc["sub-02", "error"]
    assert "ExecutionFailed" in capsys.readouterr().err
    assert double.errors == []


def _task(tmp_path: Path, *, timeout: float = 60.0) -> Task:
    inp = tmp_path / "sub-01.txt"
    inp.write_text("subject 4\n")
    inv = {k: v for k, v in INVOCATION.items() if k != "factor"}
    return Task(
        execution_id="e1",
        argv=[],
        values={"input": str(inp), "subject": "sub-01", "repetition": 1},
        env={},
        outputs=[OutputDecl("result", "result.json", "scalars")],
        timeout=timeout,
        extra={"boutiques": {"descriptor": str(SCALE), "invocation": inv}},
    )


def test_slow_execution_is_polled_until_finished(double: CarminDouble, tmp_path: Path) -> None:
    """Created ``Initializing`` (so played), then ``Running`` for 0.8 s: polled with growing intervals."""
    double.min_duration, double.require_play = 0.8, True
    client = CarminClient(double.url, API_KEY)
    executor = CarminExecutor(client, jobs=1, poll=0.05, max_poll=0.2)
    with executor:
        result = executor.submit(run_task, _task(tmp_path)).result(timeout=60)
    assert result["ok"], result["error"]
    assert result["provenance"]["carmin"]["statuses"] == ["Running", "Finished"]
    polls = [
        x for x in double.log if x[0] == "GET" and x[1].startswith("/rest/executions/exec-") and x[1].count("/") == 3
    ]
    assert 4 <= len(polls) <= 20
    assert any(x[1].endswith("/play") for x in double.log)
    assert json.loads(result["outputs"][0]["data"]) == {"value": 4.0}
    assert double.errors == []


def test_timeout_kills_the_remote_execution(double: CarminDouble, tmp_path: Path) -> None:
    double.min_duration = 30.0
    executor = CarminExecutor(CarminClient(double.url, API_KEY), jobs=1, poll=0.05, max_poll=0.1)
    with executor:
        result = executor.submit(run_task, _task(tmp_path, timeout=0.5)).result(timeout=60)
    assert not result["ok"] and result["timed_out"]
    assert result["error"] == "timed out after 0.5 s (killed on the platform)"
    assert any(x[1].endswith("/kill") and x[2] == 204 for x in double.log)


def test_burst_of_503_honours_retry_after(double: CarminDouble) -> None:
    double.faults = [(503, "1")] * 2
    client = CarminClient(double.url, API_KEY, retry=RetryPolicy(retries=3, backoff=0.01))
    t0 = time.monotonic()
    assert [p["identifier"] for p in client.pipelines()] == ["scale/1.0", "noisy scale/1.0"]
    assert client.retried == 2 and 1.9 <= time.monotonic() - t0 < 10
    assert [x[2] for x in double.log] == [503, 503, 200] and double.errors == []


def test_parameters_are_typed_as_the_pipeline_declares_them(double: CarminDouble, tmp_path: Path) -> None:
    """Subjects `001` and `002` in a String parameter: without the pipeline's types, text that rendered to a number
    became one, the platform got 1 and every execution failed ("1 is not of type 'string'"; a review's note)."""
    subjects = {"001": "subject 10.0\n", "002": "subject 17.5\n"}
    invocation = {k: v for k, v in INVOCATION.items() if k != "factor"} | {"out_dir": "{subject}"}
    study = _study(tmp_path, subjects=subjects, factors="", invocation=invocation)
    assert main(["run", str(study), "--executor", _executor(double), "--no-progress"]) == 0
    df = Study.load(study).executions()
    assert len(df) == 4 and set(df["status"]) == {"done"}


def test_study_survives_bursts_of_503_and_502(double: CarminDouble, tmp_path: Path) -> None:
    double.faults = [(503, "0"), (503, "0"), (502, None), (503, "0"), (504, None), (429, "0")]
    study = _study(tmp_path / "s", subjects={"sub-01": "subject 3\n"}, repetitions=1)
    assert main(["run", str(study), "--executor", _executor(double), "--no-progress"]) == 0
    assert set(Study.load(study).executions()["status"]) == {"done"}
    assert double.faults == [] and sum(x[2] >= 500 for x in double.log) == 5


def test_persistent_5xx_gives_up_after_the_retries(double: CarminDouble) -> None:
    double.faults = [(500, None)] * 10
    client = CarminClient(double.url, API_KEY, retry=RetryPolicy(retries=3, backoff=0.01))
    with pytest.raises(CarminError, match=r"GET .*/pipelines: HTTP 500 \(error 50000: injected fault\)"):
        client.pipelines()
    assert client.retried == 3 and len(double.log) == 4


@pytest.mark.parametrize(("status", "sent"), [(503, 2), (500, 1)])
def test_a_post_is_resent_only_when_refused(double: CarminDouble, status: int, sent: int) -> None:
    """A 500 after POST /executions may hide a created execution: not resent; a 503 (refused) is."""
    double.faults = [(status, "0")]
    client = CarminClient(double.url, API_KEY, retry=RetryPolicy(retries=3, backoff=0.01))
    body = {"name": "n", "pipelineIdentifier": "scale/1.0", "inputValues": {}}
    if sent == 1:
        with pytest.raises(CarminError, match="HTTP 500"):
            client.create_execution(body)
    else:
        assert client.create_execution(body)["status"] in ("Running", "Initializing")
    assert len([x for x in double.log if x[0] == "POST"]) == sent


def test_api_key_is_required_and_checked(
    double: CarminDouble, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(CarminError, match=r"HTTP 401 \(error 40101: bad or missing API key\)"):
        CarminClient(double.url, "wrong").pipelines()
    monkeypatch.delenv("VIP_API_KEY")
    study = _study(tmp_path / "s", subjects={"sub-01": "subject 3\n"}, repetitions=1)
    assert main(["run", str(study), "--executor", _executor(double), "--no-progress"]) == 2
    assert "set VIP_API_KEY (or CARMIN_API_KEY)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("carmin+ftp://host/rest", r"must look like carmin\+https://HOST/rest"),
        (
            "carmin+https://host/rest?speed=2",
            r"unknown option 'speed'; the `carmin\+https` executor accepts `pipeline`, `root`",
        ),
    ],
)
def test_bad_executor_strings(spec: str, match: str) -> None:
    with pytest.raises(InputError, match=match):
        executor_options(spec)


def test_submit_takes_tasks_only(double: CarminDouble) -> None:
    with (
        CarminExecutor(CarminClient(double.url, API_KEY)) as ex,
        pytest.raises(TypeError, match=r"runs reprovip Tasks: submit\(run_task, task\)"),
    ):
        ex.submit(print, "hello")


def test_command_application_needs_a_pipeline(double: CarminDouble, tmp_path: Path) -> None:
    task = Task(execution_id="e", argv=["echo"], values={}, env={}, outputs=[], timeout=5)
    with CarminExecutor(CarminClient(double.url, API_KEY)) as ex:
        result = ex.submit(run_task, task).result(timeout=30)
    assert not result["ok"] and "runs Boutiques applications" in result["error"]


@pytest.mark.parametrize(
    ("value", "seconds"), [("7", 7.0), ("-3", 0.0), ("", None), ("later", None), ("Thu, 01 Jan 1970 00:00:10 GMT", 0.0)]
)
def test_parse_retry_after(value: str, seconds: float | None) -> None:
    assert parse_retry_after(value, now=10.0) == seconds


def test_backoff_is_bounded_with_full_jitter() -> None:
    import random

    rng = random.Random(1)
    policy = RetryPolicy(backoff=0.5, max_backoff=8.0)
    delays = [policy.delay(a, None, rng) for a in range(12) for _ in range(50)]
    assert min(delays) >= 0 and max(delays) <= 8.0 and max(delays) > 4.0
