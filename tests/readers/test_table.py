"""Table reader: observation names, key columns, delimiters, semantic hash and errors on real CSV/TSV."""

from __future__ import annotations

import gzip
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reprovip.errors import ReaderError
from reprovip.readers import byte_hash, load, semantic_hash

from .conftest import reader_error

METABOLITES = pd.DataFrame(
    {
        "metabolite": ["PCr", "ATP", "Pi"],
        "amplitude": [1.5, 0.75, 0.25],
        "chemshift": [0.0, -2.5, 4.8],
        "note": ["ok", "ok", "low"],
    }
)


def _values(loaded):
    return {k: float(v) for k, v in loaded.values.items()}


@pytest.mark.parametrize(("suffix", "sep"), [(".csv", ","), (".tsv", "\t"), (".csv.gz", ",")])
def test_first_text_column_names_rows(tmp_path, suffix, sep):
    """pandas writes the file; the first non-numeric column ('metabolite') becomes the row key."""
    path = tmp_path / f"fit{suffix}"
    METABOLITES.to_csv(path, sep=sep, index=False)
    loaded = load(path)
    assert loaded.kind == "table"
    assert _values(loaded) == {
        "PCr/amplitude": 1.5,
        "PCr/chemshift": 0.0,
        "ATP/amplitude": 0.75,
        "ATP/chemshift": -2.5,
        "Pi/amplitude": 0.25,
        "Pi/chemshift": 4.8,
    }
    assert all(v.shape == () and v.dtype == np.float64 for v in loaded.values.values())
    assert loaded.meta["columns"] == ["metabolite", "amplitude", "chemshift", "note"]
    assert loaded.meta["numeric_columns"] == ["amplitude", "chemshift"]
    assert loaded.meta["key_columns"] == ["metabolite"]
    assert loaded.meta["ignored_columns"] == ["note"]
    assert loaded.meta["n_rows"] == 3


@pytest.mark.parametrize(
    ("key_columns", "expected"),
    [
        (("note", "metabolite"), {"ok|PCr/amplitude", "ok|ATP/amplitude", "low|Pi/amplitude"}),
        ("metabolite", {"PCr/amplitude", "ATP/amplitude", "Pi/amplitude"}),
        (("chemshift",), {"0.0/amplitude", "-2.5/amplitude", "4.8/amplitude"}),
    ],
)
def test_explicit_key_columns(tmp_path, key_columns, expected):
    path = tmp_path / "fit.csv"
    METABOLITES.to_csv(path, index=False)
    loaded = load(path, kind="table", key_columns=key_columns)
    assert set(loaded.values) >= expected
    assert not any(k.endswith(f"/{c}") for k in loaded.values for c in loaded.meta["key_columns"])


