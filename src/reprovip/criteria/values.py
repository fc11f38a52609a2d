"""The values a criterion reads from the analysis document: per observation (ICC forms and their bounds, spreads,
significant digits), per output (Dice, HD95, the voxel summaries of :mod:`reprovip.criteria.voxels`), per study
(failure rates) or a flag (identity, the envelope test), each with why it is missing when it is."""

from __future__ import annotations

from typing import Any

from reprovip.criteria.rules import (
    ENVELOPE_FACTORS,
    FLAGS,
    ICC_NAME,
    OBSERVATION_METRICS,
    OUTPUT_METRICS,
    SPREADS,
    STUDY_METRICS,
)
from reprovip.criteria.voxels import voxel_value

NO_LABEL = "the label maps hold no label (every voxel 0) in any execution: there is nothing to measure"


def no_label(output: dict[str, Any]) -> bool:
    """Whether ``output`` is label maps without a label in any execution (a review read "not computed")."""
    seg = output.get("segmentation")
    return output.get("kind") == "labels" and isinstance(seg, dict) and not seg.get("labels")


def metric_values(
    metric: str, output: dict[str, Any], document: dict[str, Any], selects: Any = lambda name: True
) -> list[tuple[str | None, Any, dict[str, Any]]]:
    """Values of ``metric`` for one output: a list of (observation name or None, value, extra).

    ``selects(name)`` keeps only some observations (the criterion's ``observations`` patterns).
    """
    if metric == "within_envelope":
        env = output.get("envelope")
        if env is None:  # the test never ran: not estimable, never "outside" (a review read "within_envelope: no")
            return [(None, None, {"reason": _no_envelope(output)})]
        if "skipped" in env:  # no run-to-run noise to compare with: not estimable, never "outside"
            return [(None, None, {"reason": f"the envelope test was skipped: {env['skipped']}"})]
        return [(env.get("worst_observation"), bool(env.get("within_envelope")), {"detail": env.get("detail")})]
    if metric in FLAGS:
        if not output.get("bitwise"):  # never compared (an output that could not be analysed): not "differs"
            return [(None, None, {"reason": output.get("error") or "the output was not compared"})]
        if metric == "repetitions_identical" and output.get("repetitions", 2) < 2:
            # One execution per condition: no two repetitions to compare, so "identical" would be vacuous (a
            # review's passed while threads moved the values by 30%)
            reason = "one execution per subject and condition (repetitions: 1): no repetitions to compare; run more"
            return [(None, None, {"reason": reason})]
        flag = output["bitwise"].get(metric)
        if flag is None:  # not established (undecodable files, nothing compared): neither identical nor differing
            return [(None, None, {"reason": output["bitwise"].get("not_compared") or "identity was not established"})]
        return [(None, bool(flag), {})]
    if metric in STUDY_METRICS:
        return [(None, document["executions"].get(metric), {})]
    if metric.startswith("voxel_"):
        return [voxel_value(metric, output)]
    if metric in OUTPUT_METRICS:
        summary = output.get("summary", {})
        label = summary.get(f"{metric}_label")  # dice_min, hd95_max: the label they come from
        why = {"reason": NO_LABEL} if no_label(output) else {}
        if metric == "hd95_max" and (no_grid := (output.get("segmentation") or {}).get("distances_not_computed")):
            why = {"reason": no_grid}  # vertices or array elements: no distance, never a made-up 1 mm (review AR)
        where = None if label is None else f"label {label}"
        if where and summary.get(f"{metric}_executions"):  # and the executions whose maps disagree most
            where += f" ({summary[f'{metric}_executions']})"
        if where and (other := summary.get(f"{metric}_became")) is not None:  # review DL: a swap named as one
            elements = (output.get("segmentation") or {}).get("elements") or "voxels"  # or a GIfTI's vertices
            where += f", whose {elements} carry label {other} in the other execution"
        return [(where, summary.get(metric), why)]
    icc = ICC_NAME.match(metric)
    out = []
    for obs in output.get("observations", []):
        if not selects(obs["name"]):
            continue
        if icc:
            entry = (obs.get("icc") or {}).get(f"ICC({icc.group(1)},{icc.group(2)})")
            if entry is None or entry.get("estimable") is False:
                out.append((obs["name"], None, {"reason": _missing_reason(obs, entry)}))
                continue
            field = icc.group(3) or "value"
            extra = {
                "ci": [entry.get("ci_low"), entry.get("ci_high")],
                "estimate": entry.get("value"),
                "mean_squares": obs.get("mean_squares"),
                "note": entry.get("note"),  # fewer than 3 subjects: the interval is uninformative
            }
            out.append((obs["name"], entry.get(field), extra))
        else:
            value: Any = obs
            for part in OBSERVATION_METRICS[metric].split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if value == 0 and metric in SPREADS and obs.get("identical") is False:
                # The executions differ, yet their spread computes as 0: below the metric's precision (the
                # logs of values 1 ulp apart coincide), so `wcv_log <= 0` passed on differing values (a review).
                why = f"the executions differ but {metric} computes as 0 (the difference is below its precision)"
                out.append((obs["name"], None, {"reason": why}))
                continue
            out.append((obs["name"], value, {} if value is not None else {"reason": _missing_reason(obs, None)}))
    return out


def _no_envelope(output: dict[str, Any]) -> str:
    """Why an output has no envelope test: no version factor (the usual case), or its analysis failed."""
    if not set(output.get("factors") or {}) & set(ENVELOPE_FACTORS):
        return (
            "the study has no version factor (`version` or `environments`): the envelope test compares versions; "
            "declare one, or compare two stores with `reprovip compare`, which runs it without declaring it"
        )
    return output.get("error") or "the envelope test was not computed for this output"


def _missing_reason(obs: dict[str, Any], entry: dict[str, Any] | None) -> str:
    """Why an observation has no value for a metric (shown by the criterion that needed it)."""
    if obs.get("nonfinite"):
        return obs["nonfinite"]["message"]
    if entry is not None and entry.get("reason"):
        return str(entry["reason"])
    if "icc" not in obs and obs.get("absent_subjects"):  # the output's subjects are complete; this field's are not
        return (
            f"written by {obs.get('written_by')} subject(s) only, absent from {len(obs['absent_subjects'])}: "
            "needs 2 subjects that write it (a criterion's `observations:` can leave such fields out)"
        )
    if "icc" not in obs:
        return "needs at least 2 complete subjects with 2 executions each"
    return "undefined for these values (e.g. a mean of 0 for a coefficient of variation)"
