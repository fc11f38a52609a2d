"""Opaque files (``bytes``): compared bit for bit through their hashes, never read for numbers.

Digests, logs full of run details, binary formats without a reader: an output declared ``bytes`` is
identical across executions when its bytes are, and different otherwise; there is no numeric analysis to
fall back on. Its semantic hash *is* the byte hash (nothing is decoded, so nothing is forgiven), and
:meth:`BytesReader.read` raises :class:`~reprovip.errors.ReaderError` rather than returning no
observations, so a caller that forgets to skip the numeric analysis reports an error instead of an empty
(and thus vacuous) comparison.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reprovip.readers.base import Loaded, Reader, fail


class BytesReader(Reader):
    """Any file declared ``bytes``; never inferred from a suffix."""

    name = "bytes"
    kinds = ("bytes",)
    any_suffix = True

    def read(self, path: Path, *, kind: str, **options: Any) -> Loaded:
        raise fail(
            path,
            "an output of kind 'bytes' is compared bit for bit and has no numeric observations",
            "compare its byte hashes, or declare a numeric kind (text, table, scalars, ...) to analyse its numbers",
        )

    def semantic_hash(self, path: Path) -> str:
        """The byte hash: nothing is decoded, so no difference is forgiven."""
        from reprovip.readers.hashing import byte_hash  # lazy: hashing imports the registry, which imports us

        return byte_hash(path)
