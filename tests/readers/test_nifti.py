"""NIfTI reader: round trips against nibabel (the oracle), semantic hash invariance/sensitivity, errors."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reprovip.errors import ReaderError
from reprovip.readers import byte_hash, image_hash, image_header, load, load_image_with_hash, read_image, semantic_hash

from .conftest import AFFINE, reader_error, regzip, volume, write_nifti

SUFFIXES = [".nii", ".nii.gz"]


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.uint8, np.int32])
@pytest.mark.parametrize("nifti2", [False, True])
def test_round_trip_matches_nibabel(tmp_path, suffix, dtype, nifti2):
    """nibabel.load is the oracle for voxel values, affine and zooms."""
    path = write_nifti(tmp_path / f"img{suffix}", volume(dtype=dtype), nifti2=nifti2)
    oracle = nib.load(path)
    loaded = load(path)
    assert loaded.kind == "image"
    data = loaded.values["data"]
    assert data.dtype.kind == "f"
    np.testing.assert_array_equal(data, oracle.get_fdata())
    assert not data.flags.writeable
    assert loaded.meta["shape"] == [5, 6, 4]
    assert loaded.meta["dtype"] == np.dtype(dtype).name
    assert loaded.meta["format"] == ("nifti2" if nifti2 else "nifti1")
    np.testing.assert_array_equal(loaded.meta["affine"], oracle.affine)
    assert loaded.meta["zooms"] == list(oracle.header.get_zooms())
    assert loaded.meta["units"] == {"space": "mm", "time": "sec"}
    assert loaded.meta["scl_slope"] is None and loaded.meta["n_nonfinite"] == 0


def test_nibabel_saved_file(tmp_path):
    """A file written by nibabel.save itself (the usual pipeline output)."""
    data = volume((7, 8, 9, 2))
    path = tmp_path / "bold.nii.gz"
    nib.save(nib.Nifti1Image(data, AFFINE), path)
    image = read_image(path)
    np.testing.assert_array_equal(image.data, nib.load(path).get_fdata(dtype=np.float32))
    np.testing.assert_array_equal(image.affine, nib.load(path).affine)
    assert image.zooms == nib.load(path).header.get_zooms()


@pytest.mark.parametrize("dtype", [np.int16, np.uint8, np.float32])
def test_read_image_keeps_stored_dtype_without_scaling(tmp_path, dtype):
    path = write_nifti(tmp_path / "img.nii.gz", volume(dtype=dtype))
    data, affine, zooms, _, stored = read_image(path)
    assert data.dtype == dtype and stored == np.dtype(dtype).name
    assert data.flags.f_contiguous
    np.testing.assert_array_equal(affine, AFFINE)
    assert zooms == (2.0, 2.0, 2.5)


@pytest.mark.parametrize("dtype", [np.int16, np.uint8, np.int32])
def test_scaling_applied_like_nibabel(tmp_path, dtype):
    """Scaled voxels in float64, equal to nibabel's get_fdata; in float32, int16 steps of a slope of 1e-5 beside
    an intercept of 273.15 (kelvin) were rounded away: a review's changed voxels read identical."""
    path = write_nifti(tmp_path / "img.nii", volume(dtype=dtype), slope=0.5, inter=-3.0)
    image = read_image(path)
    assert image.data.dtype == np.float64
    np.testing.assert_array_equal(image.data, nib.load(path).get_fdata())
    meta = load(path).meta
    assert (meta["scl_slope"], meta["scl_inter"]) == (0.5, -3.0)
    stored = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    kelvin = write_nifti(tmp_path / "k.nii", stored, slope=1e-5, inter=273.15)
    data = read_image(kelvin).data
    np.testing.assert_array_equal(data, nib.load(kelvin).get_fdata())
    assert len(np.unique(data)) == 24  # every stored step is a distinct value


def test_big_endian_read_in_native_order(tmp_path):
    path = write_nifti(tmp_path / "be.nii", volume(dtype=np.int16), endianness=">")
    data = read_image(path).data
    assert data.dtype.isnative
    np.testing.assert_array_equal(data, volume(dtype=np.int16))


