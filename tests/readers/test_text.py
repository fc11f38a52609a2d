"""Text reader: every number keyed by line and position; what counts as a number."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from reprovip.readers import load, semantic_hash
from reprovip.readers.text import find_numbers, scan

from .conftest import reader_error


def test_numbers_keyed_by_line_and_position(tmp_path):
    path = tmp_path / "fit.log"
    path.write_text("Fitting sub-01 (sha256:12e61109)\n\nchi2 = 1.25e-3, iterations: 42\nresult: -0.5 +7 nan\n")
    loaded = load(path)
    assert loaded.kind == "text"
    assert {k: float(v) for k, v in loaded.values.items() if k != "line4:2"} == {
        "line3:0": 1.25e-3,
        "line3:1": 42.0,
        "line4:0": -0.5,
        "line4:1": 7.0,
    }
    assert math.isnan(loaded.values["line4:2"])
    lines = dict(loaded.meta).pop("lines_digest")  # the lines whatever their order: see the reordered-lines test
    assert {k: v for k, v in loaded.meta.items() if k != "lines_digest"} == {
        "exact": {},
        "n_lines": 4,
        "n_numbers": 5,
        "n_overflow": 1,
        "encoding": "utf-8",
        "n_nonfinite": 1,
    }
    assert isinstance(lines, str) and len(lines) == 16
    assert semantic_hash(path) is None


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("1 22 333", [1.0, 22.0, 333.0]),
        ("x=-1.5e+2; y=.25; z=3.", [-150.0, 0.25, 3.0]),
        ("T1w mm3 var_2 v0.3.28 info", []),
        ("2024-01-05 12:30", [12.0, 30.0]),
        ("Inf -inf NaN infinity", [math.inf, -math.inf, math.nan, math.inf]),
        ("(1,2) [3] {4}", [1.0, 2.0, 3.0, 4.0]),
        ("1.2+3.4j", [1.2, 3.4]),  # a complex number: its two parts (review GG)
        # Identifiers give nothing; the old reader read 6, inf, 1.2 and 2.0, 3 and 1, 5 out of these.
        ("git 6c1fa9ea", []),
        ("sha256:12e61109...", []),
        ("v1.2.3-rc1 1.2.3 2.0.1-beta", []),
        ("run_3 run-3 sub-01 x-1 C++11", []),
        ("0x1F 0xFF 3fab 4abcdef9 5mm-thick 1.5mm_iso 1h30m", []),
        # digests of digits and hexadecimal letters (the code review of the unit rule): no unit in them
        ("8412ce3 1234ab2 4e2fa 12e61a 0ac3 0b2 -0x2 93e8319002d3 2.0b3", []),
        # a mantissa times a power of ten with its unit: one number (the exponent alone was read)
        ("1.52x10^-3mm3 vol 1.2x10^3mm3 12dB 16B", [1.52e-3, 1200.0, 12.0, 16.0]),
        # Punctuation delimits: `=`, `,`, `;`, `:`, brackets, quotes, `%`, `#`, `/` (so `1,234` is two numbers:
        # thousands separators are not recognised); a final `.` or `...` ends a sentence. The old reader also
        # read the 6 of `6mm` (now read: a number with its unit glued on, below).
        (
            "x=1.5, y=(2e-3); z:-4 '7' 95% #3 1/2 1,234 is 1.5. loading 50... 6mm",
            [1.5, 2e-3, -4, 7, 95, 3, 1, 2, 1, 234, 1.5, 50, 6],
        ),
        # A unit glued on: the number is read (as identifiers, a volume and a T2* that varied by 10% passed, a
        # review): letters with at most one trailing digit (`mm3`) or `²`/`³`, then what ends any number.
        (
            "volume: 4231.7mm3 T2*=45.30ms R2*=22.075Hz took 3.2s. 5mm, 12.5mm/s 4231.7mm\u00b3 1.5T -3.5mm .5ms",
            [4231.7, 45.3, 22.075, 3.2, 5, 12.5, 4231.7, 1.5, -3.5, 0.5],
        ),
        # The words keep their meaning, a sentence may end after them (the old reader dropped `nan.`).
        ("nan. -inf, (Infinity) 1.2.3", [math.nan, -math.inf, math.inf]),
        # Fortran's E fields written into each other (a review: an identifier, a 30% change passed); a sign after
        # a number without exponent is still no new number (`2024-01`, `1e5-3`)
        (" AMP/SHIFT 2.71307E+01-1.50000E+00-1.00000E+00", [27.1307, -1.5, -1.0]),
        ("FIT 1.00000D+00+2.50000D-01 1e5-3 2024-01-05", [1.0, 0.25]),
        ("range 1e-3-1e-2 run 2026-11-30T10:07:42", [7.0, 42.0]),  # a range (no point, 1-digit exponents): as before
        # the Microsoft C runtime's non-finite values (a review: `1.#INF00` was 1.0)
        ("amp 1.#INF00 -1.#IND00 1.#QNAN0 1.#SNAN 2.5", [math.inf, math.nan, math.nan, math.nan, 2.5]),
        # review F: ASCII's `+-` for ± (the SD was dropped: a 30% change passed), a range from a negative number
        # (its end was dropped), dot leaders (the volume glued to `.` was dropped); `sub01--2`, `1.2.3` stay words
        ("T1 = 1175.0 +-18.3 ms, 1.2+-0.3", [1175.0, 18.3, 1.2, 0.3]),
        # review J: `+-` not after a number is the sign printf("+%g") writes of a negative number; a sign after
        # dot leaders, a Unicode one too, is kept
        ("shift: +-0.25 mm, a: +-15.2, x+-3", [-0.25, -15.2]),
        ("Asymmetry index.......\u22123.5, idx...\u20132, x..-1", [-3.5, -2.0, -1.0]),
        ("bounding box x: -72.5--12.0 mm, 5--3mm, sub01--2 --threads 4", [-72.5, -12.0, 5.0, -3.0, 4.0]),
        ("Grey matter volume............691.37 ml, CSF....-.5, 1..5 v1.2.3 wait...", [691.37, -0.5, 1.0, 5.0]),
    ],
)
def test_find_numbers(line, expected):
    """The rule of docs/readers.md: a number stands on its own, glued to no letter, digit, `_`, `.`, `+` or
    `-`; `inf`, `nan` and `infinity` (any case, optional sign) are numbers as whole words."""
    found = find_numbers(line)
    assert len(found) == len(expected)
    assert all(a == b or (math.isnan(a) and math.isnan(b)) for a, b in zip(found, expected, strict=True))


def test_any_suffix_when_declared_and_latin1(tmp_path):
    path = tmp_path / "report.rpt"
    path.write_bytes("volume 12 µl\n".encode("latin-1"))
    loaded = load(path, kind="text")
    assert float(loaded.values["line1:0"]) == 12.0 and loaded.meta["encoding"] == "cp1252"


def test_binary_file_declared_as_text(tmp_path):
    path = tmp_path / "image.out"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with reader_error(path, "binary content (NUL byte at offset 8) where text was expected"):
        load(path, kind="text")


@pytest.mark.parametrize("literal", ["12e61109", "-1e400", "+9e999"])
def test_overflowing_literal_is_an_identifier(literal):
    """Python's float() turns these into +-inf; written without `inf` they are digests, not infinities."""
    assert math.isinf(float(literal))
    assert scan(f"digest {literal} ok 2") == ([2.0], 1, {}, [])


