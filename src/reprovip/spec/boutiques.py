"""Boutiques applications: validate the descriptor, build each execution's argv with the boutiques package."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import math
import os
import shlex
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from reprovip.errors import InputError, SpecError
from reprovip.execute.render import render

# ``redirect_stdout`` swaps ``sys.stdout`` for the whole process: two worker threads doing it at once leave it
# pointing at a discarded buffer (every later print lost). One Boutiques call at a time.
_BOSH_LOCK = threading.Lock()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with _BOSH_LOCK, contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def descriptor_path(descriptor: str, study_dir: Path) -> Path:
    """The descriptor's absolute path (relative paths are relative to the study folder)."""
    p = Path(descriptor)
    return p if p.is_absolute() else (study_dir / p).resolve()


def validate_descriptor(path: Path, *, file: str = "study.yaml") -> dict[str, Any]:
    """Check the descriptor with ``bosh validate``; return it parsed.

    Raises
    ------
    SpecError
        Missing, unreadable or invalid descriptor (the message carries Boutiques' reason).
    """
    from boutiques import bosh

    if not path.is_file():
        raise SpecError(f"Boutiques descriptor not found: {path}", file=file, key="application.boutiques")
    try:
        value = json.loads(path.read_text())
        kind = {dict: "", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value))
    except (OSError, ValueError):  # Boutiques' validator says what is wrong below
        kind = ""
    if kind != "":  # `[]` or `5` crashed validate, run and init; Boutiques' own words were unclear (review N9)
        raise SpecError(
            f"invalid Boutiques descriptor {path}: it holds {kind or 'a number'} in JSON, not an object "
            '({"name": ..., "command-line": ..., "inputs": [...], ...})',
            file=file,
            key="application.boutiques",
        )
    try:
        with _quiet():
            bosh(["validate", str(path)])
        return json.loads(path.read_text())
    except Exception as exc:  # boutiques raises its own error classes and SystemExit-like ones
        reason = shared_keys(path) or _descriptor_reason(exc)
        raise SpecError(
            f"invalid Boutiques descriptor {path}: {reason}", file=file, key="application.boutiques"
        ) from exc


def shared_keys(path: Path) -> str | None:
    """Inputs that share an id or a value-key, which Boutiques' validator does not say (it crashed on them,
    "'NoneType' object is not iterable": a review); None when there are none or the file is no descriptor."""
    try:
        inputs = json.loads(path.read_text()).get("inputs") or []
    except (OSError, ValueError, AttributeError):
        return None
    for key in ("id", "value-key"):
        seen: dict[str, str] = {}
        for item in inputs:
            value, name = (item.get(key), item.get("id")) if isinstance(item, dict) else (None, None)
            if isinstance(value, str) and value in seen:
                return f"inputs {seen[value]!r} and {name!r} share the {key} {value}: each input needs its own"
            if isinstance(value, str):
                seen[value] = name
    return None


def _descriptor_reason(exc: BaseException) -> str:
    """What is wrong with a descriptor ``bosh validate`` refused, in one line: the schema's error it raised from
    (where in the descriptor, and what), else the last line of its message with the error's class. The last line
    of Boutiques' message was a fragment of the schema (``('command-line-flag', '--seed')])``, a review)."""
    error = exc.__context__  # jsonschema's ValidationError, read by its attributes
    if error is not None and hasattr(error, "absolute_path") and hasattr(error, "message"):
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
        message = str(error.message)
        if error.context:  # anyOf/oneOf: what each alternative wanted at the deepest place it looked
            depth = max(len(c.absolute_path) for c in error.context)
            deepest = [c for c in error.context if len(c.absolute_path) == depth]
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in deepest[0].absolute_path).lstrip(".")
            if all(c.validator == "enum" for c in deepest):
                allowed = ", ".join(dict.fromkeys(str(v) for c in deepest for v in c.validator_value))
                message = f"{deepest[0].instance!r} is not one of {allowed}"
            else:
                message = str(deepest[0].message)
        return f"{where}: {message[:200]}" if where else message[:200]
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[-1][:200]}" if lines else type(exc).__name__


