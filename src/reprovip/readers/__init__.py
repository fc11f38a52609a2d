"""Readers: turn one output file of one execution into named numeric observations.

:func:`load` is the entry point; :data:`READERS` is the ordered registry of formats (one
:class:`Reader` subclass per format); ``docs/readers.md`` documents every reader, the observation names,
the semantic hashes and the error messages.
"""

from __future__ import annotations

from reprovip.readers.base import KINDS, Loaded, Reader
from reprovip.readers.compat import AFFINE_TOLERANCE, affine_mismatch, check_compatible
from reprovip.readers.hashing import byte_hash, semantic_hash
from reprovip.readers.nifti import Image, load_image_with_hash, read_image
from reprovip.readers.registry import READERS, find_reader, load

__all__ = [
    "AFFINE_TOLERANCE",
    "KINDS",
    "READERS",
    "affine_mismatch",
    "Image",
    "Loaded",
    "Reader",
    "byte_hash",
    "check_compatible",
    "find_reader",
    "load",
    "load_image_with_hash",
    "read_image",
    "semantic_hash",
]
