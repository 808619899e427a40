"""``flask backup``: back up, restore and drill the database and the file stores."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from reintegration_hub.operations.backup import (
    BackupError,
    create_backup,
    restore_backup,
    run_drill,
)

backup_cli = AppGroup("backup", help="Backups of the database and the stored files.")

DIRECTORY = click.Path(file_okay=False, path_type=Path)


@backup_cli.command("create")
@click.argument("directory", type=DIRECTORY)
def create_command(directory: Path) -> None:
    """Back the database, the certificates and the case documents up into DIRECTORY (new or
    empty). The document keys (HUB_DOCUMENT_KEYS) are not in it: keep them apart."""
    try:
        manifest = create_backup(directory)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    stores = manifest["stores"]
    click.echo(
        f"Backed up the {manifest['dialect']} database at migration {manifest['revision']}, "
        + ", ".join(f"{len(stores[name]['files'])} {name}" for name in stores)
        + f" into {directory}"
    )
    for name, store in stores.items():
        if store["missing"]:
            click.echo(
                f"Warning: {len(store['missing'])} {name} the database names were not on disk "
                "(removed since the database was copied, or lost before): "
                + ", ".join(store["missing"][:10]),
                err=True,
            )


@backup_cli.command("restore")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database and stores that hold data.")
def restore_command(directory: Path, force: bool) -> None:
    """Restore the backup in DIRECTORY into the configured database and file stores, which
    must be empty unless --force is given. Then run `flask db upgrade` if the backup is of an
    older release."""
    try:
        manifest = restore_backup(directory, force=force)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"Restored the database at migration {manifest['revision']} and "
        + ", ".join(f"{len(s['files'])} {name}" for name, s in manifest["stores"].items())
        + f" from {directory} (taken {manifest['created_at']}); run `flask db upgrade` next."
    )


@backup_cli.command("drill")
@click.option("--case", "case_id", type=click.IntRange(min=1), help="The case to compare.")
@click.option("--as", "email", help="Whose view to compare (default: the first administrator).")
@click.option("--keep", type=DIRECTORY, help="Keep the drill's backup in this new directory.")
@click.option(
    "--into",
    metavar="URL",
    help="An empty database to restore into (default: a new one beside this, then dropped).",
)
def drill_command(
    case_id: int | None, email: str | None, keep: Path | None, into: str | None
) -> None:
    """Back up, restore into a new throw-away database and file store, and check that the
    restored copy serves the same case (its page, plan and documents, and the files' bytes).
    Writes nothing to this database; exits with status 1 if anything differs."""
    from reintegration_hub import create_app  # the whole app serves the restored copy

    try:
        result = run_drill(create_app, case_id=case_id, email=email, keep=keep, into=into)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    stores = result.manifest["stores"]
    summary = (
        f"case {result.case_id} as {result.reader}: {result.pages} pages, "
        f"{result.downloads} files; backup of "
        + ", ".join(f"{len(stores[name]['files'])} {name}" for name in stores)
    )
    if result.differences:
        click.echo(f"Restore drill FAILED, {summary}", err=True)
        for line in result.differences:
            click.echo(f"  {line}", err=True)
        sys.exit(1)
    click.echo(f"Restore drill passed, {summary}: the restored copy serves the same case.")
