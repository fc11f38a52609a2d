"""The ``perturb`` factor: a few ULPs of seeded random noise on an execution's floating-point inputs.

A pip-only stand-in for Monte Carlo arithmetic: if an application's result moves a lot when its inputs move
by a few units in the last place, the application is numerically unstable there. Each value x becomes
``x + u * ulps * spacing(x)`` with u uniform in [-1, 1], drawn from the execution's recorded seed; zeros stay
zeros (exact, as random rounding leaves them). Integer
data (label maps, counts) are left alone. Formats: NIfTI, NumPy ``.npy``, CSV/TSV and whitespace-separated
numeric text.

An input holding no floating-point value (a raw T1w image stored as int16, as scanners write them) is copied
unchanged: every level would run on the same bytes and the study compare nothing (a review read "identical").
:func:`unperturbable` says why, and ``validate`` (and ``run``) refuse such a study before anything runs.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import numpy as np

from reprovip.errors import InputError
from reprovip.readers.text import NUMBER


def perturb_array(a: np.ndarray, *, ulps: float, rng: np.random.Generator) -> np.ndarray:
    """Return a copy of float array ``a`` moved by up to ``ulps`` units in the last place per element.

    Zeros stay zeros, as random rounding leaves exact values exact: a zero background moved to the smallest
    subnormals, half of them negative, and an application thresholding at 0 read "numerically unstable" (a
    review); the sign of no other value can change.

    Examples
    --------
    >>> x = np.array([1.0, 100.0, 0.0])
    >>> y = perturb_array(x, ulps=2, rng=np.random.default_rng(0))
    >>> bool(np.all(np.abs(y - x) <= 2 * np.spacing(x)) and not np.array_equal(x[:2], y[:2]) and y[2] == 0.0)
    True
    """
    if a.dtype.kind != "f":
        return a.copy()
    u = rng.uniform(-1.0, 1.0, size=a.shape)
    moved = (a + (u * ulps * np.spacing(a)).astype(a.dtype)).astype(a.dtype)
    return np.where(a == 0, a, moved)


def _decimal(m: re.Match[str]) -> bool:
    """A number written with a point or an exponent: a float; the others are integers and stay as written, and so
    do a mantissa times a power of ten (``1.5x10^-3``) and a hexadecimal float, kept in their own spelling."""
    return not (m["mantissa"] or m["hex"]) and any(c in (m["united"] or m.group(0)) for c in ".eE")


def _data_lines(text: str) -> list[tuple[bool, str]]:
    """The lines of ``text`` (line ends kept), each with whether it is data: a ``#`` comment is not (a version or
    a date written there was the only thing perturbed, and the study read identical: a review)."""
    return [(not line.lstrip().startswith("#"), line) for line in text.splitlines(keepends=True)]


def _text_numbers(text: str, *, ulps: float, rng: np.random.Generator) -> str:
    """``text`` with every decimal number that stands on its own (the text reader's :data:`NUMBER`: not `a_1.5`,
    `v1.2.3` nor `30.11.2026`) moved by up to ``ulps`` units in the last place, comment lines left alone."""

    def sub(m: re.Match[str]) -> str:
        if not _decimal(m):
            return m.group(0)  # integers stay integers
        token = m["united"] or m.group(0)  # `3.2ms`: the number moves, its unit stays glued on
        v = perturb_array(np.array([float(token.replace("d", "e").replace("D", "e"))]), ulps=ulps, rng=rng)[0]
        return repr(float(v)) + (m["unit"] or "")

    return "".join(NUMBER.sub(sub, line) if data else line for data, line in _data_lines(text))


def perturb_file(src: Path, dest_dir: Path, *, ulps: float, seed: int) -> Path:
    """Write a perturbed copy of ``src`` into ``dest_dir`` (same name) and return its path.

    Raises
    ------
    InputError
        A format that cannot be perturbed (the message names the file).
    """
    rng = np.random.default_rng(seed)
    dest = dest_dir / src.name
    name = src.name.lower()
    if name.endswith((".nii", ".nii.gz")):
        import nibabel as nib

        img = nib.load(str(src))
        data = np.asarray(img.dataobj)  # scaled integer images decode to floats and are saved as floats
        header = img.header.copy()
        if data.dtype.kind == "f":
            header.set_data_dtype(data.dtype)
            header.set_slope_inter(1.0, 0.0)
        nib.save(nib.Nifti1Image(perturb_array(data, ulps=ulps, rng=rng), img.affine, header), str(dest))
    elif name.endswith(".npy"):
        np.save(dest, perturb_array(np.load(src), ulps=ulps, rng=rng))
    elif name.endswith((".csv", ".tsv")):
        delim = "\t" if name.endswith(".tsv") else ","
        with open(src, newline="", encoding="utf-8") as fin, open(dest, "w", newline="", encoding="utf-8") as fout:
            writer = csv.writer(fout, delimiter=delim)
            for row in csv.reader(fin, delimiter=delim):
                comment = bool(row) and row[0].lstrip().startswith("#")
                writer.writerow(row if comment else [_text_numbers(c, ulps=ulps, rng=rng) for c in row])
    elif src.is_file():
        try:
            text = src.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{src}: cannot perturb a binary file of unknown format; "
                "use NIfTI, .npy, CSV/TSV or numeric text inputs"
            ) from exc
        dest.write_text(_text_numbers(text, ulps=ulps, rng=rng), encoding="utf-8")
    else:
        raise InputError(f"{src}: only file inputs can be perturbed")
    return dest


def unperturbable(src: Path) -> str | None:
    """Why :func:`perturb_file` would leave ``src`` unchanged or refuse it; None when it holds floating-point values.

    Reads a NIfTI or ``.npy`` header only (a scaled integer image decodes to floats: perturbable), and a text
    file up to its first decimal number.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "counts.txt").write_text("12 7 3\\n")
    >>> _ = (folder / "values.txt").write_text("12 7.5 3\\n")
    >>> unperturbable(folder / "counts.txt"), unperturbable(folder / "values.txt")
    ('holds no decimal number outside comments (integers are left alone)', None)
    """
    name = src.name.lower()
    if not src.is_file():
        return "is not a file (only file inputs can be perturbed)"
    try:
        if name.endswith((".nii", ".nii.gz")):
            return _nifti_reason(src)
        if name.endswith(".npy"):
            dtype = np.load(src, mmap_mode="r").dtype
            return None if dtype.kind == "f" else f"holds {dtype} values, not floating-point ones"
        text = src.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return "is a binary file of unknown format (use NIfTI, .npy, CSV/TSV or numeric text inputs)"
    except (OSError, ValueError) as exc:
        return f"cannot be read ({exc.__class__.__name__}: {exc})"
    found = any(_decimal(m) for data, line in _data_lines(text) if data for m in NUMBER.finditer(line))
    return None if found else "holds no decimal number outside comments (integers are left alone)"


def _nifti_reason(src: Path) -> str | None:
    """:func:`unperturbable` for a NIfTI image, from its header: a scaled integer image decodes to floats."""
    import nibabel as nib
    from nibabel.filebasedimages import ImageFileError

    try:
        proxy = nib.load(str(src)).dataobj
    except (ImageFileError, EOFError) as exc:
        return f"cannot be read as NIfTI ({exc})"
    scaled = (float(proxy.slope), float(proxy.inter)) != (1.0, 0.0)
    return None if proxy.dtype.kind == "f" or scaled else f"holds {proxy.dtype} voxels, not floating-point ones"


def describe(ulps: float, seed: int) -> dict[str, Any]:
    """What is recorded about a perturbation."""
    return {"ulps": ulps, "seed": seed}