def test_real_world_log_line(tmp_path):
    """A Python `logging` line of an ANTs run: the time of day counts (`:` and `,` delimit), the hyphenated
    date, the version, the digests and the labels do not; `HD95=1.5mm` (a unit glued to its number) is 1.5. The
    old reader found 15 numbers, among them the date, the version, the commit, the subject and the digest as
    infinity."""
    path = tmp_path / "run.log"
    path.write_text(
        "2024-05-03 14:02:11,532 INFO antspyx-0.4.2 (git 6c1fa9ea, sha256:12e61109a2b4) sub-01 run_3: "
        "Dice=0.9312, HD95=1.5mm, volume 1.5e3 mm3, elapsed 12.5 s\n"
    )
    loaded = load(path)
    assert {k: float(v) for k, v in loaded.values.items()} == {
        "line1:0": 14.0,
        "line1:1": 2.0,
        "line1:2": 11.0,
        "line1:3": 532.0,
        "line1:4": 0.9312,
        "line1:5": 1.5,
        "line1:6": 1500.0,
        "line1:7": 12.5,
    }
    assert loaded.meta["n_nonfinite"] == 0 and loaded.meta["n_overflow"] == 0


# --- signs and notations a typeset log writes (a review) ---------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # U+2212 MINUS SIGN, as locale-aware formatters print it: read as a delimiter, -0.5 was 0.5
        ("asymmetry \u22120.5, \u2212.25 \u2212inf", [-0.5, -0.25, -math.inf]),
        # the figure, en and em dashes, the horizontal bar, the small and the fullwidth hyphen-minus
        ("\u20121 \u20132 \u20143 \u20154 \ufe635 \uff0d6", [-1.0, -2.0, -3.0, -4.0, -5.0, -6.0]),
        # between numbers a dash is a range, and a dash before a space no sign: as before, and as ASCII `5 - 3`
        ("ci 1.28\u20131.57, 5 \u2212 3", [1.28, 1.57, 5.0, 3.0]),
        # in an exponent: 1.5E\u22123 was read as 3
        ("k = 1.5E\u22123 /s", [1.5e-3]),
    ],
)
def test_a_unicode_minus_is_a_minus_sign(line, expected):
    assert find_numbers(line) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("k = 1.52x10^-3 /s", [1.52e-3]),  # only -3 was read: a mantissa that varied by 30% went unseen
        ("k = 1.52\u00d710\u207b\u00b3 /s", [1.52e-3]),  # only the 10 was read
        ("\u22121.5 \u00d7 10\u00b3, 2 * 10**4, 3.1X10^(\u22122), 4\u00b710^{5}", [-1500.0, 2e4, 0.031, 4e5]),
        ("grid 64 x 10, tol 10^-3", [64.0, 10.0, 10.0, -3.0]),  # no mantissa, or no exponent: two numbers
    ],
)
def test_a_mantissa_times_a_power_of_ten_is_one_number(line, expected):
    assert find_numbers(line) == expected