def test_nonfinite_voxels_load_and_are_counted(tmp_path):
    """Decision: NaN/inf in an image is not an error (pipelines write NaN outside the mask)."""
    data = volume()
    data[0, 0, 0], data[1, 1, 1], data[2, 2, 2] = np.nan, np.inf, -np.inf
    loaded = load(write_nifti(tmp_path / "nan.nii.gz", data))
    assert loaded.meta["n_nonfinite"] == 3
    assert np.isnan(loaded.values["data"][0, 0, 0])


@pytest.mark.parametrize("dtype", [np.int16, np.uint8, np.float32, np.float64])
def test_labels_are_integers(tmp_path, dtype):
    labels = np.random.default_rng(1).integers(0, 5, (4, 5, 6)).astype(dtype)
    loaded = load(write_nifti(tmp_path / "seg.nii.gz", labels), kind="labels")
    assert loaded.kind == "labels"
    assert loaded.values["data"].dtype.kind in "iu"
    np.testing.assert_array_equal(loaded.values["data"], labels)


def test_labels_with_scaling_become_integers(tmp_path):
    loaded = load(write_nifti(tmp_path / "seg.nii", np.ones((2, 2, 2), np.int16), slope=2.0), kind="labels")
    assert loaded.values["data"].dtype == np.int32
    assert (loaded.values["data"] == 2).all()


@pytest.mark.parametrize("bad", [0.5, np.nan])
def test_labels_must_be_whole_numbers(tmp_path, bad):
    labels = np.zeros((3, 3, 3), np.float32)
    labels[1, 2, 0] = bad
    path = write_nifti(tmp_path / "seg.nii.gz", labels)
    with reader_error(path, "labels must be whole numbers but 1 voxels are not (voxel (1, 2, 0)"):
        load(path, kind="labels")


def test_load_image_with_hash_matches_separate_calls(tmp_path):
    path = write_nifti(tmp_path / "img.nii.gz", volume(), slope=2.0, inter=1.0)
    image, digest = load_image_with_hash(path)
    assert digest == semantic_hash(path)
    np.testing.assert_array_equal(image.data, read_image(path).data)


# --- semantic hash --------------------------------------------------------------------------------------


def test_regzip_keeps_semantic_hash_changes_byte_hash(tmp_path):
    original = write_nifti(tmp_path / "a.nii.gz", volume())
    other = regzip(original, tmp_path / "b.nii.gz", mtime=1_700_000_000, level=1)
    assert byte_hash(original) != byte_hash(other)
    assert semantic_hash(original) == semantic_hash(other)


@pytest.mark.parametrize(
    "variant",
    [
        {"descrip": "written on another machine"},
        {"extension": b"<provenance>run 2</provenance>"},
        {"nifti2": True},
        {"endianness": ">"},
        {"slope": 1.0, "inter": 0.0},
        {"slope": 0.0},  # slope 0 means "no scaling" in NIfTI
        {"units": ("mm", "msec")},  # the time unit qualifies pixdim[4] (TR), hashed for 4-D images only
    ],
    ids=["descrip", "extension", "nifti2", "big-endian", "unit-scaling", "zero-slope", "time-unit"],
)
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_semantic_hash_ignores(tmp_path, variant, suffix):
    reference = write_nifti(tmp_path / "ref.nii.gz", volume())
    path = write_nifti(tmp_path / f"variant{suffix}", volume(), **variant)
    assert semantic_hash(path) == semantic_hash(reference)


@pytest.mark.parametrize("piece", [7, 1000, 1 << 22])
@pytest.mark.parametrize(
    "variant",
    [{}, {"extension": b"<provenance>" * 100}, {"nifti2": True}, {"endianness": ">"}, {"slope": 2.0, "inter": 1.0}],
    ids=["plain", "extension", "nifti2", "big-endian", "scaled"],
)
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_streamed_semantic_hash_equals_the_one_shot_hash(tmp_path, monkeypatch, piece, variant, suffix):
    """semantic_hash decodes the file in pieces (bounded memory for files of gigabytes): whatever the piece
    size (7 bytes: the header, the data offset and big-endian items straddle pieces), it equals the hash
    of the whole decoded file that load_image_with_hash computes, here on a gzip stream of two members."""
    monkeypatch.setattr(image_hash, "_PIECE", piece)
    path = write_nifti(tmp_path / f"img{suffix}", volume((9, 8, 7)).astype(np.int16), **variant)
    if suffix == ".nii.gz":
        raw = gzip.decompress(path.read_bytes())
        path.write_bytes(gzip.compress(raw[:500], mtime=0) + gzip.compress(raw[500:], mtime=0))
    assert semantic_hash(path) == load_image_with_hash(path)[1] == image_hash.decoded_hash(image_header.decode(path))


