"""The ``reprovip`` command: the click group and the one place that maps errors to exit codes.

Exit codes: 0 success, 1 criteria failed, 2 usage or input error, 3 executions failed, 4 internal error
(a bug-report log is written), 130 interrupted.

Warnings of reprovip's own classes are one line on stderr, ``reprovip: warning: <file>:<line>: <message>``, the
place given when it is the user's file (a study file); other packages' warnings are shown as Python shows them.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import functools
import importlib
import os
import sys
import threading
import warnings
from typing import Any, TextIO

import click

from reprovip import __version__
from reprovip.errors import ReprovipError

EXIT_INTERRUPTED = 130

COMMANDS = (
    "init",
    "validate",
    "run",
    "status",
    "ingest",
    "analyze",
    "check",
    "compare",
    "report",
    "serve",
    "export",
)
"""The commands: ``NAME`` is the click command ``NAME`` of module ``reprovip.cli.NAME``; adding a command is
adding its module and its name here. A command's module is imported only when it runs (or ``--help`` lists
it), so each command pays only for its own imports."""


ALIASES = {"analyse": "analyze"}
"""Other spellings of a command: reprovip's own messages say "analyse again" (review NU: `reprovip analyse`
read "No such command")."""


class _LazyGroup(click.Group):
    """A group that imports a command of :data:`COMMANDS` when it is looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd_name = ALIASES.get(cmd_name, cmd_name)
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            self.add_command(getattr(importlib.import_module(f"reprovip.cli.{cmd_name}"), cmd_name))
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reprovip")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """reprovip: is your imaging pipeline reproducible, and by how much is it not?"""
    ctx.obj = {"debug": debug}


def _bug_report(exc: BaseException) -> str:
    import os
    import platform
    import tempfile
    import time
    import traceback

    # The process id too: two commands crashing in the same second must not write one report.
    path = f"{tempfile.gettempdir()}/reprovip-crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"reprovip {__version__}\npython {sys.version}\nplatform {platform.platform()}\n")
        fh.write(f"argv {sys.argv}\n\n")
        fh.write("".join(traceback.format_exception(exc)))
    return path


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
    *,
    default: Any,
) -> None:
    """Show a warning of reprovip as one line, ``reprovip: warning: <file>:<line>: <message>``; others as Python
    does (``default``). Python's format repeated the study file's line under a ``file:line: Category:`` header,
    as if a traceback. The place is named when it is the user's file (a study file), not reprovip's source."""
    if not category.__module__.startswith("reprovip"):
        default(message, category, filename, lineno, file, line)
        return
    where = "" if filename.endswith(".py") else f"{filename}:{lineno}: " if lineno else f"{filename}: "
    click.echo(f"reprovip: warning: {where}{' '.join(str(message).split())}", err=True)


# What the machine, not reprovip, refused when writing a file, and what the user can do about it
_FULL = "free some space (or move the study folder to a larger disk) and run the command again"
_WRITE_ERRNOS = {
    errno.ENOSPC: _FULL,
    errno.EDQUOT: "free some space or ask for a larger quota, then run the command again",
    errno.EFBIG: "raise the file size limit (`ulimit -f`, set by the shell or the batch system) and run the command "
    "again",
    errno.EROFS: "the disk is mounted read-only: run the command where you can write (or copy the study folder)",
}


def environment_error(exc: BaseException) -> str | None:
    """One line for an error of the machine rather than of reprovip: a full disk, a quota, ``ulimit -f``, a
    read-only mount met while writing a file (``analyze``, ``ingest`` and ``report`` under ``ulimit -f`` were
    internal errors with a bug report: a review); None for anything else. The exit code is 2, as for other
    errors the user can fix.

    Examples
    --------
    >>> environment_error(OSError(27, "File too large", "/s/.reprovip/results/a.json"))[:61]
    '/s/.reprovip/results/a.json: cannot write it (File too large)'
    >>> environment_error(ValueError("no")) is None
    True
    """
    for e in (exc, exc.__cause__, exc.__context__):
        if isinstance(e, OSError) and e.errno in _WRITE_ERRNOS:
            where = f"{e.filename}: " if e.filename else ""
            return f"{where}cannot write it ({e.strerror or os.strerror(e.errno)}); {_WRITE_ERRNOS[e.errno]}"
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    args = sys.argv[1:] if argv is None else argv
    with warnings.catch_warnings():  # restored on return: main() may run inside another program
        warnings.showwarning = functools.partial(_show_warning, default=warnings.showwarning)
        return _main(args)


def _main(args: list[str]) -> int:
    debug = "--debug" in args
    try:
        rv = cli.main(args=args, prog_name="reprovip", standalone_mode=False)
        return int(rv or 0)
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("reprovip: interrupted", err=True)
        return EXIT_INTERRUPTED
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        # One line like every input error; the usage block would bury it.
        hint = ""
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            hint = f" (see `{exc.ctx.command_path} --help`)"
        message = " ".join(exc.format_message().split())
        click.echo(f"reprovip: error: {message}{hint}", err=True)
        return 2
    except ReprovipError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        click.echo(f"reprovip: error: {exc}", err=True)
        return exc.exit_code
    except Exception as exc:
        if debug:
            import traceback

            traceback.print_exc()
        if (message := environment_error(exc)) is not None:
            click.echo(f"reprovip: error: {message}", err=True)
            return 2
        path = _bug_report(exc)
        click.echo(f"reprovip: internal error: {exc.__class__.__name__}: {exc}", err=True)
        click.echo(f"reprovip: a bug report was written to {path}; please attach it to an issue", err=True)
        return 4


def entry() -> None:
    """Console-script entry point.

    Once the command is done and nothing else runs, the process exits without the interpreter's teardown, which
    frees every module one by one (SQLAlchemy, pydantic, numpy...: about 0.1 s of every command). Exit handlers
    still run first (they close the catalogs, see :class:`~reprovip.store.catalog.Catalog`), then the output is
    flushed. With other threads still running (a library's), Python's own exit waits for them.
    """
    code = main()
    if threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
