"""Shared helpers: suffix detection, one-line messages, gzip and text decoding."""

from __future__ import annotations

import gzip

import pytest

from reprovip.errors import ReaderError
from reprovip.readers.base import decode_text, fail, gunzip, suffix_of

from .conftest import reader_error


@pytest.mark.parametrize(
    ("name", "suffix"),
    [
        ("ab12ef.nii.gz", ".nii.gz"),
        ("sub.01.T1w.nii.gz", ".nii.gz"),
        ("T1.NII", ".nii"),
        ("fit.csv.gz", ".csv.gz"),
        ("fit.csv", ".csv"),
        ("README", ""),
        ("archive.gz", ".gz"),
    ],
)
def test_suffix_of(name, suffix):
    assert suffix_of(name) == suffix


def test_fail_is_one_line():
    error = fail("out/a.csv", "bad\nthing\r\n here", "do  this")
    assert isinstance(error, ReaderError)
    assert str(error) == "out/a.csv: bad thing here; do this"


def test_gunzip_passes_plain_bytes_and_checks_gzip(tmp_path):
    path = tmp_path / "x.gz"
    assert gunzip(path, b"plain") == b"plain"
    assert gunzip(path, gzip.compress(b"a") + gzip.compress(b"b")) == b"ab"
    with reader_error(path, "corrupt gzip data"):
        gunzip(path, gzip.compress(b"a") + b"garbage")


@pytest.mark.parametrize(
    ("data", "strict", "expected"),
    [(b"\xef\xbb\xbfa", False, ("a", "utf-8")), (b"\xb5", False, ("\xb5", "latin-1"))],
)
def test_decode_text(tmp_path, data, strict, expected):
    assert decode_text(tmp_path / "t.txt", data, strict=strict) == expected
