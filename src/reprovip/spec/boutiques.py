"""Boutiques applications: validate the descriptor, build each execution's argv with the boutiques package."""

from __future__ import annotations

import contextlib
import io
import json
import shlex
from pathlib import Path
from typing import Any

from reprovip.errors import SpecError
from reprovip.execute.render import render


def descriptor_path(descriptor: str, study_dir: Path) -> Path:
    """The descriptor's absolute path (relative paths are relative to the study folder)."""
    p = Path(descriptor)
    return p if p.is_absolute() else (study_dir / p).resolve()


def validate_descriptor(path: Path, *, file: str = "study.yaml") -> dict[str, Any]:
    """Check the descriptor with ``bosh validate``; return it parsed.

    Raises
    ------
    SpecError
        Missing, unreadable or invalid descriptor (the message carries Boutiques' reason).
    """
    from boutiques import bosh

    if not path.is_file():
        raise SpecError(f"Boutiques descriptor not found: {path}", file=file, key="application.boutiques")
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            bosh(["validate", str(path)])
        return json.loads(path.read_text())
    except Exception as exc:  # boutiques raises its own error classes and SystemExit-like ones
        reason = str(exc).strip().splitlines()[-1:] or [exc.__class__.__name__]
        raise SpecError(
            f"invalid Boutiques descriptor {path}: {reason[0][:200]}", file=file, key="application.boutiques"
        ) from exc


def _typed(template: Any, values: dict[str, Any]) -> Any:
    if not isinstance(template, str):
        return template
    text = render(template, values)
    for cast in (int, float):
        if text != template:
            try:
                return cast(text)
            except ValueError:
                continue
    return text


def boutiques_argv(descriptor: str, invocation: dict[str, Any], values: dict[str, Any], workdir: Path) -> list[str]:
    """Render the invocation with this execution's values and let Boutiques build the command line.

    Boutiques command lines are shell-quoted strings; they are split with :func:`shlex.split` and run as an
    argv list, never through a shell.
    """
    from boutiques import bosh

    inv = {k: _typed(v, values) for k, v in invocation.items()}
    inv_path = workdir / "invocation.json"
    inv_path.write_text(json.dumps(inv))
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        out = bosh(["exec", "simulate", descriptor, "-i", str(inv_path)])
    return shlex.split(out.shell_command)
