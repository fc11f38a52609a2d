"""Every registered backend, built-in factor, placeholder and CLI command is documented."""

from __future__ import annotations

from pathlib import Path

from reprovip.cli.main import COMMANDS
from reprovip.execute.backends import BACKENDS
from reprovip.spec.models import BUILTIN_FACTORS, BUILTIN_PLACEHOLDERS

DOCS = Path(__file__).parents[1] / "docs"
README = Path(__file__).parents[1] / "README.md"


def _text(*names: str) -> str:
    return "\n".join((DOCS / n).read_text() for n in names)


def test_every_backend_is_documented() -> None:
    text = _text("running.md", "scaling.md", "vip.md")
    assert [b for b in BACKENDS if f"`{b}" not in text and f"{b}://" not in text] == []


def test_every_builtin_factor_and_placeholder_is_documented() -> None:
    text = _text("study-format.md")
    assert [f for f in BUILTIN_FACTORS if f"`{f}`" not in text] == []
    assert [p for p in BUILTIN_PLACEHOLDERS if f"{{{p}}}" not in text] == []


def test_every_command_is_in_the_readme() -> None:
    text = README.read_text()
    assert [c for c in COMMANDS if f"reprovip {c}" not in text] == []
