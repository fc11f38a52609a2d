"""One exception hierarchy for reprovip.

Every error a user can cause derives from :class:`ReprovipError`. Each class carries the process exit code
and the HTTP status the dashboard answers with; the mapping to exit codes happens in exactly one place, the
CLI's error handler (:mod:`reprovip.cli.main`).
"""

from __future__ import annotations

#: How an attempt the executor lost begins (a worker that could not start or died): the application may never
#: have run, so a retry that then succeeds says nothing of the application.
BACKEND_ERROR = "backend error"


class ReprovipError(Exception):
    """Base class of every error reprovip raises on purpose.

    The message must be one line that names the file, key or line involved and says what to do.
    """

    exit_code: int = 4
    http_status: int = 500


class InputError(ReprovipError, ValueError):
    """Bad user input: a study file, an argument, a data file. Exit code 2."""

    exit_code = 2
    http_status = 400


class SpecError(InputError):
    """An error in a ``study.yaml``, located by file, line, column and key.

    One error may carry others found in the same pass (``others``): ``validate`` reports every problem at
    once, one per line, the first line keeping the single-error format. Build it with :meth:`gather`.

    Parameters
    ----------
    message : str
        What is wrong and what is expected.
    file : str, optional
        The study file.
    line, column : int, optional
        1-based position of the offending node.
    key : str, optional
        Dotted path of the offending key (``factors.threads``).

    Examples
    --------
    >>> print(SpecError.gather([SpecError("bad", file="s.yaml", line=2, column=3, key="a"),
    ...                         SpecError("worse", file="s.yaml", line=5)]))
    s.yaml:2:3: a: bad
    s.yaml:5: worse
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        key: str | None = None,
    ) -> None:
        self.message = " ".join(message.split())  # always one line, whatever a parser said
        self.file = file
        self.line = line
        self.column = column
        # A key may hold control characters (fuzzed or damaged files): escape them to stay on one line.
        self.key = key.encode("unicode_escape").decode("ascii") if key else key
        self.others: tuple[SpecError, ...] = ()
        super().__init__(str(self))

    @classmethod
    def gather(cls, errors: list[SpecError]) -> SpecError:
        """One error holding ``errors`` (each possibly holding others), in order, repeated lines dropped."""
        flat: dict[str, SpecError] = {}
        for e in errors:
            for x in e.all:
                flat.setdefault(str(x), x)
        if not flat:
            raise ValueError("SpecError.gather needs at least one error")
        first, *rest = flat.values()
        return first._with_others(rest)

    @property
    def all(self) -> list[SpecError]:
        """This error and the others found with it, each standing alone."""
        return [self._with_others([]), *self.others]

    def _with_others(self, others: list[SpecError]) -> SpecError:
        # A new object, never copy.copy: a library may register exceptions as immutable for copying, and
        # copy.copy then returns this very object, whose others the caller would overwrite.
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.others = tuple(others)
        new.args = (str(new),)
        return new

    def __str__(self) -> str:
        return "\n".join([self._line(), *(o._line() for o in self.others)])

    def _line(self) -> str:
        where = self.file or "<study>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        key = f" {self.key}:" if self.key else ""
        return f"{where}:{key} {self.message}"


MD5_ONLY = "md5 only: the output file was not available to ingest (bitwise comparison only)"
"""The error of an output known by its record's MD5 alone (Boutiques records): its bytes compare, nothing decodes."""
EMPTY_FILE = "file is empty (0 bytes)"  # the readers' words, which the verdict recognises (never identical data)
# ... and a pair's header: the same in every execution, its voxels (another file) may differ
PAIR_HEADER = "is the header of a .hdr/.img pair"


class ReaderError(InputError):
    """An output file that cannot be turned into an array (truncated, corrupt, wrong shape)."""


class MetricInputError(InputError):
    """Arrays or options passed to a metric function that it cannot accept."""


class StoreError(InputError):
    """A study store that cannot be used as asked (locked by another runner, wrong schema version)."""


class NotFoundError(InputError):
    """A study, execution, output or file that does not exist."""

    http_status = 404


class ExecutionsFailedError(ReprovipError):
    """Some executions failed after their retries. Exit code 3."""

    exit_code = 3


class CriteriaFailedError(ReprovipError):
    """At least one reproducibility criterion failed. Exit code 1."""

    exit_code = 1


def check_choice(name: str, value: object, choices: set[str] | tuple[str, ...] | list[str]) -> None:
    """Raise :class:`MetricInputError` unless ``value`` is one of ``choices``.

    Parameters
    ----------
    name : str
        The argument's name, used in the message.
    value : object
        The value received.
    choices : collection of str
        The valid values.

    Examples
    --------
    >>> check_choice("method", "cnh", {"cnh", "general"})
    >>> check_choice("method", "foo", ("cnh", "general"))
    Traceback (most recent call last):
    ...
    reprovip.errors.MetricInputError: `method` must be one of {'cnh', 'general'}, got 'foo'
    """
    if value not in choices:
        opts = ", ".join(repr(c) for c in sorted(choices))
        raise MetricInputError(f"`{name}` must be one of {{{opts}}}, got {value!r}")
