"""Case documents: the files kept on a case (travel document or ID, signed consent, return
decision, invoices, photos), encrypted at rest.

A document is a PDF, JPEG or PNG decided by its content and its structure (``core.files``:
signature and puremagic, then parsed; an encrypted or broken PDF is refused), at most
``DOCUMENT_MAX_BYTES``. It is stored outside the web root (``DOCUMENT_DIR``, by default
``instance/documents``) under a random name, encrypted with Fernet through a ``MultiFernet`` of
``DOCUMENT_KEYS``: the first key encrypts, every key decrypts, and ``rotate_document_keys``
(``flask documents rotate-keys``) re-encrypts every stored file with the first key. Without a
configured key, production refuses to store or read documents; development keeps a key of its
own in the instance folder, testing one per application.

Scope is the case's (``Returnee.visible_to``): its host office's counsellors, its origin
office's case managers while the returnee shares with them, administrators; programme managers
read. Every upload, download and removal is audited. Removing deletes the file and keeps the
row as the record; the retention of an anonymised case deletes rows and files
(``delete_case_documents``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from reintegration_hub.cases.models import CaseDocument, DocumentKind, Returnee
from reintegration_hub.core import files, validation
from reintegration_hub.core.audit import record_audit
from reintegration_hub.core.authz import get_scoped, scoped
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.extensions import db

#: Who uploads and removes documents; programme managers read them.
WRITER_ROLES = frozenset({Role.COUNSELLOR, Role.CASE_MANAGER, Role.ADMIN})
READER_ROLES = WRITER_ROLES | {Role.PROGRAMME_MANAGER}
#: The file of the development key (in the instance folder).
DEVELOPMENT_KEY_FILE = "document.key"


@dataclass(frozen=True)
class DocumentUpload:
    filename: str  # as the client named it; only kept (made safe) for the download
    stream: BinaryIO  # read at most DOCUMENT_MAX_BYTES + 1 bytes


@dataclass(frozen=True)
class DocumentInput:
    kind: str  # a DocumentKind value; anything else is refused at the field
    note: str = ""


@dataclass(frozen=True)
class RotationCounts:
    rotated: int = 0
    missing: int = 0  # rows whose file is not on disk
    unreadable: int = 0  # files no configured key decrypts

    def as_dict(self) -> dict[str, int]:
        return {"rotated": self.rotated, "missing": self.missing, "unreadable": self.unreadable}


# --- storage and keys ------------------------------------------------------------------------


def document_dir() -> Path:
    """Where documents are kept: ``DOCUMENT_DIR``, or ``instance/documents``."""
    return files.storage_dir("DOCUMENT_DIR", "documents")


def document_cipher() -> MultiFernet:
    """The keys of ``DOCUMENT_KEYS`` (the first encrypts); without any, a key of this instance
    in development and testing, and Conflict in production."""
    keys = files.parse_keys(current_app.config.get("DOCUMENT_KEYS"))
    if keys:
        return files.cipher(keys)
    environment = current_app.config["ENV"]
    if environment == "production":
        current_app.logger.error("HUB_DOCUMENT_KEYS is not set: case documents are refused")
        raise Conflict(
            _l("Documents cannot be kept: no encryption key is configured. Tell an administrator.")
        )
    if environment == "testing":
        key = current_app.extensions.setdefault("hub_document_key", Fernet.generate_key().decode())
        return files.cipher([key])
    return files.cipher([_development_key()])


def _development_key() -> str:
    path = Path(current_app.instance_path) / DEVELOPMENT_KEY_FILE
    if not path.is_file():
        files.write_file(path.parent, Fernet.generate_key(), key=path.name)
        path.chmod(0o600)
    return path.read_text(encoding="ascii").strip()


def _path(document: CaseDocument) -> Path | None:
    if not files.KEY.fullmatch(document.storage_key):
        return None
    return document_dir() / document.storage_key


# --- checks ----------------------------------------------------------------------------------


def _check(data: DocumentInput, content: bytes) -> tuple[DocumentKind, str, str]:
    """The kind, the note and the detected type; InvalidInput naming every bad field."""
    errors: dict[str, list[Any]] = {}
    kind = DocumentKind(data.kind) if data.kind in set(DocumentKind) else None
    if kind is None:
        errors["kind"] = [_l("Choose the kind of document.")]
    note = data.note.strip()
    try:
        validation.check(validation.field_rule("text", "note", CaseDocument), note)
    except validation.Refused as refused:
        errors["note"] = [refused.message]
    mime = _check_file(content, errors)
    if errors:
        raise InvalidInput(_l("Check the document."), field_errors=errors)
    assert kind is not None
    assert mime is not None
    return kind, note, mime


def _check_file(content: bytes, errors: dict[str, list[Any]]) -> str | None:
    limit = int(current_app.config["DOCUMENT_MAX_BYTES"])
    if not content:
        errors["file"] = [_l("Attach the document: the file is empty.")]
        return None
    if len(content) > limit:
        errors["file"] = [_l("The file is larger than %(size)s MB.", size=f"{limit / 2**20:.3g}")]
        return None
    mime = files.detect_type(content)
    if mime is None:
        errors["file"] = [_l("The document must be a PDF, JPEG or PNG file.")]
        return None
    if not files.well_formed(content, mime):
        errors["file"] = [
            _l(
                "This file cannot be read as a PDF, JPEG or PNG: it is damaged, incomplete or "
                "protected by a password."
            )
        ]
        return None
    return mime


# --- reads -----------------------------------------------------------------------------------


def _require(actor: Actor, allowed: frozenset[Role]) -> None:
    if actor.role not in allowed:
        raise PermissionDenied(_l("Your role cannot change the documents of a case."))


def _case(case_id: int, actor: Actor) -> Returnee:
    if not 0 < case_id <= validation.MAX_ID:
        raise NotFound(_l("Not found."))
    case: Returnee = get_scoped(Returnee, case_id, actor)
    return case


def case_documents(case_id: int, *, actor: Actor) -> tuple[Returnee, Sequence[CaseDocument]]:
    """The case (in scope, else NotFound) and its documents, newest first, removed ones too."""
    case = _case(case_id, actor)
    documents = db.session.scalars(
        sa.select(CaseDocument)
        .where(CaseDocument.returnee_id == case.id)
        .options(joinedload(CaseDocument.uploaded_by), joinedload(CaseDocument.removed_by))
        .order_by(CaseDocument.id.desc())
    ).all()
    return case, documents


def get_document(document_id: int, *, actor: Actor) -> CaseDocument:
    """The document if ``actor`` sees its case; NotFound otherwise."""
    if not 0 < document_id <= validation.MAX_ID:
        raise NotFound(_l("Not found."))
    stmt = scoped(
        sa.select(CaseDocument)
        .join(CaseDocument.returnee)
        .where(CaseDocument.id == document_id)
        .options(joinedload(CaseDocument.returnee)),
        Returnee,
        actor,
    )
    document = db.session.scalars(stmt).one_or_none()
    if document is None:
        raise NotFound(_l("Not found."))
    return document


def document_content(document_id: int, *, actor: Actor) -> tuple[CaseDocument, bytes]:
    """The document and its decrypted content, for a download; every call is audited
    (``document.download``). NotFound when out of scope, removed, or the file is gone."""
    document = get_document(document_id, actor=actor)
    path = _path(document)
    if document.removed_at is not None or path is None or not path.is_file():
        raise NotFound(_l("The document's file is not kept any more."))
    try:
        content = document_cipher().decrypt(path.read_bytes())
    except InvalidToken:
        current_app.logger.error("document %s: no configured key decrypts it", document.id)
        raise Conflict(
            _l("This document cannot be decrypted with the keys configured. Tell an administrator.")
        ) from None
    record_audit("document.download", document, actor=actor, changes={})
    return document, content


# --- writes ----------------------------------------------------------------------------------


def upload_document(
    case_id: int, data: DocumentInput, upload: DocumentUpload, *, actor: Actor
) -> CaseDocument:
    """Keep a document on case ``case_id``.

    Checks the actor's role (PermissionDenied), the case's scope (NotFound), that it is not
    anonymised (Conflict), then the kind, the note and the file (InvalidInput naming each bad
    field: empty, too large, not a PDF, JPEG or PNG by content, or not readable as one). Then
    encrypts and stores the file and inserts the row (``document.upload``). If anything fails
    after the file is written, the file is removed.
    """
    _require(actor, WRITER_ROLES)
    case = _case(case_id, actor)
    if case.anonymised_at is not None:
        raise Conflict(_l("This case was anonymised after its retention period: it cannot change."))
    limit = int(current_app.config["DOCUMENT_MAX_BYTES"])
    content = files.read_limited(upload.stream, limit + 1)
    kind, note, mime = _check(data, content)
    key, path = files.write_file(document_dir(), document_cipher().encrypt(content))
    document = CaseDocument(
        returnee_id=case.id,
        returnee=case,
        kind=kind,
        note=note,
        name=files.download_name(upload.filename, mime, fallback=kind.value.replace("_", "-")),
        content_type=mime,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        storage_key=key,
        uploaded_by_id=actor.id,
        uploaded_at=now_utc(),
    )
    try:
        record_audit("document.upload", document, actor=actor)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return document


def remove_document(document_id: int, *, actor: Actor) -> CaseDocument:
    """Delete a document's file; the row stays as the record that it existed (``removed_at``,
    audited ``document.remove``). Only its uploader or an administrator (PermissionDenied);
    a removed document is not removed again (Conflict)."""
    _require(actor, WRITER_ROLES)
    document = get_document(document_id, actor=actor)
    if actor.role != Role.ADMIN and document.uploaded_by_id != actor.id:
        raise PermissionDenied(
            _l("Only whoever uploaded a document, or an administrator, removes it.")
        )
    if document.removed_at is not None:
        raise Conflict(_l("This document was already removed."))
    document.removed_at = now_utc()
    document.removed_by_id = actor.id
    record_audit("document.remove", document, actor=actor)
    path = _path(document)
    if path is not None:
        path.unlink(missing_ok=True)
    return document


def rotate_document_keys() -> RotationCounts:
    """Re-encrypt every kept document's file with the first of ``DOCUMENT_KEYS`` (each file
    replaced at once, never half written). Files no configured key decrypts are left as they
    are and counted; after a run with none, the older keys can be dropped."""
    if not files.parse_keys(current_app.config.get("DOCUMENT_KEYS")):
        raise Conflict(_l("Set HUB_DOCUMENT_KEYS first: the new key, then the old ones."))
    cipher = document_cipher()
    directory = document_dir()
    rotated = missing = unreadable = 0
    keys = db.session.scalars(
        sa.select(CaseDocument.storage_key)
        .where(CaseDocument.removed_at.is_(None))
        .order_by(CaseDocument.id)
    )
    for key in keys:
        path = directory / key
        if not files.KEY.fullmatch(key) or not path.is_file():
            missing += 1
            continue
        try:
            token = cipher.rotate(path.read_bytes())
        except InvalidToken:
            unreadable += 1
            continue
        files.write_file(directory, token, key=key)
        rotated += 1
    return RotationCounts(rotated, missing, unreadable)


def delete_case_documents(case_ids: Sequence[int]) -> list[int]:
    """Delete the documents of ``case_ids``, rows and files (retention); the ids deleted.
    The rows go in one statement, then their files. Should the caller's transaction then roll
    back, the rows stay without their files (a download answers that the file is not kept)
    and the next run deletes them."""
    rows = db.session.execute(
        sa.select(CaseDocument.id, CaseDocument.storage_key).where(
            CaseDocument.returnee_id.in_(case_ids)
        )
    ).all()
    if not rows:
        return []
    db.session.execute(
        sa.delete(CaseDocument)
        .where(CaseDocument.id.in_([row.id for row in rows]))
        .execution_options(synchronize_session=False)
    )
    directory = document_dir()
    for row in rows:
        if files.KEY.fullmatch(row.storage_key):
            (directory / row.storage_key).unlink(missing_ok=True)
    return [row.id for row in rows]
