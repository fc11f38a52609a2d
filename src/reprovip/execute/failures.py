"""What failed executions tell the user: application text made safe to print, failures grouped by their error.

``run`` and ``status`` print one paragraph per distinct error (``18 executions failed with: ...``) rather
than one line per execution, and the runner stops early when the first executions all fail the same way
(see ``docs/running.md``). Errors differ only by what belongs to each execution (its input path, subject,
working folder) are the same error: :func:`error_signature` replaces those by placeholders.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# CSI (colours, cursor moves), OSC (window titles, hyperlinks) and two-character escape sequences.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
# Other control characters but tab and newline: they would garble a terminal or a one-line message.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
SHOWN = 8  # subjects or conditions named per group before "and N more"
KEEP_FAILED = 10  # working folders of failed executions kept in .reprovip/failed/ (the newest)
FAILED_DIR = "failed"


def strip_ansi(text: str) -> str:
    """Remove terminal escape sequences and control characters; carriage returns become line breaks.

    Applications colour their messages and redraw progress bars; reprovip prints and stores plain text.

    Examples
    --------
    >>> strip_ansi("\\x1b[31mError:\\x1b[0m bad input\\r\\n")
    'Error: bad input\\n'
    >>> strip_ansi("10%\\r50%\\r100%")
    '10%\\n50%\\n100%'
    """
    text = _ANSI.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


# What a logged error line holds of its moment and process (Python logging's `%(asctime)s [%(process)d]`): each
# line of one error was another error, so 24 executions printed 24 groups and the early stop never came (review H)
_STAMPS = (
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?(?!\d)"), "{time}"),
    (re.compile(r"(?<![\d:.])\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?![\d:])"), "{time}"),
    # a process id in brackets only after a time stamp, as a log line's prefix: `label [1024]` and `[2047]` are two
    # errors (review J)
    (re.compile(r"(\{time\}[ ,]*(?:\w+[ ,:]*)?)\[\d+\]"), r"\1[{pid}]"),
    (re.compile(r"\b(pid[ =:#]*)\d+\b", re.IGNORECASE), r"\1{pid}"),
    # a 64-bit address (12 hexadecimal digits or more); `0xdeadbeef` against `0xcafebabe` stays two (review J)
    (re.compile(r"\b0x[0-9a-fA-F]{12,16}\b"), "{address}"),
)


def error_signature(error: str, *, subject: str, input: str | None = None, execution_id: str | None = None) -> str:
    """The error with what belongs to one execution replaced by ``{input}``, ``{subject}``, ``{execution}``, and
    its time stamps, process ids and memory addresses by ``{time}``, ``{pid}``, ``{address}``.

    The execution id also names its working folder, so paths inside it are covered. A subject made only of
    digits is left alone: it would match exit codes and line numbers.

    Examples
    --------
    >>> error_signature("exit code 1: cannot read /d/sub-01.nii", subject="sub-01", input="/d/sub-01.nii")
    'exit code 1: cannot read {input}'
    >>> error_signature("exit code 1: no brain in sub-02_T1w", subject="sub-02")
    'exit code 1: no brain in {subject}_T1w'
    >>> error_signature("dirout is a folder, not a file: /data/a/dirout", subject="a")
    'dirout is a folder, not a file: /data/{subject}/dirout'
    >>> error_signature("exit code 1: 2026-12-02 13:56:26,258 [30142] ERROR no licence (pid=30143)", subject="s")
    'exit code 1: {time} [{pid}] ERROR no licence (pid={pid})'
    >>> error_signature("exit code 134: free(): invalid pointer 0x55d1c0a3b2e0 at 12:30:01.5", subject="s")
    'exit code 134: free(): invalid pointer {address} at {time}'
    >>> error_signature("exit code 1: label [1024] not in atlas; checksum 0xdeadbeef", subject="s")
    'exit code 1: label [1024] not in atlas; checksum 0xdeadbeef'
    >>> error_signature("12:00:01 worker [4711] died; 2026-01-02 10:00:00,1 [31] x", subject="s")
    '{time} worker [{pid}] died; {time} [{pid}] x'
    """
    for value, name in ((input, "{input}"), (execution_id, "{execution}")):
        if value:
            error = error.replace(value, name)
    for pattern, name in _STAMPS:
        error = pattern.sub(name, error)
    if subject and not subject.isdigit():
        # Whole names only: sub-1 is not inside sub-10, but is inside sub-1_T1w.nii. A name of one or two
        # characters only beside a path's separator: subject `a` replaced the article of the message's English
        # ("d (dirout is {subject} folder, ...)", a review)
        name = re.escape(subject)
        alone = rf"(?<![A-Za-z0-9-]){name}(?![A-Za-z0-9-])"
        in_path = rf"(?<=[/_]){name}(?![A-Za-z0-9-])|(?<![A-Za-z0-9-]){name}(?=[/_])"
        error = re.sub(alone if len(subject) > 2 else in_path, "{subject}", error)
    return error


@dataclass
class FailureGroup:
    """Failed executions that share one error signature.

    ``executions``: dicts with ``subject``, ``condition``, ``repetition`` and optionally ``argv`` (the
    command that failed), ``kept`` (its working folder, kept for inspection) and ``id``.
    """

    error: str
    executions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def subjects(self) -> list[str]:
        """The subjects affected, sorted."""
        return sorted({str(e["subject"]) for e in self.executions})

    @property
    def conditions(self) -> list[str]:
        """The conditions affected, sorted."""
        return sorted({str(e["condition"]) for e in self.executions})

    def lines(self) -> list[str]:
        """The group as printed by ``run`` and ``status``: the error once, then who it affects."""
        n = len(self.executions)
        out = [f"{n} execution{'s' if n > 1 else ''} failed with: {self.error}"]
        if n <= 3:
            out += [f"  {e['subject']} [{e['condition']}] rep {e['repetition']}" for e in self.executions]
        else:
            out.append(f"  subjects: {_names(self.subjects)}; conditions: {_names(self.conditions)}")
        return out


def _names(names: list[str]) -> str:
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more


def group_failures(failures: Iterable[dict[str, Any]]) -> list[FailureGroup]:
    """Group failures by :func:`error_signature` of their ``error``; the largest group first.

    Each failure is a dict with ``error``, ``subject``, ``condition``, ``repetition`` and optionally ``input``
    and ``id`` (used to recognise what is specific to it).
    """
    groups: dict[str, FailureGroup] = {}
    for f in failures:
        text = strip_ansi(str(f.get("error") or "unknown error")).strip()
        key = error_signature(text, subject=str(f["subject"]), input=f.get("input"), execution_id=f.get("id"))
        groups.setdefault(key, FailureGroup(key)).executions.append(f)
    return sorted(groups.values(), key=lambda g: -len(g.executions))
