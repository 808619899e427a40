"""A counsellor keeps a returnee's signed consent on the case's documents page and downloads
it again: the browser receives the very bytes it sent."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from reintegration_hub.auth.models import User
from reintegration_hub.cases import services as cases
from reintegration_hub.extensions import db
from tests.cases.helpers import details, pdf_bytes
from tests.e2e.helpers import sign_in

pytestmark = pytest.mark.e2e

COUNSELLOR = "counsellor.riga@demo.example"


def _registered_case(app: Flask, email: str) -> int:
    """A case registered by the counsellor ``email`` (the demo has none); its id."""
    with app.app_context():
        user = db.session.scalars(sa.select(User).where(User.email == email)).one()
        case = cases.register_case(details(), confirm_duplicate=True, actor=user)
        db.session.commit()
        case_id = case.id
        db.session.remove()
    return case_id


def test_a_counsellor_uploads_a_pdf_and_downloads_it(
    page: Any, live_server: str, make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    content = pdf_bytes()
    case_id = _registered_case(make_app(SERVER_NAME=None), COUNSELLOR)
    sign_in(page, live_server, COUNSELLOR)

    page.goto(f"{live_server}/cases/{case_id}")
    page.get_by_test_id("case-documents").click()
    page.wait_for_url(re.compile(rf"/cases/{case_id}/documents$"))
    form = page.get_by_test_id("document-form")
    # the counsellor reads Latvian: the fields by name
    form.locator("[name=kind]").select_option("signed_consent")
    form.locator("[name=note]").fill("Signed at the counselling session")
    form.locator("[name=file]").set_input_files(
        {"name": "consent.pdf", "mimeType": "application/pdf", "buffer": content}
    )
    form.locator("[type=submit]").click()

    row = page.get_by_test_id("document-row").filter(has_text="consent.pdf")
    expect(row).to_contain_text("Parakstīta piekrišana")  # signed consent
    expect(row).to_contain_text("Signed at the counselling session")
    with page.expect_download() as started:
        row.get_by_test_id("document-download").click()
    download = started.value
    assert download.suggested_filename == "consent.pdf"
    saved = tmp_path / "downloaded.pdf"
    download.save_as(saved)
    assert saved.read_bytes() == content
    assert page.console_errors == []
