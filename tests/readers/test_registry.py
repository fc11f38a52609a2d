"""load(): existence and emptiness checks, kind inference through the ordered registry, options, docs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from reprovip.errors import ReaderError
from reprovip.readers import KINDS, READERS, Loaded, Reader, find_reader, load
from reprovip.readers import registry as registry_module

from .conftest import reader_error, volume, write_nifti

DOCS = Path(__file__).resolve().parents[2] / "docs" / "readers.md"


def _write(path: Path) -> Path:
    suffix = "".join(path.suffixes).lower()
    if ".nii" in suffix:
        return write_nifti(path, volume())
    if suffix == ".npy":
        np.save(path, np.zeros(2))
    elif suffix == ".npz":
        np.savez(path, a=np.zeros(2))
    elif suffix == ".json":
        path.write_text(json.dumps({"a": 1}))
    else:
        path.write_text("a,b\nx,1\n")
    return path


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("ab12ef.nii.gz", "image"),
        ("T1.NII", "image"),
        ("out.npy", "array"),
        ("out.npz", "array"),
        ("stats.json", "scalars"),
        ("fit.csv", "table"),
        ("fit.tsv", "table"),
        ("fit.txt", "text"),
        ("run.log", "text"),
    ],
)
def test_kind_inferred_from_suffix(tmp_path, name, kind):
    assert load(_write(tmp_path / name)).kind == kind


def test_labels_only_when_declared(tmp_path):
    path = write_nifti(tmp_path / "seg.nii.gz", np.ones((2, 2, 2), np.uint8))
    assert load(path).kind == "image"
    assert load(path, kind="labels").values["data"].dtype == np.uint8


@pytest.mark.parametrize(
    ("setup", "kwargs", "phrase"),
    [
        (lambda p: None, {}, "file not found; check the output's path"),
        (lambda p: p.write_bytes(b""), {}, "file is empty (0 bytes)"),
        (lambda p: p.mkdir(), {}, "is a directory, not a file"),
        (lambda p: p.write_text("x"), {"kind": "volume"}, "`kind` must be one of {'array', 'bytes', 'image',"),
        (
            lambda p: p.write_text("a,b\n1,2"),
            {"kind": "scalars", "key_columns": "a"},
            "`key_columns` does not",
        ),
    ],
    ids=["missing", "empty", "directory", "bad-kind", "bad-option"],
)
def test_file_and_argument_errors(tmp_path, setup, kwargs, phrase):
    path = tmp_path / "out.csv"
    setup(path)
    with reader_error(path, phrase):
        load(path, **kwargs)


@pytest.mark.parametrize(
    ("name", "content", "kind", "phrase"),
    [
        ("out.xyz", b"1 2 3", None, "unknown format (suffix '.xyz'); declare the output's kind"),
        ("README", b"1 2 3", None, "unknown format (suffix 'none')"),
        ("fit.csv", b"a,b\n1,2\n", "image", "no 'image' reader recognises this file (suffix '.csv')"),
        ("fit.csv", b"a,b\n1,2\n", "array", "an output of kind 'array' must end with one of .npy, .npz"),
    ],
)
def test_unknown_format(tmp_path, name, content, kind, phrase):
    path = tmp_path / name
    path.write_bytes(content)
    with reader_error(path, phrase):
        load(path, kind=kind)


def test_declared_kind_reads_any_suffix_for_text_formats(tmp_path):
    path = tmp_path / "fit.out"
    path.write_text("name,x\nA,1\n")
    assert load(path, kind="table").values.keys() == {"A/x"}
    assert load(path, kind="text").values.keys() == {"line2:0"}


def test_adding_a_format_is_adding_one_class(tmp_path, monkeypatch):
    class UpperReader(Reader):
        name = "upper"
        kinds = ("text",)
        suffixes = (".upper",)

        def read(self, path, *, kind, **options):
            return Loaded(kind, {"n": np.array(float(len(path.read_text())))})

    monkeypatch.setattr(registry_module, "READERS", [UpperReader(), *READERS])
    path = tmp_path / "a.upper"
    path.write_text("abc")
    assert float(load(path).values["n"]) == 3.0
    assert isinstance(find_reader(path)[0], UpperReader)


def test_every_reader_and_kind_is_documented():
    docs = DOCS.read_text()
    for reader in READERS:
        assert re.search(rf"`{type(reader).__name__}`", docs), type(reader).__name__
        for suffix in reader.suffixes:
            assert f"`{suffix}`" in docs, suffix
    study_format = (DOCS.parent / "study-format.md").read_text()
    for kind in KINDS:
        assert f"`{kind}`" in docs, kind
        assert f"| `{kind}` |" in study_format, kind


def test_reader_error_is_an_input_error(tmp_path):
    with pytest.raises(ValueError, match="file not found"):
        load(tmp_path / "nothing.json")
    assert issubclass(ReaderError, ValueError) and ReaderError.exit_code == 2


def test_the_spec_knows_the_kinds_of_the_binary_formats() -> None:
    """`validate` refuses a binary file declared another kind from its suffix alone (without importing the
    readers): its table must be the binary readers' suffixes and kinds."""
    from reprovip.readers.registry import READERS
    from reprovip.spec.models import BINARY_SUFFIXES

    expected = {suffix: reader.kinds for reader in READERS if reader.binary for suffix in reader.suffixes}
    assert BINARY_SUFFIXES == expected


def test_a_suffix_decides_before_the_content(tmp_path) -> None:
    """Review X: a `.log` starting with `[INFO]` was sniffed as JSON ("invalid JSON") although `.log` is text."""
    from reprovip.readers import load

    path = tmp_path / "run.log"
    path.write_text("[INFO] iter 3 loss 0.5\n")
    loaded = load(path)
    assert loaded.kind == "text" and [float(v) for v in loaded.values.values()] == [3.0, 0.5]