# The words a Flag input accepts from a placeholder: a factor level `true` renders as "True".
FLAG_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def cast_input(text: str, declared: dict[str, Any]) -> Any:
    """The value of a rendered invocation ``text`` as the descriptor's input ``declared`` types it.

    String and File inputs stay text (a subject ``001`` is not the number 1), Number inputs become an int
    (written as one) or a float, Flag inputs a boolean from one of :data:`FLAG_WORDS`; the value must be one
    of the input's ``value-choices`` when it has them.

    Raises
    ------
    InputError
        The text is not of the input's type or not among its choices; one line naming the input, the value
        and what is allowed.

    Examples
    --------
    >>> cast_input("001", {"id": "prefix", "type": "String"}), cast_input("True", {"id": "v", "type": "Flag"})
    ('001', True)
    >>> cast_input("2", {"id": "n", "type": "Number"}), cast_input("0.5", {"id": "n", "type": "Number"})
    (2, 0.5)
    """
    kind, name = declared.get("type"), declared.get("id")
    value: Any = text
    if kind == "Flag":
        value = FLAG_WORDS.get(text.strip().lower())
        if value is None:
            raise InputError(f"Boutiques input {name!r} is a Flag: {text!r} is not one of {', '.join(FLAG_WORDS)}")
    elif kind == "Number":
        value = _number(text, declared)
    check_input(value, declared)
    return value


def _number(text: str, declared: dict[str, Any]) -> int | float:
    integer = declared.get("integer", False)
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or integer:
        what = "an integer" if integer else "a finite number"
        raise InputError(f"Boutiques input {declared.get('id')!r} is a Number: {text!r} is not {what}")
    return value


def check_input(value: Any, declared: dict[str, Any]) -> None:
    """Refuse a value (typed, as in the invocation) that the input ``declared`` cannot take, in one line.

    Raises
    ------
    InputError
        Wrong JSON type for the input's type (a YAML number given to a String input: quote it), a value
        outside its ``value-choices``, or a Number that is not an integer (``"integer": true``) or lies outside
        its ``minimum``/``maximum`` (:func:`number_bound_error`).
    """
    kind, name = declared.get("type"), declared.get("id")
    if declared.get("list"):
        return  # an array: Boutiques checks its items
    expected = {"String": str, "File": str, "Flag": bool, "Number": int | float}.get(kind)
    if expected is not None and (not isinstance(value, expected) or (kind == "Number" and isinstance(value, bool))):
        hint = f'; quote it: "{value}"' if expected is str else ""
        raise InputError(f"Boutiques input {name!r} is a {kind}: {value!r} is not one{hint}")
    choices = declared.get("value-choices")
    if choices is not None and value not in choices:
        raise InputError(f"Boutiques input {name!r}: {value!r} is not one of its value-choices {choices}")
    if kind == "Number" and (error := number_bound_error(value, declared)) is not None:
        raise InputError(error)


