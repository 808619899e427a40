"""Handover certificates: checked by their content, stored outside the web root.

Certificates are PDF, JPEG or PNG, decided by their content alone (the signature at the start
of the file, confirmed by puremagic: ``core.files``), never by the file name or the client's
content type. They are stored outside the web root (``CERTIFICATE_DIR``) under a random name;
only their checked type, size and SHA-256 go into the database (``Delivery``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from flask import current_app
from flask_babel import lazy_gettext as _l

from reintegration_hub.core import files
from reintegration_hub.core.files import KEY, NAME_MAX, read_limited

__all__ = ["KEY", "NAME_MAX", "CertificateUpload", "read_limited"]

#: The accepted certificate types: (MIME type, signature at offset 0, file name extension).
CERTIFICATE_TYPES = files.FILE_TYPES
EXTENSIONS = files.EXTENSIONS


@dataclass(frozen=True)
class CertificateUpload:
    filename: str  # as the client named it; only kept (sanitised) for the download
    stream: BinaryIO  # read at most CERTIFICATE_MAX_BYTES + 1 bytes


def detect_certificate_type(content: bytes) -> str | None:
    """The MIME type of ``content`` if a PDF, JPEG or PNG, else None (``files.detect_type``)."""
    return files.detect_type(content)


def download_name(filename: str, mime: str) -> str:
    """The uploaded name made safe, with an extension matching the detected type."""
    return files.download_name(filename, mime, fallback="certificate")


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
    """Where certificates are kept: ``CERTIFICATE_DIR``, or ``instance/certificates``."""
    return files.storage_dir("CERTIFICATE_DIR", "certificates")


def store(content: bytes) -> tuple[str, Path]:
    """Write ``content`` under a new random name; returns the name and the path."""
    return files.write_file(certificate_dir(), content)
