"""Words around the numbers: which observations the criteria judged, metrics near their edges, a glossary,
and what to do next, all read from the stored verdict and attribution (nothing here judges anything)."""

from __future__ import annotations

import math
from typing import Any

from reprovip.analyze.attribution import FACTOR_P, FACTOR_SHARE, INTERACTION_P, REGION, factor_evidence
from reprovip.criteria.rules import matches
from reprovip.criteria.verdict import deciding_reason
from reprovip.report.fmt import fmt, to_float

GLOSSARY = {
    "ICC(A,1)": (
        "Intraclass correlation, two-way, absolute agreement, single execution: the share of the total variance "
        "that lies between subjects. 1 = executions agree perfectly; the criterion reads its 95% CI lower bound.",
        "McGraw & Wong 1996, doi:10.1037/1082-989X.1.1.30; bands: Koo & Li 2016, doi:10.1016/j.jcm.2016.02.012",
    ),
    "wSD": (
        "Within-subject standard deviation √MSW: the typical spread of one subject's results across executions, "
        "in the output's own unit.",
        "Bland & Altman 1996, doi:10.1136/bmj.313.7059.744",
    ),
    "wCV": (
        "Within-subject coefficient of variation (RMS of SD/mean per subject). Undefined when the mean is near "
        "zero: then read the wSD.",
        "Bland & Altman 1996, doi:10.1136/bmj.312.7047.1654",
    ),
    "RC": (
        "Repeatability coefficient 1.96·√2·wSD: two executions of one subject differ by less than this 95% of "
        "the time.",
        "Bland & Altman 1986, doi:10.1016/S0140-6736(86)90837-8",
    ),
    "SD ratio": ("Within-subject SD over between-subject SD: below 0.1, executions barely matter.", ""),
    "significant digits": (
        "Parker's −log10(σ/|μ|) in decimal digits: how many leading digits all executions share. Negative: the "
        "spread exceeds the value itself.",
        "Parker 1997; Sohier et al. 2021, doi:10.1145/3432184",
    ),
    "variance shares": (
        "ANOVA variance components of the judged observation: subject, each factor and interaction, repetition "
        "(residual); negative estimates are truncated to 0, so the shares sum to 100%.",
        "Searle, Casella & McCulloch 1992, doi:10.1002/9780470316856",
    ),
}

FIXES = (
    ("seed", "fix the seed of every random generator the application uses (a seed level such as 42)"),
    ("thread", "pin the thread count (threads: 1)"),
    ("version", "pin the application version (one release for the whole study)"),
    ("image", "pin the container image by digest"),
    ("env", "pin the environment variables that change the results"),
    ("machine", "run on one machine type"),
)


def judged(output: dict[str, Any]) -> set[str] | None:
    """Names of the observations some threshold criterion of the stored verdict looked at; None: all of them
    (each reason stores the observation patterns of its criterion, empty for every observation), matched as the
    verdict matches them (:func:`reprovip.criteria.rules.matches`: brackets are literal)."""
    names = [str(o.get("name")) for o in output.get("observations") or []]
    reasons = [r for r in ((output.get("verdict") or {}).get("reasons") or []) if r.get("threshold") is not None]
    if not reasons or any(not r.get("observations") for r in reasons):
        return None
    patterns = [p for r in reasons for p in r["observations"]]
    return {n for n in names if any(matches(n, p) for p in patterns)}


def deciding(output: dict[str, Any]) -> str | None:
    """The observation named by the stored verdict's deciding reason (:func:`deciding_reason`), if any."""
    reason = deciding_reason(output.get("verdict") or {})
    if reason is not None and reason.get("observation"):
        return str(reason["observation"])
    named = [r for r in ((output.get("verdict") or {}).get("reasons") or []) if r.get("observation")]
    return str(named[0]["observation"]) if named else None


def wcv_note(mean: Any, wsd: Any, wcv: Any) -> str | None:
    """Why a wCV, shown as the analysis computed it (the value criteria judge), means little: the mean is zero or
    within one wSD of zero, or the wCV exceeds 100% (it was shown "undefined" where the document and `check` said
    475%: a review).

    Examples
    --------
    >>> wcv_note(-0.0028, 0.04, 14.77), wcv_note(100.0, 1.0, 0.01)
    ('meaningless: a mean ≈ 0 (within one wSD of 0) divides it; read wSD', None)
    """
    m, s, c = to_float(mean), to_float(wsd), to_float(wcv)
    if c is None:
        return None
    if m is None or m == 0 or (s is not None and abs(m) <= s) or not math.isfinite(c) or c > 1:
        return "meaningless: a mean ≈ 0 (within one wSD of 0) divides it; read wSD"
    return None


