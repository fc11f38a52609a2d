"""Table reader: observation names, key columns, delimiters, semantic hash and errors on real CSV/TSV."""

from __future__ import annotations

import gzip
import itertools
import math
from pathlib import Path

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
    # a column written empty in every row is NaN cells listed as empty, as an empty cell among numbers is (review F)
    assert loaded.meta["n_nonfinite"] == 7 and all(math.isnan(values[f"{k}/empty"]) for k in "abcd")
    assert loaded.meta["empty"] == ["a/empty", "b/x", "b/empty", "c/empty", "d/empty"]
    assert loaded.meta["ignored_columns"] == []


def test_nan_as_c_programs_print_it(tmp_path):
    """glibc's printf writes a negative NaN `-nan`, MSVC `-nan(ind)`: a column of such results was an error ("not
    a number, although 2 other cells of this column are"), now NaN, counted as non-finite; in a headerless
    matrix too."""
    path = tmp_path / "t.csv"
    path.write_text("name,x\na,1\nb,-nan\nc,-nan(ind)\nd,+NaN\ne,2\n")
    loaded = load(path)
    values = _values(loaded)
    assert [k for k, v in values.items() if math.isnan(v)] == ["b/x", "c/x", "d/x"]
    assert loaded.meta["n_nonfinite"] == 3
    path.write_text("-nan,1.5\n2,3\n")
    loaded = load(path)
    assert loaded.meta["header"] is False and math.isnan(_values(loaded)["0/1"])


def test_a_column_of_nan_written_is_numeric_and_an_empty_one_is_listed_empty(tmp_path):
    """A review: `name,value / vol,nan` in one execution made `vol/value` no observation, and the analysis said
    the executions "wrote different rows" instead of naming the NaN. A column written empty in every row is
    NaN cells listed empty (review F: ignored, a one-row table's `NA` read "different fields")."""
    path = tmp_path / "t.csv"
    path.write_text("name,value,blank\nvol,nan,\narea,NA,n/a\n")
    loaded = load(path)
    values = _values(loaded)
    assert list(values) == ["vol/value", "vol/blank", "area/value", "area/blank"]
    assert all(math.isnan(v) for v in values.values())
    assert loaded.meta["numeric_columns"] == ["value", "blank"] and loaded.meta["ignored_columns"] == []
    assert loaded.meta["empty"] == ["vol/blank", "area/value", "area/blank"]
    # a header without rows has no value at all
    path.write_text("name,value\n")
    assert _values(load(path)) == {} and load(path).meta["ignored_columns"] == ["name", "value"]


def test_true_false_columns_are_one_and_zero(tmp_path):
    """A `converged` column flipping True -> False was a text cell (a warning), while the same flip in JSON
    (read as 1/0) failed (review). Missing cells stay NaN; words beside booleans keep the column text."""
    path = tmp_path / "t.tsv"
    path.write_text("name\tconverged\tmixed\na\tTrue\ttrue\nb\tFALSE\tmaybe\nc\tn/a\tfalse\n")
    loaded = load(path)
    values = _values(loaded)
    assert (values["a/converged"], values["b/converged"]) == (1.0, 0.0) and math.isnan(values["c/converged"])
    assert not any(k.endswith("/mixed") for k in values)


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
    assert _values(loaded) == {"A/vol_µl": 1.0} and loaded.meta["encoding"] == "cp1252"


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
        (
            "name,vol\nA,1,2,3\n",
            {},
            "line 2 has 4 fields but the header has 2 fields; check the delimiter and the quoting, or declare the output `kind: text`",
        ),
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


# --- percentages and decimal commas (docs/readers.md, "Tables") -------------------------------------------


def test_percent_cells_are_the_number_as_written_like_the_text_reader(tmp_path):
    """Before: a column of '95.1%' was text, its changes only a warning, while the text reader read 95.1."""
    path = tmp_path / "r.csv"
    path.write_text("k,vol,coverage\nx,1.5,95.1%\ny,2,12 %\nz,3,-0.5%\nw,4,NA\n")
    loaded = load(path)
    values = _values(loaded)
    assert {k: v for k, v in values.items() if k != "w/coverage"} == {
        "x/vol": 1.5,
        "y/vol": 2.0,
        "z/vol": 3.0,
        "w/vol": 4.0,
        "x/coverage": 95.1,
        "y/coverage": 12.0,
        "z/coverage": -0.5,
    }
    assert math.isnan(values["w/coverage"])
    assert loaded.meta["numeric_columns"] == ["vol", "coverage"] and loaded.meta["text"] == {}
    log = tmp_path / "r.log"
    log.write_text("coverage 95.1% 12 % -0.5%\n")
    assert [float(v) for v in load(log).values.values()] == [95.1, 12.0, -0.5]


