"""The check's outputs for CI systems: JUnit XML, a Markdown summary and an SVG badge."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections import Counter
from typing import Any

from reprovip.criteria.verdict import exit_code

COLORS = {
    "identical": "#2e7d32",
    "pass": "#43a047",
    "warn": "#f9a825",
    "fail": "#c62828",
    "error": "#6d4c41",
    "incomplete": "#c62828",
}

# Characters XML 1.0 forbids (C0 controls but tab and newlines, lone surrogates, U+FFFE/U+FFFF): a table key
# holding an ANSI colour code (ESC) made the JUnit file unparseable (a review).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    r"""``text`` with each character XML 1.0 forbids written as its Python escape (``\x1b``), visibly.

    Examples
    --------
    >>> xml_safe("\x1b[1mgm\x1b[0m, wm\tcsf")
    '\\x1b[1mgm\\x1b[0m, wm\tcsf'
    """
    return _NOT_XML.sub(lambda m: repr(m.group())[1:-1], text)


def reason_word(r: dict[str, Any], status: str | None, *, strict: bool) -> str:
    """How a reason reads in ``check`` and JUnit: ``Passed``, ``Error`` (not computed: at fail severity, and at
    warn severity too when it leaves its output not analysable, where a warning would read as a pass),
    ``Warning`` (a failed warn-severity criterion, unless ``strict``) or ``Failed``.

    Examples
    --------
    >>> reason_word(dict(passed=False, estimable=False, severity="fail"), "fail", strict=False)
    'Error'
    >>> reason_word(dict(passed=False, estimable=True, severity="warn"), "warn", strict=True)
    'Failed'
    """
    if r["passed"]:
        return "Passed"
    if r.get("estimable") is False and (r["severity"] == "fail" or status == "error"):
        return "Error"
    return "Warning" if r["severity"] == "warn" and not strict else "Failed"


def junit_xml(document: dict[str, Any], *, strict: bool = False) -> str:
    """One test case per output x criterion; warnings are failures only with ``strict``.

    The layout is the one GitHub and GitLab parse: ``testsuites > testsuite > testcase`` with ``failure``,
    ``error`` or ``system-out`` children. The suite's properties carry the stored verdict (``status``,
    ``label``). The study's alerts that ``check`` prints under "study alerts" (an output only one compared
    version writes) are a ``study alerts`` failure when one of them is at fail severity. When the check exits
    non-zero and no case above fails (outputs left out, no output), or the verdict is ``fail`` with errors
    only, a ``study verdict`` case fails with the label: the test report is never green when the job is red,
    and "not reproducible" is a failure.
    """
    study = document["study"]["name"]
    verdict = document["verdict"]
    suite = ET.Element("testsuite", name=study, timestamp=document.get("created_at", ""))
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="verdict", value=verdict["status"])
    ET.SubElement(props, "property", name="verdict label", value=verdict["label"])
    tests = failures = errors = 0
    for out in document["outputs"]:
        status = out.get("verdict", {}).get("status")
        reasons = out.get("verdict", {}).get("reasons", [])
        texts = Counter(r["criterion"] for r in reasons)
        for r in reasons:
            tests += 1
            # one rule at two severities: two cases of one name, which CI tools merge into one (a review)
            name = r["criterion"] + (f" [{r['severity']}]" if texts[r["criterion"]] > 1 else "")
            case = ET.SubElement(suite, "testcase", classname=f"{study}.{out['name']}", name=name, time="0")
            word = reason_word(r, status, strict=strict)  # as `check` prints it
            if word == "Error":
                errors += 1
                ET.SubElement(case, "error", message=r["message"][:500], type="error").text = r["message"]
            elif word == "Failed":
                failures += 1
                ET.SubElement(case, "failure", message=r["message"][:500], type=r["severity"]).text = r["message"]
            else:
                ET.SubElement(case, "system-out").text = ("WARNING: " if word == "Warning" else "") + r["message"]
    ex = document["executions"]
    tests += 1
    case = ET.SubElement(suite, "testcase", classname=f"{study}.executions", name="all executions succeeded", time="0")
    if ex.get("not_done", ex.get("failed")):
        failures += 1
        message = f"{ex.get('not_done', ex['failed'])} of {ex['total']} executions did not succeed"
        ET.SubElement(case, "failure", message=message, type="executions")
    shown = {out["name"] for out in document["outputs"]}
    # What `check` prints under "study alerts" (an output only one compared version writes): Failed there, a
    # failure here. JUnit read 0 failures while check said Failed and the verdict "not reproducible" (a review).
    alerts = [a for a in document.get("alerts") or [] if a["output"] is None or a["output"] not in shown]
    if not ex.get("not_done", ex.get("failed")) and any(a["severity"] == "fail" for a in alerts):
        tests += 1
        failures += 1
        case = ET.SubElement(suite, "testcase", classname=f"{study}.study", name="study alerts", time="0")
        text = "\n".join(a["message"] for a in alerts)
        ET.SubElement(case, "failure", message=text[:500], type="fail").text = text
    for alert in alerts:  # a flaky application, a field only the current version writes: fail --strict (a review)
        if alert["severity"] == "warn":
            tests += 1
            case = ET.SubElement(suite, "testcase", classname=f"{study}.study", name="no study warning", time="0")
            if strict:
                failures += 1
                ET.SubElement(case, "failure", message=alert["message"][:500], type="warn").text = alert["message"]
            else:
                ET.SubElement(case, "system-out").text = f"WARNING: {alert['message']}"
    # Red when the job is; and "not reproducible" is a failure, never errors alone (views must agree).
    if exit_code(verdict["status"], strict=strict) and not failures and (verdict["status"] == "fail" or not errors):
        tests += 1
        failures += 1
        case = ET.SubElement(suite, "testcase", classname=f"{study}.study", name="study verdict", time="0")
        message = f"{verdict['label']}: {verdict['summary']}"
        ET.SubElement(case, "failure", message=message[:500], type=verdict["status"]).text = message
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", "0")
    root = ET.Element("testsuites", name="reprovip", tests=str(tests), failures=str(failures), errors=str(errors))
    root.append(suite)
    for element in root.iter():  # every text and attribute: names and messages carry the data's characters
        element.text = None if element.text is None else xml_safe(element.text)
        element.attrib = {xml_safe(k): xml_safe(v) for k, v in element.attrib.items()}
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_summary(document: dict[str, Any], *, strict: bool = False) -> str:
    """A summary for a CI step summary or a merge-request comment; with ``strict`` (``check --strict``), a verdict
    with warnings says that it fails the gate (it read "⚠️ with warnings" beside a failed job: a review)."""
    v = document["verdict"]
    failing = strict and v["status"] == "warn"
    icon = {"identical": "✅", "pass": "✅", "warn": "⚠️", "fail": "❌", "error": "❌", "incomplete": "❌"}[v["status"]]
    gate = " (fails `--strict`: warnings are failures)" if failing else ""
    lines = [
        f"## {'❌' if failing else icon} {_md(document['study']['name'])}: {v['label']}{gate}",
        "",
        "| output | verdict | details |",
        "|---|---|---|",
    ]
    for out in document["outputs"]:
        ov = out.get("verdict", {})
        bad = [r["message"] for r in ov.get("reasons", []) if not r["passed"]]
        detail = "; ".join(bad) or (ov.get("reasons") or [{"message": ""}])[0]["message"]
        lines.append(f"| {_md(out['name'])} | {ov.get('status', '?')} | {_md(detail)} |")
    ex = document["executions"]
    not_done = ex.get("not_done", ex["failed"])  # failed, unfinished or not run: as the verdict counts them
    lines += ["", _md(v["summary"]), "", f"Executions: {ex['total']} total, {not_done} did not succeed."]
    if document.get("alerts"):
        lines += [
            "",
            "### Alerts",
            *[f"- **{a['severity']}** {_md(a['output'] or 'study')}: {_md(a['message'])}" for a in document["alerts"]],
        ]
    return "\n".join(lines) + "\n"


def badge_svg(verdict: dict[str, Any]) -> str:
    """A flat SVG badge: ``reproducibility | <label>``, the stored verdict's label in full (a warning stays
    "sufficiently reproducible, with warnings", never a plain pass), coloured by its status.

    Examples
    --------
    >>> "sufficiently reproducible, with warnings</text>" in badge_svg(
    ...     {"status": "warn", "label": "sufficiently reproducible, with warnings"}
    ... )
    True
    """
    left, right = "reproducibility", verdict["label"]
    lw, rw = 6 * len(left) + 12, 6 * len(right) + 12
    color = COLORS[verdict["status"]]
    esc = html.escape
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{lw + rw}" height="20" role="img" '
        f'aria-label="{esc(left)}: {esc(right)}"><title>{esc(left)}: {esc(right)}</title>'
        f'<rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{rw}" height="20" fill="{color}"/>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{lw / 2}" y="14">{esc(left)}</text><text x="{lw + rw / 2}" y="14">{esc(right)}</text></g></svg>\n'
    )
