"""The handover certificate of every demo delivery: a one-page PDF, stored as uploads are."""

from __future__ import annotations

import hashlib
from typing import Any

from reintegration_hub.deliveries.certificates import store


def _pdf(text: str) -> bytes:
    """A one-page PDF showing ``text`` (ASCII, no backslashes) in Helvetica."""
    escaped = text.replace("(", r"\(").replace(")", r"\)")
    stream = f"BT /F1 24 Tf 72 760 Td ({escaped}) Tj ET".encode("ascii")
    objects = [
        b"<</Type /Catalog /Pages 2 0 R>>",
        b"<</Type /Pages /Kids [3 0 R] /Count 1>>",
        b"<</Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources <</Font <</F1 5 0 R>>>>>>",
        b"<</Length %d>>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<</Type /Font /Subtype /Type1 /BaseFont /Helvetica>>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<</Size %d /Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


CERTIFICATE = _pdf("Delivery certificate (demo)")
_SHA256 = hashlib.sha256(CERTIFICATE).hexdigest()


def stored_certificate() -> dict[str, Any]:
    """A new copy of ``CERTIFICATE`` in the certificate directory: a delivery row's
    certificate columns."""
    key, _path = store(CERTIFICATE)
    return {
        "certificate_key": key,
        "certificate_name": "handover.pdf",
        "certificate_type": "application/pdf",
        "certificate_size": len(CERTIFICATE),
        "certificate_sha256": _SHA256,
    }
