"""A tiny PNG encoder (8-bit palette images, zlib) and the colour maps the voxel maps are drawn with.

Palette PNGs keep the report small: one byte per pixel before compression, and flat regions compress well.
A map is drawn over the anatomy: the first 64 entries of every palette are greys, the others the map's colours.
"""

from __future__ import annotations

import base64
import struct
import zlib

import numpy as np

GREYS = 64
"""Palette entries 0..63 are the grey anatomy (black to light grey); 64..255 the map drawn over it."""
GREY_TOP = 215  # the brightest anatomy grey: lighter greys would be mistaken for the top of the colour scale

# Viridis sampled at 9 points (matplotlib's table), interpolated linearly in between.
VIRIDIS = [
    (68, 1, 84),
    (71, 44, 122),
    (59, 81, 139),
    (44, 113, 142),
    (33, 144, 141),
    (39, 173, 129),
    (92, 200, 99),
    (170, 220, 50),
    (253, 231, 37),
]
DIFFER = (230, 85, 13)
"""The colour of a voxel where executions differ (an orange no grey and no viridis entry resembles)."""


def _interpolate(anchors: list[tuple[int, int, int]], n: int) -> list[tuple[int, int, int]]:
    a = np.asarray(anchors, dtype=np.float64)
    x = np.linspace(0, len(anchors) - 1, n)
    cols = np.stack([np.interp(x, np.arange(len(anchors)), a[:, c]) for c in range(3)], axis=1)
    return [tuple(int(round(v)) for v in row) for row in cols]  # type: ignore[misc]


def palette(name: str) -> list[tuple[int, int, int]]:
    """The 256-entry palette ``name`` (``viridis`` or ``differ``): 64 greys, then the map's colours.

    Examples
    --------
    >>> p = palette("viridis"); len(p), p[0], p[63], p[64], p[255]
    (256, (0, 0, 0), (215, 215, 215), (68, 1, 84), (253, 231, 37))
    >>> palette("differ")[64]
    (230, 85, 13)
    """
    greys = [(g, g, g) for g in np.round(np.linspace(0, GREY_TOP, GREYS)).astype(int).tolist()]
    if name == "differ":
        return greys + [DIFFER] * (256 - GREYS)
    return greys + _interpolate(VIRIDIS, 256 - GREYS)


def overlay_indices(
    values: np.ndarray, shown: np.ndarray, grey: np.ndarray, vmin: float, vmax: float, *, binary: bool = False
) -> np.ndarray:
    """Palette indices of a map drawn over an anatomy: ``grey`` (0..1, NaN as black) where ``shown`` is False,
    the map's colour (64..255, or 64 when ``binary``) where it is True.

    ``+inf`` is drawn as the top of the scale and ``-inf`` as the bottom; a NaN value is never shown.

    Examples
    --------
    >>> overlay_indices(np.array([[0.0, 0.5, np.inf, 9.0]]), np.array([[False, True, True, True]]),
    ...                 np.array([[1.0, 0.0, 0.0, np.nan]]), 0.0, 1.0).tolist()
    [[63, 160, 255, 255]]
    """
    v = np.asarray(values, dtype=np.float64)
    show = np.asarray(shown, dtype=bool) & ~np.isnan(v)
    g = np.clip(np.nan_to_num(np.asarray(grey, dtype=np.float64), nan=0.0), 0.0, 1.0)
    out = np.round(g * (GREYS - 1)).astype(np.uint8)
    if binary:
        out[show] = GREYS
        return out
    span = vmax - vmin if vmax > vmin else 1.0
    clipped = np.clip(np.nan_to_num(v, posinf=vmax, neginf=vmin), vmin, vmax)
    idx = GREYS + np.round((clipped - vmin) / span * (255 - GREYS)).astype(np.int64)
    out[show] = idx[show].astype(np.uint8)
    return out


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(indices: np.ndarray, colours: list[tuple[int, int, int]]) -> bytes:
    """Encode a 2-D array of palette indices (rows top to bottom) as an 8-bit palette PNG.

    Examples
    --------
    >>> data = encode_png(np.array([[0, 1], [2, 255]], dtype=np.uint8), palette("viridis"))
    >>> data[:8] == b"\\x89PNG\\r\\n\\x1a\\n", len(data) < 2000
    (True, True)
    """
    a = np.ascontiguousarray(indices, dtype=np.uint8)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"`indices` must be a non-empty 2-D array, got shape {a.shape}")
    h, w = a.shape
    raw = np.concatenate([np.zeros((h, 1), dtype=np.uint8), a], axis=1).tobytes()  # filter type 0 per row
    plte = bytes(c for rgb in colours[:256] for c in rgb)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0))
        + _chunk(b"PLTE", plte)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def data_uri(png: bytes) -> str:
    """A ``data:image/png;base64,...`` URI for ``png``."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