def test_percent_column_is_no_longer_the_row_key(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("coverage,vol\n95%,1\n80%,2\n")
    assert _values(load(path)) == {"0/coverage": 95.0, "0/vol": 1.0, "1/coverage": 80.0, "1/vol": 2.0}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("k;v;w\nx;10,1;1\n", {"x/v": 10.1, "x/w": 1.0}),
        # 0,5 and 2,25 cannot group thousands: the column writes decimal commas, so 1,234 is 1.234
        ("k;v\na;0,5\nb;1,234\nc;12\nd;2,25\n", {"a/v": 0.5, "b/v": 1.234, "c/v": 12.0, "d/v": 2.25}),
        ("k;p;e\na;95,1 %;-2,5e3\nb;7,0%;+0,125\n", {"a/p": 95.1, "a/e": -2500.0, "b/p": 7.0, "b/e": 0.125}),
    ],
    ids=["review-case", "ambiguous-cell-in-decimal-column", "percent-sign-exponent"],
)
def test_decimal_commas_are_read_in_semicolon_tables(tmp_path, content, expected):
    """Before: '10,1' in a ';' table was text; its changes were only a warning."""
    path = tmp_path / "r.txt"
    path.write_text(content)
    loaded = load(path, kind="table")
    assert loaded.meta["delimiter"] == ";" and _values(loaded) == expected
    assert loaded.meta["number_like_text"] == {} and loaded.meta["text"] == {}


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        ("r.txt", "k;v\na;1,234\nb;12,500\n", "'1,234' may be a decimal comma or a thousands separator"),
        (
            "r.txt",
            "k;v\na;1,5\nb;2,5\nc;2.5\n",
            "decimal commas ('1,5') and points ('2.5') in one column: one of them may group thousands",
        ),
        ("r.tsv", "k\tv\na\t1,5\n", "decimal comma ('1,5') in a table delimited by tabs: read as numbers only in "),
        ("r.csv", 'k,v\na,"1,5"\n', "decimal comma ('1,5') in a table delimited by ',': read as numbers only in "),
        ("r.txt", "k v\na 1,5\n", "decimal comma ('1,5') in a table delimited by whitespace: read as numbers only"),
    ],
    ids=["thousands-or-decimal", "commas-and-points", "tsv", "quoted-csv", "whitespace"],
)
def test_ambiguous_decimal_commas_stay_text_and_say_why(tmp_path, name, content, why):
    path = tmp_path / name
    path.write_text(content)
    loaded = load(path, kind="table")
    assert loaded.values == {}
    assert set(loaded.meta["number_like_text"]) == {"v"} and loaded.meta["number_like_text"]["v"].startswith(why)
    # text, as before: every cell kept as a digest so that the analysis can say when it differs
    assert loaded.meta["ignored_columns"] == ["v"]
    assert sorted(loaded.meta["text"]) == [f"{k}/v" for k in "abc"[: loaded.meta["n_rows"]]]


def test_decimal_commas_beside_a_majority_of_points_are_an_error_that_says_why(tmp_path):
    path = tmp_path / "r.txt"
    path.write_text("k;v\na;1.5\nb;2.5\nc;1,5\n")
    phrase = (
        "line 4, column 'v': '1,5' is not a number, although 2 other cells of this column are (decimal commas "
        "('1,5') and points ('1.5') in one column: one of them may group thousands)"
    )
    with reader_error(path, phrase):
        load(path, kind="table")


