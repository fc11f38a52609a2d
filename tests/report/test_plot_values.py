"""The report and the dashboard draw from what ``analyze`` stored, never from the outputs again (issue 17,
item 7), and never through a symlink (issue 15, item 7)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from reprovip.dashboard import create_app, open_sources
from reprovip.report import report_view
from reprovip.report.values import load_plot_values, plot_values_path, save_plot_values
from reprovip.study import Study
from tests.criteria.test_one_verdict import edge_study
from tests.dashboard.conftest import Client

TIP = re.compile(r"sub-01 · threads=1 · rep 1: ([-0-9.e+]+) ")


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    root = tmp_path_factory.mktemp("values") / "noisy"
    root.mkdir()
    st = edge_study(root, "small-noise", extra="factors:\n  threads: [1, 2]\n")
    st.analyze()
    return st


def _output(study: Study) -> dict:
    return json.loads((study.results / "analysis.json").read_text())["outputs"][0]


def test_analyze_stores_the_plot_values_bound_by_their_hash(study: Study) -> None:
    out = _output(study)
    ref = out["plot_values"]
    assert ref["observations"] == 2 and ref["subjects"] == 3 and ref["file"] == f"values-{ref['sha256'][:16]}.npz"
    vals = load_plot_values(study.store, study.name, out)
    assert vals is not None and vals.names == ["ratio", "value"] and vals.values.shape == (2, 3, 2, 2)
    assert vals.factors == (("threads", ("1", "2")),)
    # The stored numbers are the outputs' own: sub-01 (input 10.0), ratio = value / 4 in every execution.
    assert np.all(vals.values[0, 0] == 2.5)


def test_the_report_draws_without_reading_any_output(study: Study, tmp_path: Path) -> None:
    """Every blob replaced by a symlink to a file outside the store: the report is unchanged (no output is
    read) and the outside file's content shows nowhere."""
    before = report_view(study).html
    expected = TIP.search(before)
    assert expected is not None
    secret = tmp_path / "secret.json"
    secret.write_text('{"value": 123456789.0, "ratio": 987654321.0}')
    copy = tmp_path / "blobs"
    shutil.copytree(study.store / "blobs", copy)
    try:
        for blob in (study.store / "blobs").rglob("*"):
            if blob.is_file():
                blob.unlink()
                blob.symlink_to(secret)
        after = report_view(study).html
        page = Client(create_app(open_sources([str(study.path)]))).get("/studies/0-1").text
    finally:
        shutil.rmtree(study.store / "blobs")
        shutil.copytree(copy, study.store / "blobs")
    assert TIP.search(after).group(1) == expected.group(1) and TIP.search(page).group(1) == expected.group(1)
    assert "123456789" not in after + page and "987654321" not in after + page


def test_altered_symlinked_or_misnamed_values_are_not_read(study: Study, tmp_path: Path) -> None:
    out = _output(study)
    path = plot_values_path(study.store, study.name, out)
    assert path is not None
    original = path.read_bytes()
    try:
        path.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        assert load_plot_values(study.store, study.name, out) is None  # altered: the hash no longer matches
        assert "do not match this document" in report_view(study).html
        outside = tmp_path / path.name
        outside.write_bytes(original)
        path.unlink()
        path.symlink_to(outside)
        assert plot_values_path(study.store, study.name, out) is None  # a symlink, even to the right bytes
    finally:
        path.unlink()
        path.write_bytes(original)
    assert load_plot_values(study.store, study.name, out) is not None
    for name in ("../../../values-0123456789abcdef.npz", "values.npz", None):
        assert plot_values_path(study.store, study.name, dict(out, plot_values=dict(file=name))) is None


def test_nothing_or_too_much_is_skipped_with_a_reason(tmp_path: Path) -> None:
    assert "skipped" in save_plot_values(tmp_path, [], np.zeros((0, 2, 2)), ["a", "b"], ())
    big = np.lib.stride_tricks.as_strided(np.zeros(1), shape=(1, 2, 2**22 + 1), strides=(0, 0, 0))
    assert save_plot_values(tmp_path, ["x"], big, ["a", "b"], ())["skipped"].endswith("are not kept for plots")
    assert not list(tmp_path.iterdir())