@pytest.mark.parametrize("piece", [7, 1 << 22])
@pytest.mark.parametrize("layout", [{}, {"nifti2": True}, {"endianness": ">"}], ids=["nifti1", "nifti2", "big-endian"])
def test_a_nifti_mrs_extension_is_content_but_its_provenance_is_not(tmp_path, monkeypatch, piece, layout):
    """Review BB: a NIfTI-MRS FID identical in every run while its extension's SpectrometerFrequency moved read
    "identical in its decoded values". The extension (code 44) is hashed as sorted JSON without its provenance
    keys (ConversionTime...): a conversion's time stamp changes nothing, the frequency does, streamed or not."""
    import json

    monkeypatch.setattr(image_hash, "_PIECE", piece)
    fid = (np.exp(-np.arange(64) / 9) * np.exp(1j * np.arange(64) / 3)).astype(np.complex64).reshape(1, 1, 1, 64)

    def mrs(name: str, **meta) -> Path:
        text = json.dumps({"ResonantNucleus": ["1H"], "SpectrometerFrequency": [297.2], **meta}).encode()
        return write_nifti(tmp_path / f"{name}.nii.gz", fid, extension=text, ecode=44, **layout)

    base = semantic_hash(mrs("base", ConversionTime="2026-11-30T10:00:00"))
    assert semantic_hash(mrs("later", ConversionTime="2026-12-01T09:00:00", OriginalFile=["x.dat"])) == base
    moved = mrs("moved", SpectrometerFrequency=[297.7])
    assert semantic_hash(moved) != base
    assert semantic_hash(moved) == image_hash.decoded_hash(image_header.decode(moved))  # streamed = one-shot
    plain = write_nifti(tmp_path / "plain.nii.gz", fid, **layout)
    assert semantic_hash(plain) != base  # without its extension, another content


@pytest.mark.parametrize("piece", [7, 1 << 22])
def test_a_label_table_or_cifti_extension_is_content(tmp_path, monkeypatch, piece):
    """Review OO: a TotalSegmentator-like label map whose Caret XML extension (code 0) swapped the names of
    labels 1 and 2 under threads=2 read "bit-for-bit identical". The label tables are hashed (not the XML's
    date), as a CIFTI-2 extension (code 32) is; a comment extension (code 6) is still no content."""
    monkeypatch.setattr(image_hash, "_PIECE", piece)
    labels = np.arange(24, dtype=np.uint8).reshape(2, 3, 4) % 3

    def caret(name: str, first: str, second: str, date: str = "2013-07-14T05:45:09") -> Path:
        xml = (
            f'<?xml version="1.0"?>\n<CaretExtension><Date><![CDATA[{date}]]></Date><VolumeInformation Index="0">'
            f'<LabelTable><Label Key="1">{first}</Label><Label Key="2">{second}</Label></LabelTable>'
            "</VolumeInformation></CaretExtension>"
        )
        return write_nifti(tmp_path / f"{name}.nii.gz", labels, extension=xml.encode(), ecode=0)

    base = semantic_hash(caret("base", "liver", "spleen"))
    assert semantic_hash(caret("dated", "liver", "spleen", date="2026-11-30T18:00:00")) == base
    swapped = caret("swapped", "spleen", "liver")
    assert semantic_hash(swapped) != base
    assert semantic_hash(swapped) == image_hash.decoded_hash(image_header.decode(swapped))  # streamed = one-shot
    cifti = [
        write_nifti(tmp_path / f"c{i}.nii", labels, extension=f"<CIFTI>{i}</CIFTI>".encode(), ecode=32) for i in (1, 2)
    ]
    assert semantic_hash(cifti[0]) != semantic_hash(cifti[1])
    comments = [write_nifti(tmp_path / f"n{i}.nii", labels, extension=f"run {i}".encode(), ecode=6) for i in (1, 2)]
    assert (
        semantic_hash(comments[0])
        == semantic_hash(comments[1])
        == semantic_hash(write_nifti(tmp_path / "p.nii", labels))
    )


def _changed_voxel(data):
    data = data.copy()
    data[4, 5, 3] += 1
    return data, {}