def test_a_csv_file_delimited_by_semicolons_is_read(tmp_path) -> None:
    """Spreadsheets in locales with decimal commas write `.csv` files delimited by `;`: they were read with `,`
    and every row failed ("line 2 has 2 fields but the header has 1 field")."""
    path = tmp_path / "r.csv"
    path.write_text("region;volume\nleft;1,5\nright;2,25\n")
    loaded = load(path, kind="table")
    assert loaded.meta["delimiter"] == ";"
    assert {k: float(v) for k, v in loaded.values.items()} == {"left/volume": 1.5, "right/volume": 2.25}
    comma = tmp_path / "c.csv"
    comma.write_text("region,note\nleft,a;b\n")  # a comma in the header: commas delimit, whatever the cells hold
    assert load(comma, kind="table").meta["delimiter"] == ","


def test_a_savetxt_matrix_has_no_header_its_columns_are_numbered(tmp_path):
    """np.savetxt writes no header: its first row was read as one ('could not be read ... missing
    '0/29.937627'', review case 15-headerless-matrix). Every row is data, columns are named 1, 2, 3."""
    matrix = np.array([[0.0, 29.937627, -3.5e-4], [29.937627, 0.0, 1.25], [np.nan, 1.25, 0.0]])
    path = tmp_path / "connectome.csv"
    np.savetxt(path, matrix, delimiter=",", fmt="%.6f")
    loaded = load(path)
    assert loaded.meta["header"] is False
    assert loaded.meta["columns"] == loaded.meta["numeric_columns"] == ["1", "2", "3"]
    assert loaded.meta["n_rows"] == 3 and loaded.meta["key_columns"] == []
    values = _values(loaded)
    assert set(values) == {f"{i}/{j}" for i in range(3) for j in (1, 2, 3)}
    assert values["0/2"] == 29.937627 and values["0/3"] == -0.00035 and values["2/2"] == 1.25
    assert math.isnan(values["2/1"]) and loaded.meta["n_nonfinite"] == 1
    other = tmp_path / "default.txt"  # savetxt's defaults: space-delimited, %.18e
    np.savetxt(other, matrix[:2])
    assert _values(load(other, kind="table")) == {k: v for k, v in values.items() if not k.startswith("2/")}


def test_an_fsl_mat_affine_with_double_spaces_is_four_numbered_columns(tmp_path):
    """FSL (flirt -omat) writes a 4x4 affine as '%f  ' cells: two spaces between and after them. Its first row
    read as a header gave "column '0.000000' appears twice; give the columns unique names"."""
    affine = [[1.0, 0.0, 0.0, -2.5], [0.0, 0.999848, -0.017452, 3.0], [0.0, 0.017452, 0.999848, 0.0], [0, 0, 0, 1]]
    path = tmp_path / "struct2mni.mat"
    path.write_text("".join("".join(f"{x:f}  " for x in row) + "\n" for row in affine))
    loaded = load(path, kind="table")
    assert loaded.meta["header"] is False and loaded.meta["delimiter"] == " "
    assert _values(loaded) == {f"{i}/{j + 1}": float(affine[i][j]) for i in range(4) for j in range(4)}


@pytest.mark.parametrize(
    ("content", "columns", "values"),
    [
        # numeric-looking names beside a word: a header (label ids as columns)
        ("region,1,2\nA,0.5,0.25\nB,1.5,2.5\n", ["region", "1", "2"], {"A/1": 0.5, "A/2": 0.25, "B/1": 1.5}),
        ("2019,2020,total\n1.5,2.5,4\n", ["2019", "2020", "total"], {"0/2019": 1.5, "0/2020": 2.5, "0/total": 4.0}),
        # pandas above an index: an empty name is no number
        (",0,1\n0,0.5,0.25\n1,1.5,2.5\n", ["Unnamed: 0", "0", "1"], {"0/0": 0.5, "1/1": 2.5}),
    ],
    ids=["key-and-ids", "years-and-word", "pandas-index"],
)
def test_a_header_with_a_word_or_an_empty_name_is_a_header(tmp_path, content, columns, values):
    path = tmp_path / "t.csv"
    path.write_text(content)
    loaded = load(path)
    assert loaded.meta["header"] is True and loaded.meta["columns"] == columns
    assert _values(loaded).items() >= values.items()


