"""JSON documents (``scalars``): every numeric leaf is one observation keyed by its flattened path.

Paths join object keys with ``.`` and list indices with ``[i]``: ``{"a": {"b": [1, {"c": 2}]}}`` gives
``a.b[0]`` and ``a.b[1].c``. A key that is empty or holds one of ``.[]"`` is written ``["the.key"]`` (a JSON
string in brackets) so that two different documents never flatten to the same path. Booleans become 0/1;
strings and nulls are not numbers: they are no observation, counted in ``meta["n_ignored"]``, and a digest of
each is kept in ``meta["text"]`` (by path) so that the analysis can say when they differ between executions.
A key written twice in one object (``{"a": 1, "a": 2}``) is an error naming its path, for reading and hashing
alike: JSON parsers disagree on which value counts, and keeping one would hide a difference in the other.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from reprovip.readers.base import (
    Loaded,
    Reader,
    count_nonfinite,
    decode_text,
    describe,
    exact_number,
    fail,
    head,
    new_hasher,
    read_file_bytes,
    read_only,
    text_digest,
    word_values,
)
from reprovip.readers.table import holds_number, names_a_version

_FIX_JSON = "fix the program that writes it, or declare the output as kind 'text'"
_SPECIAL = frozenset('.[]"')
_JSON_TYPES = {str: "a string", int: "a number", float: "a number", bool: "a boolean", type(None): "null"}


class ExactFloat(float):
    """A JSON number written with more digits than float64 keeps: its float64 value, and ``exact``, its value as
    canonical text (:func:`~reprovip.readers.base.exact_number`)."""

    exact: str


def _parse_float(literal: str) -> float:
    exact = exact_number(literal)
    if exact is None:
        return float(literal)
    number = ExactFloat(literal)
    number.exact = exact
    return number


def parse_json(path: Path) -> Any:
    """Parse ``path`` as JSON (UTF-8, optionally gzip-compressed); wrap every failure in ReaderError.

    A key repeated in one object is an error (see :func:`_check_repeated`). A number written with more digits
    than float64 keeps is an :class:`ExactFloat`.
    """
    text, _ = decode_text(path, read_file_bytes(path), strict=True)
    repeated: dict[int, tuple[str, int]] = {}  # id of an object that repeats a key -> (first such key, count)

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):  # the rare case: count, to name the key
            counts = Counter(k for k, _ in pairs)
            key = next(k for k, _ in pairs if counts[k] > 1)
            repeated[id(obj)] = (key, counts[key])
        return obj

    try:
        document = json.loads(text, object_pairs_hook=pairs_hook, parse_float=_parse_float)
    except json.JSONDecodeError as exc:
        problem = f"invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg})"
        raise fail(path, problem, _FIX_JSON) from exc
    except (ValueError, RecursionError) as exc:  # huge integers, absurd nesting
        raise fail(path, f"invalid JSON ({describe(exc)})", _FIX_JSON) from exc
    if repeated:
        _check_repeated(path, document, repeated)
    return document


def _check_repeated(path: Path, document: Any, repeated: dict[int, tuple[str, int]]) -> None:
    """Raise ReaderError naming the path of the first repeated key, in document order.

    ``json`` keeps the last value of a repeated key, other parsers the first: the data is ambiguous, and a
    reader that kept one value would call two files that differ in the other identical.
    """
    for prefix, node in walk(document):
        if isinstance(node, dict) and id(node) in repeated:
            key, count = repeated[id(node)]
            raise fail(
                path,
                f"duplicated key {_key(prefix, key)!r} ({json.dumps(key)} appears {count} times in one object, "
                "and JSON readers disagree on which value counts)",
                "the application writes the key twice; fix it to write each key once, or declare the output "
                "as kind 'bytes' to compare it bit for bit",
            )


def walk(document: Any) -> Iterator[tuple[str, Any]]:
    """Every node of ``document`` (objects and lists too) with its flattened path, in document order.

    Examples
    --------
    >>> [p for p, _ in walk({"a": [1, {"b": 2}]})]
    ['', 'a', 'a[0]', 'a[1]', 'a[1].b']
    """
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        prefix, node = stack.pop()
        yield prefix, node
        if isinstance(node, dict):
            stack.extend((_key(prefix, str(k)), v) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((f"{prefix}[{i}]", v) for i, v in reversed(list(enumerate(node))))


def _key(prefix: str, key: str) -> str:
    if not key or _SPECIAL.intersection(key):
        return f"{prefix}[{json.dumps(key)}]"
    return f"{prefix}.{key}" if prefix else key


def flatten(document: Any) -> tuple[dict[str, float | int], dict[str, Any]]:
    """Numeric leaves by path (floats; an integer float64 cannot hold exactly stays an int, a longer decimal
    an :class:`ExactFloat`), and the non-numeric leaves (strings, nulls) by path.

    Examples
    --------
    >>> flatten({"a": {"b": [1, {"c": 2.5}], "ok": True, "name": "x"}})
    ({'a.b[0]': 1.0, 'a.b[1].c': 2.5, 'a.ok': 1.0}, {'a.name': 'x'})
    """
    numbers: dict[str, float] = {}
    ignored: dict[str, Any] = {}
    for prefix, node in walk(document):
        if isinstance(node, dict | list):
            continue
        if isinstance(node, bool):
            numbers[prefix] = float(node)
        elif isinstance(node, int | float):
            f = _float(node)
            kept = isinstance(node, ExactFloat) or (isinstance(node, int) and f != node)
            numbers[prefix] = node if kept else f  # kept exact: see JsonReader
        else:
            ignored[prefix] = node
    return numbers, ignored


def _float(number: int | float) -> float:
    """``number`` as float64: an integer beyond its range is infinite (kept exact in ``meta["exact"]``, as a
    table's cell or a float literal such as ``1e400`` is), not an error that made the whole file unreadable."""
    try:
        return float(number)
    except OverflowError:
        return math.inf if number > 0 else -math.inf


def list_lengths(document: Any) -> dict[str, int]:
    """The length of every list in ``document``, by its flattened path (an empty list writes no observation:
    only here is it told apart from a list that is not written at all).

    Examples
    --------
    >>> list_lengths({"a": {"b": [1, {"c": []}]}, "d": 2})
    {'a.b': 2, 'a.b[1].c': 0}
    """
    return {prefix: len(node) for prefix, node in walk(document) if isinstance(node, list)}


_JSON_START = re.compile(rb'\{\s*(?:"|\}|$)|\[\s*(?:[-"{\[\]0-9]|true|false|null|$)')


class JsonReader(Reader):
    """JSON objects or arrays of numbers, nested to any depth."""

    name = "json"
    kinds = ("scalars",)
    suffixes = (".json", ".json.gz")
    any_suffix = True

    def sniff(self, path: Path) -> bool:
        # `{` then a key or `}`, `[` then a value or `]`: a log line `[INFO] iter 3` is no JSON (a review)
        return _JSON_START.match(head(path, 64).lstrip()) is not None

    def read(self, path: Path, *, kind: str, **options: Any) -> Loaded:
        document = parse_json(path)
        if not isinstance(document, dict | list):
            raise fail(
                path,
                f"the JSON document is {_JSON_TYPES[type(document)]}, not an object or an array",
                'write the scalars as an object such as {"volume": 1.5}',
            )
        numbers, ignored = flatten(document)
        values = {k: read_only(np.array(_float(v), dtype=np.float64)) for k, v in numbers.items()}
        meta = {
            # numbers float64 cannot hold exactly (integers beyond 2**53, longer decimals): two that differ may
            # read as one float
            "exact": {k: _exact_text(v) for k, v in numbers.items() if isinstance(v, int | ExactFloat)},
            "n_values": len(values),
            "n_ignored": len(ignored),
            "ignored": list(ignored)[:100],
            "text": {k: text_digest(v) for k, v in ignored.items()},
            "words": word_values(ignored),  # categorical results, as written: the analysis fails one that flips
            # strings that are numbers ("1234.56", "4.2 ml"): when they differ, no metric measures them
            "number_like_text": {
                k: f"{v!r} is a number written as text"
                for k, v in ignored.items()
                # "~1.18", "1.2×10⁻³": as a table's cells (a review); "SoftwareVersion": "1.1" is no number
                if isinstance(v, str) and holds_number(v) and not names_a_version(k)
            },
            "n_nonfinite": count_nonfinite(values),
            # a region one subject lacks is absent there; a list of another length is not (analyze.observations)
            "lists": list_lengths(document),
        }
        return Loaded("scalars", values, meta)

    def semantic_hash(self, path: Path) -> str | None:
        """Hash of the canonical dump: sorted keys, no whitespace, ASCII escapes, Python float repr; then the
        exact values of the numbers written with more digits than float64 keeps (none: the hash is as before)."""
        document = parse_json(path)
        h = new_hasher("json.v1")
        h.update(json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode())
        longer = {k: v.exact for k, v in flatten(document)[0].items() if isinstance(v, ExactFloat)}
        if longer:
            h.update(json.dumps(longer, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode())
        return h.hexdigest()


def _exact_text(number: int | ExactFloat) -> str:
    return number.exact if isinstance(number, ExactFloat) else str(number)