def _negative_zero_affine(data):
    affine = AFFINE.copy()
    affine[0, 1] = -0.0
    return data, {"affine": affine}


@pytest.mark.parametrize(
    "change",
    [
        _changed_voxel,
        lambda d: (d, {"affine": AFFINE + np.eye(4) * 1e-6}),
        lambda d: (d, {"affine": AFFINE + np.pad([[1e-3]], ((0, 3), (3, 0)))}),
        lambda d: (d.astype(np.float64), {}),
        lambda d: (d, {"slope": 2.0}),
        lambda d: (d, {"slope": 1.0, "inter": 1.0}),
        lambda d: (d.reshape(6, 5, 4), {}),
        # metres, not millimetres: the same affine numbers are another geometry (a review found outputs that
        # differed only there called "bit-for-bit identical" by the v1 hash)
        lambda d: (d, {"units": ("meter", "sec")}),
    ],
    ids=["voxel", "affine-diag", "affine-translation", "dtype", "slope", "inter", "shape", "space-unit"],
)
def test_semantic_hash_detects(tmp_path, change):
    reference = write_nifti(tmp_path / "ref.nii.gz", volume())
    data, kwargs = change(volume())
    path = write_nifti(tmp_path / "changed.nii.gz", data, **kwargs)
    assert semantic_hash(path) != semantic_hash(reference)


def _series(path, *, tr=2.0, time_unit="sec", intent=None):
    img = nib.Nifti1Image(np.arange(120, dtype=np.float32).reshape(2, 3, 4, 5), AFFINE)
    img.header.set_zooms((1.0, 1.0, 1.0, tr))
    img.header.set_xyzt_units("mm", time_unit)
    if intent:
        img.header.set_intent(*intent)
    nib.save(img, path)
    return semantic_hash(path)


@pytest.mark.parametrize(
    "change",
    [dict(tr=1.0), dict(time_unit="msec"), dict(intent=("t test", (12,))), dict(intent=("f test", (3, 20)))],
    ids=["TR", "time-unit", "t-map", "f-map"],
)
def test_semantic_hash_v3_detects_a_series_time_step_and_a_statistic_maps_intent(tmp_path, change):
    """A review's fMRI series whose TR was dropped (2 s -> 1 s), and t-maps whose degrees of freedom changed
    (so their p-values did), were "bit-for-bit identical" under v2."""
    reference = _series(tmp_path / "ref.nii.gz", intent=("t test", (10,)) if "intent" in change else None)
    assert _series(tmp_path / "changed.nii.gz", **change) != reference
    assert _series(tmp_path / "same.nii.gz", intent=("t test", (10,)) if "intent" in change else None) == reference


@pytest.mark.parametrize("change", ["sform_code", "qform_moved"])
def test_semantic_hash_v3_detects_the_space_codes_and_the_qform(tmp_path, change):
    """The sform (chosen) unchanged: an sform code MNI -> scanner, or a qform moved 10 mm (ITK places the image
    by the qform), were "bit-for-bit identical" (a review)."""

    def save(name, sform_code=4, shift=0.0):
        img = nib.Nifti1Image(volume(), AFFINE)
        qform = AFFINE.copy()
        qform[0, 3] += shift
        img.set_qform(qform, code=1)
        img.set_sform(AFFINE, code=sform_code)
        nib.save(img, tmp_path / name)
        return semantic_hash(tmp_path / name)

    reference = save("ref.nii.gz")
    assert save("same.nii.gz") == reference
    changed = save("c.nii.gz", sform_code=1) if change == "sform_code" else save("c.nii.gz", shift=10.0)
    assert changed != reference


def test_semantic_hash_treats_negative_zero_as_zero(tmp_path):
    reference = write_nifti(tmp_path / "ref.nii", volume())
    data, kwargs = _negative_zero_affine(volume())
    assert semantic_hash(write_nifti(tmp_path / "negzero.nii", data, **kwargs)) == semantic_hash(reference)


# --- errors ---------------------------------------------------------------------------------------------


