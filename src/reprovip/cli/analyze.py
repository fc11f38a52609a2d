"""``reprovip analyze``: bitwise verdicts, metrics and attribution, as a table and a JSON document."""

from __future__ import annotations

import click

from reprovip.criteria.verdict import deciding_reason
from reprovip.study import Study


def _fmt(v: object, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def analyze_command(path: str, json_path: str | None) -> int:
    """Analyse and print one line per output."""
    from rich.console import Console
    from rich.table import Table

    study = Study.load(path)
    result = study.analyze(json_path=json_path)
    console = Console()
    table = Table(title=f"{study.name}: reproducibility per output")
    for col in ("output", "kind", "identical", "verdict", "deciding criterion", "value", "on"):
        table.add_column(col)
    for o in result.document["outputs"]:
        identical = o.get("bitwise", {}).get("identical")
        r = deciding_reason(o["verdict"])
        table.add_row(
            o["name"],
            o["kind"],
            "not established" if identical is None else "yes" if identical else "no",
            o["verdict"]["status"],
            r["criterion"],
            _fmt(r["value"]) if r["estimable"] else "not estimable",
            r["observation"] or "–",
        )
    console.print(table)
    for o in result.document["outputs"]:
        v = o["verdict"]
        bad = [r["message"] for r in v["reasons"] if not r["passed"]]
        why = "; ".join(bad) or o.get("attribution", {}).get("summary", "")
        cause = (o.get("attribution") or {}).get("summary")
        if bad and v["status"] == "error" and o.get("bitwise", {}).get("identical") is False and cause:
            why += f"; what differs: {cause}"  # a complex image's factor was in the JSON only (a review)
        console.print(f"{o['name']} [{v['status']}]: {why}", markup=False, highlight=False, soft_wrap=True)
    for a in result.document["alerts"]:
        if a["output"] is None:
            console.print(f"{a['severity']}: {a['message']}", markup=False, highlight=False)
    verdict = result.document["verdict"]
    console.print(f"{study.name}: {verdict['label']}", markup=False, highlight=False, style="bold")
    where = json_path or str(study.results / "analysis.json")
    console.print(f"analysis document: {where}", markup=False, highlight=False)
    return 0


@click.command("analyze")
@click.argument("study", type=click.Path(dir_okay=False), default="study.yaml")
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, writable=True),
    help="Also write the analysis document (schema reprovip.analysis/2) to this file.",
)
def analyze(study: str, json_path: str | None) -> int:
    """Analyse the stored executions of STUDY: identity, metrics, voxel maps, attribution."""
    return analyze_command(study, json_path)
