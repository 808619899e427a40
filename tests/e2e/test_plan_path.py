"""The whole path of a plan in Chromium: a Riga counsellor registers a single mother of two
returning to Georgia and builds a plan over the cap with a justification, the Tbilisi case
manager confirms it, the programme manager approves, the partner accepts through the e-mailed
link, and the Tbilisi case manager records a delivery with a certificate. A Prague counsellor
cannot open the case; the link cannot be reused, tampered with or answered after expiry."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from partners.models import Referral
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.outbox import OutboxMessage
from reintegration_hub.extensions import db
from tests.e2e.helpers import PNG, sign_in

pytestmark = pytest.mark.e2e

# the smallest valid PNG: a 1x1 transparent pixel


def _database(make_app: Callable[..., Flask]) -> Flask:
    """A second app on the live server's database, to read what the e-mails would carry."""
    return make_app(SERVER_NAME=None)


def _referral_links(app: Flask) -> dict[str, str]:
    """The answer links in the queued referral e-mails, by partner address."""
    with app.app_context():
        messages = db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.key.like("referral:%:sent"))
        ).all()
        links = {m.to_address: re.search(r"https?://\S+", m.body_text) for m in messages}
        db.session.remove()
    return {address: match.group(0) for address, match in links.items() if match}


def _register_single_mother(page: Any, base: str) -> str:
    page.goto(f"{base}/cases/new")
    form = page.locator("main form")
    form.locator("[name=first_name]").fill("Tamar")
    form.locator("[name=last_name]").fill("Kapanadze")
    form.locator("[name=date_of_birth]").fill("1991-03-14")
    form.locator("[name=sex]").select_option("female")
    form.locator("[name=nationality]").select_option("GE")
    form.locator("[name=languages]").select_option(["ka", "ru"])
    form.locator("[name=legal_status]").select_option("rejected_asylum_seeker")
    form.locator("[name=return_country_code]").select_option("GE")
    form.locator("[name=return_region]").fill("Imereti")
    form.locator("[name=return_city]").fill("Kutaisi")
    form.locator("[name=origin_office_id]").select_option(label="IOM Tbilisi (GE)")
    for row, born in enumerate(("2017-05-02", "2020-09-30")):
        form.locator(f"[name='dependants-{row}-relation']").select_option("child")
        form.locator(f"[name='dependants-{row}-date_of_birth']").fill(born)
    form.locator("[name=vuln_single_parent]").check()
    form.locator("[name=share_with_origin_office]").check()
    form.locator("[name=share_with_partners]").check()
    form.locator("[name=consent_given_on]").fill(dt.date.today().isoformat())  # noqa: DTZ011
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/cases/\d+$"))
    return page.url.rsplit("/", 1)[1]


def _add(page: Any, base: str, case_id: str, title: str, quantity: int) -> None:
    page.goto(f"{base}/cases/{case_id}/plan/options?q={title.split()[0]}")
    card = page.locator("article.card", has_text=title)
    card.locator("[name=quantity]").fill(str(quantity))
    card.get_by_test_id("add-to-plan").locator("button").click()
    page.wait_for_url(re.compile(r"/plan$"))


