"""JSON reader: flattened paths, booleans, ignored leaves, canonical semantic hash, errors."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from reprovip.readers import byte_hash, load, semantic_hash
from reprovip.readers.scalars import flatten

from .conftest import reader_error


@pytest.mark.parametrize(
    ("document", "expected", "n_ignored"),
    [
        ({"volume": 1.5, "n": 3}, {"volume": 1.5, "n": 3.0}, 0),
        (
            {"a": {"b": [1, {"c": 2}], "d": [[1, 2], [3]]}},
            {"a.b[0]": 1, "a.b[1].c": 2, "a.d[0][0]": 1, "a.d[0][1]": 2, "a.d[1][0]": 3},
            0,
        ),
        ({"ok": True, "bad": False, "name": "sub-01", "none": None}, {"ok": 1.0, "bad": 0.0}, 2),
        ([{"x": 1}, 2.5], {"[0].x": 1.0, "[1]": 2.5}, 0),
        ({"a.b": 1, "a": {"b": 2}, "": 3, 'q"': 4}, {'["a.b"]': 1, "a.b": 2, '[""]': 3, '["q\\""]': 4}, 0),
        ({"x": float("nan"), "empty": {}, "list": []}, {"x": float("nan")}, 0),
    ],
    ids=["flat", "nested-lists", "bools-and-strings", "top-level-list", "special-keys", "nan-and-empty"],
)
def test_flattening(tmp_path, document, expected, n_ignored):
    path = tmp_path / "stats.json"
    path.write_text(json.dumps(document))
    loaded = load(path)
    assert loaded.kind == "scalars"
    assert list(loaded.values) == list(expected)
    np.testing.assert_array_equal([float(v) for v in loaded.values.values()], list(expected.values()))
    assert all(v.shape == () and v.dtype == np.float64 for v in loaded.values.values())
    assert loaded.meta["n_ignored"] == n_ignored


def test_flatten_reports_ignored_paths():
    assert flatten({"a": [None, "x", 1]}) == ({"a[2]": 1.0}, {"a[0]": None, "a[1]": "x"})


def test_gzip_json_and_declared_kind_on_other_suffix(tmp_path):
    path = tmp_path / "stats.json.gz"
    path.write_bytes(gzip.compress(b'{"x": 1}'))
    assert float(load(path).values["x"]) == 1.0
    path = tmp_path / "stats.out"
    path.write_text('{"x": 2}')
    assert float(load(path, kind="scalars").values["x"]) == 2.0


@pytest.mark.parametrize(
    "variant",
    [
        '{"b": [1, 2.50], "a": {"y": true, "x": null}}',
        '{\n  "a": {"x": null, "y": true},\n  "b": [1, 2.5e0]\n}',
        '{"b": [1, 2.500000000000000000000], "a": {"y": true, "x": null}}',
    ],
    ids=["key-order", "indent-and-number-spelling", "long-but-exact"],
)
def test_semantic_hash_ignores_order_and_formatting(tmp_path, variant):
    reference = tmp_path / "ref.json"
    reference.write_text('{"a":{"x":null,"y":true},"b":[1,2.5]}')
    path = tmp_path / "v.json"
    path.write_text(variant)
    assert byte_hash(path) != byte_hash(reference)
    assert semantic_hash(path) == semantic_hash(reference)


@pytest.mark.parametrize(
    "variant",
    [
        '{"a":{"x":null,"y":true},"b":[2.5,1]}',
        '{"a":{"x":null,"y":1},"b":[1,2.5]}',
        '{"a":{"y":true},"b":[1,2.5]}',
        '{"a":{"x":null,"y":true},"b":[1.0,2.5]}',
        '{"a":{"x":null,"y":true},"b":[1,2.5000000000000000000001]}',
    ],
    ids=["list-order", "bool-vs-int", "dropped-key", "int-vs-float", "digits-beyond-float64"],
)
def test_semantic_hash_detects_changes(tmp_path, variant):
    reference = tmp_path / "ref.json"
    reference.write_text('{"a":{"x":null,"y":true},"b":[1,2.5]}')
    path = tmp_path / "v.json"
    path.write_text(variant)
    assert semantic_hash(path) != semantic_hash(reference)


def test_digits_beyond_float64_are_kept_exact(tmp_path):
    """A long double printed in full: its float64 value is the observation, its exact value is in meta["exact"]
    (the analysis names executions that differ only there); a decimal with trailing zeros whose value is a
    float64 is not, nor is 3; 1e-400 and 2e400 are (they underflow to 0, overflow to infinity)."""
    path = tmp_path / "v.json"
    path.write_text('{"a": 0.1000000000000000055511151231257827, "b": 2.50000000000000000, "c": [1e-400, 3, 2e400]}')
    loaded = load(path)
    assert float(loaded.values["a"]) == 0.1 and float(loaded.values["b"]) == 2.5
    # 1e-400 underflows to 0.0, 2e400 overflows to infinity: another execution's 3e-400 or 1e400 would read the same
    assert loaded.meta["exact"] == {"a": "0.1000000000000000055511151231257827", "c[0]": "1E-400", "c[2]": "2E+400"}
    other = tmp_path / "w.json"
    other.write_text('{"a": 0.1000000000000000055511151231257827, "b": 2.5, "c": [1e-400, 3, 1e400]}')
    assert semantic_hash(other) != semantic_hash(path)
    # an integer beyond float64's range made the whole file unreadable (review MM), where 1e400 is infinite
    big = tmp_path / "big.json"
    big.write_text('{"volume": 1.5, "count": 1' + "0" * 400 + ', "low": -2' + "0" * 400 + "}")
    loaded = load(big)
    assert {k: float(v) for k, v in loaded.values.items()} == {"volume": 1.5, "count": np.inf, "low": -np.inf}
    assert loaded.meta["exact"] == {"count": "1" + "0" * 400, "low": "-2" + "0" * 400}
    assert loaded.meta["n_nonfinite"] == 2


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        ('"just a string"', "the JSON document is a string, not an object or an array"),
        ("42", "the JSON document is a number, not an object or an array"),
        ("null", "the JSON document is null"),
        ('{"a": 1,,}', "invalid JSON at line 1 column 9"),
        ('{"a": 1}\n{"b": 2}', "invalid JSON at line 2 column 1 (Extra data)"),
        ("[" * 100_000, "invalid JSON (RecursionError"),
        ('{"a": ' + "9" * 5000 + "}", "invalid JSON (ValueError: Exceeds the limit"),
    ],
    ids=["string", "number", "null", "syntax", "two-documents", "deep", "huge-int"],
)
def test_bad_json_raises_reader_error(tmp_path, content, phrase):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with reader_error(path, phrase):
        load(path)


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        ('{"a": 1, "b": 2, "a": 3}', """duplicated key 'a' ("a" appears 2 times in one object"""),
        (
            '{"metrics": {"a": 1, "b": 0, "a": 2, "a": 3}, "z": {"a": 5}}',
            """duplicated key 'metrics.a' ("a" appears 3 times in one object""",
        ),
        ('{"runs": [{"a": 1}, {"a": 1, "a": 1}]}', """duplicated key 'runs[1].a' ("a" appears 2 times"""),
        ('[{"x": {"p.q": 1, "p.q": 2}}]', """duplicated key '[0].x["p.q"]' ("p.q" appears 2 times"""),
    ],
    ids=["top-level", "nested", "list-of-objects-equal-values", "special-key-in-top-level-list"],
)
def test_duplicated_key_is_an_error_for_values_and_hash(tmp_path, content, phrase):
    """Python's json keeps the last value, other parsers the first: ambiguous data, named by its path."""
    path = tmp_path / "dup.json"
    path.write_text(content)
    with reader_error(path, phrase):
        load(path)
    with reader_error(path, phrase):
        semantic_hash(path)
    with reader_error(path, "; the application writes the key twice; fix it to write each key once"):
        load(path)


def test_files_differing_in_a_duplicated_value_are_never_called_identical(tmp_path):
    """The review's case: only the first 'v' differs, which json.loads drops; the hash must not equate them."""
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text('{"v": 1.0, "v": 10.0}')
    b.write_text('{"v": 2.0, "v": 10.0}')
    for path in (a, b):
        with reader_error(path, "duplicated key 'v'"):
            semantic_hash(path)
    assert byte_hash(a) != byte_hash(b)


def test_json_must_be_utf8(tmp_path):
    path = tmp_path / "latin.json"
    path.write_bytes('{"µ": 1}'.encode("latin-1"))
    with reader_error(path, "not UTF-8 text (byte 0xb5 at offset 2)"):
        load(path)


def test_strings_and_nulls_are_kept_as_digests_for_the_analysis(tmp_path):
    """Not observations, but their digests by path tell the analysis when they differ between executions."""
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"volume": 1.0, "diagnosis": "tumour", "note": None}))
    b.write_text(json.dumps({"volume": 1.0, "diagnosis": "healthy", "note": None}))
    ta, tb = load(a).meta["text"], load(b).meta["text"]
    assert set(ta) == {"diagnosis", "note"} and ta["note"] == tb["note"] and ta["diagnosis"] != tb["diagnosis"]


def test_json_strings_holding_numbers_are_number_like_text_as_table_cells_are(tmp_path) -> None:
    """A review: JSON strings "~1.18" and "1.2×10⁻³" varying by 30% were text fields, a warning; a table's cells
    holding them are numbers written as text (no metric measures them). Identifiers and dates are neither."""
    path = tmp_path / "fit.json"
    strings = {
        "a": "~1.18",
        "b": "1.2\u00d710\u207b\u00b3",
        "c": "1.28-1.57",
        "d": "sub-01",
        "e": "2026-11-29",
        "f": "v1.2",
    }
    path.write_text(json.dumps(strings))
    assert sorted(load(path).meta["number_like_text"]) == ["a", "b", "c"]


def test_json_strings_grouped_with_underscores_or_coloured_are_number_like_text(tmp_path) -> None:
    """A review: "1_734_567" (Python's f"{n:_}") was a plain string, and a +500000 change passed, where
    "1,734,567" was a number written as text. A coloured string ("\\u001b[32m11.5\\u001b[0m") is too."""
    path = tmp_path / "r.json"
    path.write_text(
        json.dumps(
            {"n_voxels": "1_734_567", "volume": "6_234.5 mm3", "coloured": "\x1b[32m11.5\x1b[0m", "id": "sub_01"}
        )
    )
    assert sorted(load(path).meta["number_like_text"]) == ["coloured", "n_voxels", "volume"]


def test_a_quoted_version_is_no_number_written_as_text(tmp_path) -> None:
    """Review PT: BIDS sidecars quote `"SoftwareVersion": "1.1"`; under a version factor it differs, and as a
    number written as text it made a numerically identical study "not analysable". A field naming a version
    (its last segment) is an identifier; a quoted number beside it still is number-like text."""
    path = tmp_path / "kinetic.json"
    path.write_text(json.dumps({"SoftwareVersion": "1.1", "fit": {"model_release": "2"}, "Vt": "4.5", "k2": 0.1}))
    assert sorted(load(path).meta["number_like_text"]) == ["Vt"]
