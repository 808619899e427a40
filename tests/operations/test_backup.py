"""Backups: the database and the file stores backed up together, restored only into an empty
instance unless forced, and the restore drill, which proves a restored copy serves the same
case (its pages and its files' bytes) and fails when it does not."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from flask import Flask

from reintegration_hub import create_app
from reintegration_hub.auth.models import User
from reintegration_hub.cases import documents
from reintegration_hub.cases.models import DocumentKind
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from reintegration_hub.operations import backup
from tests.cases.helpers import pdf_bytes
from tests.migrations.helpers import throwaway_database

#: Real commits, in databases of the module's own (and the real clock, as every such test).
pytestmark = pytest.mark.commits
#: The instances' document key, as production has one (HUB_DOCUMENT_KEYS), whatever the
#: environment says.
DOCUMENT_KEY = Fernet.generate_key().decode()


def instance_config(url: str, stores: Path) -> dict[str, Any]:
    return {
        "ENV": "testing",
        "DATABASE_URL": url,
        "SECRET_KEY": "test-secret",
        "CERTIFICATE_DIR": str(stores / "certificates"),
        "DOCUMENT_DIR": str(stores / "documents"),
        "DOCUMENT_KEYS": DOCUMENT_KEY,
    }


def run(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=list(args))


def closed(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def live(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """An instance of its own with the demo's data (certificates included) and one case
    document, on a database of its own (the test database's kind). Shared by the module's
    tests (the demo takes seconds to load): each leaves it as it found it."""
    directory = tmp_path_factory.mktemp("live")
    with throwaway_database(database_url, directory, "live") as url:
        app = create_app(instance_config(url, directory))
        for command in (("db", "upgrade"), ("demo", "load")):
            result = run(app, *command)
            assert result.exit_code == 0, result.output
        with app.app_context():
            case_id = db.session.execute(
                sa.text(
                    "SELECT p.returnee_id FROM deliveries d JOIN plan_lines l ON l.id = "
                    "d.plan_line_id JOIN plans p ON p.id = l.plan_id ORDER BY d.id LIMIT 1"
                )
            ).scalar_one()
            admin = db.session.scalars(sa.select(User).where(User.role == Role.ADMIN)).first()
            assert admin is not None
            documents.upload_document(
                case_id,
                documents.DocumentInput(kind=DocumentKind.SIGNED_CONSENT.value),
                documents.DocumentUpload("consent.pdf", io.BytesIO(pdf_bytes())),
                actor=admin,
            )
            db.session.commit()
        closed(app)
        yield app
        closed(app)


def test_the_drill_proves_a_restored_copy_serves_the_same_case_and_writes_nothing(
    live: Flask,
) -> None:
    def rows() -> dict[str, int]:
        with live.app_context(), db.engine.connect() as conn:
            return {
                table: conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("audit_entries", "user_sessions", "case_documents")
            }

    before = rows()
    result = run(live, "backup", "drill")

    assert result.exit_code == 0, result.output
    assert "Restore drill passed" in result.output
    assert "3 pages, 4 files" in result.output  # the document and the deliveries' certificates
    assert rows() == before


def test_a_restore_that_serves_another_file_fails_the_comparison(
    live: Flask, database_url: str, tmp_path: Path
) -> None:
    with live.app_context():
        case_id = backup.drill_case()
        reader = backup.drill_reader()
        original = backup.render_case(live, case_id, reader)
        manifest = backup.create_backup(tmp_path / "backup")
    (key,) = manifest["stores"]["documents"]["files"]
    with throwaway_database(database_url, tmp_path, "restored") as url:
        restored = create_app(instance_config(url, tmp_path / "restored"))
        try:
            with restored.app_context():
                backup.restore_backup(tmp_path / "backup")
                assert (
                    backup.differences(original, backup.render_case(restored, case_id, reader))
                    == []
                )
                stored = tmp_path / "restored" / "documents" / key
                stored.write_bytes(  # another document, encrypted with the same key
                    documents.document_cipher().encrypt(pdf_bytes() + b"\n% changed\n")
                )
                found = backup.differences(original, backup.render_case(restored, case_id, reader))
        finally:
            closed(restored)
    assert len(found) == 1, found
    assert "/file:" in found[0]


def test_restore_refuses_a_database_with_data_unless_forced(live: Flask, tmp_path: Path) -> None:
    assert run(live, "backup", "create", str(tmp_path / "backup")).exit_code == 0
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert len(manifest["stores"]["certificates"]["files"]) > 0
    assert manifest["stores"]["documents"]["missing"] == []

    refused = run(live, "backup", "restore", str(tmp_path / "backup"))
    assert refused.exit_code == 1
    assert "already hold data" in refused.output
    with live.app_context():
        db.session.execute(sa.text("DELETE FROM case_documents"))  # lost since the backup
        db.session.commit()
        closed(live)

    forced = run(live, "backup", "restore", "--force", str(tmp_path / "backup"))
    assert forced.exit_code == 0, forced.output
    with live.app_context():
        assert db.session.execute(sa.text("SELECT count(*) FROM case_documents")).scalar() == 1
    assert run(live, "backup", "create", str(tmp_path / "backup")).exit_code == 1  # not empty


def test_restore_refuses_a_damaged_backup(live: Flask, database_url: str, tmp_path: Path) -> None:
    with live.app_context():
        manifest = backup.create_backup(tmp_path / "backup")
    (key,) = manifest["stores"]["documents"]["files"]
    (tmp_path / "backup" / "documents" / key).write_bytes(b"damaged")
    with throwaway_database(database_url, tmp_path, "restored") as url:
        restored = create_app(instance_config(url, tmp_path / "restored"))
        result = run(restored, "backup", "restore", str(tmp_path / "backup"))
        with restored.app_context():
            restored_tables = sa.inspect(db.engine).get_table_names()
        closed(restored)
    assert result.exit_code == 1
    assert f"documents/{key} differs from the manifest" in result.output
    assert restored_tables == []  # checked before anything was restored
