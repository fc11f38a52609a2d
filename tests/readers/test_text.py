"""Text reader: every number keyed by line and position; what counts as a number."""

from __future__ import annotations

import math

import pytest

from reprovip.readers import load, semantic_hash
from reprovip.readers.text import find_numbers

from .conftest import reader_error


def test_numbers_keyed_by_line_and_position(tmp_path):
    path = tmp_path / "fit.log"
    path.write_text("Fitting sub-01\n\nchi2 = 1.25e-3, iterations: 42\nresult: -0.5 +7 nan\n")
    loaded = load(path)
    assert loaded.kind == "text"
    assert {k: float(v) for k, v in loaded.values.items() if k != "line4:2"} == {
        "line1:0": 1.0,
        "line3:0": 1.25e-3,
        "line3:1": 42.0,
        "line4:0": -0.5,
        "line4:1": 7.0,
    }
    assert math.isnan(loaded.values["line4:2"])
    assert loaded.meta == {"n_lines": 4, "n_numbers": 6, "encoding": "utf-8", "n_nonfinite": 1}
    assert semantic_hash(path) is None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("1 22 333", [1.0, 22.0, 333.0]),
        ("x=-1.5e+2; y=.25; z=3.", [-150.0, 0.25, 3.0]),
        ("T1w mm3 var_2 v0.3.28 info", []),
        ("2024-01-05 12:30", [2024.0, 1.0, 5.0, 12.0, 30.0]),
        ("Inf -inf NaN infinity", [math.inf, -math.inf, math.nan, math.inf]),
        ("(1,2) [3] {4}", [1.0, 2.0, 3.0, 4.0]),
        ("1.2+3.4j", [1.2, 3.4]),
    ],
)
def test_find_numbers(line, expected):
    found = find_numbers(line)
    assert len(found) == len(expected)
    assert all(a == b or (math.isnan(a) and math.isnan(b)) for a, b in zip(found, expected, strict=True))


def test_any_suffix_when_declared_and_latin1(tmp_path):
    path = tmp_path / "report.rpt"
    path.write_bytes("volume 12 µl\n".encode("latin-1"))
    loaded = load(path, kind="text")
    assert float(loaded.values["line1:0"]) == 12.0 and loaded.meta["encoding"] == "latin-1"


def test_binary_file_declared_as_text(tmp_path):
    path = tmp_path / "image.out"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with reader_error(path, "binary content (NUL byte at offset 8) where text was expected"):
        load(path, kind="text")
