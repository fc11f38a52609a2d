"""The pipeline graph of the ``dataflow`` section: nodes in write order, edges from reads and writes, statuses,
and its SVG (escaped, names cut to their box, every node drawn up to the cap)."""

from __future__ import annotations

import re

import pytest

from reprovip.analyze.dataflow import dataflow
from reprovip.report import flowgraph
from reprovip.report.context import dataflow_context


def _proc(subject: str, level: str, files: dict[str, str], procs: list[tuple[str, list[str], list[str]]]) -> dict:
    rows = [dict(relpath=p, write_order=i, semantic_hash=None, blob=h) for i, (p, h) in enumerate(files.items())]
    processes = [dict(argv=[argv], writes=w, reads=r) for argv, w, r in procs]
    return dict(
        subject=subject, condition={"threads": level}, mode="processes", note=None, files=rows, processes=processes
    )


# prep writes a; noisy reads a and writes b and c; fold reads b, writes d; sum reads c, writes e (b absorbed? no: d
# identical although b differs -> fold absorbs it).
PROCS = [
    ("prep", ["a"], []),
    ("noisy", ["b", "c"], ["a", "/usr/lib/libm.so"]),
    ("fold", ["d"], ["b"]),
    ("sum", ["e"], ["c"]),
]


def _flow() -> dict:
    same = {"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}
    traces = [_proc("s", "1", same, PROCS), _proc("s", "1", same, PROCS)]
    traces += [_proc("s", "2", dict(same, b=h, c=h, e=h), PROCS) for h in ("x", "y")]
    return dataflow(traces, {"threads": ["1", "2"]}, 4)


def test_graph_orders_steps_before_their_files_and_draws_reads_and_writes() -> None:
    """Built by hand from the dataflow rules (docs/analysis.md): under threads=2 `noisy` writes diverging
    files from identical inputs (origin), `fold` reads a diverging file and writes an identical one (absorbed),
    `sum` reads one and writes a diverging one (propagated)."""
    flow = _flow()
    c = flow["contrasts"][1]
    g = flowgraph.graph(flow, c)
    assert [(x["kind"], x["name"].split(" ")[0], x["status"]) for x in g["nodes"]] == [
        ("step", "prep", "identical"),
        ("file", "a", "identical"),
        ("step", "noisy", "origin"),
        ("file", "b", "diverges"),
        ("file", "c", "diverges"),
        ("step", "fold", "absorbed"),
        ("file", "d", "identical"),
        ("step", "sum", "propagated"),
        ("file", "e", "diverges"),
    ]
    names = {x["id"]: x["name"].split(" ")[0] for x in g["nodes"]}
    edges = [(names[e["source"]], names[e["target"]], e["kind"]) for e in g["edges"]]
    # The library read by `noisy` was not traced: no node, no edge.
    assert edges == [
        ("prep", "a", "writes"),
        ("a", "noisy", "reads"),
        ("noisy", "b", "writes"),
        ("noisy", "c", "writes"),
        ("b", "fold", "reads"),
        ("c", "sum", "reads"),
        ("fold", "d", "writes"),
        ("sum", "e", "writes"),
    ]
    # The reference condition: everything identical.
    assert {x["status"] for x in flowgraph.graph(flow, flow["contrasts"][0])["nodes"]} == {"identical"}


def test_files_mode_colours_first_and_later_files() -> None:
    flow = _flow()
    for t in flow["contrasts"]:
        t.pop("steps", None)
    flow.update(mode="files", steps=None)
    g = flowgraph.graph(flow, flow["contrasts"][1])
    assert [(x["name"], x["status"]) for x in g["nodes"]] == [
        ("a", "identical"),
        ("b", "first"),
        ("c", "later"),
        ("d", "identical"),
        ("e", "later"),
    ]
    assert g["edges"] == []


def test_a_contrast_that_compared_nothing_is_never_drawn_identical() -> None:
    flow = _flow()
    c = dict(flow["contrasts"][1], compared=False, files={}, steps={}, first=None, later=[])
    assert {x["status"] for x in flowgraph.graph(flow, c)["nodes"]} == {"not compared"}
    # The pages draw no graph for it (its sentence says why).
    flow["contrasts"][1] = c
    assert dataflow_context(flow)["contrasts"][1]["graph"] is None


def test_unknown_fields_and_statuses_still_draw() -> None:
    """Another step kind may add fields and statuses: they are shown as they come, in the neutral colour."""
    flow = _flow()
    flow["steps"][0]["engine"] = "nipype"
    c = flow["contrasts"][1]
    c["steps"][flow["steps"][0]["name"]] = "cached"
    svg = str(flowgraph.draw(flowgraph.graph(flow, c)))
    assert 'data-status="cached"' in svg
    node = re.search(r'<g class="flow-node"[^>]*data-status="cached".*?</g>', svg).group(0)
    assert 'fill="#eceff1"' in node


def test_svg_escapes_names_and_cuts_long_ones() -> None:
    name = "<script>alert(1)</script>" + "x" * 200
    g = dict(mode="steps", nodes=[dict(id="f0", kind="file", name=name, status="diverges")], edges=[])
    svg = str(flowgraph.draw(g, label="pipeline <b>"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "pipeline &lt;b&gt;" in svg
    shown = re.search(r'<text [^>]*class="flow-name">([^<]*)</text>', svg).group(1)
    assert shown.endswith("…") and len(shown) < 90  # the full name is in the node's title and data-name
    assert f'data-name="{name.replace("<", "&lt;").replace(">", "&gt;")}"' in svg


def test_rows_beyond_the_cap_are_counted_not_dropped_silently() -> None:
    nodes = [dict(id=f"f{i}", kind="file", name=f"f{i}", status="identical") for i in range(flowgraph.MAX_NODES + 7)]
    svg = str(flowgraph.draw(dict(mode="files", nodes=nodes, edges=[])))
    assert svg.count('class="flow-node"') == flowgraph.MAX_NODES and "7 more not drawn (see the list)" in svg
    assert flowgraph.draw(dict(mode="files", nodes=[], edges=[])) is None


@pytest.mark.parametrize("mode", ["steps", "files"])
def test_legend_names_every_status_of_the_mode(mode: str) -> None:
    svg = str(flowgraph.draw(dict(mode=mode, nodes=[dict(id="f0", kind="file", name="a", status="x")], edges=[])))
    for status in flowgraph.LEGEND[mode]:
        assert flowgraph.LEGEND_TEXT[status] in svg


def test_nipype_nodes_are_drawn_as_steps_although_the_trace_mode_is_files() -> None:
    """A Nipype workflow traced with `trace: files` names its steps (its nodes): they are drawn with their
    statuses, not as a list of files (before, steps were drawn only for `mode == "processes"`)."""
    from reprovip.report.context import dataflow_context

    flow = dict(
        mode="files",
        step_source="nipype",
        notes=[],
        untraced=0,
        files=[dict(relpath="make/img.nii", order=0), dict(relpath="noise/img.nii", order=1)],
        steps=[
            dict(name="wf.make", writes=["make/img.nii"], reads=[]),
            dict(name="wf.noise", writes=["noise/img.nii"], reads=["make/img.nii"]),
        ],
        contrasts=[
            dict(
                label="seed=none",
                sentence="under seed=none the divergence starts at step wf.noise",
                compared=True,
                first="noise/img.nii",
                later=[],
                steps={"wf.make": "identical", "wf.noise": "origin"},
                files={"make/img.nii": {"diverges": False}, "noise/img.nii": {"diverges": True}},
            )
        ],
    )
    ctx = dataflow_context(flow)
    assert ctx["stepped"] and ctx["step_source"] == "nipype"
    (c,) = ctx["contrasts"]
    assert [(r["name"], r["status"]) for r in c["rows"]] == [("wf.make", "identical"), ("wf.noise", "origin")]
    assert c["graph"]["mode"] == "steps"
    assert [(x["name"], x["status"]) for x in c["graph"]["nodes"]] == [
        ("wf.make", "identical"),
        ("make/img.nii", "identical"),
        ("wf.noise", "origin"),
        ("noise/img.nii", "diverges"),
    ]
