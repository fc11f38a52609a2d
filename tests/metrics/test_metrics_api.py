"""The public API of reprovip.metrics: exported names, docstrings with references and examples."""

from __future__ import annotations

import inspect

import pytest

import reprovip.metrics as metrics


@pytest.mark.parametrize("name", metrics.__all__)
def test_exported(name):
    assert hasattr(metrics, name)


FUNCTIONS = [n for n in metrics.__all__ if inspect.isfunction(getattr(metrics, n))]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_public_functions_documented(name):
    """numpydoc with References (a DOI) and a runnable Examples section on each public function."""
    doc = inspect.getdoc(getattr(metrics, name)) or ""
    assert "Examples\n--------" in doc and ">>> " in doc, name
    assert "References\n----------" in doc and "doi:" in doc, name


@pytest.mark.parametrize("name", FUNCTIONS)
def test_options_keyword_only(name):
    """Options are keyword-only: only data arguments are positional."""
    params = inspect.signature(getattr(metrics, name)).parameters.values()
    positional = [p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert set(positional) <= {
        "x",
        "statistic",
        "a",
        "b",
        "maps",
        "value",
        "factors",
        "ms",
        "msr",
        "msc",
        "mse",
        "msw",
        "n",
        "k",
        "probability",
        "confidence",
    }, (name, positional)