def _truncated_gzip(path: Path) -> str:
    write_nifti(path, volume((20, 20, 20)))
    path.write_bytes(path.read_bytes()[: os.path.getsize(path) // 2])
    return "truncated gzip stream"


def _random_bytes(path: Path) -> str:
    path.write_bytes(np.random.default_rng(0).bytes(2000))
    return "not a NIfTI file"


def _bad_crc(path: Path) -> str:
    write_nifti(path, volume())
    data = bytearray(path.read_bytes())
    data[-8] ^= 0xFF  # the CRC32 stored in the gzip trailer
    path.write_bytes(bytes(data))
    return "corrupt gzip data (CRC or length check failed)"


def _short_data(path: Path) -> str:
    write_nifti(path, volume())
    path.write_bytes(path.read_bytes()[:-10])
    return "truncated: the header declares (5, 6, 4) float32 voxels"


def _short_gzipped_data(path: Path) -> str:
    write_nifti(path, volume())
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-10]))
    return "truncated: the header declares (5, 6, 4) float32 voxels"


def _pair_header(path: Path) -> str:
    hdr = nib.Nifti1Header()
    hdr["magic"] = b"ni1"
    path.write_bytes(hdr.binaryblock + b"\0" * 100)
    return "is the header of a .hdr/.img pair"


def _tiny(path: Path) -> str:
    path.write_bytes(b"hello")
    return "too short to be a NIfTI file (5 bytes, not gzip-compressed)"


def _bad_datatype(path: Path) -> str:
    write_nifti(path, volume())
    data = bytearray(path.read_bytes())
    data[70:72] = (999).to_bytes(2, "little")  # datatype code
    path.write_bytes(bytes(data))
    return "invalid NIfTI header"


@pytest.mark.parametrize(
    ("name", "corrupt"),
    [
        ("cut.nii.gz", _truncated_gzip),
        ("noise.nii.gz", _random_bytes),
        ("noise.nii", _random_bytes),
        ("crc.nii.gz", _bad_crc),
        ("short.nii", _short_data),
        ("short.nii.gz", _short_gzipped_data),
        ("pair.nii", _pair_header),
        ("tiny.nii", _tiny),
        ("datatype.nii", _bad_datatype),
    ],
)
@pytest.mark.parametrize("function", [load, read_image, semantic_hash], ids=["load", "read_image", "hash"])
def test_bad_files_raise_reader_error(tmp_path, name, corrupt, function):
    path = tmp_path / name
    phrase = corrupt(path)
    with reader_error(path, phrase):
        function(path)


@pytest.mark.parametrize(
    ("dtype", "phrase"),
    [
        (
            np.complex64,
            "complex voxels (complex64: a fitted MR signal, k-space, NIfTI-MRS) are not analysed voxelwise; keep "
            "`kind: image` (identity is "
            "still judged on the decoded voxels and a NIfTI-MRS header, without its provenance) and export real-valued",
        ),
        (
            np.complex128,
            "complex voxels (complex128: a fitted MR signal, k-space, NIfTI-MRS) are not analysed voxelwise",
        ),
        (
            np.dtype([("R", "u1"), ("G", "u1"), ("B", "u1")]),
            "colour voxels ([('R', 'u1'), ('G', 'u1'), ('B', 'u1')], RGB) are not analysed voxelwise; declare the "
            "output `kind: bytes` to check it bit for bit, or write real-valued images",
        ),
    ],
    ids=["complex64", "complex128", "rgb24"],
)
@pytest.mark.parametrize("function", [load, read_image], ids=["load", "read_image"])
def test_complex_and_rgb_voxels_are_refused_with_what_to_do(tmp_path, dtype, phrase, function):
    """A NIfTI-MRS spectrum is a complex64 (1, 1, 1, N) NIfTI-2: the advice "write real-valued images" was wrong
    for it (review case 22-nifti-mrs-complex). The hash still reads the voxels: a changed one is not identical."""
    data = np.zeros((1, 1, 1, 8), dtype=dtype)
    path = write_nifti(tmp_path / "svs.nii.gz", data, nifti2=True)
    with reader_error(path, phrase):
        function(path)
    changed = data.copy()
    changed.view(np.uint8)[-1] = 1  # the last voxel's last byte: an imaginary part, or a blue channel
    other = write_nifti(tmp_path / "other.nii.gz", changed, nifti2=True)
    assert semantic_hash(other) != semantic_hash(path)


def test_sniffed_without_suffix(tmp_path):
    """Blob-store files keep their suffix, but a suffix-less NIfTI is still recognised by its magic."""
    path = tmp_path / "blob"
    path.write_bytes((write_nifti(tmp_path / "img.nii.gz", volume())).read_bytes())
    assert load(path).kind == "image"