def test_a_headerless_table_trailing_delimiters_and_key_columns(tmp_path):
    """Trailing delimiters are no columns; `key_columns` naming a column a headerless table does not have says
    why the columns are 1, 2."""
    path = tmp_path / "t.csv"
    path.write_text("1.5,2,\n3,4e-1,\n")
    assert _values(load(path)) == {"0/1": 1.5, "0/2": 2.0, "1/1": 3.0, "1/2": 0.4}
    with reader_error(path, "missing key column 'id' (columns are: 1, 2; the first row is all numbers, so the table"):
        load(path, key_columns=("id",))
    path.write_text("1,2\n3,4,5\n")
    with reader_error(path, "line 2 has 3 fields but the first row has 2 fields"):
        load(path)


def test_identical_headerless_matrices_are_identical_and_a_changed_cell_is_measured(tmp_path):
    """End to end (ingest, analyse): identical savetxt matrices read "could not be read" and a real change "not
    analysable" when their first row was the header. Cell (0, 1) + d in repetition 2 of subject s, d = 5 (s + 1):
    each subject's variance of (x, x + d, x) is d**2 / 3, so the pooled within-subject SD is
    sqrt((25 + 100 + 225) / 9) (hand-computed); ICC(A,1) is pingouin's on the same numbers; the 8 other cells are
    identical."""
    import io

    import pingouin as pg

    from tests.conftest import ingested

    def matrix(s: int, r: int, delta: float) -> np.ndarray:
        m = np.arange(9.0).reshape(3, 3) * (s + 1.5)
        m[0, 1] += delta * (s + 1) if r == 2 else 0.0
        return m

    def study(root, delta):
        root.mkdir()
        files = {}
        for s, r in itertools.product(range(3), (1, 2, 3)):
            buf = io.StringIO()
            np.savetxt(buf, matrix(s, r, delta), delimiter=",", fmt="%.6f")
            files[(f"s{s}", r)] = {"c.csv": buf.getvalue()}
        return ingested(root, "  c: {path: c.csv, kind: table}\n", files).analyze().document

    same = study(tmp_path / "same", 0.0)
    assert same["verdict"]["status"] == "identical"
    (out,) = same["outputs"]
    assert [r["criterion"] for r in out["verdict"]["reasons"]] == ["identical"]
    assert len(out["observations"]) == 9 and all(o["identical"] for o in out["observations"])

    changed = study(tmp_path / "changed", 5.0)
    (out,) = changed["outputs"]
    by_name = {o["name"]: o for o in out["observations"]}
    assert sorted(by_name) == [f"{i}/{j}" for i in range(3) for j in (1, 2, 3)]
    assert [n for n, o in by_name.items() if not o["identical"]] == ["0/2"]
    assert by_name["0/2"]["wsd"] == pytest.approx(math.sqrt(350 / 9), rel=1e-12)
    long = pd.DataFrame(
        [(s, r, matrix(s, r, 5.0)[0, 1]) for s, r in itertools.product(range(3), (1, 2, 3))],
        columns=["subject", "rep", "value"],
    )
    icc = pg.intraclass_corr(long, targets="subject", raters="rep", ratings="value").set_index("Type")
    assert by_name["0/2"]["icc"]["ICC(A,1)"]["value"] == pytest.approx(icc.loc["ICC(A,1)", "ICC"], rel=1e-9)
    assert changed["verdict"]["status"] == "fail"


def test_a_utf16_table_is_read(tmp_path):
    """What Windows PowerShell 5's `>` writes: UTF-16 with a byte-order mark. It was "binary content (NUL byte
    at offset 3)" (review)."""
    path = tmp_path / "t.csv"
    path.write_bytes("name,x\r\na,1.5\r\nb,2\r\n".encode("utf-16"))
    loaded = load(path)
    assert _values(loaded) == {"a/x": 1.5, "b/x": 2.0} and loaded.meta["encoding"] == "utf-16"


