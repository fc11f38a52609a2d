"""``reprovip export``: the study's provenance as a Workflow Run RO-Crate (Provenance Run Crate 0.5)."""

from __future__ import annotations

import click


def export_command(path: str, *, ro_crate: str, with_blobs: bool = False, license: str | None = None) -> int:  # noqa: A002
    """Write the crate of the study ``path`` into the new folder ``ro_crate`` and print where it is."""
    from reprovip.study import Study

    written = Study.load(path).export_rocrate(ro_crate, with_blobs=with_blobs, license=license)
    click.echo(f"RO-Crate: {written}")
    return 0


@click.command("export")
@click.argument("study", type=click.Path(dir_okay=False), default="study.yaml")
@click.option(
    "--ro-crate",
    "ro_crate",
    required=True,
    type=click.Path(file_okay=False),
    help="The folder to write the crate in (new, or empty).",
)
@click.option(
    "--with-blobs",
    is_flag=True,
    help="Copy each distinct output into the crate (default: refer to it by its path in the store and its hashes).",
)
@click.option("--license", "license_", help="The crate's license: a URL or an SPDX identifier (default: none stated).")
def export(study: str, ro_crate: str, with_blobs: bool, license_: str | None) -> int:
    """Export STUDY's provenance as a Provenance Run Crate (RO-Crate) for WorkflowHub, Galaxy and EOSC tools."""
    return export_command(study, ro_crate=ro_crate, with_blobs=with_blobs, license=license_)
