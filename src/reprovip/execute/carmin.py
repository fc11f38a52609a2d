"""CARMIN backend: each execution is an execution of a pipeline on a CARMIN 0.3 platform such as VIP.

``reprovip run study.yaml --executor carmin+https://vip.creatis.insa-lyon.fr/rest`` (``carmin+http://`` for a
local test server), with the API key in ``VIP_API_KEY`` or ``CARMIN_API_KEY`` (sent in the ``apikey`` header,
the spec's ``ApiKey`` security scheme). Options go in the URL's query: ``pipeline`` (identifier; default: the
pipeline whose name and version are the Boutiques descriptor's), ``root`` (platform folder for uploads and
results, default ``/vip/Home/reprovip``), ``poll`` and ``max_poll`` (seconds between status requests, growing
from one to the other), ``retries``, ``backoff`` and ``max_wait`` (retry policy), ``timeout`` (HTTP seconds).

Mapping of a :class:`~reprovip.execute.sandbox.Task` to ``inputValues`` (one CARMIN execution per subject x
condition x repetition), for each pipeline parameter that is not a returned value:

1. the entry of ``application.invocation`` with the same id, rendered with the execution's values
   (``{input}``, ``{subject}``, ``{repetition}``, ``{seed}``, ``{threads}``, ``{FACTOR}``, ``{FACTOR_level}``)
   where ``{outdir}`` and ``{workdir}`` become ``.``: outputs are written in the execution's folder on the
   platform and come back through the returned files;
2. else the execution's value of the same name (``input``, ``subject``, ``seed``, a factor's value...);
3. else ``results-directory`` (VIP's convention) gets a fresh folder under ``root``;
4. else nothing: the platform applies the parameter's default.

A ``File`` parameter whose value is a local file is uploaded first (once per content, under
``root/inputs/<md5>/``). The returned files are downloaded and matched to the declared outputs by their path
relative to the results folder, hashed and sent back as bytes, like any remote worker's.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import posixpath
import random
import shutil
import tarfile
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reprovip.errors import InputError
from reprovip.execute import backends
from reprovip.execute.backends import Backend
from reprovip.execute.carmin_client import TERMINAL, CarminClient, CarminError, RetryPolicy
from reprovip.execute.sandbox import Task, new_result

API_KEY_VARIABLES = ("VIP_API_KEY", "CARMIN_API_KEY")
OPTIONS = ("pipeline", "root", "poll", "max_poll", "retries", "backoff", "max_wait", "timeout")


# CARMIN parameter types as the Boutiques input types reprovip casts by (List and unknown ones: guessed).
_CARMIN_TYPES: dict[str, dict[str, Any]] = {
    "String": {"type": "String"},
    "File": {"type": "File"},
    "Boolean": {"type": "Flag"},
    "Int64": {"type": "Number", "integer": True},
    "Double": {"type": "Number"},
}


@dataclass
class _Cache:
    lock: threading.Lock = field(default_factory=threading.Lock)
    pipelines: dict[str, dict[str, Any]] = field(default_factory=dict)
    uploads: dict[str, str] = field(default_factory=dict)
    descriptors: dict[str, dict[str, Any]] = field(default_factory=dict)


class CarminExecutor(Executor):
    """A :class:`concurrent.futures.Executor` running reprovip :class:`Task` objects on a CARMIN platform.

    ``submit(run_task, task)`` returns a future of the same result dict as
    :func:`~reprovip.execute.sandbox.run_task` (outputs as bytes under ``data``). At most ``jobs`` executions
    are in flight at once. A platform failure is a failed result, never an exception.
    """

    def __init__(
        self,
        client: CarminClient,
        *,
        jobs: int = 4,
        pipeline: str | None = None,
        root: str = "/vip/Home/reprovip",
        poll: float = 5.0,
        max_poll: float = 60.0,
    ) -> None:
        self.client = client
        self.pipeline_id = pipeline
        self.root = "/" + root.strip("/")
        self.poll, self.max_poll = poll, max(max_poll, poll)
        self._pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="reprovip-carmin")
        self._stop = threading.Event()
        self._active: dict[str, str] = {}
        self._cache = _Cache()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[dict[str, Any]]:
        """Run ``args[0]`` (a :class:`Task`) on the platform; ``fn`` is its local equivalent, ``run_task``."""
        if kwargs or len(args) != 1 or not isinstance(args[0], Task):
            raise TypeError("the CARMIN executor runs reprovip Tasks: submit(run_task, task)")
        return self._pool.submit(self.run, args[0])

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop; with ``cancel_futures``, drop queued executions and kill running ones on the platform."""
        if cancel_futures:
            self._stop.set()
            self.kill_active()
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)
        if wait:
            self.client.close()

    def kill_active(self) -> None:
        """``PUT /executions/{id}/kill`` for every execution still running."""
        for identifier in list(self._active):
            with contextlib.suppress(CarminError):
                self.client.kill(identifier)

    # -- one execution ------------------------------------------------------------------------------------
    def run(self, task: Task) -> dict[str, Any]:
        """Launch, poll and fetch one execution; never raises."""
        result = new_result(
            task,
            ["carmin", self.client.base_url],
            hostname=urllib.parse.urlsplit(self.client.base_url).hostname,
            pid=None,
            ok=False,
        )
        t0, identifier = time.perf_counter(), None
        try:
            pipeline = self._pipeline_for(task)
            results_dir = f"{self.root}/results/{task.execution_id}-{uuid.uuid4().hex[:8]}"
            inputs = self._input_values(task, pipeline, results_dir)
            result["provenance"] = {
                "carmin": {
                    "platform": self.client.base_url,
                    "pipeline": {k: pipeline.get(k) for k in ("identifier", "name", "version")},
                }
            }
            body = {
                "name": f"reprovip-{task.execution_id}",
                "pipelineIdentifier": pipeline["identifier"],
                "inputValues": inputs,
                "timeout": int(task.timeout),
            }
            created = self.client.create_execution(body)
            identifier = str(created["identifier"])
            self._active[identifier] = task.execution_id
            result["argv"] = [
                "carmin",
                f"{self.client.base_url}/executions/{identifier}",
                f"pipeline={pipeline['identifier']}",
                f"inputValues={json.dumps(inputs, sort_keys=True)}",
            ]
            if created.get("status") == "Initializing":
                self.client.play(identifier)
            final = self._wait(identifier, deadline=time.monotonic() + task.timeout)
            base = results_dir if "results-directory" in inputs else None
            self._finish(task, identifier, final, base, result)
        except InputError as exc:  # CarminError included: the platform's refusal is this execution's failure
            result.update(ok=False, error=f"CARMIN: {exc}")
        except Exception as exc:  # a bug or an unexpected answer: reported on the execution, the run goes on
            result.update(ok=False, error=f"CARMIN: {exc.__class__.__name__}: {exc}")
        finally:
            if identifier is not None:
                self._active.pop(identifier, None)
        result.update(duration=time.perf_counter() - t0, finished_at=time.time())
        return result

    def _wait(self, identifier: str, *, deadline: float) -> dict[str, Any]:
        interval = self.poll
        seen: list[str] = []
        while True:
            execution = self.client.execution(identifier)
            status = execution.get("status", "Unknown")
            if not seen or seen[-1] != status:
                seen.append(status)
            execution["_seen"] = seen
            if status in TERMINAL:
                return execution
            left = deadline - time.monotonic()
            if left <= 0 or self._stop.is_set():
                with contextlib.suppress(CarminError):
                    self.client.kill(identifier)
                return dict(execution, status="Killed", _timed_out=left <= 0)
            self._stop.wait(min(interval * random.uniform(0.8, 1.2), left))
            interval = min(interval * 1.5, self.max_poll)

    def _finish(
        self, task: Task, identifier: str, execution: dict[str, Any], results_dir: str | None, result: dict[str, Any]
    ) -> None:
        status = execution["status"]
        result["provenance"]["carmin"]["statuses"] = execution.get("_seen", [status])
        for stream in ("stdout", "stderr"):
            with contextlib.suppress(CarminError):
                result[stream] = self.client.log(identifier, stream)[-64 * 1024 :]
        if status != "Finished":
            code = f", error code {execution['errorCode']}" if execution.get("errorCode") is not None else ""
            tail = (result["stderr"].strip().splitlines() or [""])[-1][:200]
            timed_out = bool(execution.get("_timed_out"))
            why = (
                f"timed out after {task.timeout:g} s (killed on the platform)"
                if timed_out
                else f"CARMIN execution {identifier} {status}{code}" + (f": {tail}" if tail else "")
            )
            result.update(ok=False, timed_out=timed_out, error=why)
            return
        result["exit_code"] = 0
        result["outputs"] = self._fetch_outputs(task, identifier, execution, results_dir)
        missing = [o["name"] for o in result["outputs"] if o["missing"]]
        result.update(ok=not missing, error=f"missing outputs: {', '.join(missing)}" if missing else None)

    # -- pipeline, inputs, outputs --------------------------------------------------------------------------
    def _pipeline_for(self, task: Task) -> dict[str, Any]:
        wanted = self.pipeline_id
        if wanted is None:
            if "boutiques" not in task.extra:
                raise InputError(
                    "the CARMIN backend runs Boutiques applications; for another application, "
                    "name the platform's pipeline: --executor 'carmin+https://HOST/rest?pipeline=ID'"
                )
            desc = self._descriptor(task.extra["boutiques"]["descriptor"])
            name, version = desc.get("name"), str(desc.get("tool-version", ""))
            with self._cache.lock:
                known = dict(self._cache.pipelines)
            listed = list(known.values()) or self.client.pipelines()
            match = [p for p in listed if (p.get("name"), str(p.get("version"))) == (name, version)]
            match = match or [p for p in listed if p.get("identifier") in (f"{name}/{version}", name)]
            if not match:
                offered = ", ".join(sorted(f"{p.get('identifier')}" for p in listed)[:20]) or "none"
                raise InputError(
                    f"no pipeline {name} {version} on {self.client.base_url} (pipelines: "
                    f"{offered}); name one with ?pipeline=ID"
                )
            wanted = match[0]["identifier"]
        with self._cache.lock:
            if wanted in self._cache.pipelines and "parameters" in self._cache.pipelines[wanted]:
                return self._cache.pipelines[wanted]
        pipeline = self.client.pipeline(wanted)
        with self._cache.lock:
            self._cache.pipelines[wanted] = pipeline
        return pipeline

    def _descriptor(self, path: str) -> dict[str, Any]:
        with self._cache.lock:
            if path not in self._cache.descriptors:
                self._cache.descriptors[path] = json.loads(Path(path).read_text())
            return self._cache.descriptors[path]

    def _input_values(self, task: Task, pipeline: dict[str, Any], results_dir: str) -> dict[str, Any]:
        from reprovip.spec.boutiques import _typed

        values = dict(task.values, outdir=".", workdir=".")
        template = (task.extra.get("boutiques") or {}).get("invocation") or {}
        params = [p for p in pipeline.get("parameters") or [] if not p.get("isReturnedValue")]
        # Typed as the pipeline declares its parameters: a String stays text (a subject `001` was sent as 1).
        declared = {
            p["name"]: dict(_CARMIN_TYPES[p["type"]], id=p["name"]) for p in params if p.get("type") in _CARMIN_TYPES
        }
        rendered = {k: _typed(v, values, declared.get(k)) for k, v in template.items()}
        unknown = sorted(set(rendered) - {p["name"] for p in params})
        if unknown:
            raise InputError(f"invocation keys {unknown} are not parameters of pipeline {pipeline['identifier']}")
        inputs: dict[str, Any] = {}
        for p in params:
            name = p["name"]
            if name in rendered:
                value = rendered[name]
            elif name in task.values:
                value = task.values[name]
            elif name == "results-directory":
                self.client.mkdir(results_dir)
                value = results_dir
            elif p.get("isOptional") or "defaultValue" in p:
                continue
            else:
                raise InputError(f"pipeline parameter {name!r} has no value; add it to the invocation")
            if p.get("type") == "File" and isinstance(value, str) and os.path.isfile(value):
                value = self._upload(Path(value))
            inputs[name] = value
        return inputs

    def _upload(self, path: Path) -> str:
        data = path.read_bytes()
        digest = hashlib.md5(data, usedforsecurity=False).hexdigest()
        with self._cache.lock:  # one upload per content, even with many executions starting together
            if digest not in self._cache.uploads:
                folder = f"{self.root}/inputs/{digest}"
                target = f"{folder}/{path.name}"
                if not self.client.exists(target):
                    self.client.mkdir(folder)
                    self.client.upload(target, data)
                self._cache.uploads[digest] = target
            return self._cache.uploads[digest]

    def _result_files(self, identifier: str, execution: dict[str, Any]) -> list[tuple[str, bool]]:
        with contextlib.suppress(CarminError):
            listed = self.client.results(identifier)
            if listed:
                return [(p["platformPath"], bool(p.get("isDirectory"))) for p in listed]
        returned = execution.get("returnedFiles") or {}
        return [(u, False) for urls in returned.values() for u in urls]

    def _fetch_outputs(
        self, task: Task, identifier: str, execution: dict[str, Any], results_dir: str | None
    ) -> list[dict[str, Any]]:
        from reprovip.execute.sandbox import _collect

        files = self._result_files(identifier, execution)
        paths = [urllib.parse.urlsplit(f).path if "://" in f else f for f, _ in files]
        base = results_dir or (posixpath.commonpath([posixpath.dirname(p) for p in paths]) if paths else "/")
        tmp = Path(tempfile.mkdtemp(prefix="reprovip-carmin-"))
        try:
            out = tmp / "out"
            out.mkdir()
            for (location, is_dir), path in zip(files, paths, strict=True):
                inside = path.startswith(base.rstrip("/") + "/")
                rel = posixpath.relpath(path, base) if inside else posixpath.basename(path)
                dest = (out / rel).resolve()
                if not dest.is_relative_to(out.resolve()):
                    continue  # a returned path that would escape the output folder
                data = self.client.download(location)
                if is_dir:
                    dest.mkdir(parents=True, exist_ok=True)
                    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                        tar.extractall(dest, filter="data")
                else:
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_bytes(data)
            outputs = _collect(out, task.outputs, True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        for o in outputs:
            o.pop("path", None)
        return outputs


def executor_options(spec: str) -> tuple[str, dict[str, str]]:
    """Split ``carmin+https://HOST/rest?pipeline=X`` into the base URL and the options.

    >>> executor_options("carmin+http://127.0.0.1:8000/rest?poll=0.1&pipeline=scale%2F1.0")
    ('http://127.0.0.1:8000/rest', {'poll': '0.1', 'pipeline': 'scale/1.0'})
    """
    scheme, _, rest = spec.partition("+")
    parts = urllib.parse.urlsplit(rest)
    if scheme != "carmin" or parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(f"CARMIN executor must look like carmin+https://HOST/rest, got {spec!r}")
    options = backends.executor_options(spec, OPTIONS)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")), options


def api_key() -> str:
    """The API key from ``VIP_API_KEY`` or ``CARMIN_API_KEY``."""
    for name in API_KEY_VARIABLES:
        if os.environ.get(name):
            return os.environ[name]
    raise InputError(
        "set VIP_API_KEY (or CARMIN_API_KEY) to your platform API key "
        "(VIP: My Account, API key) to use the CARMIN executor"
    )


@contextlib.contextmanager
def carmin_backend(spec: str, jobs: int) -> Iterator[Backend]:
    """The ``carmin+https``/``carmin+http`` backend: outputs come back as bytes (no shared filesystem)."""
    url, opts = executor_options(spec)
    key = api_key()
    try:
        numbers = {
            k: float(opts.get(k, d))
            for k, d in (
                ("retries", 6),
                ("backoff", 1.0),
                ("max_wait", 300.0),
                ("timeout", 60.0),
                ("poll", 5.0),
                ("max_poll", 60.0),
            )
        }
    except ValueError as exc:
        raise InputError(f"bad CARMIN executor option in {spec!r}: {exc}") from exc
    policy = RetryPolicy(retries=int(numbers["retries"]), backoff=numbers["backoff"], max_wait=numbers["max_wait"])
    client = CarminClient(url, key, retry=policy, timeout=numbers["timeout"])
    executor = CarminExecutor(
        client,
        jobs=jobs,
        pipeline=opts.get("pipeline"),
        poll=numbers["poll"],
        root=opts.get("root", "/vip/Home/reprovip"),
        max_poll=numbers["max_poll"],
    )
    try:
        yield Backend(executor, shared_filesystem=False)
    except BaseException:
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        executor.shutdown(wait=True)
