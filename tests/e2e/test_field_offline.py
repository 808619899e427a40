"""The field page offline, in Chromium, on the demo world: the Tbilisi case manager opens it
online, loses the connection, records a visit and a survey of one case and a visit of another,
reloads the page (still there, the answers still kept), and gets the connection back: the first
case's visit and survey are recorded once each, the other visit is refused because its
milestone was marked not applicable meanwhile, and stays on the page until discarded.

Playwright's offline mode (``context.set_offline``) does not stop a service worker's own
requests in every Chromium (microsoft/playwright#2311), so the page's requests are also probed
through the worker while offline: they must fail, or be answered from what the worker kept."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from reintegration_hub.cases.models import Returnee
from reintegration_hub.extensions import db
from reintegration_hub.followups import actions
from reintegration_hub.followups.models import (
    Milestone,
    MonitoringVisit,
    NotApplicableReason,
    SustainabilitySurvey,
)
from reintegration_hub.followups.sweep import sweep
from tests.e2e.helpers import TODAY, course_plan, sign_in, user_of

pytestmark = pytest.mark.e2e

MANAGER = "casemanager.tbilisi@demo.example"
#: What a request through the worker answers while offline: kept, or failed.
PROBE = "url => fetch(url).then(r => String(r.status), () => 'failed')"


def arrived_case(make_app: Callable[..., Flask], first_name: str, days_ago: int) -> str:
    """A case of the Tbilisi case manager, returned and arrived ``days_ago``, swept today; its
    case number."""
    returned = TODAY - dt.timedelta(days=days_ago)
    case_id = course_plan(make_app, first_name=first_name, departed_on=returned, approve=True)
    with make_app().app_context():
        actions.record_arrival(case_id, arrived_on=returned, actor=user_of(MANAGER))
        db.session.commit()
        sweep(TODAY)
        case = db.session.get(Returnee, case_id)
        assert case is not None
        number = case.case_number
        db.session.remove()
    return number


def milestone_of(number: str, step_key: str) -> Milestone:
    return db.session.scalars(
        sa.select(Milestone)
        .join(Returnee, Returnee.id == Milestone.returnee_id)
        .where(Returnee.case_number == number, Milestone.step_key == step_key)
    ).one()


def records(model: Any, number: str) -> list[Any]:
    return list(
        db.session.scalars(
            sa.select(model)
            .join(Returnee, Returnee.id == model.returnee_id)
            .where(Returnee.case_number == number)
        )
    )


def test_visits_and_surveys_recorded_offline_are_sent_once_and_a_conflict_is_kept(
    page: Any, live_server: str, make_app: Callable[..., Flask]
) -> None:
    from playwright.sync_api import expect

    late = arrived_case(make_app, "Nino", 350)  # visits overdue, the survey due in 15 days
    other = arrived_case(make_app, "Eka", 100)  # the 3-month visit overdue
    base = live_server
    sign_in(page, base, MANAGER)
    page.get_by_role("link", name="In the field").click()
    expect(page.get_by_test_id("offline-ready")).to_have_text(
        "Ready to work offline on this device."
    )
    items = page.get_by_test_id("field-item")
    expect(items.filter(has_text=late)).to_have_count(4)  # three visits and the survey

    page.context.set_offline(True)
    expect(page.get_by_test_id("connection")).to_contain_text("Offline")
    assert page.evaluate(PROBE, f"{base}/healthz") == "failed"  # the worker is offline too
    visit = items.filter(has_text=late).filter(has_text="Monitoring visit (9 months)")
    visit.get_by_test_id("record-visit").click()
    form = page.get_by_test_id("field-visit-form")
    form.get_by_label("How").select_option(label="In person")
    form.get_by_label("Findings").fill("The tailoring shop is open, two orders a week.")
    form.get_by_role("button", name="Keep the visit").click()
    survey = items.filter(has_text=late).filter(has_text="Sustainability survey")
    survey.get_by_test_id("record-survey").click()
    form = page.get_by_test_id("field-survey-form")
    scores = form.locator("input[type=number]")
    for index in range(scores.count()):
        scores.nth(index).fill("3")
    scores.first.fill("9")
    form.get_by_role("button", name="Keep the survey").click()
    expect(form.get_by_text("Give a whole number from 0 to 4.")).to_be_visible()  # at the field
    scores.first.fill("4")
    form.get_by_role("button", name="Keep the survey").click()
    items.filter(has_text=other).get_by_test_id("record-visit").click()
    page.get_by_test_id("field-visit-form").get_by_label("How").select_option(label="By phone")
    page.get_by_test_id("field-visit-form").get_by_role("button", name="Keep the visit").click()
    expect(page.get_by_test_id("queued-count")).to_have_text("3")

    page.reload()  # still offline: the page, its list and the answers come from this device
    expect(page.get_by_test_id("queued-count")).to_have_text("3")
    expect(page.get_by_test_id("queued-answer").filter(has_text=late)).to_have_count(2)
    expect(items.filter(has_text=late)).to_have_count(4)
    expect(page.get_by_test_id("kept-here")).to_have_count(3)
    with make_app().app_context():  # meanwhile, at the office
        assert records(MonitoringVisit, late) == []
        actions.mark_not_applicable(
            milestone_of(other, "visit_90").id,
            reason=NotApplicableReason.RETURNEE_MOVED,
            actor=user_of(MANAGER),
        )
        db.session.commit()
        db.session.remove()

    page.context.set_offline(False)  # the page sends what it kept when the connection returns
    conflict = page.get_by_test_id("queued-answer").filter(has_text=other)
    expect(conflict.get_by_test_id("conflict")).to_contain_text("closed meanwhile")
    expect(page.get_by_test_id("queued-count")).to_have_text("1")
    expect(page.get_by_test_id("sync-message")).to_have_text("Sent: 2")
    page.get_by_test_id("send-now").click()  # again: nothing is sent twice
    expect(page.get_by_test_id("queued-count")).to_have_text("1")
    with make_app().app_context():
        [recorded_visit] = records(MonitoringVisit, late)
        [recorded_survey] = records(SustainabilitySurvey, late)
        assert recorded_visit.milestone_id == milestone_of(late, "visit_270").id
        assert recorded_visit.findings == "The tailoring shop is open, two orders a week."
        assert recorded_survey.milestone_id == milestone_of(late, "survey").id
        assert recorded_visit.client_key
        assert recorded_survey.client_key
        assert records(MonitoringVisit, other) == []
        db.session.remove()

    page.once("dialog", lambda dialog: dialog.accept())
    conflict.get_by_role("button", name="Discard").click()
    expect(page.get_by_test_id("queued-count")).to_have_text("0")
    page.get_by_test_id("sign-out").get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    kept = page.evaluate(
        "async () => [(await caches.keys()).length,"
        " (await indexedDB.databases()).filter(d => d.name === 'hub-field').length,"
        " (await navigator.serviceWorker.getRegistrations()).length]"
    )
    assert kept == [0, 0, 0]
    assert not [e for e in page.console_errors if "Content Security Policy" in e]
