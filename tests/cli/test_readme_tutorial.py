"""docs/tutorial.md runs as written, and says what a user sees.

The page's conventions, which this test reads: a paragraph ending with "Save it as `NAME`:" is followed by a
```python block written to NAME; in a ```console block, each `$ ` line is a command, run through bash from one
folder in page order, and the lines after it are its output as shown: each must match a line of what the command
printed (stdout and stderr), in order, with `...` standing for anything. Every command must exit 0 except those
whose shown output starts with `reprovip: error:` (they must exit 2).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

TUTORIAL = Path(__file__).parents[2] / "docs" / "tutorial.md"


def _steps(text: str) -> list[tuple[str, str, list[str]]]:
    """("file", name, [content]) and ("run", command, [shown output lines]), in page order."""
    steps: list[tuple[str, str, list[str]]] = []
    for m in re.finditer(r"Save it as\s+`([^`]+)`:\n\n```python\n(.*?)```|```console\n(.*?)```", text, flags=re.S):
        if m.group(1):
            steps.append(("file", m.group(1), [m.group(2)]))
            continue
        for line in m.group(3).splitlines():
            if line.startswith("$ "):
                steps.append(("run", line[2:], []))
            elif line.strip():
                steps[-1][2].append(line)
    return steps


def _shown_in(shown: list[str], printed: list[str]) -> str | None:
    """The first shown line not found (in order) among the printed lines, or None."""
    i = 0
    for want in shown:
        if want.strip() == "...":
            continue
        pattern = re.compile(".*?".join(re.escape(part) for part in want.split("...")))
        while i < len(printed) and not pattern.fullmatch(printed[i].rstrip()):
            i += 1
        if i == len(printed):
            return want
        i += 1
    return None


def test_tutorial_commands_run_and_print_what_the_page_shows(tmp_path: Path) -> None:
    steps = _steps(TUTORIAL.read_text(encoding="utf-8"))
    assert [s[1] for s in steps if s[0] == "file"] == ["measure.py", "make_subjects.py"]
    assert sum(s[0] == "run" for s in steps) == 10
    # Rich tables are as wide as the terminal: the page shows them at 80 columns.
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", COLUMNS="80")
    for kind, what, lines in steps:
        if kind == "file":
            (tmp_path / what).write_text(lines[0], encoding="utf-8")
            continue
        proc = subprocess.run(["bash", "-c", what], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        expected = 2 if lines and lines[0].startswith("reprovip: error:") else 0
        assert proc.returncode == expected, (what, proc.stdout[-2000:], proc.stderr[-2000:])
        missing = _shown_in(lines, (proc.stdout + "\n" + proc.stderr).splitlines())
        assert missing is None, f"{what}: the page shows {missing!r}; printed:\n{proc.stdout}\n{proc.stderr}"
    assert (tmp_path / "report.html").stat().st_size > 0
