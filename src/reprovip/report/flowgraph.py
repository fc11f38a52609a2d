"""The traced pipeline as a graph: steps and files in write order, edges step → file (writes) and file → step
(reads), each node coloured by its status in one contrast of the ``dataflow`` section; drawn as inline SVG.

The layout is an arc diagram: one node a row, in write order (each step just before the first file it writes),
writes drawn as arcs on the left, reads as arcs on the right, so no edge crosses a node. The data (``graph``)
is JSON-safe and shown as is by the dashboard's ``.json`` twin; :func:`draw` turns it into SVG.
"""

from __future__ import annotations

import math
from typing import Any

from markupsafe import Markup, escape

from reprovip.report.fmt import short
from reprovip.report.svg import legend, n, svg, text

MAX_NODES = 150
"""Rows drawn at most; the others are counted under the graph (the lists beside it have every one)."""
STATUS_COLOURS = {  # (fill, stroke): the badges' colours, so the graph and the lists read alike
    "origin": ("#ffcdd2", "#c62828"),
    "first": ("#ffcdd2", "#c62828"),
    "propagated": ("#ffe0b2", "#e65100"),
    "later": ("#ffe0b2", "#e65100"),
    "diverges": ("#ffe0b2", "#e65100"),
    "absorbed": ("#bbdefb", "#1565c0"),
    "identical": ("#e8f5e9", "#2e7d32"),
}
OTHER = ("#eceff1", "#607d8b")  # not compared, or a status added later that this module does not know
LEGEND = {
    "steps": ("origin", "propagated", "absorbed", "identical", "diverges"),
    "files": ("first", "later", "identical"),
}
LEGEND_TEXT = {
    "origin": "step: origin",
    "propagated": "step: propagated",
    "absorbed": "step: absorbed",
    "identical": "identical",
    "diverges": "file: diverges",
    "first": "first divergent file",
    "later": "later divergent file",
}


def has_steps(flow: dict[str, Any]) -> bool:
    """Whether the traced executions name their steps (``trace: processes``, or a Nipype workflow's nodes under
    ``trace: files``); otherwise only files, in write order, are compared.

    >>> has_steps(dict(mode="files", steps=None)), has_steps(dict(mode="files", steps=[]))
    (False, True)
    """
    return flow.get("steps") is not None


def graph(flow: dict[str, Any], contrast: dict[str, Any]) -> dict[str, Any]:
    """Nodes and edges of the pipeline in ``contrast`` (one entry of ``flow["contrasts"]``).

    Nodes are ``{id, kind: "step" | "file", name, status}`` in drawing order; edges ``{source, target, kind:
    "writes" | "reads"}`` by node id. Steps (``trace: processes``) carry their status in the contrast (``not
    compared`` when the contrast compared nothing); files carry ``diverges`` / ``identical`` (processes) or
    ``first`` / ``later`` / ``identical`` (files). Reads of files that were not traced (inputs, libraries) are
    not drawn. Fields this module does not know are ignored, so a newer ``dataflow`` still draws.

    Examples
    --------
    >>> flow = dict(mode="processes", files=[dict(relpath="a", order=0), dict(relpath="b", order=1)],
    ...             steps=[dict(name="s1", writes=["a"], reads=[]), dict(name="s2", writes=["b"], reads=["a"])])
    >>> c = dict(compared=True, steps={"s1": "origin", "s2": "propagated"},
    ...          files={"a": {"diverges": True}, "b": {"diverges": True}}, first="a", later=["b"])
    >>> g = graph(flow, c)
    >>> [(x["name"], x["status"]) for x in g["nodes"]]
    [('s1', 'origin'), ('a', 'diverges'), ('s2', 'propagated'), ('b', 'diverges')]
    >>> [(e["source"], e["target"], e["kind"]) for e in g["edges"]]
    [('s0', 'f0', 'writes'), ('f0', 's1', 'reads'), ('s1', 'f1', 'writes')]
    """
    compared = contrast.get("compared", True)
    stepped = has_steps(flow)
    files = [str(f["relpath"]) for f in flow.get("files") or []]
    fid = {p: f"f{i}" for i, p in enumerate(files)}
    place = {p: i for i, p in enumerate(files)}
    later = set(contrast.get("later") or [])
    patterns = contrast.get("files") or {}

    def file_status(p: str) -> str:
        if not compared:
            return "not compared"
        if not stepped:
            return "first" if p == contrast.get("first") else "later" if p in later else "identical"
        return "diverges" if (patterns.get(p) or {}).get("diverges") else "identical"

    steps = [s for s in flow.get("steps") or [] if s.get("writes")]
    statuses = contrast.get("steps") or {}
    steps = sorted(enumerate(steps), key=lambda t: (min(place.get(w, math.inf) for w in t[1]["writes"]), t[0]))
    before: dict[str, list[tuple[int, dict[str, Any]]]] = {}  # the steps drawn just before each file
    for i, s in steps:
        before.setdefault(min(s["writes"], key=lambda w: place.get(w, math.inf)), []).append((i, s))

    def step_node(i: int, s: dict[str, Any]) -> dict[str, Any]:
        status = statuses.get(s["name"], "not compared") if compared else "not compared"
        return dict(id=f"s{i}", kind="step", name=str(s["name"]), status=str(status))

    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    for p in files:
        nodes += [step_node(i, s) for i, s in before.get(p, [])]
        nodes.append(dict(id=fid[p], kind="file", name=p, status=file_status(p)))
    for i, s in steps:
        if not any(w in fid for w in s["writes"]):  # writes no listed file: drawn last (never dropped)
            nodes.append(step_node(i, s))
        edges += [dict(source=fid[r], target=f"s{i}", kind="reads") for r in s.get("reads") or [] if r in fid]
        edges += [dict(source=f"s{i}", target=fid[w], kind="writes") for w in s["writes"] if w in fid]
    row = {x["id"]: k for k, x in enumerate(nodes)}
    edges.sort(key=lambda e: (row[e["source"]], row[e["target"]]))
    return dict(mode="steps" if stepped else "files", nodes=nodes, edges=edges)


