"""Trace what an execution writes (``trace: files``) and which process read and wrote it (``trace: processes``).

``files``: after the execution, every regular file of its working folder (``{outdir}`` included) is hashed, bytes
and decoded content (:func:`reprovip.readers.semantic_hash`), and listed with its size and write order (by
modification time). Nothing is stored but the hashes: an intermediate of any size costs its hashing only.

``processes``: the application also runs under ``strace -f`` (the Debian package), which records every process it
starts (argv, working folder, exit code) and each file each one opened for reading or writing. The reasons for
strace rather than ReproZip's tracer are in ``docs/running.md``. Where ptrace is not permitted, or the application
runs in a container or another root filesystem (strace would trace the engine, not the tool), the execution is
traced with ``files`` and the trace says why in one line.

Nipype: where the working folder holds a Nipype workflow's base folder (node folders, each with ``_node.pklz``),
Nipype's records of each node's run are not traced files (they hold timestamps, host and absolute paths, never a
result), a node's ``result_<node>.pklz`` is compared by the outputs it holds, and under ``files`` each node is a
step (:func:`nipype_nodes`).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import threading
from typing import Any

STRACE_DIR = ".reprovip-strace"
# Calls that open, rename or move into a folder, start or end a process; -y prints the path behind each
# descriptor, so a relative open resolves without following the working folder.
_CALLS = "execve,open,openat,creat,rename,renameat,renameat2,chdir,fchdir,clone,clone3,fork,vfork"
_LINE = re.compile(r"^(?P<ts>\d+\.\d+) (?P<call>\w+)\((?P<args>.*)\)\s+= (?P<ret>-?\d+)(?:<(?P<fdpath>[^>]*)>)?")
_EXIT = re.compile(r"^\d+\.\d+ \+\+\+ (?:exited with (?P<code>\d+)|killed by (?P<signal>SIG\w+))")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND")
# argv[0] of a process row that stands for a Nipype node (trace: files): argv is [NIPYPE_NODE, "wf.node"].
NIPYPE_NODE = "nipype-node"
_NODE_FILE = "_node.pklz"
_NIPYPE_LOCK = threading.Lock()
# What Nipype writes about a node's run in its folder, besides the outputs and result_<node>.pklz.
_NIPYPE_RECORD = re.compile(r"_node\.pklz|_inputs\.pklz|_0x[0-9a-f]+(?:_unfinished)?\.json|command\.txt")


def strace_problem() -> str | None:
    """Why ``strace -f`` cannot trace here (not installed, ptrace not permitted), or None when it can.

    Checked once per process by tracing ``true``.
    """
    return _strace_problem()


@functools.cache
def _strace_problem() -> str | None:
    exe = shutil.which("strace")
    if exe is None:
        return "strace is not installed (Debian package `strace`)"
    try:
        done = subprocess.run(
            [exe, "-f", "-qq", "-o", os.devnull, "true"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"strace could not run ({exc})"
    if done.returncode != 0:
        lines = (done.stderr or "").strip().splitlines()
        return f"ptrace is not permitted here ({lines[0] if lines else f'exit code {done.returncode}'})"
    return None


@functools.cache
def _seccomp() -> tuple[str, ...]:
    """``--seccomp-bpf`` where this strace and kernel take it without a warning: then only the traced calls stop
    the process, not every system call (strace 5.3 and later)."""
    try:
        done = subprocess.run(
            ["strace", "-f", "--seccomp-bpf", "-e", "trace=execve", "-qq", "-o", os.devnull, "true"],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return ("--seccomp-bpf",) if done.returncode == 0 and not done.stderr.strip() else ()


def prepare(mode: str, argv: list[str], workdir: str, extra: dict[str, Any]) -> tuple[list[str], str, str | None]:
    """The argv to run, the mode actually traced and, when ``processes`` fell back to ``files``, why (one line)."""
    if mode != "processes":
        return argv, mode, None
    wrapped = next((k for k in ("container", "os") if k in extra), None)
    problem = f"the application runs under the `{wrapped}` factor" if wrapped else strace_problem()
    if problem:
        return argv, "files", f"traced with `files` instead of `processes`: {problem}"
    return wrap(argv, workdir), mode, None


def wrap(argv: list[str], workdir: str) -> list[str]:
    """``argv`` run under ``strace -f``, one trace file per process in ``<workdir>/.reprovip-strace/``."""
    folder = os.path.join(workdir, STRACE_DIR)
    os.makedirs(folder, exist_ok=True)
    # -ff: one file per process, so no call is split across lines; -ttt: when each process started; -q, not
    # -qq: no attach messages, but the "+++ exited with N +++" lines stay.
    opts = ["-f", *_seccomp(), "-ff", "-q", "-y", "-ttt", "-s", "4096", "-e", f"trace={_CALLS}", "-e", "signal=none"]
    return ["strace", *opts, "-o", os.path.join(folder, "p"), "--", *argv]


def snapshot(workdir: str, *, skip: tuple[str, ...]) -> list[dict[str, Any]]:
    """Every regular file under ``workdir`` (less the top-level names in ``skip``), hashed, in write order.

    Each record: ``relpath`` (relative to ``workdir``, ``/``-separated), ``size``, ``mtime_ns``,
    ``write_order`` (0, 1... by modification time, then path), ``blob`` (BLAKE3 of the bytes) and
    ``semantic_hash`` (of the decoded content for the formats the readers know; None otherwise or when the file
    does not decode, so its bytes decide).
    """
    from reprovip.readers import semantic_hash  # lazy: readers pull in nibabel
    from reprovip.store.blobs import file_hash

    found = []
    for parent, dirs, names in os.walk(workdir):
        rel = os.path.relpath(parent, workdir)
        if rel == ".":
            dirs[:] = [d for d in dirs if d not in skip]
            names = [n for n in names if n not in skip]
        for n in names:
            path = os.path.join(parent, n)
            st = os.lstat(path)
            if not os.path.isfile(path) or os.path.islink(path):
                continue
            try:
                semantic = semantic_hash(path) if st.st_size else None
            except Exception:  # an unknown format or an undecodable file: its bytes decide
                semantic = None
            found.append(
                dict(
                    relpath=n if rel == "." else f"{rel}/{n}".replace(os.sep, "/"),
                    size=st.st_size,
                    mtime_ns=st.st_mtime_ns,
                    blob=file_hash(path),
                    semantic_hash=semantic,
                )
            )
    return _in_write_order(found)


def _in_write_order(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    files.sort(key=lambda f: (f["mtime_ns"], f["relpath"]))
    for i, f in enumerate(files):
        f["write_order"] = i
    return files


def _strings(args: str) -> list[str]:
    return [bytes(s, "utf-8").decode("unicode_escape") for s in _STRING.findall(args)]


def _parse_file(path: str) -> dict[str, Any]:
    """One process's (or thread's) calls in order, ``(call, args, ret, fdpath)``, when it started and how it ended."""
    calls, exit_code, first = [], None, float("inf")
    with open(path, errors="replace") as fh:
        for line in fh:
            if m := _LINE.match(line):
                first = min(first, float(m["ts"]))
                calls.append((m["call"], m["args"], int(m["ret"]), m["fdpath"]))
            elif m := _EXIT.match(line):
                exit_code = int(m["code"]) if m["code"] is not None else -signal.Signals[m["signal"]].value
    return dict(calls=calls, exit_code=exit_code, first=first)


def parse(workdir: str, files: set[str]) -> list[dict[str, Any]]:
    """The processes ``strace`` recorded under ``workdir``: number, parent, argv, cwd, exit code, reads, writes.

    ``reads`` and ``writes`` list the relpaths (as in :func:`snapshot`) among ``files`` that the process (or
    any of its threads) opened for reading or for writing, or renamed into place: files outside the working
    folder (the input, libraries) and files deleted before the end are not listed. A file a process both
    reads and writes counts as written. Processes are numbered in start order; 0 is the application.
    ``cwd`` is its last working folder, relative to ``workdir`` when inside it.
    """
    folder = os.path.join(workdir, STRACE_DIR)
    per_pid = {int(n.rsplit(".", 1)[1]): _parse_file(os.path.join(folder, n)) for n in os.listdir(folder)}
    roots = (os.path.realpath(workdir), os.path.abspath(workdir))
    parent: dict[int, int] = {}
    threads: dict[int, int] = {}  # thread id -> the task that cloned it
    for pid, rec in per_pid.items():
        for call, args, ret, _ in rec["calls"]:
            if call in ("clone", "clone3", "fork", "vfork") and ret > 0:
                (threads if "CLONE_THREAD" in args else parent)[ret] = pid

    def leader(pid: int) -> int:
        while pid in threads:
            pid = threads[pid]
        return pid

    def rel(path: str | None) -> str | None:
        for root in roots:
            if path and path.startswith(root + os.sep):
                r = path[len(root) + 1 :].replace(os.sep, "/")
                return r if r in files else None
        return None

    order = sorted((p for p in per_pid if p not in threads), key=lambda p: (per_pid[p]["first"], p))
    procs = {pid: dict(argv=None, cwd=None, exit_code=per_pid[pid]["exit_code"], r=set(), w=set()) for pid in order}
    inherited: dict[int, str] = {}  # a child's working folder: its parent's when it was cloned
    for pid in sorted(per_pid, key=lambda p: (per_pid[p]["first"], p)):
        proc = procs[leader(pid)]
        cwd = proc["cwd"] or inherited.get(pid) or roots[1]
        for call, args, ret, fdpath in per_pid[pid]["calls"]:
            if ret < 0:
                continue
            if call == "execve":
                proc["argv"] = _strings(args.split("], ", 1)[0])[1:]
            elif call in ("clone", "clone3", "fork", "vfork") and ret > 0:
                inherited[ret] = cwd
            elif call == "chdir" and (names := _strings(args)):
                cwd = os.path.normpath(os.path.join(cwd, names[0]))
            elif call == "fchdir" and (m := re.search(r"<([^>]*)>", args)):
                cwd = m[1]
            elif call in ("open", "openat", "creat") and (r := rel(fdpath)) is not None:
                writes = call == "creat" or any(f in args for f in _WRITE_FLAGS)
                proc["w" if writes else "r"].add(r)
            elif call.startswith("rename") and len(names := _strings(args)) == 2:
                if (r := rel(os.path.normpath(os.path.join(cwd, names[1])))) is not None:
                    proc["w"].add(r)
        proc["cwd"] = cwd
    numbers = {pid: i for i, pid in enumerate(order)}
    out = []
    for pid in order:
        p = procs[pid]
        up = parent.get(pid)
        cwd = p["cwd"] or roots[1]
        out.append(
            dict(
                number=numbers[pid],
                parent=numbers.get(up),
                # A forked child that never ran another program runs its parent's.
                argv=p["argv"] or (procs[up]["argv"] if up in procs else None),
                cwd=rel_or_abs(cwd, roots),
                exit_code=p["exit_code"],
                reads=sorted(p["r"] - p["w"]),
                writes=sorted(p["w"]),
            )
        )
    return out


def rel_or_abs(path: str, roots: tuple[str, ...]) -> str:
    """``path`` relative to the first of ``roots`` it is inside (``.`` for the root itself), else as is."""
    for root in roots:
        if path == root:
            return "."
        if path.startswith(root + os.sep):
            return path[len(root) + 1 :].replace(os.sep, "/")
    return path


def _split(relpath: str) -> tuple[str, str]:
    parent, _, name = relpath.rpartition("/")
    return parent, name


def _is_record(relpath: str, node_dirs: set[str]) -> bool:
    """Whether ``relpath`` is one of Nipype's records of a node's run (its ``_report/`` folder included)."""
    parent, name = _split(relpath)
    grand, last = _split(parent)
    return (parent in node_dirs and bool(_NIPYPE_RECORD.fullmatch(name))) or (last == "_report" and grand in node_dirs)


def _canonical(value: Any, roots: tuple[str, ...]) -> Any:
    """``value`` with the paths inside the working folder made relative: they differ between executions."""
    if isinstance(value, str):
        return rel_or_abs(value, roots) if value.startswith(os.sep) else value
    if isinstance(value, (list, tuple)):
        return [_canonical(v, roots) for v in value]
    if isinstance(value, dict):
        return {str(k): _canonical(v, roots) for k, v in value.items()}
    return value


def _outputs_hash(outputs: dict[str, Any], roots: tuple[str, ...]) -> str:
    from reprovip.readers.base import new_hasher

    def opaque(o: Any) -> str:  # a value JSON cannot write (an array, an object): its pickle's hash
        return "pickle:" + new_hasher("pickle").update(pickle.dumps(o, protocol=4)).hexdigest()

    text = json.dumps(_canonical(outputs, roots), sort_keys=True, default=opaque)
    return new_hasher("nipype.outputs.v1").update(text.encode("utf-8", "surrogatepass")).hexdigest()


def _read_nodes(
    workdir: str, files: list[dict[str, Any]], node_dirs: set[str], mtimes: dict[str, int]
) -> list[dict[str, Any]]:
    """Read the node folders with Nipype's loader: hash each ``result_<node>.pklz`` by its outputs (in ``files``)
    and return one process row per node (nested node folders, a MapNode's, belong to the outer node)."""
    from nipype.utils.filemanip import loadpkl

    roots = (os.path.realpath(workdir), os.path.abspath(workdir))
    by_path = {f["relpath"]: f for f in files}
    outputs: dict[str, dict[str, Any]] = {}
    for d in sorted(node_dirs):
        relpath = f"{d}/result_{_split(d)[1]}.pklz"
        if relpath in by_path:
            out = loadpkl(os.path.join(workdir, relpath)).outputs
            # A Bunch (some interfaces' outputs) or a traited spec; None for an interface without outputs.
            outputs[d] = {} if out is None else out.dictcopy() if hasattr(out, "dictcopy") else out.get_traitsfree()
            by_path[relpath]["semantic_hash"] = _outputs_hash(outputs[d], roots)
    outer = [d for d in node_dirs if not any(d.startswith(o + "/") for o in node_dirs)]

    def owner(relpath: str) -> str | None:
        return next((d for d in outer if relpath.startswith(d + "/")), None)

    def traced(value: Any) -> set[str]:
        """The traced files a value names: a path to a file, or to a folder (every file under it)."""
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, (list, tuple)):
            return set().union(*(traced(v) for v in value))
        if not isinstance(value, str) or not value.startswith(os.sep):
            return set()
        rel = rel_or_abs(os.path.normpath(value), roots)
        return {p for p in by_path if p == rel or rel == "." or p.startswith(rel + "/")} if rel != value else set()

    rows = []
    for d in sorted(outer, key=lambda d: (mtimes[d], d)):  # in start order: _node.pklz is written first
        node = loadpkl(os.path.join(workdir, d, _NODE_FILE))
        writes = {p for p in by_path if owner(p) == d} | {p for p in traced(outputs.get(d)) if owner(p) is None}
        # What it was given: its inputs (paths written upstream) and the result files of the nodes upstream.
        upstream = [source for source, _ in getattr(node, "input_source", {}).values()]
        reads = traced(loadpkl(os.path.join(workdir, d, "_inputs.pklz"))) | traced(upstream)
        rows.append(
            dict(
                number=len(rows),
                parent=None,
                argv=[NIPYPE_NODE, node.itername],
                cwd=d,
                exit_code=None,
                reads=sorted(reads - writes),
                writes=sorted(writes),
            )
        )
    return rows