@pytest.mark.parametrize(
    ("name", "content", "columns", "first"),
    [
        # MRtrix3: dwi2response's response, tck2connectome's matrix, each under its `# command_history:` line
        (
            "r.txt",
            "# command_history: dwi2response tournier /d/sub-01/dwi.mif r.txt\n3200 -1300 400\n2100 -1000 300\n",
            ["1", "2", "3"],
            {"0/1": 3200.0, "1/3": 300.0},
        ),
        (
            "c.csv",
            "# command_history: tck2connectome t.tck p.mif c.csv\n0,1.5,2.5\n1.5,0,3.5\n",
            ["1", "2", "3"],
            {"0/2": 1.5, "1/3": 3.5},
        ),
        # numpy's savetxt(header="x y z"), and a header written as a comment
        ("s.txt", "# x y z\n1.5 2.5 3.5\n4.5 5.5 6.5\n", ["x", "y", "z"], {"0/x": 1.5, "1/z": 6.5}),
        ("h.csv", "#id,value\na,1.5\nb,2.5\n", ["id", "value"], {"a/value": 1.5, "b/value": 2.5}),
        # review N: a note above the real header (c01), a history with as many tokens as columns (c02), and
        # numpy's savetxt footer (c26)
        ("n.csv", "# software,ANTs 2.5.0\nregion,volume\nhippo,3.5\n", ["region", "volume"], {"hippo/volume": 3.5}),
        ("w.txt", "# eddy QC summary\nvolume snr cnr\n1.5 2.5 3.5\n", ["volume", "snr", "cnr"], {"0/cnr": 3.5}),
        ("m.txt", "# command_history: a b\n1.5 2.5 3.5\n", ["1", "2", "3"], {"0/3": 3.5}),
        ("f.txt", "# x y\n1.5 2.5\n3.5 4.5\n# the footer\n", ["x", "y"], {"1/y": 4.5}),
    ],
)
def test_leading_comment_lines_are_skipped_or_are_the_header(tmp_path, name, content, columns, first) -> None:
    """Review K (mrtrix-comment): the `# command_history:` line was read as a header of one field, and every file
    was "line 2 has 3 fields but the header has 1 field"; the output was not analysable."""
    path = tmp_path / name
    path.write_text(content)
    got = load(path, kind="table")
    assert got.meta["columns"] == columns
    assert {n: float(got.values[n]) for n in first} == first


def test_a_comment_is_content_but_no_observation_and_line_numbers_stay_exact(tmp_path) -> None:
    """Review N (c03): a result in a leading comment (`# eTIV = ...`) changing by 30% read "bit-for-bit
    identical": comments are in the semantic hash (the files differ where no observation measures, said), not
    observations; a ragged row is still named by its line in the file."""
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("# eTIV = 1500000\n1.5 2.5\n3.5 4.5\n")
    b.write_text("# eTIV = 1950000\n1.5 2.5\n3.5 4.5\n")
    assert semantic_hash(a, kind="table") != semantic_hash(b, kind="table")
    assert load(a, kind="table").values == load(b, kind="table").values
    bad = tmp_path / "bad.txt"
    bad.write_text("# note\n# more\n1.5 2.5\n3.5\n")
    with pytest.raises(ReaderError, match="line 4 has 1 field but the first row has 2 fields"):
        load(bad, kind="table")


# --- numbers written as text, hexadecimal floats, long cells (a review) ------------------------------------

DECORATED = [
    "1.2\u00d710\u207b\u00b3",
    "~1.18",
    "1.28-1.57",
    "\u2248 12.5",
    "n=12.5",
    "12.5 (*)",
    "12.5/13",
    "n=12",
    "12/13",
    "p<0.05",
]


@pytest.mark.parametrize("cell", DECORATED)
def test_a_decorated_number_is_a_number_written_as_text(tmp_path, cell):
    """Read as plain text, such cells that varied by 30% between executions were only a warning (exit 0);
    named here, the analysis calls the output not analysable when they differ."""
    path = tmp_path / "r.csv"
    path.write_text(f"roi,volume,result\nhippo,1.5,{cell}\n", encoding="utf-8")
    loaded = load(path)
    assert _values(loaded) == {"hippo/volume": 1.5}
    assert loaded.meta["number_like_text"] == {"hippo/result": f"{cell!r} is a number written as text"}


def test_identifiers_dates_and_words_are_no_numbers_written_as_text(tmp_path):
    """Text with digits that names things (regions, subjects, files, versions, hosts, times) stays text: a
    warning when it differs, not a false alarm."""
    cells = [
        "sub-01",
        "Left-Cerebellum-Cortex",
        "ctx-lh-G_and_S_frontomargin",
        "3rd-Ventricle",
        "sub-01_desc-1.5mm_T1w.nii.gz",
        "run_1.5.csv",
        "fsl-6.0.7",
        "10.0.0.1",
        "node-1a",
        "run 3 of 5",
        "2026-11-29T16:07:30.123Z",
        "29/11/2026 16:07",
        "0:01:23.45",
        "20261129T160730",
        "3f2a9c1e",
        "<LOD",
    ]
    path = tmp_path / "r.tsv"
    path.write_text("i\tvolume\tname\n" + "".join(f"{i}\t1.5\t{c}\n" for i, c in enumerate(cells)))
    loaded = load(path, key_columns=("i",))
    assert len(loaded.meta["text"]) == len(cells) and loaded.meta["number_like_text"] == {}