def digits_note(value: Any) -> str | None:
    """A negative number of significant digits: the spread exceeds the value."""
    v = to_float(value)
    return "the spread exceeds the value" if v is not None and v < 0 else None


def icc_note(icc: dict[str, Any]) -> str | None:
    """Why an ICC estimate or its interval cannot be read as is (from the stored flags)."""
    if not icc:
        return None
    if icc.get("estimable") is False:
        return f"not estimable: {icc.get('reason') or 'degenerate design'}"
    if icc.get("note"):
        return str(icc["note"])
    flags = [
        ("ci_unbounded", "the CI is unbounded"),
        ("above_one", "the estimate exceeds 1"),
        ("ci_uninformative", "the CI spans every band"),
    ]
    said = [t for k, t in flags if icc.get(k)]
    return "; ".join(said) if said else None


def _fix(factor: str) -> str:
    f = factor.lower()
    return next((t for key, t in FIXES if key in f), f"pin {factor} to one level")


def _culprit(factor: str, entry: dict[str, Any], shares: dict[str, Any], evidence: dict[str, float] | None) -> str:
    """How the culprit names a factor the attribution blamed beyond the bits: by its share of the variance when
    that named it (the share and main effect, the attribution's first test), else on the subject that carries
    its interaction with the subjects, else in the part of an image's differing voxels it dominates (the
    attribution's order and thresholds, :func:`reprovip.analyze.attribution.attribute`). A regional factor
    read "threads (8.28e-06% of the variance)", its median share over every differing voxel."""
    share = to_float(shares.get(factor)) or 0.0
    rep = to_float(shares.get("repetition")) or 0.0
    if combined := entry.get("combined"):  # through its interaction with another factor: the combination (review C)
        term = str(combined["term"]).replace(":", " x ")
        return f"the combination {term} ({fmt(100 * (to_float(combined.get('share')) or 0.0), 3)}% of the variance)"
    executions = sum(to_float(v) or 0.0 for v in shares.values())
    main = share >= FACTOR_SHARE * executions and share > rep and (evidence or {}).get(factor, 0.0) < FACTOR_P
    inter = entry.get("interaction") or {}
    if not main and (to_float(inter.get("p")) or 1.0) < INTERACTION_P:
        if inter.get("subject"):
            carried = fmt(100 * (to_float(inter.get("carried")) or 0.0), 2)
            return f"{factor}, on subject {inter['subject']} ({carried}% of its effect)"
        return f"{factor}, on some subjects only"
    region = to_float(entry.get("region")) or 0.0
    if not main and region >= REGION:
        return f"{factor}, in {fmt(100 * region, 3)}% of the differing voxels"
    return f"{factor} {_share_of(share)}"


def _bits_culprit(factor: str, entry: dict[str, Any], shares: dict[str, Any]) -> str:
    """A factor the bits blame: where its repetitions differ under some of its levels only, its effect is those
    repetitions' variance, said as such (a review: "cause: solver (0.064% of the variance)", its main effect's
    share, while the repetitions under solver=b carried 27%); else its share of the variance."""
    noisy = [str(x) for x in entry.get("nondeterministic_levels") or []]
    if noisy and len(noisy) < len(entry.get("levels") or {}):
        rep = to_float(shares.get("repetition"))
        share = f": {fmt(100 * rep, 3)}% of the variance, in the repetitions" if rep is not None else ""
        return f"{factor} (the repetitions differ under {', '.join(f'{factor}={x}' for x in noisy)} only{share})"
    if (share := to_float(shares.get(factor))) is None and entry.get("between_differ"):
        # no variance computed (a `bytes` output, every number ignored): "no variance share of its own: its effect
        # lies in ... the repetitions' variance" contradicted repetitions that agree (review I)
        return (
            f"{factor} ({factor} effect: {entry['between_differ']} of {entry.get('between_pairs')} comparisons "
            "between levels differ; no variance computed for this output)"
        )
    return f"{factor} {_share_of(share or 0.0)}"


def _share_of(share: float) -> str:
    """A blamed factor's share of the variance in words: none of its own (truncated to 0, its effect in its
    interactions or the repetitions) is said so, not "0% of the variance" beside its name (a review)."""
    if share > 0:
        return f"({fmt(100 * share, 3)}% of the variance)"
    return "(no variance share of its own: its effect lies in its interactions or the repetitions' variance)"


