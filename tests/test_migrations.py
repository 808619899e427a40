"""Migrations are the schema: one head, and upgrading an empty database gives exactly the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask

from reintegration_hub.core.schema import include_object
from reintegration_hub.extensions import db


def test_migrations_have_a_single_head(app: Flask) -> None:
    config = app.extensions["migrate"].migrate.get_config()
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_upgraded_database_matches_the_models(app: Flask) -> None:
    # the session fixture built the test database with `flask db upgrade`, not create_all
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_object}
        )
        diff = compare_metadata(context, db.metadata)
    assert diff == []