def test_hexadecimal_floats_are_numbers(tmp_path):
    """C's `%a` and Python's `float.hex` round-trip float64 exactly; as text, their 30% changes were a
    warning. One float64 cannot hold is kept exactly, as a decimal with too many digits is."""
    path = tmp_path / "r.csv"
    path.write_text("roi,voxels,vol\nhippo,1000,0x1.4bp+1\namyg,2000,-0x1.8p-1\nthal,3000,0x1.00000000000001p+0\n")
    loaded = load(path)
    assert _values(loaded) == {
        "hippo/voxels": 1000.0,
        "hippo/vol": 2.5859375,
        "amyg/voxels": 2000.0,
        "amyg/vol": -0.75,
        "thal/voxels": 3000.0,
        "thal/vol": 1.0,
    }
    assert loaded.meta["numeric_columns"] == ["voxels", "vol"]
    assert loaded.meta["exact"] == {"thal/vol": "0x100000000000001p-56"}
    matrix = tmp_path / "m.txt"  # a headerless matrix written with %a: its first row is data
    matrix.write_text("0x1p+0 0x1.8p+1\n0x1p-1 0x0p+0\n")
    assert _values(load(matrix, kind="table")) == {"0/1": 1.0, "0/2": 3.0, "1/1": 0.5, "1/2": 0.0}


def test_fortran_exponents_and_msvc_non_finite_cells_are_numbers(tmp_path):
    """Fortran's `6.8410D+02` and the Microsoft C runtime's `1.#INF00` were text in a table (numbers in a
    log): a column of them that varied by 10% only warned, and an infinity passed as text (review KK)."""
    path = tmp_path / "fit.csv"
    path.write_text(
        "metab,conc,crlb\nNAA,6.8410D+02,1.#INF00\nCr,.5d-1,-1.#INF00\nCho,1.25D0,-1.#IND00\nmI,2.0,1.#QNAN0\n"
    )
    loaded = load(path)
    values = _values(loaded)
    assert {k: v for k, v in values.items() if "conc" in k} == {
        "NAA/conc": 684.1,
        "Cr/conc": 0.05,
        "Cho/conc": 1.25,
        "mI/conc": 2.0,
    }
    assert values["NAA/crlb"] == np.inf and values["Cr/crlb"] == -np.inf
    assert np.isnan(values["Cho/crlb"]) and np.isnan(values["mI/crlb"])
    assert loaded.meta["numeric_columns"] == ["conc", "crlb"] and loaded.meta["number_like_text"] == {}
    ids = tmp_path / "ids.csv"  # a hexadecimal id without a decimal point stays an id
    ids.write_text("run,vol\n099950d8,1.5\n12d3,2.5\n")
    assert load(ids).meta["key_columns"] == ["run"] and _values(load(ids)) == {"099950d8/vol": 1.5, "12d3/vol": 2.5}


def test_a_long_cell_of_a_well_formed_table_is_read(tmp_path):
    """The csv module's 128 KiB field limit called a well-formed table with a 200 kB cell "malformed"."""
    path = tmp_path / "r.csv"
    history = "x" * 200_000
    path.write_text(f'roi,vol,history\nA,1.5,{history}\nB,2.5,"{history},quoted"\n')
    loaded = load(path)
    assert _values(loaded) == {"A/vol": 1.5, "B/vol": 2.5}
    assert set(loaded.meta["text"]) == {"A/history", "B/history"}