def _fixes(bits: dict[str, Any], factors: dict[str, Any], blamed: list[str]) -> list[tuple[str, str]]:
    """What was found and what removes it, per blamed factor, or for repetitions that differ at fixed conditions."""
    actions = []
    for f in blamed:
        nd = [str(x) for x in (factors.get(f) or {}).get("nondeterministic_levels") or []]
        levels = [str(x) for x in ((factors.get(f) or {}).get("levels") or {})]
        quiet = [lv for lv in levels if lv not in nd]
        if nd and quiet:
            actions.append((f"repetitions differ only at {f}={', '.join(nd)}", f"use {f}={quiet[0]}"))
        elif f == "seed" and levels and all(lv.lstrip("-").isdigit() for lv in levels):
            # every level a fixed seed: "fix the seed (a level such as 42)" was done already (review C)
            actions.append(
                (
                    "the result depends on the seed's value (every level is a fixed seed)",
                    "a sensitivity of the method to its seed: report it, or average over seeds; one pinned seed "
                    "hides it rather than removes it",
                )
            )
        else:
            actions.append(("", _fix(f)))
    if bits.get("repetitions_identical") is False and not blamed:  # None: no repetitions were compared
        nd = bits.get("nondeterminism") or {}
        if _sporadic(bits):  # a few executions, no condition: a seed would not change them (an unreadable file)
            actions.append((str(nd["explanation"]), SPORADIC_FIX))
        elif seeded := _seeded_and_noisy(bits):
            actions.append(
                (
                    f"repetitions differ even under {seeded}",
                    "the application does not use the seed it is given, or another source of randomness moves the "
                    "result (the time, the process id, an unseeded library, the order of a directory listing): "
                    "find it and seed or remove it",
                )
            )
        else:
            actions.append(
                (
                    "repetitions differ at fixed conditions (run-to-run nondeterminism)",
                    "seed every random generator, run single-threaded, then look for parallel reductions",
                )
            )
    return actions


def _seeded_and_noisy(bits: dict[str, Any]) -> str | None:
    """The first condition with an integer seed (and one thread, where threads is a factor) whose repetitions
    differ: there, "seed every random generator, run single-threaded" was done already (a review: a tool that
    ignored its seed got that advice)."""
    for key, cond in (bits.get("conditions") or {}).items():
        levels = dict(part.split("=", 1) for part in key.split(",") if "=" in part)
        seed = levels.get("seed", "")
        if seed.lstrip("-").isdigit() and levels.get("threads", "1") == "1" and cond["identical_cells"] < cond["cells"]:
            return key
    return None


SPORADIC_FIX = "look at the few executions that differ (a corrupt or truncated file, an interrupted run)"


def _sporadic(bits: dict[str, Any]) -> bool:
    """Whether repetitions differ for fewer than half of the subjects of each condition where they differ
    (the bitwise ``nondeterminism`` has no ``noisy`` condition, only its sporadic sentence)."""
    nd = bits.get("nondeterminism") or {}
    return nd.get("noisy") == [] and bool(nd.get("explanation"))


