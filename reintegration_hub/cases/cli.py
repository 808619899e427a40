"""``flask documents``: the case documents' encryption keys."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from reintegration_hub.cases.documents import rotate_document_keys
from reintegration_hub.core.errors import DomainError

documents_cli = AppGroup("documents", help="Case documents, encrypted at rest.")


@documents_cli.command("rotate-keys")
def rotate_keys_command() -> None:
    """Re-encrypt every kept document with the first key of HUB_DOCUMENT_KEYS.

    Put the new key first and keep the old ones after it, run this, then drop the old keys.
    Exits with status 1 if a file could not be decrypted with any key (it is left as it is).
    """
    try:
        counts = rotate_document_keys()
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"Re-encrypted {counts.rotated} documents with the first key; "
        f"{counts.missing} files missing, {counts.unreadable} not decrypted by any key."
    )
    if counts.unreadable:
        raise SystemExit(1)