def number_bound_error(value: int | float, declared: dict[str, Any]) -> str | None:
    """Why the Number input ``declared`` cannot take ``value``: not an integer (``"integer": true``), or outside
    its ``minimum``/``maximum`` (strictly, with ``exclusive-minimum``/``exclusive-maximum``); None when it can.

    Boutiques refuses such a value when the execution starts: a level ``threads: [1, 16]`` on an input of maximum
    8 passed ``validate`` and failed half the executions (review BQ).

    Examples
    --------
    >>> number_bound_error(16, {"id": "n", "type": "Number", "maximum": 8})
    "Boutiques input 'n': 16 is above its maximum 8"
    >>> number_bound_error(0, {"id": "n", "type": "Number", "minimum": 0, "exclusive-minimum": True})
    "Boutiques input 'n': 0 is not above its exclusive minimum 0"
    >>> number_bound_error(2.5, {"id": "n", "type": "Number", "integer": True})
    "Boutiques input 'n' is an integer Number: 2.5 is not an integer"
    >>> number_bound_error(3, {"id": "n", "type": "Number", "minimum": 1, "maximum": 8, "integer": True}) is None
    True
    """
    name = declared.get("id")
    if declared.get("integer") and not isinstance(value, int):  # Boutiques refuses 2.0 too ("not of type 'integer'")
        return f"Boutiques input {name!r} is an integer Number: {value!r} is not an integer"
    low, high = declared.get("minimum"), declared.get("maximum")
    if isinstance(low, int | float) and not isinstance(low, bool):
        if declared.get("exclusive-minimum") and value <= low:
            return f"Boutiques input {name!r}: {value!r} is not above its exclusive minimum {low}"
        if value < low:
            return f"Boutiques input {name!r}: {value!r} is below its minimum {low}"
    if isinstance(high, int | float) and not isinstance(high, bool):
        if declared.get("exclusive-maximum") and value >= high:
            return f"Boutiques input {name!r}: {value!r} is not below its exclusive maximum {high}"
        if value > high:
            return f"Boutiques input {name!r}: {value!r} is above its maximum {high}"
    return None


def _typed(template: Any, values: dict[str, Any], declared: dict[str, Any] | None = None) -> Any:
    """Render ``template``; cast it as the descriptor's input ``declared`` types it (:func:`cast_input`).

    Without a declared input (a VIP pipeline's parameter), text that renders to a number becomes one. A list is
    rendered item by item, each typed as one value of the input (a review: ``["{mode}", "{subject}"]`` reached
    the tool as the literal ``{mode}`` and the factor changed nothing).

    Raises
    ------
    InputError
        A list input given one text (``"{sizes}"``): it cannot become a list of values.
    """
    if isinstance(template, list):
        item = None if declared is None else {**declared, "list": False}
        return [_typed(t, values, item) for t in template]
    if not isinstance(template, str):
        return template
    if declared is not None and declared.get("list"):
        raise InputError(list_text_message(declared.get("id"), template))
    text = render(template, values)
    if declared is not None:
        return cast_input(text, declared)
    for cast in (int, float):
        if text != template:
            try:
                return cast(text)
            except ValueError:
                continue
    return text


def list_text_message(name: Any, template: str) -> str:
    """Why a list input cannot take the text ``template``, and what to write instead."""
    return (
        f"Boutiques input {name!r} is a list: give a YAML list of values ([{json.dumps(template)}] for one value), "
        f"not the text {template!r}"
    )