def test_row_index_when_all_numeric_or_key_not_unique(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("label,x\nA,1\nA,2\n")
    assert _values(load(path)) == {"0/x": 1.0, "1/x": 2.0}
    path.write_text("x,y\n1,2\n3,4\n")
    loaded = load(path)
    assert _values(loaded) == {"0/x": 1.0, "0/y": 2.0, "1/x": 3.0, "1/y": 4.0}
    assert loaded.meta["key_columns"] == []


def test_missing_cells_are_nan_and_counted(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("name,x,empty\na,1,\nb,NA,\nc, nan ,\nd,inf,\n")
    loaded = load(path)
    values = _values(loaded)
    assert math.isnan(values["b/x"]) and math.isnan(values["c/x"]) and values["d/x"] == math.inf
    assert loaded.meta["n_nonfinite"] == 3
    assert loaded.meta["ignored_columns"] == ["empty"]


@pytest.mark.parametrize(
    "content",
    ["name\tvalue\nA\t1.5\nB\t2\n", "name;value\nA;1.5\nB;2\n", "name   value\n  A  1.5\nB 2\n"],
    ids=["tab", "semicolon", "whitespace"],
)
def test_txt_declared_as_table_sniffs_delimiter(tmp_path, content):
    path = tmp_path / "stats.txt"
    path.write_text(content)
    assert load(path).kind == "text"
    assert _values(load(path, kind="table")) == {"A/value": 1.5, "B/value": 2.0}


def test_quoting_trailing_delimiter_crlf_and_blank_lines(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b'"region, left",vol,\r\n\r\n"a, b", 12 ,\r\nc,13,\r\n')
    loaded = load(path)
    assert _values(loaded) == {"a, b/vol": 12.0, "c/vol": 13.0}


def test_latin1_header_falls_back(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("name,vol_µl\nA,1\n".encode("latin-1"))
    loaded = load(path)
    assert _values(loaded) == {"A/vol_µl": 1.0} and loaded.meta["encoding"] == "latin-1"


# --- semantic hash --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        b"name,x\r\nA,1.5\r\nB,2\r\n",
        b'"name","x"\n"A","1.5"\n"B","2"\n',
        b"name ,x  \nA,1.5 \n\nB,2\n",
        b"\xef\xbb\xbfname,x\nA,1.5\nB,2",
        b"name\tx\nA\t1.5\nB\t2\n",
    ],
    ids=["crlf", "quoted", "whitespace-blank-line", "bom-no-final-newline", "tsv-same-cells"],
)
def test_semantic_hash_ignores_formatting(tmp_path, variant):
    reference = tmp_path / "ref.csv"
    reference.write_bytes(b"name,x\nA,1.5\nB,2\n")
    path = tmp_path / ("v.tsv" if b"\t" in variant else "v.csv")
    path.write_bytes(variant)
    assert byte_hash(path) != byte_hash(reference)
    assert semantic_hash(path) == semantic_hash(reference)


@pytest.mark.parametrize("variant", [b"name,x\nA,1.50\nB,2\n", b"name,x\nB,2\nA,1.5\n", b"name,y\nA,1.5\nB,2\n"])
def test_semantic_hash_detects_changes(tmp_path, variant):
    """Cells count as text: 1.5 and 1.50 differ, as do row order and column names."""
    reference = tmp_path / "ref.csv"
    reference.write_bytes(b"name,x\nA,1.5\nB,2\n")
    path = tmp_path / "v.csv"
    path.write_bytes(variant)
    assert semantic_hash(path) != semantic_hash(reference)


# --- errors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "kwargs", "phrase"),
    [
        (
            "name,vol\nA,1\nB,2\nC,abc\nD,4\n",
            {},
            "line 4, column 'vol': 'abc' is not a number, although 3 other cells of this column are",
        ),
        ("name,vol\nA,1\n", {"key_columns": ("metabolite",)}, "missing key column 'metabolite'"),
        ("name,vol\nA,1\nA,2\n", {"key_columns": "name"}, "key 'A' appears on lines 2 and 3"),
        ("name,vol\n,1\n", {"key_columns": "name"}, "line 2 has an empty key"),
        ("name,vol\nA,1,2,3\n", {}, "line 2 has 4 fields but the header has 2 fields"),
        ("name,vol,vol\nA,1,2\n", {}, "column 'vol' appears twice (columns 2 and 3)"),
        ('name,vol\n"A,1\n', {}, "malformed table at line 2"),
        ("\n\n,,\n", {}, "the table has no header row"),
        ("a/b,c\nx,1\n", {"key_columns": "a/b"}, ""),
    ],
    ids=[
        "non-numeric",
        "missing-key",
        "duplicate-key",
        "empty-key",
        "ragged",
        "dup-col",
        "quote",
        "blank",
        "ok",
    ],
)
def test_bad_tables_raise_reader_error(tmp_path, content, kwargs, phrase):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    if not phrase:
        assert load(path, **kwargs).values
        return
    with reader_error(path, phrase):
        load(path, **kwargs)


def test_binary_and_corrupt_gzip(tmp_path):
    path = tmp_path / "bin.csv"
    path.write_bytes(b"a,b\n\x00\x01,2\n")
    with reader_error(path, "binary content (NUL byte at offset 4)"):
        load(path)
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(gzip.compress(b"a,b\n1,2\n" * 1000)[:50])
    with reader_error(path, "truncated gzip stream"):
        load(path)


def test_colliding_names(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("k,b/c,c\na/b,1,2\na,3,4\n")
    with reader_error(path, "two cells map to the same '<rowkey>/<column>' name"):
        load(path)


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    mutations=st.lists(st.tuples(st.integers(0, 200), st.sampled_from(b',;\t\n\r"x0.5-e \x00\xff')), max_size=6),
    cut=st.integers(1, 400),
)
def test_mutated_csv_loads_or_raises_reader_error(tmp_path, mutations, cut):
    original = bytearray(b'region,vol,dice\n"left, hippo",1.5e3,0.91\nright,1502,0.9\nthird,NA,1\n')
    for position, byte in mutations:
        original[position % len(original)] = byte
    path = tmp_path / "fuzz.csv"
    path.write_bytes(bytes(original[:cut]))
    for call in (lambda: load(path), lambda: load(path, key_columns="region"), lambda: semantic_hash(path)):
        try:
            call()
        except ReaderError as exc:
            assert str(path) in str(exc) and "\n" not in str(exc)


def test_text_cells_are_kept_as_digests_for_the_analysis(tmp_path):
    """A text column that is not the row key is no observation; its cells are kept as digests by
    '<rowkey>/<column>', so that the analysis can say when they differ between executions."""
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("region,volume,side\ngm,1.5,left\nwm,2.5,right\n")
    b.write_text("region,volume,side\ngm,1.5,right\nwm,2.5,right\n")
    ta, tb = load(a).meta["text"], load(b).meta["text"]
    assert set(ta) == {"gm/side", "wm/side"}
    assert ta["wm/side"] == tb["wm/side"] and ta["gm/side"] != tb["gm/side"]
