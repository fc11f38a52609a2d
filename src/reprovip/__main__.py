"""``python -m reprovip``: the same as the ``reprovip`` command."""

from reprovip.cli.main import entry

entry()
