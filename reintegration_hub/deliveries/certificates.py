"""Handover certificates: checked by their content, stored outside the web root.

Certificates are PDF, JPEG or PNG, decided by their content alone (the signature at the start
of the file, confirmed by puremagic), never by the file name or the client's content type.
They are stored outside the web root (``CERTIFICATE_DIR``) under a random name; only their
checked type, size and SHA-256 go into the database (``Delivery``).
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import puremagic
from flask import current_app
from flask_babel import lazy_gettext as _l
from werkzeug.utils import secure_filename

#: The longest download name kept (``Delivery.certificate_name``).
NAME_MAX = 200

#: The accepted certificate types: (MIME type, signature at offset 0, file name extension).
CERTIFICATE_TYPES: tuple[tuple[str, bytes, str], ...] = (
    ("application/pdf", b"%PDF-", "pdf"),
    ("image/jpeg", b"\xff\xd8\xff", "jpg"),
    ("image/png", b"\x89PNG\r\n\x1a\n", "png"),
)
#: The file name extensions each type may keep on download.
EXTENSIONS = {"application/pdf": {"pdf"}, "image/jpeg": {"jpg", "jpeg"}, "image/png": {"png"}}
_CHUNK = 64 * 1024
KEY = re.compile(r"[0-9a-f]{32}")  # a stored file's name


@dataclass(frozen=True)
class CertificateUpload:
    filename: str  # as the client named it; only kept (sanitised) for the download
    stream: BinaryIO  # read at most CERTIFICATE_MAX_BYTES + 1 bytes


def read_limited(stream: BinaryIO, limit: int) -> bytes:
    """At most ``limit`` bytes of ``stream`` (a short read does not end it early)."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = stream.read(min(_CHUNK, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def detect_certificate_type(content: bytes) -> str | None:
    """The MIME type of ``content`` if it is a PDF, JPEG or PNG, else None.

    Both must agree: the format's signature at the very start of the file, and puremagic's
    identification of the content.
    """
    declared = next(
        (mime for mime, magic, _ext in CERTIFICATE_TYPES if content.startswith(magic)), None
    )
    if declared is None:
        return None
    try:
        found = puremagic.magic_string(content)
    except (puremagic.PureError, ValueError):
        return None
    return declared if any(match.mime_type == declared for match in found) else None


def download_name(filename: str, mime: str) -> str:
    """The uploaded name made safe (``secure_filename``), with an extension that matches the
    detected type (a PNG sent as ``scan.pdf`` downloads as ``scan.png``)."""
    extension = next(ext for known, _magic, ext in CERTIFICATE_TYPES if known == mime)
    name = secure_filename(filename).lstrip("._")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    if suffix.lower() not in EXTENSIONS[mime]:
        suffix = extension
    stem = stem.rstrip("._") or "certificate"
    return f"{stem[: NAME_MAX - len(suffix) - 1]}.{suffix}"


def check_certificate(content: bytes, errors: dict[str, list[Any]]) -> str | None:
    limit = int(current_app.config["CERTIFICATE_MAX_BYTES"])
    if not content:
        errors["certificate"] = [_l("Attach the handover certificate: the file is empty.")]
        return None
    if len(content) > limit:
        errors["certificate"] = [
            _l("The certificate is larger than %(size)d MB.", size=max(1, limit // 2**20))
        ]
        return None
    mime = detect_certificate_type(content)
    if mime is None:
        errors["certificate"] = [_l("The certificate must be a PDF, JPEG or PNG file.")]
    return mime


def certificate_dir() -> Path:
    """Where certificates are kept: ``CERTIFICATE_DIR``, or ``instance/certificates``.

    Refuses a directory inside the static folder: certificates are never served directly.
    """
    configured = current_app.config.get("CERTIFICATE_DIR")
    directory = Path(configured) if configured else Path(current_app.instance_path) / "certificates"
    directory = directory.resolve()
    static = current_app.static_folder
    if static and directory.is_relative_to(Path(static).resolve()):
        raise RuntimeError("CERTIFICATE_DIR must be outside the static folder")
    return directory


def store(content: bytes) -> tuple[str, Path]:
    """Write ``content`` under a new random name (a temporary file, then renamed into place,
    so a reader never sees half a file); returns the name and the path."""
    directory = certificate_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_hex(16)
    path = directory / key
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return key, path