def next_steps(document: dict[str, Any]) -> list[dict[str, Any]]:
    """What to do next, one item per finding: failed executions, then each output that is not identical
    (its culprit factor and the fix it suggests, and the evidence the verdict stored), worst first."""
    steps: list[dict[str, Any]] = []
    ex = document.get("executions") or {}
    for alert in document.get("alerts") or []:
        if alert.get("duplicates"):  # every output's figures count them: said first (a review read "no change")
            steps.append(
                dict(
                    output=None, status="error", culprit="subjects counted twice", action=alert["message"], evidence=[]
                )
            )
    if ex.get("failed"):
        first = (ex.get("failures") or [{}])[0]
        steps.append(
            dict(
                output=None,
                status="incomplete",
                culprit="failed executions",
                action=f"{ex['failed']} of {ex.get('total')} executions failed"
                + (f" (first error: {first['error']})" if first.get("error") else "")
                + (
                    # made elsewhere: `run` would not make them again (a study without an application cannot run)
                    ": fix them where they were made and ingest them again (`reprovip ingest`)"
                    if (ex.get("plan") or {}).get("ingested")
                    else ": fix them and run again (`reprovip run` resumes)"
                )
                + "; the verdict covers the others only",
                evidence=[],
            )
        )
    for o in document.get("outputs") or []:
        v = o.get("verdict") if isinstance(o.get("verdict"), dict) else {}
        status = str(v.get("status") or "unknown")
        bits = o.get("bitwise") or {}
        if status == "identical":  # the stored status only: bitwise-identical outputs can still fail a criterion
            continue
        evidence = [
            str(r["evidence"]["sentence"])
            for r in v.get("reasons") or []
            if isinstance(r.get("evidence"), dict) and r["evidence"].get("sentence") and not r.get("passed")
        ]
        factors = {f: e for f, e in (bits.get("factors") or {}).items() if isinstance(e, dict)}
        # The attribution's culprits, as `check` names them (it adds factors the bits cannot show: a share of
        # variance beyond the noise, label maps swapped between levels), then the bits' own.
        attributed = {
            e.get("factor"): e for e in (o.get("attribution") or {}).get("factors") or [] if isinstance(e, dict)
        }
        shares = o.get("variance_shares") or {}
        blamed = sorted(
            (
                f
                for f in {*factors, *attributed}
                if isinstance(f, str)
                and ((factors.get(f) or {}).get("changes_result") or (attributed.get(f) or {}).get("changes_result"))
            ),
            key=lambda f: (-(to_float(shares.get(f)) or 0), f),
        )
        tests = factor_evidence(o.get("observations") or [], tuple(blamed))
        culprit = ", ".join(
            dict.fromkeys(  # a combination blamed through each of its factors is named once
                _bits_culprit(f, factors[f], shares)
                if (factors.get(f) or {}).get("changes_result")  # the bits show it: the attribution tested no further
                else _culprit(f, attributed.get(f) or {}, shares, tests)
                for f in blamed
            )
        )
        if not culprit and bits.get("identical"):
            # Not analysable although every execution wrote the same bytes (empty files): nothing differs to blame
            # (the card read "cause: repetitions .": a review)
            culprit = "none: every execution wrote the same bytes"
        elif not culprit:
            rep = to_float(shares.get("repetition"))
            culprit = ("repetitions, sporadically" if _sporadic(bits) else "repetitions") + (
                f" ({fmt(100 * rep, 3)}% of the variance)" if rep is not None else ""
            )
        compared = (v.get("evidence") or {}).get("trials")
        if compared == 0:  # one execution per subject: no culprit to name, and the bits' "identical" is vacuous
            culprit = "nothing to compare"
            sentence = (v.get("evidence") or {}).get("sentence") or "no two executions of one subject to compare"
            actions = [(str(sentence), "add repetitions or factor levels, run and analyse again")]
        elif o.get("unmeasured_differences"):
            # Every value read agrees: the files differ, not a measured result; no factor's fix applies.
            culprit = f"{', '.join(blamed) or 'repetitions'}: the files differ in what no observation measures"
            actions = [
                (
                    "every value read from the files is the same in every execution of each subject, the files "
                    "differ elsewhere (an image header's data type or units, a text field)",
                    "compare two of them to see whether what differs matters",
                )
            ]
        else:
            actions = _fixes(bits, factors, blamed)
        if o.get("error"):
            actions.append((f"the output could not be analysed: {o['error']}", ""))
        elif status == "error" and compared != 0:  # what kept the verdict from being reached: an unreadable file
            reason = deciding_reason(v) or {}
            actions.append((f"not analysable: {reason.get('criterion')} (see the alerts)", ""))
        if status in ("pass", "warn") and not evidence and not o.get("unmeasured_differences"):
            # The drift is within the criteria: what would remove it is an option, not a finding to act on.
            fixes = [fix for _, fix in actions if fix]
            warned = deciding_reason(v) if status == "warn" else None
            if warned:  # "no change needed" beside a failed warn-severity criterion read as a contradiction
                value = warned.get("value")
                shown = f" = {fmt(value, 4)}" if isinstance(value, int | float) and not isinstance(value, bool) else ""
                action = f"a warning, not a failure: {warned.get('criterion')}{shown} (see the alerts)"
            else:
                action = "within the criteria: no change needed"
            action += f"; to remove the drift: {'; '.join(fixes)}" if fixes else ""
        else:
            action = "; ".join(": ".join(part for part in a if part) for a in actions)
        steps.append(dict(output=str(o.get("name")), status=status, culprit=culprit, action=action, evidence=evidence))
    rank = {"incomplete": 0, "fail": 0, "error": 1, "warn": 2, "pass": 3}
    return sorted(steps, key=lambda s: rank.get(s["status"], 4))