# --- fuzzing --------------------------------------------------------------------------------------------


def _valid_bytes(tmp: Path, suffix: str) -> bytes:
    return write_nifti(tmp / f"valid{suffix}", volume((3, 4, 2), np.int16), slope=2.0).read_bytes()


@pytest.mark.parametrize("suffix", SUFFIXES)
@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_nifti_loads_or_raises_reader_error(tmp_path, suffix, data):
    """Mutated bytes (header area weighted) either load or raise ReaderError, nothing else."""
    original = _valid_bytes(tmp_path, suffix)
    mutated = bytearray(original)
    limit = len(original) if suffix == ".nii.gz" else 400
    for _ in range(data.draw(st.integers(1, 4), label="n_mutations")):
        position = data.draw(st.integers(0, min(limit, len(original)) - 1), label="position")
        mutated[position] = data.draw(st.integers(0, 255), label="byte")
    if data.draw(st.booleans(), label="truncate"):
        mutated = mutated[: data.draw(st.integers(1, len(mutated)), label="length")]
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(bytes(mutated))
    for function in (load, semantic_hash):
        try:
            function(path)
        except ReaderError as exc:
            assert str(path) in str(exc) and "\n" not in str(exc)


def test_cifti_is_not_an_image_but_is_hashed(tmp_path):
    """A CIFTI-2 dscalar (HCP's cortical thickness per vertex) declared `image`: analyse crashed with exit 4
    ('Cifti2Image' object has no attribute 'affine'), then read as a 6-D grid; now a clear error, while the
    semantic hash still tells identical files from different ones."""
    from nibabel import cifti2

    def dscalar(path, values):
        axes = (cifti2.ScalarAxis(["thickness"]), cifti2.BrainModelAxis.from_surface(np.arange(5), 5, "CortexLeft"))
        nib.save(cifti2.Cifti2Image(np.asarray([values], np.float32), header=axes), path)
        return path

    a = dscalar(tmp_path / "a.dscalar.nii", [2.1, 2.5, 3.0, 2.8, 2.2])
    with reader_error(a, "a CIFTI-2 file (intent code 3000) is not an image: its values sit on brainordinates"):
        read_image(a)
    with reader_error(a, "declare the output `kind: bytes` to check it bit for bit, or export its values as text"):
        load(a, kind="image")
    b = dscalar(tmp_path / "b.dscalar.nii", [2.1, 2.5, 3.0, 2.8, 2.2])
    c = dscalar(tmp_path / "c.dscalar.nii", [2.1, 2.5, 3.0, 2.8, 2.3])
    assert semantic_hash(a) == semantic_hash(b) != semantic_hash(c)


def test_an_image_with_an_intercept_declared_labels_is_refused(tmp_path):
    """Review CT: a CT in Hounsfield units (int16, scl_inter -1024) declared `kind: labels` read ~1,900 labels and
    took 4.5 minutes of Dice before "not reproducible" on label -544."""
    path = write_nifti(tmp_path / "ct.nii.gz", np.full((2, 2, 2), 1000, np.int16), slope=1.0, inter=-1024.0)
    with reader_error(path, "an image with an intercept (scl_slope 1, scl_inter -1024) declared `kind: labels`"):
        load(path, kind="labels")


def test_an_image_s_meaning_digest_follows_its_header_not_its_storage(tmp_path) -> None:
    """``Image.meaning``: where the voxels are and what they mean (units, voxel sizes, intent), not the stored
    type: the voxelwise engine compares it between executions whose voxels differ (review C)."""
    data = volume(dtype=np.float32)

    def meaning(name: str, dtype=np.float32, units: str = "mm", zooms=None, intent: str | None = None) -> str:
        img = nib.Nifti1Image(data.astype(dtype), AFFINE)
        img.header.set_xyzt_units(units)
        if zooms is not None:
            img.header.set_zooms(zooms)
        if intent is not None:
            img.header.set_intent(intent, (10.0,))
        nib.save(img, tmp_path / name)
        return read_image(tmp_path / name).meaning

    first = meaning("a.nii.gz")
    assert meaning("b.nii", dtype=np.float64) == first  # stored otherwise, same meaning
    assert meaning("c.nii.gz", units="micron") != first
    assert meaning("d.nii.gz", intent="t test") != first