def test_a_hexadecimal_float_is_a_number_and_its_exact_value_is_kept(tmp_path):
    """C's `%a` and Python's `float.hex` write exact hexadecimal floats; `0x1F` (no exponent) stays an id."""
    assert find_numbers("vol 0x1.4bp+1 -0X.8P-1 0x1F") == [2.5859375, -0.25]
    assert scan("x 0x1.00000000000001p+0 0x1p+1") == ([1.0, 2.0], 0, {0: "0x100000000000001p-56"}, [])
    assert scan("big 0x1p+5000") == ([], 1, {}, [])


def test_a_sign_flip_written_with_unicode_minus_is_a_difference(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("volume 10.000 asymmetry \u22120.100 rate 1.52\u00d710\u207b\u00b3\n", encoding="utf-8")
    b.write_text("volume 10.000 asymmetry 0.100 rate 1.98\u00d710\u207b\u00b3\n", encoding="utf-8")
    va = {k: float(v) for k, v in load(a).values.items()}
    vb = {k: float(v) for k, v in load(b).values.items()}
    assert va == {"line1:0": 10.0, "line1:1": -0.1, "line1:2": 1.52e-3}
    assert vb == {"line1:0": 10.0, "line1:1": 0.1, "line1:2": 1.98e-3}


def test_base64_of_a_vtk_xml_file_is_encoded_text_and_no_number_is_read_inside_it(tmp_path):
    """VTK XML writes `format="binary"` arrays as plain base64 (no gzip): numbers between its `/` were read as
    observations; the run is one digest, the numbers around it stay."""
    import base64

    import numpy as np

    points = (np.random.default_rng(1).random((10, 3)) * 80).astype("<f4").tobytes()
    data = base64.b64encode(len(points).to_bytes(4, "little") + points).decode()
    data = data[:70] + "/12/" + data[74:]  # digits between slashes, as random base64 holds them
    path = tmp_path / "surf.vtp"
    path.write_text(
        '<VTKFile type="PolyData" version="0.1">\n<Piece NumberOfPoints="10">\n'
        f'<DataArray type="Float32" NumberOfComponents="3" format="binary">\n{data}\n</DataArray>\n</Piece>\n'
    )
    loaded = load(path, kind="text")
    assert {k: float(v) for k, v in loaded.values.items()} == {
        "line1:0": 0.1,
        "line2:0": 10.0,
        "line3:0": 3.0,  # Float32 is a word
    }
    assert list(loaded.meta["text"]) == ["line4:base64:0"]
    assert "a VTK file" in loaded.meta["number_like_text"]["line4:base64:0"]


def test_short_base64_of_an_element_declared_binary_is_encoded(tmp_path):
    """Two points of a VTK array are 32 base64 characters, under the 64 that make a run: the numbers around were
    all there was, identical, and a change of the points passed (a review of the GIfTI case)."""
    import base64

    import numpy as np

    def vtp(path, points):
        data = base64.b64encode(np.asarray(points, "<f4").tobytes()).decode()
        path.write_text(
            '<VTKFile type="PolyData">\n<Piece NumberOfPoints="2">\n'
            f'<DataArray type="Float32" format="binary">\n  {data}\n</DataArray>\n'
            f'<DataArray type="Float32" format="binary">{data}</DataArray>\n'
            '<DataArray type="Float32" format="ascii">\n 1.5 2.5\n</DataArray>\n</Piece>\n'
        )
        return load(path, kind="text")

    a, b = vtp(tmp_path / "a.vtp", [1, 2, 3, 4, 5, 6]), vtp(tmp_path / "b.vtp", [1, 2, 3, 4, 5, 6.5])
    assert set(a.meta["text"]) == {"line4:base64:0", "line6:base64:0"}
    assert a.meta["text"] != b.meta["text"]
    assert {k: float(v) for k, v in a.values.items()} == {"line2:0": 2.0, "line8:0": 1.5, "line8:1": 2.5}


def test_base64_wrapped_on_several_lines_is_one_run(tmp_path):
    """MIME and PEM wrap base64 at 76 or 64 characters: the short last line belongs to the run (its change is
    seen), and a number on the next line is still a number."""
    import base64

    data = base64.b64encode(bytes(range(200))).decode()  # 268 characters
    lines = [data[i : i + 76] for i in range(0, len(data), 76)]
    path = tmp_path / "embedded.txt"
    path.write_text("image:\n" + "\n".join(lines) + "\nvolume 1.5\n")
    loaded = load(path)
    assert {k: float(v) for k, v in loaded.values.items()} == {"line6:0": 1.5}
    assert list(loaded.meta["text"]) == ["line2:base64:0"]
    assert "268 characters on 4 lines" in loaded.meta["number_like_text"]["line2:base64:0"]
    path.write_text("image:\n" + "\n".join([*lines[:-1], "A" + lines[-1][1:]]) + "\nvolume 1.5\n")
    assert load(path).meta["text"] != loaded.meta["text"]


@pytest.mark.parametrize(
    "token",
    [
        "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        "b3sum " + "AF1349B9F5F9A1A6A0404DEA36DCC9499BCB25C9ADC112B7CC9A93CAE41F3262" * 2,
        "md5 5d41402abc4b2a76b9719d911017c592 uuid 123e4567-e89b-12d3-a456-426614174000",
        "input /home/researcher/projects/reproducibility/derivatives/freesurfer/sub01/surf/lhwhite",
        "loaded from /Users/JaneDoe/Documents/Study2024/Derivatives/FreeSurfer/Sub01/Surf/LhWhite",
        "data/sub-01/ses-01/anat/sub-01_ses-01_desc-preproc_T1w.nii.gz " + "x" * 40,
        "count " + "12345678901234567890123456789012345678901234567890123456789012345",
    ],
)
def test_digests_uuids_paths_and_short_tokens_are_no_encoded_data(tmp_path, token):
    """A false alarm would call a study not analysable: hexadecimal digests (either case), UUIDs, paths and
    long numbers are what they were."""
    path = tmp_path / "run.log"
    path.write_text(f"{token}\nresult 1.5\n")
    assert "text" not in load(path).meta


def test_ansi_colours_around_numbers_are_removed(tmp_path):
    """A review: `\\x1b[32m11.5\\x1b[0m` glued 11.5 to `m`, an identifier, and a +10 change passed. The numbers are
    those a terminal shows, under the same names as without colours."""
    coloured, plain = tmp_path / "coloured.log", tmp_path / "plain.log"
    g, z = "\x1b[32m", "\x1b[0m"
    coloured.write_text(
        f"INFO step 1 of 2\nINFO volume: {g}11.5{z} mm3 \x1b]0;title\x07\nINFO thickness: \x1b[1;31m{g}23.000{z}\x1b(B\n"
    )
    plain.write_text("INFO step 1 of 2\nINFO volume: 11.5 mm3 \nINFO thickness: 23.000\n")
    got = {k: float(v) for k, v in load(coloured).values.items()}
    assert got == {k: float(v) for k, v in load(plain).values.items()}
    assert got == {"line1:0": 1.0, "line1:1": 2.0, "line2:0": 11.5, "line3:0": 23.0}


def test_python_underscore_grouping_is_one_number():
    """A review: `6_234.5` (Python's f"{v:_.1f}") was an identifier and a +5000 change passed. Groups of three
    after a first group of one to three digits (what Python writes) are one number; dates, names and other
    underscored digits stay identifiers."""
    assert find_numbers("volume 6_234.5 mm3, voxels: 1_734_567, shift -1_234e-2") == [6234.5, 1734567.0, -12.34]
    assert find_numbers("2024_01_05 run_1_234 12_34 1_2345 001_002 1__234 1_234_") == []


def test_a_progress_bar_is_what_the_terminal_shows(tmp_path: Path) -> None:
    """Review G: a tqdm-like bar drawn with `\\r` on one line made each update a line, so the result on line 3
    (`grep -n`) was `line8:0`, and a bar updated more or fewer times gave the executions other observations."""
    fast, slow = tmp_path / "fast.log", tmp_path / "slow.log"
    fast.write_text("fit\n  0%\r 50%\r100%|done\nTotal volume: 5.25\n")
    slow.write_text("fit\n  0%\r 10%\r 20%\r 60%\r100%|done\nTotal volume: 5.25\n")
    a, b = load(fast, kind="text"), load(slow, kind="text")
    assert {k: float(v) for k, v in a.values.items()} == {"line2:0": 100.0, "line3:0": 5.25}
    assert a.values.keys() == b.values.keys() and a.meta["n_lines"] == 3


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # classic Mac OS line ends (a CR alone): only the last line was read, and a changed FA passed (review TX)
        (b"Subject result\rmean FA: 0.9731\rvoxels: 1234", {"line2:0": 0.9731, "line3:0": 1234.0}),
        (b"mean FA: 0.9731\rvoxels: 1234\r", {"line1:0": 0.9731, "line2:0": 1234.0}),
        # MATLAB's fprintf('...\r\n') into a file opened 'wt' writes `\r\r\n`: the result lines were blank
        (
            b"TE = 30 ms\r\nNAA/Cr = 0.9731\r\r\nCho/Cr = 0.21\r\r\n",
            {"line1:0": 30.0, "line2:0": 0.9731, "line3:0": 0.21},
        ),
    ],
)
def test_carriage_returns_ending_lines_keep_their_numbers(tmp_path: Path, data: bytes, expected: dict) -> None:
    path = tmp_path / "report.txt"
    path.write_bytes(data)
    assert {k: float(v) for k, v in load(path, kind="text").values.items()} == expected


