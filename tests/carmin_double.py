"""A test double of a CARMIN 0.3 platform (VIP-like), for the tests of reprovip's CARMIN backend only.

It serves, on 127.0.0.1 in a thread (``http.server``), the endpoints the backend uses, with the paths and
schemas of the published CARMIN 0.3.1 OpenAPI document: ``/platform``, ``/pipelines``, ``/pipelines/{id}``,
``/executions`` (create), ``/executions/{id}`` (get), ``/play``, ``/kill``, ``/results``, ``/stdout``,
``/stderr`` and ``/path/{path}`` (exists, content, properties, md5; upload and mkdir). Pipelines are Boutiques
descriptors that it really runs, locally, on the uploaded files: Boutiques validates the invocation and builds
the command line (as ``bosh exec launch --no-container`` does), the tool runs in its own working folder.

Faults for the tests: ``faults`` (forced answers, e.g. a burst of ``503`` with ``Retry-After``),
``min_duration`` (an execution stays ``Running`` at least that long: slow polling), ``require_play``
(executions start ``Initializing`` until ``PUT /play``). Given a :class:`SpecValidator`, every request and
response is checked against the OpenAPI document and the violations are collected in ``errors``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

API_KEY = "double-key"
_BOSH = threading.Lock()  # one in-process Boutiques call at a time
TYPES = {"File": "File", "String": "String", "Number": "Double", "Flag": "Boolean"}


class SpecValidator:
    """Checks requests and responses against an OpenAPI 3.0 document (``openapi-schema-validator``)."""

    def __init__(self, spec: dict[str, Any], prefix: str = "/rest") -> None:
        from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4

        self.spec, self.prefix = spec, prefix
        self._registry = Registry().with_resource("urn:carmin", Resource.from_contents(spec, DRAFT4))
        self._read, self._write = OAS30ReadValidator, OAS30WriteValidator
        self._routes = []
        for template, item in spec["paths"].items():
            rx = re.sub(
                r"\{(\w+)\}",
                lambda m: "(.+)" if m.group(1) in ("completePath", "pipelineIdentifier") else "([^/]+)",
                re.escape(template).replace(r"\{", "{").replace(r"\}", "}"),
            )
            self._routes.append((len(template.split("{")[0]), template, re.compile(f"^{rx}$"), item))
        self._routes.sort(key=lambda r: -r[0])

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        """The path template and operation object of a request, or None."""
        path = path[len(self.prefix) :] if path.startswith(self.prefix) else path
        literal = [r for r in self._routes if "{" not in r[1] and r[1] == path]
        for _, template, rx, item in literal + self._routes:
            if rx.match(path) and method.lower() in item:
                return template, item[method.lower()]
        return None

    def _schema_errors(self, schema: dict[str, Any], value: Any, read: bool) -> list[str]:
        cls = self._read if read else self._write
        wrapped = json.loads(json.dumps(schema).replace('"#/', '"urn:carmin#/'))
        return [e.message for e in cls(wrapped, registry=self._registry).iter_errors(value)]

    def request(self, method: str, path: str, query: dict[str, str], headers: Any, body: bytes) -> list[str]:
        """Violations of a request: unknown operation, missing key, query parameters, JSON body."""
        found = self.operation(method, path)
        if found is None:
            return [f"{method} {path}: no such operation in the CARMIN spec"]
        template, op = found
        errors = []
        security = op.get("security", self.spec.get("security", []))
        if security and not headers.get("apikey"):
            errors.append(f"{method} {template}: missing the apikey header")
        params = op.get("parameters", []) + self.spec["paths"][template].get("parameters", [])
        for p in [p for p in params if p.get("in") == "query"]:
            if p.get("required") and p["name"] not in query:
                errors.append(f"{method} {template}: missing query parameter {p['name']}")
            elif p["name"] in query and p.get("schema", {}).get("type") == "string":
                errors += [
                    f"{method} {template} ?{p['name']}: {m}"
                    for m in self._schema_errors(p["schema"], query[p["name"]], read=False)
                ]
        ctype = (headers.get("content-type") or "").split(";")[0].strip()
        spec_body = op.get("requestBody")
        if spec_body is None:
            if body:
                errors.append(f"{method} {template}: unexpected request body")
        elif not body:
            if spec_body.get("required"):
                errors.append(f"{method} {template}: missing the required request body")
        elif ctype not in spec_body["content"]:
            allowed = sorted(spec_body["content"])
            errors.append(f"{method} {template}: content type {ctype!r} not in {allowed}")
        elif ctype.endswith("json"):
            schema = spec_body["content"][ctype]["schema"]
            errors += [
                f"{method} {template} body: {m}" for m in self._schema_errors(schema, json.loads(body), read=False)
            ]
        return errors

    def response(self, method: str, path: str, status: int, ctype: str, body: bytes) -> list[str]:
        """Violations of a response: undeclared status, content type, JSON schema."""
        found = self.operation(method, path)
        if found is None:
            return []
        template, op = found
        spec = op["responses"].get(str(status)) or op["responses"].get("default")
        if spec is None:
            return [f"{method} {template}: status {status} not declared"]
        if "$ref" in spec:
            spec = self.spec["components"]["responses"][spec["$ref"].rsplit("/", 1)[1]]
        content = spec.get("content")
        if not content:
            return [f"{method} {template} {status}: unexpected body"] if body else []
        ctype = ctype.split(";")[0].strip()
        if ctype not in content and "application/octet-stream" not in content:
            return [f"{method} {template} {status}: content type {ctype!r} not in {sorted(content)}"]
        if ctype == "application/json":
            return [
                f"{method} {template} {status}: {m}"
                for m in self._schema_errors(content[ctype]["schema"], json.loads(body), read=True)
            ]
        return []


class CarminDouble:
    """The fake platform. ``pipelines`` maps identifiers (``name/version``) to Boutiques descriptors."""

    def __init__(
        self,
        storage: Path,
        pipelines: dict[str, Path],
        *,
        validator: SpecValidator | None = None,
        api_key: str = API_KEY,
    ) -> None:
        self.storage, self.api_key, self.validator = Path(storage), api_key, validator
        self.pipelines = {pid: json.loads(Path(p).read_text()) for pid, p in pipelines.items()}
        self.descriptor_paths = {pid: str(p) for pid, p in pipelines.items()}
        self.executions: dict[str, dict[str, Any]] = {}
        self.faults: list[tuple[int, str | None]] = []
        self.min_duration = 0.0
        self.require_play = False
        self.log: list[tuple[str, str, int]] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        (self.storage / "files").mkdir(parents=True, exist_ok=True)

    # -- server ---------------------------------------------------------------------------------------------
    def start(self) -> str:
        """Serve on 127.0.0.1 (a free port) in a daemon thread; return the base URL ``.../rest``."""
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall between headers and body

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _handle(self) -> None:
                double._serve(self)

            do_GET = do_PUT = do_POST = do_DELETE = _handle  # noqa: N815

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}/rest"

    def stop(self) -> None:
        """Stop serving and wait for the executions still running."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for ex in list(self.executions.values()):
            if ex.get("_thread"):
                ex["_thread"].join(timeout=30)

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        url = urllib.parse.urlsplit(h.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        path = urllib.parse.unquote(url.path)
        if self.validator:
            self._record(self.validator.request(h.command, path, query, h.headers, body))
        status, ctype, payload, headers = self._route(h.command, path, query, h.headers, body)
        if self.validator:
            self._record(self.validator.response(h.command, path, status, ctype, payload))
        with self._lock:
            self.log.append((h.command, path, status))
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        if status != 204:
            h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        h.wfile.write(payload)

    def _record(self, errors: list[str]) -> None:
        with self._lock:
            self.errors += errors

    @staticmethod
    def _json(obj: Any, status: int = 200) -> tuple[int, str, bytes, dict[str, str]]:
        return status, "application/json", json.dumps(obj).encode(), {}

    def _error(self, status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Any:
        body = json.dumps({"errorCode": code, "errorMessage": message}).encode()
        return status, "application/json", body, headers or {}

    def _route(self, method: str, path: str, query: dict[str, str], headers: Any, body: bytes) -> Any:
        if not path.startswith("/rest/"):
            return self._error(404, 404, "not found")
        path = path[len("/rest") :]
        if path == "/platform" and method == "GET":
            return self._json(
                {
                    "platformName": "carmin-double",
                    "supportedAPIVersion": "0.3.1",
                    "supportedModules": ["Processing", "Data"],
                    "defaultExecutionTimeout": 0,
                }
            )
        if headers.get("apikey") != self.api_key:
            return self._error(401, 40101, "bad or missing API key")
        with self._lock:
            fault = self.faults.pop(0) if self.faults else None
        if fault is not None:
            status, retry_after = fault
            extra = {"Retry-After": retry_after} if retry_after else {}
            return self._error(status, status * 100, "injected fault", extra)
        if path == "/pipelines" and method == "GET":
            return self._json([self._pipeline(pid, full=False) for pid in self.pipelines])
        if path.startswith("/pipelines/") and method == "GET":
            pid = path[len("/pipelines/") :]
            return self._json(self._pipeline(pid)) if pid in self.pipelines else self._error(404, 4040, pid)
        if path == "/executions" and method == "POST":
            return self._create(json.loads(body))
        m = re.match(r"^/executions/([^/]+)(?:/(play|kill|results|stdout|stderr))?$", path)
        if m:
            return self._execution_op(method, m.group(1), m.group(2))
        if path.startswith("/path/"):
            return self._path(method, "/" + path[len("/path/") :].strip("/"), query, headers, body)
        return self._error(404, 404, f"{method} {path}: not implemented by the double")

    # -- pipelines and executions ---------------------------------------------------------------------------
    def _pipeline(self, pid: str, *, full: bool = True) -> dict[str, Any]:
        d = self.pipelines[pid]
        out: dict[str, Any] = {
            "identifier": pid,
            "name": d["name"],
            "version": d["tool-version"],
            "description": d.get("description", ""),
            "canExecute": True,
            "properties": {},
        }
        if full:
            out["parameters"] = [
                {
                    "name": i["id"],
                    "type": TYPES.get(i["type"], "String"),
                    "isReturnedValue": False,
                    "isOptional": bool(i.get("optional")),
                    "description": i.get("name", ""),
                }
                for i in d["inputs"]
            ] + [
                {"name": o["id"], "type": "File", "isOptional": bool(o.get("optional")), "isReturnedValue": True}
                for o in d.get("output-files", [])
            ]
        return out

    def _view(self, ex: dict[str, Any]) -> dict[str, Any]:
        status = ex["status"]
        if ex.get("_final") and time.time() >= ex["_started"] + self.min_duration:
            status = ex["status"] = ex.pop("_final")
        out = {k: v for k, v in ex.items() if not k.startswith("_")}
        out["status"] = status
        if status not in ("Finished",):
            out.pop("returnedFiles", None)
        return out

    def _create(self, body: dict[str, Any]) -> Any:
        pid = body.get("pipelineIdentifier")
        if pid not in self.pipelines:
            return self._error(400, 4001, f"no pipeline {pid!r}")
        eid = f"exec-{uuid.uuid4().hex[:12]}"
        ex = {
            "identifier": eid,
            "name": body["name"],
            "pipelineIdentifier": pid,
            "status": "Initializing",
            "inputValues": body["inputValues"],
            "startDate": int(time.time()),
        }
        with self._lock:
            self.executions[eid] = ex
        if not self.require_play:
            self._start(ex)
        return self._json(self._view(ex))

    def _start(self, ex: dict[str, Any]) -> None:
        ex.update(status="Running", _started=time.time())
        ex["_thread"] = threading.Thread(target=self._run, args=(ex,), daemon=True)
        ex["_thread"].start()

    def _run(self, ex: dict[str, Any]) -> None:
        """Run the pipeline: platform paths of File inputs become local files, then ``bosh exec launch``."""
        pid, eid = ex["pipelineIdentifier"], ex["identifier"]
        types = {i["id"]: i["type"] for i in self.pipelines[pid]["inputs"]}
        work = self.storage / "work" / eid
        work.mkdir(parents=True)
        inv = {k: str(self._local(v)) if types.get(k) == "File" else v for k, v in ex["inputValues"].items()}
        (work / "invocation.json").write_text(json.dumps(inv))
        out = self._launch(self.descriptor_paths[pid], work)
        results = ex["inputValues"].get("results-directory") or f"/double/results/{eid}"
        returned = {}
        for oid, name in out["outputs"].items():
            src = (work / name).resolve()
            rel = src.relative_to(work.resolve()).as_posix()
            dest = self._local(f"{results}/{rel}")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
            returned[oid] = [f"{results}/{rel}"]
        ex.update(
            _stdout=out["stdout"] or "",
            _stderr=out["stderr"] or "",
            returnedFiles=returned,
            endDate=int(time.time()),
            _results=results,
        )
        if out["exit_code"]:
            ex["errorCode"] = int(out["exit_code"])
        if ex["status"] != "Killed":
            final = {0: "Finished", None: "InitializationFailed"}
            ex["_final"] = final.get(out["exit_code"], "ExecutionFailed")

    @staticmethod
    def _launch(descriptor: str, work: Path) -> dict[str, Any]:
        """What ``bosh exec launch --no-container`` does, in-process except for the tool: validate the
        invocation, build the command line, run it (through the shell, as Boutiques does), find outputs."""
        from boutiques import bosh
        from boutiques.evaluate import evaluateEngine
        from boutiques.localExec import LocalExecutor

        inv = str(work / "invocation.json")
        try:
            with _BOSH:
                bosh(["invocation", descriptor, "-i", inv])
                executor = LocalExecutor(
                    descriptor, inv, {"forcePathType": True, "skipDataCollect": True, "sandbox": False, "debug": False}
                )
                command, outputs = executor.cmd_line[0], evaluateEngine(executor, "output-files")
        except Exception as exc:  # an invalid invocation: the execution fails to initialise
            return {"exit_code": None, "stdout": "", "stderr": str(exc), "outputs": {}}
        proc = subprocess.run(command, shell=True, cwd=work, capture_output=True, text=True, timeout=120)
        found = {oid: path for oid, path in outputs.items() if (work / path).is_file()}
        return {"exit_code": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr, "outputs": found}

    def _execution_op(self, method: str, eid: str, op: str | None) -> Any:
        ex = self.executions.get(eid)
        if ex is None:
            return self._error(404, 4042, f"no execution {eid}")
        if op is None and method == "GET":
            return self._json(self._view(ex))
        if op == "play" and method == "PUT":
            if ex["status"] == "Initializing":
                self._start(ex)
            return 204, "", b"", {}
        if op == "kill" and method == "PUT":
            ex.update(status="Killed")
            ex.pop("_final", None)
            return 204, "", b"", {}
        if op == "results" and method == "GET":
            view = self._view(ex)
            paths = [p for ps in view.get("returnedFiles", {}).values() for p in ps]
            return self._json([self._properties(p, eid) for p in paths])
        if op in ("stdout", "stderr") and method == "GET":
            return 200, "text/plain", ex.get(f"_{op}", "").encode(), {}
        return self._error(405, 405, f"{method} not allowed")

    # -- data -----------------------------------------------------------------------------------------------
    def _local(self, platform_path: str) -> Path:
        rel = Path(platform_path.lstrip("/"))
        if ".." in rel.parts:
            raise ValueError(platform_path)
        return self.storage / "files" / rel

    def _properties(self, platform_path: str, eid: str | None = None) -> dict[str, Any]:
        p = self._local(platform_path)
        out = {
            "platformPath": platform_path,
            "lastModificationDate": int(p.stat().st_mtime),
            "isDirectory": p.is_dir(),
            "size": p.stat().st_size if p.is_file() else 0,
        }
        if eid:
            out["executionId"] = eid
        return out

    def _path(self, method: str, path: str, query: dict[str, str], headers: Any, body: bytes) -> Any:
        local = self._local(path)
        if method == "GET":
            action = query.get("action")
            if action == "exists":
                return self._json({"exists": local.exists()})
            if not local.exists():
                return self._error(404, 4043, f"no such path {path}")
            if action == "content" and local.is_file():
                return 200, "application/octet-stream", local.read_bytes(), {}
            if action == "properties":
                return self._json(self._properties(path))
            if action == "md5" and local.is_file():
                return self._json({"md5": hashlib.md5(local.read_bytes()).hexdigest()})
            return self._error(400, 4000, f"action {action!r} not supported on {path}")
        if method == "PUT":
            if not local.parent.is_dir():
                return self._error(400, 4004, f"parent folder of {path} does not exist")
            if not body:
                if local.exists():
                    return self._error(400, 4005, f"{path} exists")
                local.mkdir(parents=True)
            else:
                ctype = (headers.get("content-type") or "").split(";")[0]
                carmin_json = ctype == "application/carmin+json"
                data = base64.b64decode(json.loads(body)["base64Content"]) if carmin_json else body
                local.parent.mkdir(parents=True, exist_ok=True)
                local.write_bytes(data)
            return 201, "application/json", json.dumps(self._properties(path)).encode(), {"Location": path}
        return self._error(405, 405, f"{method} not allowed on paths")
