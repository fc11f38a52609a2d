"""Where it diverges: the first file, or the step, of a traced pipeline whose results differ.

Reads the traces of :mod:`reprovip.execute.trace` (one per completed execution) and compares each traced file
across executions of the same subject. The comparisons are one-factor contrasts against the *reference
condition* (every factor at its first level): the reference condition itself (do its repetitions agree?), then,
for each factor and each other level, the condition that differs from the reference in that factor only. The
rules, and what can and cannot be concluded with ``trace: files`` alone, are in ``docs/analysis.md``.
"""

from __future__ import annotations

import os
import statistics
from collections import defaultdict
from typing import Any

from reprovip.execute.nipype_trace import NIPYPE_NODE

# Statuses of a step in one contrast.
IDENTICAL, ORIGIN, PROPAGATED, ABSORBED = "identical", "origin", "propagated", "absorbed"


def _value(f: dict[str, Any] | None) -> str | None:
    """What a file is compared by: its semantic hash where the readers decode it, else its bytes."""
    if f is None:
        return None  # not written: differs from any written file
    return f["semantic_hash"] or f"bytes:{f['blob']}"


def _by_subject(traces: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for t in traces:
        out[t["subject"]].append(t)
    return out


def _pattern(cell: list[dict[str, Any]], ref: list[dict[str, Any]], relpath: str, is_ref: bool) -> dict[str, Any]:
    """A file's bitwise pattern in a contrast, over subjects: repetitions identical within the condition, equal
    to the reference condition, and whether it diverges here (see the module docstring)."""
    within, vs_ref, ref_stable = True, True, True
    cell_s, ref_s = _by_subject(cell), _by_subject(ref)
    for subject, execs in cell_s.items():
        if subject not in ref_s:
            continue  # nothing to compare with (a contrast without such subject says so, see _contrast)
        values = {_value(t["by_path"].get(relpath)) for t in execs}
        refs = {_value(t["by_path"].get(relpath)) for t in ref_s[subject]}
        within &= len(values) == 1
        ref_stable &= len(refs) <= 1
        vs_ref &= values == refs
    if is_ref:
        return dict(within=within, vs_reference=None, diverges=not within)
    # A file the reference condition already leaves unstable is the reference's divergence, not this level's.
    return dict(within=within, vs_reference=vs_ref, diverges=ref_stable and not (within and vs_ref))


def _step_name(argv: list[str] | None, writes: list[str]) -> str:
    """A step's name: a Nipype node's hierarchical name; a process's program and leading arguments (basenames),
    and what it writes."""
    if argv and argv[0] == NIPYPE_NODE:
        return argv[1]
    words = [os.path.basename(a) for a in (argv or ["?"])[:4]]
    return f"{' '.join(words)} (writes {', '.join(writes)})"


def _step_source(traces: list[dict[str, Any]]) -> str | None:
    """Where the steps come from: ``processes`` (strace), ``nipype`` (node folders, ``trace: files``), or None
    when some execution has neither (steps seen in only some executions would blame the wrong one)."""
    if all(t["mode"] == "processes" for t in traces):
        return "processes"
    if all(t["mode"] == "files" and t["processes"] for t in traces):
        return "nipype"  # a files trace has process rows only for a Nipype workflow's nodes
    return None


def _steps(traces: list[dict[str, Any]]) -> dict[tuple[str, ...], dict[str, Any]]:
    """The steps of the traced executions: processes (or Nipype nodes) that wrote traced files, matched across
    executions by the files they write (pids and paths differ between executions; the files a step writes do
    not)."""
    steps: dict[tuple[str, ...], dict[str, Any]] = {}
    for t in traces:
        for p in t["processes"]:
            if p["writes"]:
                key = tuple(p["writes"])
                s = steps.setdefault(key, dict(name=_step_name(p["argv"], p["writes"]), writes=list(key), reads=set()))
                s["reads"].update(p["reads"])
    return steps


def _adds_variation(step: dict[str, Any], files: dict[str, dict[str, Any]]) -> bool:
    """Whether a step writes a file that differs between repetitions although every traced file it reads is
    the same in every repetition (of each subject) of the condition."""
    reads = [files[f] for f in step["reads"] if f in files]
    return all(r["within"] for r in reads) and any(not files[f]["within"] for f in step["writes"] if f in files)


def _contrast(
    label: str, cell: list[dict[str, Any]], ref: list[dict[str, Any]], order: dict[str, float], steps: Any, is_ref: bool
) -> dict[str, Any]:
    if not {t["subject"] for t in cell} & {t["subject"] for t in ref}:
        # Never a silent "identical": without executions on both sides there is nothing to conclude.
        why = f"no traced execution under {label}"
        if cell:
            why = f"under {label}: the reference condition has no traced execution of the same subjects to compare"
        return dict(label=label, n_executions=len(cell), files={}, first=None, later=[], sentence=why, compared=False)
    files = {f: _pattern(cell, ref, f, is_ref) for f in order}
    diverging = [f for f in order if files[f]["diverges"]]
    entry: dict[str, Any] = dict(label=label, n_executions=len(cell), files=files, first=None, later=[], compared=True)
    if diverging:
        entry["first"], entry["later"] = diverging[0], diverging[1:]
    if steps is None:
        entry["sentence"] = (
            f"under {label} the first divergent file is `{diverging[0]}`; {len(diverging) - 1} later files differ "
            "(consistent with propagation; only `trace: processes` can tell)"
            if diverging
            else f"under {label} every traced file is identical"
        )
        return entry
    status, adds_variation = {}, []
    for s in steps.values():
        out_d = any(files.get(f, {}).get("diverges") for f in s["writes"])
        in_d = any(files.get(f, {}).get("diverges") for f in s["reads"])
        status[s["name"]] = (PROPAGATED if in_d else ORIGIN) if out_d else (ABSORBED if in_d else IDENTICAL)
        if status[s["name"]] == PROPAGATED and _adds_variation(s, files):
            # Its input differs from the reference but is the same in every repetition, and its output is not:
            # this step adds run-to-run variation of its own (an earlier origin must not hide it).
            status[s["name"]] = ORIGIN
            adds_variation.append(s["name"])
    entry["steps"] = status
    entry["adds_variation"] = adds_variation
    entry["origins"] = [n for n, st in status.items() if st == ORIGIN]
    entry["propagated"] = [n for n, st in status.items() if st == PROPAGATED]
    written = {f for s in steps.values() for f in s["writes"]}
    entry["unattributed"] = [f for f in diverging if f not in written]  # written by no traced process
    if entry["origins"]:
        by_origin = {f for s in steps.values() if status[s["name"]] == ORIGIN for f in s["writes"]}
        n_later = sum(f not in by_origin for f in diverging)
        named = [
            f"`{o}`" + (" (varies between repetitions of the same input)" if o in adds_variation else "")
            for o in entry["origins"]
        ]
        entry["sentence"] = (
            f"under {label} the divergence starts at step {'; '.join(named)}; "
            f"{n_later} later files differ as a consequence"
        )
    elif diverging:
        entry["sentence"] = f"under {label} files differ but no traced step is their origin: {', '.join(diverging)}"
    else:
        entry["sentence"] = f"under {label} every traced file is identical"
    return entry


def dataflow(traces: list[dict[str, Any]], factors: dict[str, list[str]], n_done: int) -> dict[str, Any] | None:
    """The ``dataflow`` section of the analysis document, or None when no execution was traced.

    Parameters
    ----------
    traces : list of dict
        :meth:`reprovip.store.Catalog.traces` of the study.
    factors : dict
        Declared factors and their level labels in order (the first level is the reference).
    n_done : int
        Completed executions (those without a trace are counted as ``untraced``).

    Examples
    --------
    >>> f = lambda h: dict(relpath="a.txt", write_order=0, semantic_hash=None, blob=h)
    >>> t = [dict(subject="s", condition={"threads": lv}, mode="files", note=None, files=[f(h)], processes=[])
    ...      for lv, h in [("1", "x"), ("1", "x"), ("2", "x"), ("2", "y")]]
    >>> flow = dataflow(t, {"threads": ["1", "2"]}, 4)
    >>> [(c["label"], c["first"]) for c in flow["contrasts"]]
    [('the reference condition (threads=1)', None), ('threads=2', 'a.txt')]
    """
    if not traces:
        return None
    for t in traces:
        t["by_path"] = {f["relpath"]: f for f in t["files"]}
    mode = "processes" if all(t["mode"] == "processes" for t in traces) else "files"
    ranks: dict[str, list[int]] = defaultdict(list)
    for t in traces:
        for f in t["files"]:
            ranks[f["relpath"]].append(f["write_order"])
    # A file's place in write order: its median rank over the executions that wrote it.
    order = dict(sorted(((p, statistics.median(r)) for p, r in ranks.items()), key=lambda kv: (kv[1], kv[0])))
    source = _step_source(traces)
    steps = _steps(traces) if source else None
    reference = {name: levels[0] for name, levels in factors.items()}

    def cell(labels: dict[str, str]) -> list[dict[str, Any]]:
        return [t for t in traces if {k: str(v) for k, v in (t["condition"] or {}).items()} == labels]

    ref = cell(reference)
    ref_label = ", ".join(f"{k}={v}" for k, v in reference.items()) or "every execution"
    contrasts = [dict(_contrast(f"the reference condition ({ref_label})", ref, ref, order, steps, True), factor=None)]
    for name, levels in factors.items():
        for level in levels[1:]:
            labels = dict(reference, **{name: level})
            entry = _contrast(f"{name}={level}", cell(labels), ref, order, steps, False)
            contrasts.append(dict(entry, factor=name, level=level))
    return dict(
        mode=mode,
        step_source=source,
        traced=len(traces),
        untraced=max(n_done - len(traces), 0),
        notes=sorted({t["note"] for t in traces if t["note"]}),
        reference=reference,
        files=[dict(relpath=p, order=o) for p, o in order.items()],
        steps=[dict(s, reads=sorted(s["reads"])) for s in steps.values()] if steps is not None else None,
        contrasts=contrasts,
    )


def origin_sentences(flow: dict[str, Any] | None) -> list[str]:
    """The sentence of each contrast where something diverges (for the attribution of non-identical outputs)."""
    if not flow:
        return []
    return [c["sentence"] for c in flow["contrasts"] if c["first"] is not None]


def add_dataflow(document: dict[str, Any], traces: list[dict[str, Any]], factors: dict[str, list[str]]) -> None:
    """Store the ``dataflow`` section in ``document`` and name the origin in its outputs' attribution sentences."""
    from reprovip.analyze.attribution import add_origins

    ex = document["executions"]
    flow = dataflow(traces, factors, int(ex["total"]) - int(ex["not_done"]))
    document["dataflow"] = flow
    add_origins(document["outputs"], origin_sentences(flow))
