"""Case documents: checked by content and structure, encrypted at rest, downloaded as sent,
audited, within the case's scope, re-encrypted on key rotation, gone with retention."""

from __future__ import annotations

import datetime as dt
import io
import re
import struct
import zlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken

from reintegration_hub.cases import documents, retention
from reintegration_hub.cases.models import CaseDocument, CaseStatus, DocumentKind
from reintegration_hub.config import ConfigError, validate
from reintegration_hub.core.audit import REDACTED, AuditEntry
from reintegration_hub.core.errors import Conflict, InvalidInput, PermissionDenied
from reintegration_hub.core.roles import Role, SystemActor
from reintegration_hub.extensions import db
from tests.cases.helpers import (
    case_manager,
    counsellor,
    host_office,
    origin_office,
    pdf_bytes,
    register,
)
from tests.deliveries.helpers import JPEG, PNG
from tests.factories import UserFactory

PDF = pdf_bytes()


def png_bomb(side: int = 9_000) -> bytes:
    """A small PNG of ``side`` x ``side`` one-bit pixels (81 megapixels by default: over
    MAX_PIXELS, under Pillow's own limit)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = (b"\x00" + b"\x00" * ((side + 7) // 8)) * side
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200 + b"This program"


def stored(app) -> list[Path]:
    directory = Path(app.config["DOCUMENT_DIR"])
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if not p.name.startswith("."))


def upload(user, case, content: bytes = PDF, filename: str = "passport.pdf", **values):
    return documents.upload_document(
        case.id,
        documents.DocumentInput(
            kind=values.get("kind", "travel_document"), note=values.get("note", "")
        ),
        documents.DocumentUpload(filename, io.BytesIO(content)),
        actor=user,
    )


def form(content: bytes = PDF, filename: str = "passport.pdf", **values: str) -> dict:
    return {
        "kind": "travel_document",
        "note": "",
        "file": (io.BytesIO(content), filename),
        **values,
    }


def test_upload_and_download_round_trip(app, login):
    user = counsellor()
    case = register(user)
    client = login(user)

    page = client.post(
        f"/cases/{case.id}/documents",
        data=form(note="Passport, first page"),
        content_type="multipart/form-data",
    )
    assert page.status_code == 302
    document = db.session.scalars(sa.select(CaseDocument)).one()
    assert (document.kind, document.content_type, document.size) == (
        DocumentKind.TRAVEL_DOCUMENT,
        "application/pdf",
        len(PDF),
    )
    [path] = stored(app)
    on_disk = path.read_bytes()
    assert on_disk != PDF
    assert b"%PDF" not in on_disk

    case_page = client.get(f"/cases/{case.id}")
    assert case_page.data.count(f'href="/cases/{case.id}/documents"'.encode()) == 1
    listing = client.get(f"/cases/{case.id}/documents")
    assert listing.status_code == 200
    assert b"passport.pdf" in listing.data
    assert b"Passport, first page" in listing.data

    download = client.get(f"/cases/documents/{document.id}/file")
    assert download.status_code == 200
    assert download.data == PDF
    assert download.mimetype == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "passport.pdf" in download.headers["Content-Disposition"]
    assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_the_api_uploads_lists_and_serves_the_same_bytes(app, login):
    user = counsellor()
    case = register(user)
    client = login(user)

    created = client.post(
        f"/api/v1/cases/{case.id}/documents",
        data=form(JPEG, "photo.jpeg", kind="photo"),
        content_type="multipart/form-data",
    )
    assert created.status_code == 201, created.json
    assert created.json["content_type"] == "image/jpeg"
    assert created.json["name"] == "photo.jpeg"

    listed = client.get(f"/api/v1/cases/{case.id}/documents")
    assert [d["id"] for d in listed.json] == [created.json["id"]]
    served = client.get(created.json["file_url"])
    assert served.status_code == 200
    assert served.data == JPEG
    assert served.mimetype == "image/jpeg"
    assert served.headers["Content-Disposition"].startswith("attachment;")
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/cases/{case_id}/documents"])
    assert "get" in paths["/api/v1/documents/{document_id}/file"]


@pytest.mark.parametrize(
    ("content", "filename"),
    [
        (EXE, "passport.pdf"),  # a program renamed
        (b"\x89PNG\r\n\x1a\n" + b"junk" * 64, "photo.png"),  # the signature, then nothing
        (PDF[: len(PDF) // 2], "decision.pdf"),  # truncated
        (pdf_bytes(password="secret"), "consent.pdf"),  # encrypted
        (png_bomb(), "photo.png"),  # 81 megapixels in a few kilobytes
        (b"", "empty.pdf"),
    ],
    ids=[
        "renamed-exe",
        "png-header-then-junk",
        "truncated-pdf",
        "encrypted-pdf",
        "pixel-bomb",
        "empty",
    ],
)
def test_a_file_that_is_not_a_readable_pdf_jpeg_or_png_is_refused(app, login, content, filename):
    user = counsellor()
    case = register(user)

    answer = login(user).post(
        f"/api/v1/cases/{case.id}/documents",
        data=form(content, filename),
        content_type="multipart/form-data",
    )

    assert answer.status_code == 422
    assert list(answer.json["errors"]) == ["file"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CaseDocument)) == 0
    assert stored(app) == []


def test_a_file_over_the_configured_size_is_refused_at_its_field(app, login):
    app.config["DOCUMENT_MAX_BYTES"] = len(PNG) - 1
    user = counsellor()
    case = register(user)

    page = login(user).post(
        f"/cases/{case.id}/documents",
        data=form(PNG, "photo.png", kind="photo"),
        content_type="multipart/form-data",
    )

    assert page.status_code == 422
    assert b"The file is larger than" in page.data
    assert stored(app) == []
    app.config["DOCUMENT_MAX_BYTES"] = len(PNG)
    assert upload(user, case, PNG, "photo.png", kind="photo").size == len(PNG)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"note": "nul\x00byte"}, "note"),
        ({"note": "x" * 501}, "note"),
        ({"kind": "passport\x00"}, "kind"),
        ({"kind": ""}, "kind"),
    ],
    ids=["nul-note", "long-note", "nul-kind", "no-kind"],
)
def test_hostile_form_fields_give_field_errors(app, login, values, field):
    user = counsellor()
    case = register(user)
    client = login(user)

    page = client.post(
        f"/cases/{case.id}/documents", data=form(**values), content_type="multipart/form-data"
    )
    assert page.status_code == 422
    assert re.search(rb'is-invalid" id="%s"' % field.encode(), page.data)
    api = client.post(
        f"/api/v1/cases/{case.id}/documents",
        data=form(**values),
        content_type="multipart/form-data",
    )
    assert api.status_code == 422
    assert list(api.json["errors"]["form_and_files"]) == [field]
    with pytest.raises(InvalidInput) as refused:
        upload(user, case, **values)
    assert field in refused.value.field_errors
    assert stored(app) == []


def test_another_office_sees_nothing_and_the_origin_office_only_when_shared(app, login, client):
    riga = host_office()
    user = counsellor(riga)
    tbilisi = origin_office()
    shared = register(user, consent_origin=True, origin_office_id=tbilisi.id)
    private = register(user, first_name="Eka", consent_origin=False, origin_office_id=tbilisi.id)
    on_shared, on_private = upload(user, shared), upload(user, private)
    db.session.commit()
    prague = counsellor(host_office("CZ", "Prague"))
    manager = case_manager(tbilisi)

    login(prague)
    for url in (
        f"/cases/{shared.id}/documents",
        f"/cases/documents/{on_shared.id}/file",
        f"/api/v1/cases/{shared.id}/documents",
        f"/api/v1/documents/{on_shared.id}/file",
    ):
        assert client.get(url).status_code == 404, url
    assert (
        client.post(
            f"/cases/{shared.id}/documents", data=form(), content_type="multipart/form-data"
        ).status_code
        == 404
    )
    login(manager)
    assert client.get(f"/api/v1/documents/{on_private.id}/file").status_code == 404
    assert client.get(f"/api/v1/documents/{on_shared.id}/file").data == PDF
    programme_manager = UserFactory(role=Role.PROGRAMME_MANAGER, office=riga)
    login(programme_manager)
    assert client.get(f"/api/v1/documents/{on_private.id}/file").data == PDF
    with pytest.raises(PermissionDenied):
        upload(programme_manager, private)


def test_every_download_is_audited(app, login):
    user = counsellor()
    case = register(user)
    document = upload(user, case)
    db.session.commit()
    client = login(user)

    for _ in range(2):
        assert client.get(f"/api/v1/documents/{document.id}/file").status_code == 200

    downloads = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "document.download")
    ).all()
    assert [(a.object_type, a.object_id, a.actor_id) for a in downloads] == [
        ("CaseDocument", str(document.id), user.id)
    ] * 2


def test_the_uploader_or_an_admin_removes_a_document_and_the_record_stays(app, login):
    office = host_office()
    user = counsellor(office)
    colleague = counsellor(office)
    case = register(user)
    document = upload(user, case)
    [path] = stored(app)
    with pytest.raises(PermissionDenied):
        documents.remove_document(document.id, actor=colleague)

    answer = login(user).post(f"/cases/documents/{document.id}/remove")

    assert answer.status_code == 302
    db.session.expire_all()
    kept = db.session.get_one(CaseDocument, document.id)
    assert kept.removed_at is not None
    assert kept.removed_by_id == user.id
    assert not path.exists()
    assert db.session.scalar(
        sa.select(sa.func.count()).where(AuditEntry.action == "document.remove")
    )
    assert login(user).get(f"/cases/documents/{document.id}/file").status_code == 404
    with pytest.raises(Conflict):
        documents.remove_document(document.id, actor=UserFactory(role=Role.ADMIN))


def test_rotation_re_encrypts_every_document_with_the_first_key(app, runner):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    app.config["DOCUMENT_KEYS"] = old
    user = counsellor()
    case = register(user)
    first, second = upload(user, case), upload(user, case, PNG, "photo.png", kind="photo")
    db.session.commit()

    app.config["DOCUMENT_KEYS"] = f"{new}, {old}"
    # before the rotation both keys read the old documents
    assert documents.document_content(first.id, actor=user)[1] == PDF
    result = runner.invoke(args=["documents", "rotate-keys"])

    assert result.exit_code == 0, result.output
    assert "Re-encrypted 2 documents" in result.output
    for document, content in ((first, PDF), (second, PNG)):
        token = (Path(app.config["DOCUMENT_DIR"]) / document.storage_key).read_bytes()
        assert Fernet(new.encode()).decrypt(token) == content
        with pytest.raises(InvalidToken):
            Fernet(old.encode()).decrypt(token)
    app.config["DOCUMENT_KEYS"] = new  # the old key dropped
    assert documents.document_content(second.id, actor=user)[1] == PNG


def test_keys_are_required_in_production_and_must_be_fernet_keys(app):
    user = counsellor()
    case = register(user)
    app.config["ENV"] = "production"
    app.config["DOCUMENT_KEYS"] = None
    with pytest.raises(Conflict):
        upload(user, case)
    assert stored(app) == []
    with pytest.raises(ConfigError, match="HUB_DOCUMENT_KEYS"):
        validate({**app.config, "ENV": "testing", "DOCUMENT_KEYS": "not-a-key"})


def test_development_keeps_a_key_of_its_own_instance(app, monkeypatch, tmp_path):
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    app.config["ENV"] = "development"
    app.config["DOCUMENT_KEYS"] = None

    token = documents.document_cipher().encrypt(PDF)

    key_file = tmp_path / documents.DEVELOPMENT_KEY_FILE
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert Fernet(key_file.read_bytes()).decrypt(token) == PDF
    assert documents.document_cipher().decrypt(token) == PDF  # the same key the next time


def test_retention_deletes_the_documents_of_an_anonymised_case(app):
    user = counsellor()
    case = register(user)
    kept_case = register(user, first_name="Eka")
    document = upload(user, case, note="Nino's passport")
    other = upload(user, kept_case)
    as_of = dt.datetime(2032, 6, 1, tzinfo=dt.UTC)
    case.status = CaseStatus.CLOSED
    case.closed_at = as_of - dt.timedelta(days=int(app.config["CASE_RETENTION_DAYS"]) + 1)
    db.session.flush()

    counts = retention.anonymise_closed_cases(as_of, actor=SystemActor("test"))

    assert counts.documents == 1
    assert db.session.scalars(sa.select(CaseDocument.id)).all() == [other.id]
    assert [p.name for p in stored(app)] == [other.storage_key]
    upload_audit = db.session.scalars(
        sa.select(AuditEntry).where(
            AuditEntry.action == "document.upload", AuditEntry.object_id == str(document.id)
        )
    ).one()
    assert upload_audit.changes["note"] == [None, REDACTED]
    assert upload_audit.changes["name"] == [None, REDACTED]
