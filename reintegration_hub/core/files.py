"""Uploaded files (handover certificates, case documents): PDF, JPEG or PNG decided by their
content, never by the file name or the client's content type, and stored outside the web root
under a random name.

Two checks of increasing depth: ``detect_type`` (the format's signature at the start of the
file, confirmed by puremagic) and ``well_formed`` (the file parsed as that format: pypdf reads
the PDF and every page of it, refusing an encrypted one; Pillow verifies the image, then
decodes it). A renamed program fails the first; a PNG signature followed by junk, a truncated
or encrypted PDF fail the second.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import puremagic
from cryptography.fernet import Fernet, MultiFernet
from flask import current_app
from PIL import Image
from pypdf import PdfReader
from werkzeug.utils import secure_filename

#: The longest download name kept.
NAME_MAX = 200
#: The accepted types: (MIME type, signature at offset 0, file name extension).
FILE_TYPES: tuple[tuple[str, bytes, str], ...] = (
    ("application/pdf", b"%PDF-", "pdf"),
    ("image/jpeg", b"\xff\xd8\xff", "jpg"),
    ("image/png", b"\x89PNG\r\n\x1a\n", "png"),
)
#: The file name extensions each type may keep on download.
EXTENSIONS = {"application/pdf": {"pdf"}, "image/jpeg": {"jpg", "jpeg"}, "image/png": {"png"}}
#: Pillow's name of each image type.
IMAGE_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}
#: The most pixels an image may decode to (a 50-megapixel photo fits; a 10 MB file claiming
#: more is a decompression bomb, refused before its pixels are decoded).
MAX_PIXELS = 64_000_000
#: A stored file's name.
KEY = re.compile(r"[0-9a-f]{32}")
_CHUNK = 64 * 1024


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


def detect_type(content: bytes) -> str | None:
    """The MIME type of ``content`` if it is a PDF, JPEG or PNG, else None.

    Both must agree: the format's signature at the very start of the file, and puremagic's
    identification of the content.
    """
    declared = next((mime for mime, magic, _ext in FILE_TYPES if content.startswith(magic)), None)
    if declared is None:
        return None
    try:
        found = puremagic.magic_string(content)
    except (puremagic.PureError, ValueError):
        return None
    return declared if any(match.mime_type == declared for match in found) else None


def well_formed(content: bytes, mime: str) -> bool:
    """Whether ``content`` parses as ``mime`` (a type ``detect_type`` answered).

    A PDF must open without a password and have at least one page, each page readable; an
    image must pass Pillow's ``verify`` and then decode in full, within ``MAX_PIXELS`` (a
    decompression bomb is refused). The parsers raise many kinds of errors on
    hostile input, each a refusal here.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's decompression-bomb warning among them
        try:
            if mime == "application/pdf":
                return _pdf_readable(content)
            if mime in IMAGE_FORMATS:
                return _image_readable(content, IMAGE_FORMATS[mime])
        except Exception:  # any parser failure means "not well formed"
            return False
    return False


def _pdf_readable(content: bytes) -> bool:
    reader = PdfReader(io.BytesIO(content), strict=False)  # tolerant of repairs, not of damage
    if reader.is_encrypted:
        return False
    pages = list(reader.pages)
    for page in pages:
        page.get_contents()  # each page's content stream resolved and decoded
    return bool(pages)


def _image_readable(content: bytes, image_format: str) -> bool:
    with Image.open(io.BytesIO(content), formats=[image_format]) as image:
        image.verify()  # the structure: chunks and their checksums
    with Image.open(io.BytesIO(content), formats=[image_format]) as image:
        width, height = image.size
        if width * height > MAX_PIXELS:
            return False
        image.load()  # the pixels: a truncated image fails here
    return True


def download_name(filename: str, mime: str, *, fallback: str) -> str:
    """The uploaded name made safe (``secure_filename``), with an extension that matches the
    detected type (a PNG sent as ``scan.pdf`` downloads as ``scan.png``); ``fallback`` when
    nothing of the name is left."""
    extension = next(ext for known, _magic, ext in FILE_TYPES if known == mime)
    name = secure_filename(filename).lstrip("._")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    if suffix.lower() not in EXTENSIONS[mime]:
        suffix = extension
    stem = stem.rstrip("._") or fallback
    return f"{stem[: NAME_MAX - len(suffix) - 1]}.{suffix}"


def storage_dir(setting: str, default: str) -> Path:
    """Where files of one kind are kept: the directory configured as ``setting``, or
    ``instance/<default>``. Refuses a directory inside the static folder: stored files are
    never served directly."""
    configured = current_app.config.get(setting)
    directory = Path(configured) if configured else Path(current_app.instance_path) / default
    directory = directory.resolve()
    static = current_app.static_folder
    if static and directory.is_relative_to(Path(static).resolve()):
        raise RuntimeError(f"{setting} must be outside the static folder")
    return directory


def write_file(directory: Path, content: bytes, key: str | None = None) -> tuple[str, Path]:
    """Write ``content`` as ``directory/key`` (a new random key unless given): a temporary
    file, then renamed into place, so a reader never sees half a file. Returns the key and
    the path."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = key or secrets.token_hex(16)
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


def parse_keys(value: str | Iterable[str] | None) -> list[str]:
    """Fernet keys from configuration: a comma-separated string or a list; blanks dropped.
    ``ValueError`` naming the position of a key that is not a Fernet key."""
    raw = value.split(",") if isinstance(value, str) else list(value or ())
    keys = [key.strip() for key in raw if key and key.strip()]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise ValueError(f"key {position} is not a Fernet key") from None
    return keys


def cipher(keys: Iterable[str]) -> MultiFernet:
    """Encrypts with the first key, decrypts with any (``rotate`` re-encrypts with the first)."""
    return MultiFernet([Fernet(key) for key in keys])