def declared_inputs(descriptor: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The descriptor's inputs by id (none in a file that holds no JSON object: ``validate_descriptor`` says so)."""
    if not isinstance(descriptor, dict):
        return {}
    return {i["id"]: i for i in descriptor.get("inputs") or [] if isinstance(i, dict) and "id" in i}


def typed_invocation(descriptor: dict[str, Any], invocation: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The invocation of one execution: each value rendered and typed by the descriptor (:func:`cast_input`)."""
    inputs = declared_inputs(descriptor)
    return {k: _typed(v, values, inputs.get(k)) for k, v in invocation.items()}


def invocation_error(exc: BaseException) -> str:
    """Boutiques' refusal of an invocation in one line: the input, the value and what is allowed.

    Boutiques re-raises jsonschema's error as a multi-line schema dump; the original error it was raised from
    carries the input's path and a one-line message.
    """
    from jsonschema import ValidationError  # Boutiques' own dependency

    cause = exc.__cause__ or exc.__context__
    if not isinstance(cause, ValidationError):
        return " ".join(str(exc).replace("[ ERROR ]", "").split())[:300] or exc.__class__.__name__
    path = ".".join(map(str, cause.path))
    where = f"Boutiques input {path!r}" if path else "Boutiques invocation"
    return f"{where}: {' '.join(cause.message.split())[:300]}"


class BoutiquesCommand(NamedTuple):
    """What an execution of a Boutiques application runs: the argv and the descriptor's environment variables."""

    argv: list[str]
    env: dict[str, str]


def descriptor_env(descriptor: dict[str, Any], invocation: dict[str, Any]) -> dict[str, str]:
    """The descriptor's ``environment-variables`` for one (typed) ``invocation``, as ``bosh exec launch`` sets them.

    A value that is exactly an input's value-key (``[SMOOTH]``) is that input's value; any other value is literal.

    Raises
    ------
    InputError
        The invocation leaves out the input a variable takes its value from (``bosh`` stops with a bare KeyError).

    Examples
    --------
    >>> desc = {"inputs": [{"id": "s", "value-key": "[S]"}],
    ...         "environment-variables": [{"name": "SMOOTH", "value": "[S]"}, {"name": "MODE", "value": "fast"}]}
    >>> descriptor_env(desc, {"s": 2})
    {'SMOOTH': '2', 'MODE': 'fast'}
    """
    keys = {i.get("value-key"): i["id"] for i in declared_inputs(descriptor).values()}
    env = {}
    for variable in descriptor.get("environment-variables") or []:
        value = variable.get("value", "")
        if value in keys:
            if keys[value] not in invocation:
                raise InputError(
                    f"the descriptor's environment variable {variable['name']} takes the value of input "
                    f"{keys[value]!r}: give it in the invocation"
                )
            value = invocation[keys[value]]
        env[variable["name"]] = str(value)
    return env


def boutiques_command(
    descriptor: str, invocation: dict[str, Any], values: dict[str, Any], workdir: Path
) -> BoutiquesCommand:
    """Render the invocation with this execution's values and let Boutiques build the command line.

    Boutiques command lines are shell-quoted strings; they are split with :func:`shlex.split` and run as an
    argv list, never through a shell. The descriptor's ``environment-variables`` come with it
    (:func:`descriptor_env`): ``bosh exec launch`` sets them, and a parameter passed that way must reach the tool.

    Raises
    ------
    InputError
        A value the descriptor's input cannot take, or Boutiques refused the invocation (one line).
    """
    from boutiques import bosh

    desc = json.loads(Path(descriptor).read_text())
    inv = typed_invocation(desc, invocation, values)
    inv_path = workdir / "invocation.json"
    inv_path.write_text(json.dumps(inv))
    try:
        with _quiet():
            out = bosh(["exec", "simulate", descriptor, "-i", str(inv_path)])
    except Exception as exc:  # boutiques' own error classes, with a schema dump
        raise InputError(invocation_error(exc)) from exc
    return BoutiquesCommand(shlex.split(out.shell_command), descriptor_env(desc, inv))


# -- launching through `bosh exec launch` (``application.launcher: bosh``) -----------------------------------
#
# The execution is ``python -m reprovip.spec.boutiques launch ...``: an ordinary argv run by the sandbox (its
# workdir, environment, timeout and process group), in which Boutiques builds the command line, runs the tool
# (in its container when the descriptor names one and an engine is installed) and writes its execution record,
# with reprovip's provenance merged into the record's ``additional-information.reprovip``.

LAUNCH_VALUES = ("subject", "input", "repetition", "study_dir", "outdir", "python")
RECORDS_DIR = "{study_dir}/.reprovip/boutiques-records"
CONTAINER_ENGINES = ("docker", "apptainer", "singularity")


def _b64(obj: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj, sort_keys=True).encode()).decode()


def bosh_launch_template(
    descriptor: str,
    invocation: dict[str, Any],
    *,
    factors: list[str] | tuple[str, ...] = (),
    records: str = RECORDS_DIR,
    container: str = "auto",
) -> list[str]:
    """The argv template of an execution launched with ``bosh exec launch``.

    Placeholders are filled by the sandbox like any command's; the invocation template travels base64-encoded
    so that no value is ever spliced into JSON text. Extra arguments (the ``args`` factor) follow ``--``.

    Examples
    --------
    >>> argv = bosh_launch_template("tool.json", {"in": "{input}"}, factors=["threads"])
    >>> argv[1:4], argv[-1], "--value=threads_level={threads_level}" in argv, "--factor=threads" in argv
    (['-m', 'reprovip.spec.boutiques', 'launch'], '--', True, True)
    """
    check = {"auto", "never"}
    if container not in check:
        raise ValueError(f"`container` must be one of {sorted(check)}, got {container!r}")
    names = [*LAUNCH_VALUES, *factors, *(f"{f}_level" for f in factors)]
    return [
        sys.executable,
        "-m",
        "reprovip.spec.boutiques",
        "launch",
        descriptor,
        _b64(invocation),
        f"--records={records}",
        f"--container={container}",
        *(f"--value={n}={{{n}}}" for n in names),
        *(f"--factor={f}" for f in factors),
        "--",
    ]


def container_engine(descriptor: dict[str, Any]) -> str | None:
    """The container engine ``bosh`` will use for ``descriptor``, or None to run on the host."""
    import shutil

    if not descriptor.get("container-image"):
        return None
    return next((e for e in CONTAINER_ENGINES if shutil.which(e)), None)


def _finish_record(cache: Path, records: Path, out: Any, workdir: Path) -> Path | None:
    """Move Boutiques' record into ``records``, adding the output paths; name its descriptor by content."""
    import blake3

    found = [p for p in cache.glob("*.json") if not p.name.startswith("descriptor_")]
    if not found:
        return None
    record = json.loads(found[0].read_text())
    info = record.setdefault("additional-information", None) or {}
    info.setdefault("reprovip", {})["output-paths"] = {
        f.boutiques_name: str((workdir / f.file_name).resolve()) for f in out.output_files
    }
    record["additional-information"] = info
    try:
        records.mkdir(parents=True, exist_ok=True)
    except OSError:
        from boutiques.dataHandler import getDataCacheDir

        records = Path(getDataCacheDir())  # Boutiques' own cache, where a user would look first
    doi = record.get("summary", {}).get("descriptor-doi") or ""
    if doi.startswith("descriptor_") and (cache / doi).is_file():
        text = (cache / doi).read_text()
        name = f"descriptor_{doi.split('_')[1]}_{blake3.blake3(text.encode()).hexdigest()[:16]}.json"
        if not (records / name).exists():
            (records / name).write_text(text)
        record["summary"]["descriptor-doi"] = name
    # Boutiques names a record by tool and microsecond: two executions finishing together got one name (and one
    # lost its record, or failed to move it). The execution id makes it unique; the time keeps retries apart.
    execution = info["reprovip"].get("execution_id") or os.getpid()
    dest = records / f"{found[0].stem}_{execution}.json"
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    tmp.write_text(json.dumps(record, indent=4))
    os.replace(tmp, dest)
    return dest


def launch_main(argv: list[str]) -> int:
    """``python -m reprovip.spec.boutiques launch DESCRIPTOR INVOCATION_B64 ...``: one execution via ``bosh``.

    Returns the tool's exit code (2 when Boutiques refuses the invocation).
    """
    import argparse
    import shlex
    import shutil
    import socket
    import tempfile

    from reprovip.spec.boutiques_checks import args_after_shell, shell_syntax

    p = argparse.ArgumentParser(prog="python -m reprovip.spec.boutiques launch")
    p.add_argument("descriptor")
    p.add_argument("invocation")
    p.add_argument("--records", required=True)
    p.add_argument("--container", choices=("auto", "never"), default="auto")
    p.add_argument("--value", action="append", default=[])
    p.add_argument("--factor", action="append", default=[])
    cut = argv.index("--") if "--" in argv else len(argv)
    args, extra = p.parse_args(argv[:cut]), argv[cut + 1 :]
    values = {}
    for item in args.value:
        name, _, value = item.partition("=")
        if value != f"{{{name}}}":  # a placeholder this execution has no value for
            values[name] = value
    workdir = Path.cwd()
    desc = json.loads(Path(args.descriptor).read_text())
    desc_path = args.descriptor
    if extra and (ops := shell_syntax(desc.get("command-line", ""))):
        print(f"bosh exec launch refused the `args` factor: {args_after_shell(ops)}", file=sys.stderr)
        return 2
    if extra:  # the `args` factor: appended to the command line, as with `exec simulate`
        desc["command-line"] = f"{desc['command-line']} {shlex.join(extra)}"
        desc_path = str(workdir / "descriptor.json")
        Path(desc_path).write_text(json.dumps(desc))
    try:
        inv = typed_invocation(desc, json.loads(base64.urlsafe_b64decode(args.invocation)), values)
        descriptor_env(desc, inv)  # bosh's own refusal is a bare KeyError
    except InputError as exc:
        print(f"bosh exec launch refused the invocation: {exc}", file=sys.stderr)
        return 2
    inv_path = workdir / "invocation.json"
    inv_path.write_text(json.dumps(inv))
    engine = container_engine(desc) if args.container == "auto" else None
    if engine is None and args.container == "auto" and desc.get("container-image"):
        # Run on the host instead, and an image comparison would compare the host with itself.
        image = (desc["container-image"] or {}).get("image") if isinstance(desc["container-image"], dict) else None
        print(
            f"bosh exec launch: no container engine ({', '.join(CONTAINER_ENGINES)}) on {socket.gethostname()} "
            f"to run container-image {image!r}; install one (docs/containers.md)",
            file=sys.stderr,
        )
        return 2
    # {factor_level} is the level's label (``random``) where {factor} is its value (the drawn seed).
    labels = {f: values.get(f"{f}_level", values.get(f)) for f in args.factor}
    from reprovip import __version__
    from reprovip.execute.provenance import machine_provenance_hash

    context = dict(
        execution_id=os.environ.get("REPROVIP_EXECUTION_ID"),
        subject=values.get("subject"),
        input=values.get("input"),
        repetition=int(values["repetition"]) if "repetition" in values else None,
        condition=labels,
        seed=os.environ.get("REPROVIP_SEED"),
        tool_version=desc.get("tool-version"),
        launcher="bosh exec launch",
        container=engine or "none",
        hostname=socket.gethostname(),
        reprovip_version=__version__,
        outdir=values.get("outdir"),
        machine_provenance=machine_provenance_hash(),
    )
    opts = ["--provenance", json.dumps({"reprovip": context})]
    opts += ["--no-container"] if engine is None else (["-u"] if engine == "docker" else [])
    import boutiques.localExec as local_exec
    from boutiques import bosh

    cache = Path(tempfile.mkdtemp(prefix=".bosh-cache-", dir=workdir))
    local_exec.getDataCacheDir = lambda: str(cache)  # this execution's record, not the user's shared cache
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            out = bosh(["exec", "launch", desc_path, str(inv_path), *opts])
    except Exception as exc:  # Boutiques' own errors: an invalid invocation or descriptor
        print(f"bosh exec launch refused the invocation: {invocation_error(exc)}", file=sys.stderr)
        return 2
    sys.stdout.write(out.stdout or "")
    sys.stderr.write(out.stderr or "")
    try:
        _finish_record(cache, Path(args.records), out, workdir)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    # The record's path is printed nowhere: on stdout or stderr it would change a `{stdout}` or `{stderr}` output
    # from one execution to the next (a review: "0 of 1 identical"); its name ends with the execution id.
    missing = [f"{f.boutiques_name} ({Path(f.file_name).name})" for f in out.missing_files or ()]
    if not out.exit_code and missing:
        # Boutiques lists them and exits 0; VIP fails such a job and `ingest --boutiques-records` reads the same
        # record as a failed execution, where `run` passed it (review BQ): one answer, a failure
        print(
            f"bosh exec launch: the descriptor's required output(s) {', '.join(missing)} were not written "
            "(`missing-files` in its record): fix their `path-template`, or mark them `optional`",
            file=sys.stderr,
        )
        return 1
    return int(out.exit_code or 0)


if __name__ == "__main__":
    if sys.argv[1:2] != ["launch"]:
        print("usage: python -m reprovip.spec.boutiques launch DESCRIPTOR INVOCATION ...", file=sys.stderr)
        sys.exit(2)
    sys.exit(launch_main(sys.argv[2:]))
