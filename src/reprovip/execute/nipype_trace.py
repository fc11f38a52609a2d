"""A Nipype workflow in a traced working folder: its nodes as the steps of a ``trace: files`` trace.

Where the working folder holds a Nipype workflow's base folder (node folders, each with ``_node.pklz``), Nipype's
records of each node's run are not traced files (they hold timestamps, host and absolute paths, never a result), a
node's ``result_<node>.pklz`` is compared by the outputs it holds, and each node is a step (:func:`nipype_nodes`),
named by Nipype's hierarchical name, without the process tracer. The rules are in ``docs/analysis.md``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import re
import threading
from typing import Any

from reprovip.execute.trace import in_write_order, rel_or_abs

# argv[0] of a process row that stands for a Nipype node (trace: files): argv is [NIPYPE_NODE, "wf.node"].
NIPYPE_NODE = "nipype-node"
_NODE_FILE = "_node.pklz"
_NIPYPE_LOCK = threading.Lock()
# What Nipype writes about a node's run in its folder, besides the outputs and result_<node>.pklz.
_NIPYPE_RECORD = re.compile(r"_node\.pklz|_inputs\.pklz|_0x[0-9a-f]+(?:_unfinished)?\.json|command\.txt")


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
    workdir: str, files: list[dict[str, Any]], *, read: bool = True
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
    are dropped too (their bytes hold timestamps) and the note says why. With ``read=False`` (``trace:
    processes``, whose steps are processes) the records and result files are dropped without reading anything.

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
    kept = in_write_order([f for f in files if not _is_record(f["relpath"], node_dirs)])
    if not read:
        why = None
    elif importlib.util.find_spec("nipype") is None:
        why = "nipype is not importable by reprovip (install it to name the steps by node)"
    else:
        try:
            with _NIPYPE_LOCK:  # loadpkl changes the process's working folder while it unpickles
                return kept, _read_nodes(workdir, kept, node_dirs, mtimes), None
        except Exception as exc:  # a pickle of another Nipype version, an interface not importable here
            why = f"its files could not be read with nipype ({describe(exc)})"
    results = {f"{d}/result_{_split(d)[1]}.pklz" for d in node_dirs}
    kept = in_write_order([f for f in kept if f["relpath"] not in results])
    return kept, [], f"the Nipype workflow's nodes were not read: {why}" if why else None
