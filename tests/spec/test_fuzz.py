"""Fuzzing the study loader: whatever the text, it parses or raises SpecError, one located line per problem."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reprovip.errors import SpecError
from reprovip.spec import parse_spec
from tests.spec.test_loader import GOOD

SETTINGS = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def _parses_or_spec_error(text: str) -> None:
    try:
        parse_spec(text, file="study.yaml")
    except SpecError as exc:
        lines = str(exc).split("\n")
        assert len(lines) == 1 + len(exc.others)
        assert all(line.startswith("study.yaml") for line in lines), lines


@SETTINGS
@given(st.text(max_size=400))
def test_arbitrary_text(text: str) -> None:
    _parses_or_spec_error(text)


@SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(0, len(GOOD) - 1), st.sampled_from(list(":[]{}-\"'#\n\t &*!|>,0aZ{}"))),
        min_size=1,
        max_size=8,
    )
)
def test_mutated_valid_study(edits: list[tuple[int, str]]) -> None:
    text = list(GOOD)
    for pos, char in edits:
        text[pos % len(text)] = char
    _parses_or_spec_error("".join(text))


@SETTINGS
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
        max_leaves=12,
    ),
    st.sampled_from(["application", "subjects", "factors", "outputs", "repetitions", "criteria", "timeout"]),
)
def test_any_value_under_any_key(value: object, key: str) -> None:
    import json

    text = (
        GOOD + f"{key}: {json.dumps(value)}\n"
        if key not in GOOD
        else GOOD.replace(f"{key}:", f"{key}: {json.dumps(value)}\nx_{key}:", 1)
    )
    _parses_or_spec_error(text)
