"""The list of commands, one module each; adding a command is adding a module and a line here."""

from __future__ import annotations

from reprovip.cli.analyze import analyze
from reprovip.cli.check import check
from reprovip.cli.compare import compare
from reprovip.cli.ingest import ingest
from reprovip.cli.init import init
from reprovip.cli.report import report
from reprovip.cli.run import run
from reprovip.cli.serve import serve
from reprovip.cli.status import status
from reprovip.cli.validate import validate

ALL = [init, validate, run, status, ingest, analyze, check, compare, report, serve]