def test_ansi_coloured_cells_are_the_numbers_a_terminal_shows(tmp_path):
    """A review: a tool's coloured stdout declared `{stdout}.csv` had cells `\\x1b[32m11.5\\x1b[0m`, plain text, and
    a +10 change passed. Without the escapes the cells are numbers; a colour change alone is no change of the
    semantic hash."""
    g, z = "\x1b[32m", "\x1b[0m"
    coloured, plain, bold = tmp_path / "c.csv", tmp_path / "p.csv", tmp_path / "b.csv"
    coloured.write_text(f"roi,vol,n\na,{g}11.5{z},1\n{g}b{z},\x1b[1;31m23.0\x1b[m,2\n")
    plain.write_text("roi,vol,n\na,11.5,1\nb,23.0,2\n")
    bold.write_text("roi,vol,n\na,\x1b[1m11.5\x1b[0m,1\nb,23.0,2\n")
    loaded = load(coloured, key_columns=("roi",))
    assert _values(loaded) == {"a/vol": 11.5, "a/n": 1.0, "b/vol": 23.0, "b/n": 2.0}
    assert _values(loaded) == _values(load(plain, key_columns=("roi",)))
    assert loaded.meta["text"] == {} and loaded.meta["number_like_text"] == {}
    assert semantic_hash(coloured) == semantic_hash(plain) == semantic_hash(bold)
    assert byte_hash(coloured) != byte_hash(plain)


@pytest.mark.parametrize("cell", ["6_234.5", "1_734_567", "-1_234.5 mm3"])
def test_python_underscore_grouping_is_a_number_written_as_text(tmp_path, cell):
    """A review: `6_234.5` (Python's f"{v:_.1f}") was a plain text cell, and a +5000 change passed; grouped
    with `,`, a space, an apostrophe or U+202F it was already a number written as text."""
    path = tmp_path / "t.tsv"
    path.write_text(f"roi\tvol\tn\na\t{cell}\t1\nb\t2_024_01\t2\n", encoding="utf-8")
    loaded = load(path)
    assert _values(loaded) == {"a/n": 1.0, "b/n": 2.0}
    assert loaded.meta["number_like_text"] == {"a/vol": f"{cell!r} is a number written as text"}


def test_a_trailing_delimiter_on_every_line_header_included_is_no_column(tmp_path: Path) -> None:
    """Review KK: `region\\tvol\\t` then `A\\t1.5\\t`: the header's empty last field became a column `Unnamed: 2`,
    empty in every row, and the verdict warned of empty cells. A column with values under an empty name stays."""
    path = tmp_path / "t.tsv"
    path.write_text("region\tvol\t\nA\t1.5\t\nB\t2.5\t\n")
    got = load(path, kind="table")
    assert sorted(got.values) == ["A/vol", "B/vol"] and got.meta["empty"] == []
    path.write_text("region\tvol\t\nA\t1.5\t7\nB\t2.5\t8\n")
    assert sorted(load(path, kind="table").values) == ["A/Unnamed: 2", "A/vol", "B/Unnamed: 2", "B/vol"]


def test_a_version_column_is_no_number_written_as_text(tmp_path: Path) -> None:
    """Review PT: a column naming a software version holds identifiers, even "1.1" among "1.1-rc" cells."""
    path = tmp_path / "fit.tsv"
    path.write_text("region\tsoftware_version\tnote\nputamen\t1.1\t~2.5\ncaudate\t1.1-rc\tn/a\n")
    loaded = load(path)
    assert loaded.meta["number_like_text"] == {"putamen/note": "'~2.5' is a number written as text"}


def test_a_column_of_number_tuples_is_read_element_by_element(tmp_path: Path) -> None:
    """Review RD: PyRadiomics writes spacing, size and centre of mass as tuples, `(12.000000000001, 34.5, 6.0)`;
    as numbers written as text, 1e-13 of thread noise there made a study not analysable. Each element is an
    observation `<rowkey>/<column>[i]`; a column mixing tuples and words stays text."""
    path = tmp_path / "r.csv"
    path.write_text(
        "lesion,com,spacing,note\n"
        'l1,"(12.000000000001, 34.5, 6.0)","(1.0, 1.0, 1.2)",(a)\n'
        'l2,"(1, 2, 3)","(1.0, 1.0, 1.2)",(2.5)\n'
    )
    loaded = load(path)
    values = _values(loaded)
    assert values["l1/com[0]"] == 12.000000000001 and values["l2/com[2]"] == 3.0 and values["l1/spacing[2]"] == 1.2
    assert loaded.meta["tuple_columns"] == ["com", "spacing"]
    assert loaded.meta["ignored_columns"] == ["note"] and "l1/com" not in loaded.meta["text"]