ROW, BOX_H, WIDTH, INDENT, CHAR = 28, 20, 560, 28, 6.6


def _arc(x: float, y1: float, y2: float, side: int, stroke: str, dash: str | None) -> str:
    """An arc from ``(x, y1)`` to ``(x, y2)`` bulging to the left (``side=-1``) or right, with an arrowhead."""
    bulge = side * min(14 + 7 * abs(y2 - y1) / ROW, 90)
    d = f"M{n(x)} {n(y1)} C{n(x + bulge)} {n(y1)} {n(x + bulge)} {n(y2)} {n(x)} {n(y2)}"
    extra = f' stroke-dasharray="{dash}"' if dash else ""
    head = f"M{n(x)} {n(y2)} l{n(side * 6)} -4 l0 8 z"
    return f'<path d="{d}" fill="none" stroke="{stroke}" stroke-width="1.3"{extra}/><path d="{head}" fill="{stroke}"/>'


def draw(g: dict[str, Any], *, label: str = "pipeline") -> Markup | None:
    """The graph ``g`` (see :func:`graph`) as an SVG arc diagram with a legend, or None when it has no node.

    Every node is a ``<g class="flow-node">`` carrying ``data-kind``, ``data-status`` and ``data-name``; names
    too long for their box are cut with an ellipsis and given whole in the node's tooltip.
    """
    nodes = g.get("nodes") or []
    if not nodes:
        return None
    shown = nodes[:MAX_NODES]
    row = {x["id"]: k for k, x in enumerate(shown)}
    edges = [e for e in g.get("edges") or [] if e["source"] in row and e["target"] in row]
    margin = 14 + min(max((7 * abs(row[e["source"]] - row[e["target"]]) + 14 for e in edges), default=0), 90)
    items, legend_h = legend(
        [(LEGEND_TEXT[s], STATUS_COLOURS[s][0]) for s in LEGEND.get(g.get("mode", ""), ())]
        + [("not compared", OTHER[0]), ("→ writes", "#37474f"), ("⇢ reads", "#90a4ae")],
        4,
        14,
        width=WIDTH + 2 * margin - 8,
    )
    top = legend_h + 10
    out = list(items)
    x0 = margin
    for e in edges:
        a, b = row[e["source"]], row[e["target"]]
        if e["kind"] == "writes":  # left side: step's left edge to the file's (indented) left edge
            out.append(_arc(x0 + INDENT, top + a * ROW + BOX_H / 2, top + b * ROW + BOX_H / 2, -1, "#37474f", None))
        else:  # right side: file's right edge to the step's right edge
            out.append(_arc(x0 + WIDTH, top + a * ROW + BOX_H / 2, top + b * ROW + BOX_H / 2, 1, "#90a4ae", "4 3"))
    for k, node in enumerate(shown):
        fill, stroke = STATUS_COLOURS.get(node["status"], OTHER)
        is_step = node["kind"] == "step"
        x = x0 if is_step else x0 + INDENT
        w = WIDTH - (0 if is_step else INDENT)
        y = top + k * ROW
        status = str(node["status"])
        room = int((w - 16 - CHAR * (len(status) + 1)) / CHAR)
        body = [
            f'<rect x="{n(x)}" y="{n(y)}" width="{n(w)}" height="{BOX_H}" rx="{4 if is_step else 1}" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{1.6 if is_step else 1}"/>',
            text(x + 6, y + 14, short(node["name"], max(room, 4)), fill="#222", cls="flow-name"),
            text(x + w - 6, y + 14, status, anchor="end", fill=stroke, size=10),
        ]
        out.append(
            f'<g class="flow-node" data-kind="{escape(node["kind"])}" data-status="{escape(status)}" '
            f'data-name="{escape(node["name"])}"><title>{escape(node["kind"])} {escape(node["name"])}: '
            f"{escape(status)}</title>{''.join(body)}</g>"
        )
    height = top + len(shown) * ROW
    if len(nodes) > len(shown):
        out.append(text(x0, height + 10, f"{len(nodes) - len(shown)} more not drawn (see the list)", fill="#555"))
        height += 18
    return svg(WIDTH + 2 * margin, height + 4, out, label=label)