def test_decimals_after_a_comma_keep_their_leading_zeros(tmp_path: Path) -> None:
    """Review TX: `0,0123` and `0,123` (R's OutDec=",") were both 0 and 123: a tenfold change of a cost passed."""
    values = []
    for cost in ("0,0123", "0,123", "0,05", "0,005", "1,05E-03", "1,5E-03"):
        path = tmp_path / "fit.log"
        path.write_text(f"Endkosten: {cost} nach 57 Iterationen\n")
        values.append(tuple(float(v) for v in load(path, kind="text").values.values()))
    assert len(set(values)) == len(values)
    assert values[0] == (0.0, 0.0123, 57.0) and values[1] == (0.0, 123.0, 57.0)
    assert find_numbers("1,234 and 3,10,20") == [1.0, 234.0, 3.0, 10.0, 20.0]  # no leading zero: as before


def test_a_windows_en_dash_minus_is_a_minus(tmp_path: Path) -> None:
    """Review TX: cp1252's 0x96 (an en dash written for a minus) read as Latin-1 was a control character, and a
    sign flip passed."""
    path = tmp_path / "phase.txt"
    path.write_bytes("Zero-order phase: –0.321 rad, µ 1\n".encode("cp1252"))
    loaded = load(path, kind="text")
    assert [float(v) for v in loaded.values.values()] == [-0.321, 1.0] and loaded.meta["encoding"] == "cp1252"


def test_a_printed_number_beyond_float64_keeps_its_exact_text(tmp_path: Path) -> None:
    """Review DG: `likelihood ratio = 1.5e+414` under threads=1 and `2.5e+414` under threads=2 were skipped as
    identifiers (the digest `12e61109` is one) and the study passed; read as infinity (review R4), one printed
    alike in every run made a reproducible tool "not analysable". A decimal point or a signed exponent makes it a
    number beyond float64: no value, its exact text kept (the analysis compares it between executions)."""
    path = tmp_path / "fit.log"
    path.write_text("likelihood ratio = 1.5e+414, digest 12e61109 or 1e400, 2.5D+999, p 0.5\n")
    loaded = load(path, kind="text")
    assert {k: float(v) for k, v in loaded.values.items()} == {"line1:0": 0.5}
    assert loaded.meta["exact"] == {"line1:beyond0": "1.5E+414", "line1:beyond1": "2.5E+999"}
    assert loaded.meta["n_overflow"] == 4
