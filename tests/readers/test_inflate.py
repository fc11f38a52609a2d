"""Gzip inflated into sized, reused buffers: the same bytes as the standard library, or None (the caller falls
back to ``gunzip``, which words the error); a buffer is never handed out while an array still uses it."""

from __future__ import annotations

import gzip
import zlib

import nibabel as nib
import numpy as np
import pytest

from reprovip.errors import ReaderError
from reprovip.readers import inflate, read_image
from reprovip.readers.inflate import DecodeBuffers, gunzip_into

pytest.importorskip("isal", reason="the fast path is python-isal's gzip reader")

DATA = np.random.default_rng(0).integers(0, 7, 100_000, dtype=np.uint8).tobytes()  # compressible, not trivial


def _damaged(data: bytes, at: int) -> bytes:
    out = bytearray(data)
    out[at] ^= 0xFF
    return bytes(out)


def test_inflates_to_the_standard_librarys_bytes() -> None:
    out = gunzip_into(gzip.compress(DATA, mtime=0))
    assert out is not None and out.dtype == np.uint8 and out.tobytes() == DATA
    assert gunzip_into(gzip.compress(b"", mtime=0)).size == 0


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(gzip.compress(DATA) + gzip.compress(b"more"), id="two members"),
        pytest.param(gzip.compress(DATA) + bytes(8), id="zero padding"),
        pytest.param(gzip.compress(DATA)[:-100], id="truncated"),
        pytest.param(_damaged(gzip.compress(DATA), -8), id="CRC"),
        pytest.param(_damaged(gzip.compress(DATA), -2), id="length"),
        pytest.param(_damaged(gzip.compress(DATA), 40), id="deflate data"),
        pytest.param(gzip.compress(DATA)[:-4] + (2**32 - 1).to_bytes(4, "little"), id="length beyond deflate's ratio"),
        pytest.param(b"\x1f\x8b", id="too short"),
    ],
)
def test_what_the_fast_path_does_not_read_is_left_to_gunzip(data: bytes) -> None:
    assert gunzip_into(data) is None


def test_without_python_isal_nothing_is_inflated_here(monkeypatch) -> None:
    monkeypatch.setattr(inflate, "_GzipReader", None)
    assert gunzip_into(gzip.compress(DATA)) is None


def test_a_buffer_comes_back_only_once_nothing_uses_it() -> None:
    buffers = DecodeBuffers(keep=2)
    first = buffers.take(100)
    address = first.__array_interface__["data"][0]
    derived = np.frombuffer(first, dtype=np.float32).reshape(5, 5)  # views keep the owner alive
    del first
    second = buffers.take(100)
    assert second.__array_interface__["data"][0] != address
    del derived
    assert buffers.take(60).__array_interface__["data"][0] == address  # free, and large enough
    assert buffers.take(200).size == 200  # larger than any kept buffer: a new one
    assert len(buffers._kept) == 2  # `keep` caps what is kept


def test_volumes_read_into_shared_buffers_keep_their_values(tmp_path) -> None:
    """The voxelwise engine holds a subject's first volume while it reads the next ones into the same pool."""
    rng = np.random.default_rng(1)
    volumes = [rng.normal(size=(20, 30, 10)).astype(np.float32) for _ in range(4)]
    paths = []
    for i, v in enumerate(volumes):
        paths.append(tmp_path / f"v{i}.nii.gz")
        nib.save(nib.Nifti1Image(v, np.eye(4)), paths[-1])
    buffers = DecodeBuffers()
    held = [read_image(p, buffers).data for p in paths]
    for got, want in zip(held, volumes, strict=True):
        np.testing.assert_array_equal(got, want)
    del held
    again = read_image(paths[2], buffers).data  # a freed buffer is reused, with the new file's values
    np.testing.assert_array_equal(again, volumes[2])
    assert len(buffers._kept) == 4


def test_a_damaged_volume_still_reports_what_gunzip_says(tmp_path) -> None:
    path = tmp_path / "v.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((4, 4, 4), np.float32), np.eye(4)), path)
    path.write_bytes(_damaged(path.read_bytes(), -8))
    with pytest.raises(ReaderError, match=r"corrupt gzip data \(CRC or length check failed\)"):
        read_image(path, DecodeBuffers())


def test_inflation_matches_zlib_on_random_sizes() -> None:
    rng = np.random.default_rng(2)
    for size in (1, 17, 4095, 65_537, 1 << 20):
        raw = rng.integers(0, 3, size, dtype=np.uint8).tobytes()
        out = gunzip_into(gzip.compress(raw, compresslevel=1))
        assert out is not None and out.tobytes() == zlib.decompress(gzip.compress(raw), 31)