def nipype_nodes(
    workdir: str, files: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str | None]:
    """The traced files less Nipype's records, the Nipype nodes as process rows, and a note when they are not read.

    A node folder is one holding ``_node.pklz``. Nipype's records of a node's run (``_node.pklz``,
    ``_inputs.pklz``, ``_0x<hash>.json``, ``command.txt``, ``_report/``) are dropped. ``result_<node>.pklz``
    stays, with as semantic hash the hash of the outputs it holds (paths inside the working folder made
    relative), so a value a node passes on outside a file is compared too. Each node is a row like a process of
    :func:`parse`: ``argv`` ``[NIPYPE_NODE, "<workflow>.<node>"]`` (Nipype's hierarchical name), ``cwd`` its
    folder, ``writes`` the files of its folder and the files outside any node folder its outputs name, ``reads``
    the traced files its inputs name and the result files of the nodes that feed it. Reading needs nipype
    importable here (its own loader); without it, or when a file does not load, no row is made, the result files
    are dropped too (their bytes hold timestamps) and the note says why.

    Examples
    --------
    >>> f = dict(relpath="out/seg.nii.gz", mtime_ns=1, size=3, blob="b", semantic_hash=None, write_order=0)
    >>> nipype_nodes("/nowhere", [f]) == ([f], [], None)  # no node folder: the files as they are
    True
    """
    from reprovip.readers.base import describe

    node_dirs = {_split(f["relpath"])[0] for f in files if _split(f["relpath"])[1] == _NODE_FILE}
    if not node_dirs:
        return files, [], None
    mtimes = {_split(f["relpath"])[0]: f["mtime_ns"] for f in files if _split(f["relpath"])[1] == _NODE_FILE}
    kept = _in_write_order([f for f in files if not _is_record(f["relpath"], node_dirs)])
    if importlib.util.find_spec("nipype") is None:
        why = "nipype is not importable by reprovip (install it to name the steps by node)"
    else:
        try:
            with _NIPYPE_LOCK:  # loadpkl changes the process's working folder while it unpickles
                return kept, _read_nodes(workdir, kept, node_dirs, mtimes), None
        except Exception as exc:  # a pickle of another Nipype version, an interface not importable here
            why = f"its files could not be read with nipype ({describe(exc)})"
    results = {f"{d}/result_{_split(d)[1]}.pklz" for d in node_dirs}
    kept = _in_write_order([f for f in kept if f["relpath"] not in results])
    return kept, [], f"the Nipype workflow's nodes were not read: {why}"


def trace_execution(mode: str, workdir: str, *, skip: tuple[str, ...], note: str | None) -> dict[str, Any]:
    """The trace stored with a successful execution: ``mode``, ``note``, ``files`` and ``processes``.

    Under ``files``, ``processes`` holds the nodes of a Nipype workflow (:func:`nipype_nodes`), if any."""
    files, nodes, nipype_note = nipype_nodes(workdir, snapshot(workdir, skip=(*skip, STRACE_DIR)))
    processes = parse(workdir, {f["relpath"] for f in files}) if mode == "processes" else nodes
    return dict(
        mode=mode, note="; ".join(n for n in (note, nipype_note) if n) or None, files=files, processes=processes
    )