def test_tuple_elements_keep_their_exact_digits_and_never_shadow_a_column(tmp_path: Path) -> None:
    """Review F: a centre of mass printed with 21 digits as a tuple passed while the same digits in plain cells
    were "numbers float64 cannot hold exactly" (not analysable); a column `shift[0]` beside the tuple `shift`
    was dropped unsaid, its 20% change passing."""
    path = tmp_path / "r.csv"
    path.write_text('roi,com\ntumour,"(10.1000000000000000004, 9007199254740993, 2.5)"\n')
    loaded = load(path)
    assert loaded.meta["exact"] == {"tumour/com[0]": "10.1000000000000000004", "tumour/com[1]": "9007199254740993"}
    assert _values(loaded)["tumour/com[2]"] == 2.5
    path.write_text('roi,shift,shift[0]\nrest,"(1.5, 2.5)",3.5\n')
    with pytest.raises(ReaderError, match=r"same '<rowkey>/<column>' name 'rest/shift\[0\]'.*rename one"):
        load(path)


def test_comment_lines_are_text_named_by_their_order(tmp_path: Path) -> None:
    """Review RD: `# FIRST volumes; estimated ICV = 1543210.0 mm3` above the table changed by 10% under
    threads=2 and the warning said only "a string, a text column, a word": each comment line is a text field,
    `comment <n>`, named when it differs (no observation: comments hold run times and commands too)."""
    path = tmp_path / "v.csv"
    path.write_text("# FIRST volumes; estimated ICV = 1543210.0 mm3\nstructure,volume\nhippo,4000\n# done\n")
    loaded = load(path)
    assert _values(loaded) == {"hippo/volume": 4000.0}
    assert sorted(k for k in loaded.meta["text"] if k.startswith("comment")) == ["comment 1", "comment 2"]


def test_r_write_table_row_names_and_quotes(tmp_path) -> None:
    """Review TX: R's `write.table` (space-separated, strings quoted, row names without a header cell) read "line 2
    has 4 fields but the header has 3": its default row names (1..n) are the rows' order and are dropped, named
    ones are a column; quoted strings are cells, spaces kept."""
    path = tmp_path / "vols.txt"
    path.write_text('"tissue" "fa" "vol"\n"1" "GM" 1.0218 612.25\n"2" "left WM" 0.8817 498.5\n')
    loaded = load(path, kind="table")
    assert _values(loaded) == {"GM/fa": 1.0218, "GM/vol": 612.25, "left WM/fa": 0.8817, "left WM/vol": 498.5}
    path.write_text('"fa" "vol"\n"GM" 1.0218 612.25\n"WM" 0.8817 498.5\n')
    assert _values(load(path, kind="table")) == {"GM/fa": 1.0218, "GM/vol": 612.25, "WM/fa": 0.8817, "WM/vol": 498.5}
    path.write_text('"fa" "vol"\n1.0218 612.25\n0.8817 498.5 7\n')  # one row longer: ragged, refused
    with pytest.raises(ReaderError, match="line 3 has 3 fields but the header has 2 fields"):
        load(path, kind="table")


def test_a_column_of_time_stamps_is_no_row_key(tmp_path: Path) -> None:
    """Review F: `processed_at` (the first text column, unique) keyed a one-row table: every execution wrote other
    rows, "not analysable: compare their logs". It stays a text column; the row is keyed by the next one."""
    path = tmp_path / "t.csv"
    path.write_text("processed_at,icv_ml\n2026-12-02T13:48:32.613091,1500.5\n")
    loaded = load(path)
    assert _values(loaded) == {"0/icv_ml": 1500.5} and loaded.meta["key_columns"] == []
    assert list(loaded.meta["text"]) == ["0/processed_at"]
    path.write_text("processed_at,region,vol\n2026-12-02 13:48:32,hippo,4000\n")
    assert _values(load(path)) == {"hippo/vol": 4000.0}
    # review J: rows keyed by their acquisition times (reordered, they read "not reproducible" when not keyed)
    path.write_text("acquired,vol\n2024-01-01 10:00,4000\n2024-06-05 11:00,4100\n")
    assert load(path).meta["key_columns"] == ["acquired"]
