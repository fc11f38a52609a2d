"""Shared helpers: suffix detection, one-line messages, gzip and text decoding."""

from __future__ import annotations

import gzip
import zlib

import pytest

import reprovip.readers.base as base
from reprovip.errors import ReaderError
from reprovip.readers.base import decode_text, fail, gunzip, inflate_backend, suffix_of

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


def test_python_isal_is_the_decompressor():
    """pyproject.toml depends on python-isal: the fast decompressor is the one in use."""
    assert inflate_backend() == "isal"


def _member(payload: bytes) -> bytes:
    return gzip.compress(payload, compresslevel=1, mtime=0)


def _damaged(offset_from_end: int) -> bytes:
    data = bytearray(_member(b"voxels" * 1000))
    data[-offset_from_end] ^= 0xFF
    return bytes(data)


@pytest.mark.parametrize("backend", ["isal", "zlib"])
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_member(b"a" * 70_000) + _member(b"") + _member(b"bc") + bytes(3), b"a" * 70_000 + b"bc"),
        (_member(b"x"), b"x"),
    ],
)
def test_gunzip_equals_the_standard_library_with_either_backend(tmp_path, monkeypatch, backend, data, expected):
    """Oracle: :func:`gzip.decompress` (members joined, zero padding ignored), with python-isal and with the
    standard-library fallback used when python-isal is not installed."""
    if backend == "zlib":
        monkeypatch.setattr(base, "_inflate", zlib)
    assert inflate_backend() == backend
    assert gunzip(tmp_path / "x.gz", data) == expected == gzip.decompress(data)


@pytest.mark.parametrize("backend", ["isal", "zlib"])
@pytest.mark.parametrize(
    ("data", "phrase"),
    [
        (_damaged(8), "corrupt gzip data (CRC or length check failed)"),  # the CRC32 of the trailer
        (_damaged(4), "corrupt gzip data (CRC or length check failed)"),  # the length (ISIZE) of the trailer
        (_member(b"voxels" * 1000)[:-3], "truncated gzip stream"),
        (_member(b"a") + b"\x1f", "corrupt gzip data (bytes after the end of the gzip stream)"),
        (b"\x1f\x8b\x09" + _member(b"a")[3:], "corrupt gzip data ("),  # then the decompressor's own words
    ],
    ids=["crc", "length", "truncated", "trailing", "method"],
)
def test_gunzip_errors_read_the_same_with_either_backend(tmp_path, monkeypatch, backend, data, phrase):
    """Whichever decompressor is in use, a damaged stream is a one-line ReaderError, worded the same for a bad
    checksum or length, a cut stream and trailing bytes (the fallback must not read less strictly)."""
    if backend == "zlib":
        monkeypatch.setattr(base, "_inflate", zlib)
    with reader_error(tmp_path / "x.gz", phrase):
        gunzip(tmp_path / "x.gz", data)


@pytest.mark.parametrize(
    ("data", "strict", "expected"),
    [
        (b"\xef\xbb\xbfa", False, ("a", "utf-8")),
        (b"\xb5", False, ("\xb5", "cp1252")),
        (b"\x81", False, ("\x81", "latin-1")),
    ],
)
def test_decode_text(tmp_path, data, strict, expected):
    assert decode_text(tmp_path / "t.txt", data, strict=strict) == expected


@pytest.mark.parametrize("size", [1, 2, 7, 4096])
def test_gunzip_pieces_equals_gzip_decompress_for_any_split(tmp_path, size):
    """Oracle :func:`gzip.decompress`: a stream of three members and zero padding, cut into pieces of ``size``
    bytes (so that magic numbers and padding straddle pieces), decodes to the same bytes, each piece at most
    1000 bytes although one member inflates 50,000 zeros from a few dozen bytes."""
    data = _member(b"a" * 3000) + _member(bytes(50_000)) + _member(b"tail") + bytes(5)
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    out = list(base.gunzip_pieces(tmp_path / "x.gz", pieces, max_piece=1000))
    assert b"".join(out) == gzip.decompress(data) and max(map(len, out)) <= 1000


@pytest.mark.parametrize(
    ("data", "phrase"),
    [
        (_damaged(8), "corrupt gzip data (CRC or length check failed)"),
        (_member(b"voxels" * 1000)[:-3], "truncated gzip stream"),
        (_member(b"a") + b"\x1f", "corrupt gzip data (bytes after the end of the gzip stream)"),
        (_member(b"a") + b"\0\0x", "corrupt gzip data (bytes after the end of the gzip stream)"),
    ],
    ids=["crc", "truncated", "split-trailing", "trailing"],
)
def test_gunzip_pieces_errors(tmp_path, data, phrase):
    with reader_error(tmp_path / "x.gz", phrase):
        list(base.gunzip_pieces(tmp_path / "x.gz", [data[i : i + 3] for i in range(0, len(data), 3)]))
