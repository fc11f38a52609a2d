"""``reprovip check``: the CI gate. Exit 0 pass, 1 a criterion failed, 2 bad input, 3 executions failed."""

from __future__ import annotations

import click

from reprovip.criteria.formats import reason_word
from reprovip.study import Study

WIDTH = 72
WORDS = {True: "Passed", False: "Failed"}


def print_lines(document: dict, *, strict: bool) -> None:
    """pre-commit style: ``output: criterion......Passed``."""
    for out in document["outputs"]:
        reasons = out["verdict"]["reasons"]
        unreadable = any(r["criterion"] == "outputs readable" and not r["passed"] for r in reasons)
        for r in reasons:
            word = reason_word(r, out["verdict"]["status"], strict=strict)
            name = f"{out['name']}: {r['criterion']}"
            click.echo(f"{name}{'.' * max(3, WIDTH - len(name) - len(word))}{word}")
            if not r["passed"]:
                click.echo(f"  - {r['message']}")
            elif unreadable and r["estimable"] and r["criterion"] != "identical":
                click.echo("  - computed on the files that could be read only (see `outputs readable`)")
            if r["passed"] and r.get("note"):  # a pass the data barely support (an ICC CI on 2 subjects)
                click.echo(f"  - warning: {r['note']}")
            if r.get("evidence"):
                click.echo(f"  - {r['evidence']['sentence']}")
    ex = document["executions"]
    done = not ex.get("not_done", ex["failed"])  # failed, unfinished or not run: as the verdict counts them
    _line("executions", WORDS[done])
    shown = {out["name"] for out in document["outputs"]}
    # the study's alerts, and an output only one version writes
    alerts = [a for a in document["alerts"] if a["output"] is None or a["output"] not in shown]
    if done and alerts:  # not about executions that failed: their own line, so a failing exit names its cause
        severe = any(a["severity"] == "fail" for a in alerts)
        _line("study alerts", "Failed" if severe or strict else "Warning")
    for a in alerts:
        click.echo(f"  - {a['message']}")
    click.echo(document["verdict"]["summary"])
    # as the markdown summary says it: "with warnings" read like a pass beside exit 1 (review AR)
    gate = " (fails --strict: warnings are failures)" if strict and document["verdict"].get("status") == "warn" else ""
    click.echo(f"{document['study']['name']}: {document['verdict']['label']}{gate}")


def _line(name: str, word: str) -> None:
    click.echo(f"{name}{'.' * max(3, WIDTH - len(name) - len(word))}{word}")


def emit(
    doc: dict, *, strict: bool, junit: str | None, markdown: str | None, badge: str | None, json_path: str | None
) -> None:
    """Print the verdict lines and write the CI artefacts asked for."""
    from reprovip.criteria.formats import badge_svg, junit_xml, markdown_summary
    from reprovip.store.atomic import write_json_atomic, write_text_atomic

    print_lines(doc, strict=strict)
    if junit:
        write_text_atomic(junit, junit_xml(doc, strict=strict))
    if markdown:
        write_text_atomic(markdown, markdown_summary(doc, strict=strict))
    if badge:
        try:
            write_text_atomic(badge, badge_svg(doc["verdict"]))
        except OSError as exc:  # /proc, a read-only folder (a file in the way is write_text_atomic's error)
            from reprovip.errors import InputError

            raise InputError(f"{badge}: cannot write it ({exc.strerror or exc}); give another path") from None
    if json_path:
        write_json_atomic(json_path, doc)


def gate_options(f):
    """The options shared by ``check`` and ``compare``."""
    for opt in reversed(
        [
            click.option("--strict", is_flag=True, help="Warnings fail the check too."),
            click.option(
                "--junit",
                type=click.Path(dir_okay=False),
                help="Write JUnit XML (one test case per output x criterion).",
            ),
            click.option(
                "--markdown",
                type=click.Path(dir_okay=False),
                help="Write a Markdown summary (CI step summary, MR comment).",
            ),
            click.option("--badge", type=click.Path(dir_okay=False), help="Write an SVG badge of the verdict."),
            click.option(
                "--json",
                "json_path",
                type=click.Path(dir_okay=False),
                help="Write the analysis document with verdicts.",
            ),
        ]
    ):
        f = opt(f)
    return f


@click.command("check")
@click.argument("study", type=click.Path(dir_okay=False), default="study.yaml")
@gate_options
@click.option(
    "--reanalyze/--no-reanalyze",
    default=True,
    show_default=True,
    help="Analyse again, or reuse .reprovip/results/<study>/analysis.json.",
)
def check(
    study: str,
    strict: bool,
    reanalyze: bool,
    junit: str | None,
    markdown: str | None,
    badge: str | None,
    json_path: str | None,
) -> int:
    """Apply STUDY's criteria to its results: the CI gate."""
    from reprovip.criteria.gate import check_study

    loaded = Study.load(study)
    result = check_study(loaded, strict=strict, reanalyze=reanalyze)
    emit(result.document, strict=strict, junit=junit, markdown=markdown, badge=badge, json_path=json_path)
    warn_hook(result.hook_error)
    note_comparison(loaded)
    return result.exit_code


def note_comparison(study: Study) -> None:
    """Say on stderr that a comparison with a baseline is stored, and its verdict: `check` judges the study's own
    runs, and after a failing `compare` it read "sufficiently reproducible" with no word of it (review VC)."""
    path = study.results / "compare.json"
    if not path.exists():
        return
    from reprovip.analyze.stale_comparison import comparison_staleness
    from reprovip.criteria.gate import read_document

    try:
        document = read_document(path)
        label = document["verdict"]["label"]
    except Exception:  # an unreadable comparison is `compare`'s to say; this is a hint only
        return
    if stale := comparison_staleness(path, document):  # review VW: an old comparison quoted as current
        click.echo(
            f"reprovip: note: this checks the study's own runs; a comparison with a baseline is stored ({path}: "
            f"{label}) but is stale: {stale}",
            err=True,
        )
        return
    click.echo(
        f"reprovip: note: this checks the study's own runs; a comparison with a baseline is stored ({path}: "
        f"{label}): `reprovip report {study.path} --analysis {path}` shows it",
        err=True,
    )


def warn_hook(error: str | None) -> None:
    """Say on stderr that the ``on_fail`` hook failed (the exit code stays the verdict's)."""
    if error:
        click.echo(f"reprovip: warning: {error}", err=True)
