"""Trace what an execution writes (``trace: files``) and which process read and wrote it (``trace: processes``).

``files``: after the execution, every regular file of its working folder (``{outdir}`` included) is hashed, bytes
and decoded content (:func:`reprovip.readers.semantic_hash`), and listed with its size and write order (by
modification time). Nothing is stored but the hashes: an intermediate of any size costs its hashing only, unless
the study asks to keep it (``trace_keep`` globs, :func:`keep_matcher`): the worker then moves it into the blob store
(:func:`reprovip.execute.sandbox.run_task`) and its record says ``kept``.

``processes``: the application also runs under ``strace -f`` (the Debian package), which records every process it
starts (argv, working folder, exit code) and each file each one opened for reading or writing. The reasons for
strace rather than ReproZip's tracer are in ``docs/running.md``. Where ptrace is not permitted, or the application
runs in a container or another root filesystem (strace would trace the engine, not the tool), the execution is
traced with ``files`` and the trace says why in one line.

A Nipype workflow in the working folder: see :mod:`reprovip.execute.nipype_trace`.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import signal
import subprocess
from typing import TYPE_CHECKING, Any

from reprovip.store.blobs import suffix_of

if TYPE_CHECKING:
    from reprovip.store.blobs import BlobStore

STRACE_DIR = ".reprovip-strace"
# Calls that open, rename or move into a folder, start or end a process; -y prints the path behind each
# descriptor, so a relative open resolves without following the working folder.
_CALLS = "execve,open,openat,creat,rename,renameat,renameat2,chdir,fchdir,clone,clone3,fork,vfork"
_LINE = re.compile(r"^(?P<ts>\d+\.\d+) (?P<call>\w+)\((?P<args>.*)\)\s+= (?P<ret>-?\d+)(?:<(?P<fdpath>[^>]*)>)?")
_EXIT = re.compile(r"^\d+\.\d+ \+\+\+ (?:exited with (?P<code>\d+)|killed by (?P<signal>SIG\w+))")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND")


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
    return in_write_order(found)


def keep(record: dict[str, Any], workdir: str, globs: list[str], blobs: BlobStore | None) -> None:
    """Move the files of ``record`` (a trace) that ``globs`` name into ``blobs`` and mark them ``kept``.

    Their BLAKE3 is the one :func:`snapshot` computed: nothing is hashed again. Without a store shared with the
    runner (a remote worker), nothing is kept and the trace's note says so in one line.
    """
    match = keep_matcher(globs)
    chosen = [f for f in record["files"] if match.fullmatch(f["relpath"])]
    if blobs is None:
        if chosen:
            why = f"trace_keep: {len(chosen)} file(s) not kept, the executor shares no store with the runner"
            record["note"] = "; ".join(n for n in (record["note"], why) if n)
        return
    for f in chosen:
        try:
            blobs.adopt(os.path.join(workdir, f["relpath"]), f["blob"], suffix_of(f["relpath"]))
        except FileNotFoundError:  # gone since it was traced: not kept, and its record says so
            continue
        f["kept"] = True


def keep_matcher(globs: list[str]) -> re.Pattern[str]:
    """One regular expression matching the relpaths (as in :func:`snapshot`) that any of ``globs`` names.

    ``*``, ``?`` and ``[...]`` match within one path segment (as in :mod:`fnmatch`, but never across ``/``);
    a whole segment ``**`` matches any number of segments, none included.

    Examples
    --------
    >>> m = keep_matcher(["step2/*.json", "**/*.nii.gz"])
    >>> [bool(m.fullmatch(r)) for r in ("step2/a.json", "step2/x/a.json", "a.nii.gz", "x/y/a.nii.gz")]
    [True, False, True, True]
    """
    return re.compile("|".join(f"(?:{glob_regex(g)})" for g in globs) or "(?!)")


def glob_regex(glob: str) -> str:
    """A regular expression for a glob (or a piece of one): ``*``, ``?`` and ``[...]`` within a path part,
    ``**`` across parts, the rest literal.

    Examples
    --------
    >>> import re
    >>> bool(re.fullmatch(glob_regex("data/*/x_?.nii"), "data/site1/x_a.nii"))
    True
    """
    segments = glob.split("/")
    out = []
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == "**":
            out.append(".*" if last else "(?:[^/]+/)*")
        else:
            out.append(_segment_regex(segment) + ("" if last else "/"))
    return "".join(out)


def _segment_regex(segment: str) -> str:
    out, i = [], 0
    while i < len(segment):
        c = segment[i]
        close = segment.find("]", i + 2) if c == "[" else -1
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif close > 0:
            inner = segment[i + 1 : close]
            out.append("[" + ("^" + inner[1:] if inner.startswith("!") else inner) + "]")
            i = close
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def in_write_order(files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sort ``files`` in place by modification time, then path, number them (``write_order``) and return them."""
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


def trace_execution(mode: str, workdir: str, *, skip: tuple[str, ...], note: str | None) -> dict[str, Any]:
    """The trace stored with a successful execution: ``mode``, ``note``, ``files`` and ``processes``.

    Under ``files``, ``processes`` holds the nodes of a Nipype workflow, if any
    (:func:`reprovip.execute.nipype_trace.nipype_nodes`); under ``processes``, the traced processes.
    """
    from reprovip.execute.nipype_trace import nipype_nodes

    snap = snapshot(workdir, skip=(*skip, STRACE_DIR))
    files, nodes, nipype_note = nipype_nodes(workdir, snap, read=mode == "files")
    processes = parse(workdir, {f["relpath"] for f in files}) if mode == "processes" else nodes
    return dict(
        mode=mode, note="; ".join(n for n in (note, nipype_note) if n) or None, files=files, processes=processes
    )
