"""Jinja2 environment (autoescape on) shared by the report and the dashboard, and the static report."""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import func, select

from reprovip import __version__
from reprovip.analyze.stale_comparison import comparison_staleness
from reprovip.criteria.formats import reason_word
from reprovip.report import flowgraph, plots
from reprovip.report.context import analysis_context, staleness
from reprovip.report.fmt import duration, fmt, pct, size, to_float
from reprovip.report.maps import UNITS, Slice, draw_output_map, output_maps
from reprovip.report.png import data_uri
from reprovip.store import Catalog
from reprovip.store import schema as s

TEMPLATES = Path(__file__).parent / "templates"
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
"""Content-Security-Policy of the static report: nothing can be loaded from anywhere, not even by mistake."""


def _when(ts: Any) -> str:
    v = to_float(ts)
    if v is None or not math.isfinite(v):
        return "–"
    return dt.datetime.fromtimestamp(v, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _maxnum(values: list[Any]) -> str:
    nums = [v for v in (to_float(x) for x in values) if v is not None]
    return fmt(max(nums)) if nums else "–"


@functools.lru_cache(maxsize=4)
def environment(*extra: str) -> Environment:
    """The Jinja2 environment: templates in ``extra`` folders first, then the report's."""
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(d) for d in extra] + [FileSystemLoader(str(TEMPLATES))]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        num=fmt, pct=pct, duration=duration, size=size, yesno=lambda v: "yes" if v else "no", maxnum=_maxnum, when=_when
    )
    env.globals.update(plots=plots, flowgraph=flowgraph, version=__version__, reason_word=reason_word)
    return env


def css() -> str:
    """The stylesheet (inlined in reports, served by the dashboard)."""
    return (TEMPLATES / "reprovip.css").read_text(encoding="utf-8")


def output_map_images(
    store: Path, raw: dict[str, Any], src: Callable[[str, Slice], str], *, study: str | None = None
) -> list[dict[str, Any]]:
    """The maps of one output of an analysis document (``raw``) as the pages draw them: title, unit, colour bar and
    slices, each slice's image at ``src(map name, slice)`` (a data URI in the report, a URL in the dashboard)."""
    out = []
    for name in output_maps(store, raw, study=study):
        m = draw_output_map(store, raw, name, study=study)
        if m is None:
            continue
        out.append(
            dict(
                name=name,
                title=m.title,
                unit=UNITS.get(name, ""),
                bar=plots.colour_bar(m.vmin, m.vmax, binary=m.binary),
                slices=[dict(axis=s.axis, src=src(name, s), width=s.width, height=s.height) for s in m.slices],
            )
        )
    return out


def inline_map_images(store: Path | None, study: str | None = None) -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    """For the static report: draw an output's maps as PNG data URIs (nothing outside ``store`` is read)."""
    raw_by_name: dict[str, dict[str, Any]] = {}

    def images(o: dict[str, Any]) -> list[dict[str, Any]]:
        raw = raw_by_name.get(o["name"])
        if store is None or raw is None:
            return []
        return output_map_images(store, raw, lambda _name, s: data_uri(s.png), study=study)

    images.raw_by_name = raw_by_name  # type: ignore[attr-defined]
    return images


NO_LINKS = SimpleNamespace(execution=lambda _eid: None)


def _store_of(document: dict[str, Any]) -> Path | None:
    path = (document.get("study") or {}).get("path")
    if not path:
        return None
    store = Path(str(path)).parent / ".reprovip"
    return store if store.is_dir() else None


def _stored_comparison(document: dict[str, Any], store: Path | None) -> str | None:
    """A line saying that a comparison with a baseline is stored beside this study's own analysis, and its
    verdict, as `check` says: after a failing `compare`, the study's report read "sufficiently reproducible" with
    no word of it (review VW). None for a comparison's own report, or without one."""
    path = _comparison_file(document, store)
    if path is None or "compare" in document:
        return None
    try:
        stored = json.loads(path.read_text())
        label = stored["verdict"]["label"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if stale := comparison_staleness(path, stored):  # as `check` says it (review I)
        return f"a comparison with a baseline is stored ({path}: {label}) but is stale: {stale}"
    return f"a comparison with a baseline is stored ({path}: {label}); `reprovip report --analysis {path}` shows it"


def _comparison_file(document: dict[str, Any], store: Path | None) -> Path | None:
    """Where `compare` stores the comparison of the study ``document`` is of, or None."""
    name = str((document.get("study") or {}).get("name", ""))
    return store / "results" / name / "compare.json" if store is not None and name else None


def report_html(
    document: dict[str, Any], catalog: Catalog | None = None, *, store: Path | None = None, stale: str | None = None
) -> str:
    """Render an analysis document as one self-contained HTML page (no network access needed to view it).

    Parameters
    ----------
    document : dict
        An analysis document (schema ``reprovip.analysis/2``), with verdicts and alerts when the criteria
        were evaluated.
    catalog : Catalog, optional
        The study's catalog (opened read-only is enough): adds the run history.
    store : Path, optional
        The study store holding the voxelwise maps and the values ``analyze`` kept for the strip and
        Bland–Altman plots (no output file is read again); default: ``.reprovip`` next to the study file named in
        the document, when it exists.
    stale : str, optional
        Why the verdict is no longer the study's, found by the caller (the study file declares executions
        that were not run); by default the runs table says whether a run came after the analysis.

    Returns
    -------
    str
        The HTML text; its Content-Security-Policy forbids loading anything from outside the file.
    """
    store = Path(store) if store is not None else _store_of(document)
    runs: list[dict[str, Any]] = []
    now: dict[str, Any] = {}
    if catalog is not None:
        study_id = catalog.study_id(str((document.get("study") or {}).get("name", "")))
        now["catalog_id"] = catalog.catalog_id() or ""
        if study_id is not None:
            e = s.executions
            with catalog.engine.connect() as conn:
                runs = [
                    dict(r)
                    for r in conn.execute(
                        select(s.runs).where(s.runs.c.study_id == study_id).order_by(s.runs.c.id.desc()).limit(50)
                    ).mappings()
                ]
                counted = select(e.c.status, func.count()).where(e.c.study_id == study_id).group_by(e.c.status)
                now["counts"] = {str(st): int(n) for st, n in conn.execute(counted)}
    if stale is None and "compare" in document and (path := _comparison_file(document, store)) and path.exists():
        # the baseline run again after the comparison: its report showed the old pass unmarked (review I)
        stale = comparison_staleness(path, document)
    a = dict(
        analysis_context(document, store=store),
        stale=stale or staleness(document, runs[0] if runs else None, **now),
        comparison=_stored_comparison(document, store),
    )
    images = inline_map_images(store, str((document.get("study") or {}).get("name", "")) or None)
    images.raw_by_name.update({str(o.get("name")): o for o in document.get("outputs") or []})  # type: ignore[attr-defined]
    return (
        environment()
        .get_template("report.html")
        .render(
            a=a,
            runs=runs,
            map_images=images,
            links=NO_LINKS,
            inline_css=css(),
            static_css="",
            csp_meta=REPORT_CSP,
            generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        )
    )
