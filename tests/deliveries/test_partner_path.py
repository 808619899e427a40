"""The partner's path: from the inbox, a referral's page or the follow-up work list to the
delivery form of each accepted referral, with what is still due of it."""

from __future__ import annotations

import re

import sqlalchemy as sa

from partners.models import ReferralStatus
from reintegration_hub.core.i18n import format_money
from reintegration_hub.deliveries import services
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import Milestone, MilestoneKind, MilestoneStatus
from tests.deliveries.helpers import PNG, build_world, delivery_input, form_data, upload
from tests.queries import counted_statements


def record_link(html: str) -> str:
    found = re.search(r'href="(/deliveries/lines/\d+/new)" data-testid="record-delivery"', html)
    assert found, html
    return found.group(1)


def test_the_inbox_links_each_accepted_referral_to_its_delivery_form(client, login) -> None:
    world = build_world()  # 2 units, GEL 500
    waiting = build_world(referral_status=ReferralStatus.SENT)
    browser = login(world.partner_user)

    inbox = browser.get("/marketplace/referrals").get_data(as_text=True)

    assert record_link(inbox) == f"/deliveries/lines/{world.line.id}/new"
    assert "Not delivered yet" in inbox
    assert f"To deliver: 2 units, {format_money(50000, 'GEL')}" in inbox
    assert f"/deliveries/lines/{waiting.line.id}/new" not in inbox  # not accepted


def test_what_is_due_follows_the_instalments_recorded(client, login) -> None:
    world = build_world()
    services.record_delivery(
        world.line.id, delivery_input(quantity=1, amount_minor=20000), upload(), actor=world.admin
    )
    db.session.commit()
    browser = login(world.partner_user)

    inbox = browser.get("/marketplace/referrals").get_data(as_text=True)
    assert "1 instalment recorded" in inbox  # paid at once, in part so far
    assert f"To deliver: 1 unit, {format_money(30000, 'GEL')}" in inbox
    referral_page = browser.get(f"/marketplace/referrals/{world.referral.id}")
    assert record_link(referral_page.get_data(as_text=True)) == (
        f"/deliveries/lines/{world.line.id}/new"
    )

    form = browser.get(record_link(inbox)).get_data(as_text=True)
    assert "Instalment 2" in form
    assert 'name="quantity" type="number" value="1"' in form  # what is left, offered
    assert 'value="300.00"' in form
    response = browser.post(
        record_link(inbox),
        data={**form_data(PNG), "quantity": "1", "amount": "300"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    inbox = browser.get("/marketplace/referrals").get_data(as_text=True)
    assert "in 2 instalments" in inbox
    assert 'data-testid="record-delivery"' not in inbox  # delivered: nothing to record


def test_over_delivery_is_refused_at_the_field_of_the_form(client, login) -> None:
    world = build_world()
    browser = login(world.partner_user)
    response = browser.post(
        f"/deliveries/lines/{world.line.id}/new",
        data={**form_data(PNG), "quantity": "3", "amount": "500.01"},
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Only 2 of the 2 units planned remain to be delivered." in html
    gel_500 = format_money(50000, "GEL")
    assert f"This is more than the {gel_500} that remain of the {gel_500} planned." in html
    assert db.session.scalar(sa.select(sa.func.count(Delivery.id))) == 0


def test_the_work_list_links_a_due_delivery_to_its_form(client, login) -> None:
    world = build_world()
    db.session.add(
        Milestone(
            plan_id=world.plan.id,
            returnee_id=world.case.id,
            plan_line_id=world.line.id,
            office_id=world.origin.id,
            step_key=f"line_delivered:{world.line.id}",
            kind=MilestoneKind.LINE_DELIVERED,
            name="Support delivered",
            responsible="partner",
            due_on=world.plan.approved_at.date(),
            remind_on=world.plan.approved_at.date(),
            status=MilestoneStatus.DUE,
        )
    )
    db.session.commit()

    html = login(world.partner_user).get("/follow-up/").get_data(as_text=True)

    assert record_link(html) == f"/deliveries/lines/{world.line.id}/new"


def test_the_line_page_shows_its_instalments_to_every_reader(client, login) -> None:
    world = build_world()
    for amount in (10000, 15000):
        services.record_delivery(
            world.line.id,
            delivery_input(quantity=0, amount_minor=amount),
            upload(),
            actor=world.admin,
        )
    db.session.commit()
    recorders = {world.partner_user, world.case_manager}
    for reader in (world.partner_user, world.counsellor, world.case_manager):
        page = login(reader).get(f"/deliveries/lines/{world.line.id}")
        html = page.get_data(as_text=True)
        assert page.status_code == 200
        assert html.count('data-testid="instalment"') == 2
        assert f"{format_money(25000, 'GEL')} of {format_money(50000, 'GEL')}" in html
        assert ('data-testid="record-instalment"' in html) == (reader in recorders)


def test_the_inbox_takes_the_same_statements_for_one_or_many_accepted_referrals(
    client, login
) -> None:
    world = build_world()
    browser = login(world.admin)
    db.session.expire_all()
    with counted_statements() as seen:
        browser.get("/marketplace/referrals")
    one = len(seen)
    for _ in range(3):
        build_world()
    db.session.commit()
    db.session.expire_all()
    with counted_statements() as seen:
        html = browser.get("/marketplace/referrals").get_data(as_text=True)
    assert html.count('data-testid="delivery-progress"') == 4
    assert len(seen) == one