def test_the_whole_path_from_registration_to_a_certified_delivery(
    browser: Any, page: Any, live_server: str, make_app: Callable[..., Flask]
) -> None:
    from playwright.sync_api import expect

    base = live_server
    sign_in(page, base, "counsellor.riga@demo.example")
    case_id = _register_single_mother(page, base)
    page.goto(f"{base}/cases/{case_id}/plan")
    page.locator("main form button[type=submit]").click()  # start the plan
    _add(page, base, case_id, "Tailoring and sewing vocational course", 1)
    _add(page, base, case_id, "Rent subsidy for the first three months", 3)
    _add(page, base, case_id, "Small business start-up kit", 3)
    expect(page.get_by_test_id("plan-line")).to_have_count(3)
    expect(page.get_by_test_id("cap")).to_contain_text(re.compile(r"4\D?000"))
    expect(page.get_by_test_id("remaining")).to_have_class(re.compile("text-danger"))

    submit = page.locator("form[action$='/submit']")
    submit.locator("button[type=submit]").click()  # no justification: refused at the field
    expect(page.locator("[name=justification]")).to_have_class(re.compile("is-invalid"))
    page.console_errors.clear()  # the refusal's 422 is the one expected
    page.locator("[name=justification]").fill(
        "Single mother of two small children: the rent subsidy keeps them housed while the "
        "course and the business start."
    )
    page.locator("form[action$='/submit'] button[type=submit]").click()
    expect(page.get_by_test_id("line-place").first).to_contain_text(re.compile(r"\w"))
    expect(page.get_by_test_id("justification")).to_be_visible()
    assert page.console_errors == []

    prague = browser.new_context(locale="en-GB").new_page()
    sign_in(prague, base, "counsellor.prague@demo.example")
    assert prague.goto(f"{base}/cases/{case_id}").status == 404
    assert prague.goto(f"{base}/cases/{case_id}/plan").status == 404
    prague.context.close()

    manager = browser.new_context(locale="en-GB").new_page()
    sign_in(manager, base, "casemanager.tbilisi@demo.example")
    manager.goto(f"{base}/plans/review")
    manager.get_by_test_id("queue-row").locator("a").click()
    manager.get_by_role("button", name="Confirm feasibility").click()
    expect(manager.get_by_test_id("plan-status")).to_have_text("Waiting for approval")

    director = browser.new_context(locale="en-GB").new_page()
    sign_in(director, base, "manager@demo.example")
    director.goto(f"{base}/plans/review")
    row = director.get_by_test_id("queue-row")
    expect(row).to_contain_text("over the cap")
    row.locator("a").click()
    director.get_by_role("button", name="Approve the plan").click()
    expect(director.get_by_test_id("plan-status")).to_have_text("Approved")
    expect(director.get_by_test_id("line-referral").first).to_contain_text("Waiting for an answer")
    director.context.close()

    database = _database(make_app)
    links = _referral_links(database)
    course_link = links["referrals@imeretivocationaltrainin.example.org"]
    partner = browser.new_context(locale="en-GB").new_page()  # no account
    partner.goto(course_link)
    expect(partner.get_by_text("Tamar")).to_be_visible()
    expect(partner.get_by_text("Kapanadze")).to_have_count(0)
    partner.get_by_test_id("accept-form").locator("[type=submit]").click()
    expect(partner.get_by_test_id("referral-state")).to_contain_text("accepted")
    partner.goto(course_link)  # the link again: the answer, no forms
    expect(partner.get_by_test_id("answer-forms")).to_have_count(0)
    tampered = course_link[:-2] + ("AA" if not course_link.endswith("AA") else "BB")
    assert partner.goto(tampered).status == 404

    with database.app_context():  # the other partner's referral runs out unanswered
        db.session.execute(
            sa.update(Referral)
            .where(Referral.status == "sent")
            .values(expires_at=now_utc() - dt.timedelta(minutes=1))
        )
        db.session.commit()
        db.session.remove()
    rent_link = links["referrals@tbilisireintegrationsupp.example.org"]
    partner.goto(rent_link)
    expect(partner.get_by_test_id("referral-state")).to_be_visible()
    expect(partner.get_by_test_id("answer-forms")).to_have_count(0)
    partner.context.close()

    manager.goto(f"{base}/cases/{case_id}/plan")
    course = manager.get_by_test_id("plan-line").filter(has_text="Tailoring")
    course.get_by_role("link", name="Record delivery").click()
    form = manager.locator("main form[enctype='multipart/form-data']")
    form.locator("[name=delivered_on]").fill(dt.date.today().isoformat())  # noqa: DTZ011
    form.locator("[name=amount]").fill("1200")
    form.locator("[name=currency]").select_option("GEL")
    form.locator("[name=invoice_number]").fill("INV-2026-0042")
    form.locator("[name=certificate]").set_input_files(
        {"name": "handover.png", "mimeType": "image/png", "buffer": PNG}
    )
    form.locator("[type=submit]").click()
    expect(manager.get_by_text("INV-2026-0042")).to_be_visible()
    manager.goto(f"{base}/cases/{case_id}/plan")
    delivered = manager.get_by_test_id("plan-line").filter(has_text="Tailoring")
    expect(delivered.get_by_test_id("line-delivery")).to_contain_text("GEL")
    expect(delivered.get_by_test_id("line-referral")).to_contain_text("Delivered")
    manager.context.close()
