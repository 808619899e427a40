"""Feedback requests, their signed links, the answer (once), the low-score task, the partner's
satisfaction figure and who sees the answers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from partners.models import ReferralStatus
from reintegration_hub.cases.models import Consent
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import Conflict, InvalidInput, NotFound
from reintegration_hub.core.inbox import InboxNotice
from reintegration_hub.core.outbox import Channel, OutboxMessage
from reintegration_hub.deliveries.services import record_delivery
from reintegration_hub.extensions import db
from reintegration_hub.feedback import services
from reintegration_hub.feedback.models import FeedbackRequest, FeedbackScore
from reintegration_hub.followups.models import Milestone, MilestoneKind, MilestoneStatus
from reintegration_hub.followups.worklist import WorkListFilters, work_list
from reintegration_hub.monitoring.performance import (
    performance_of,
    refresh_partner_performance,
)
from reintegration_hub.plans import amendments
from tests.clock import TODAY, travel
from tests.deliveries.helpers import (
    build_world,
    case_manager_in,
    delivery_input,
    upload,
)
from tests.feedback.helpers import code_of, delivered


def test_the_delivery_that_completes_a_line_writes_one_request_with_a_short_link(
    app: Flask,
) -> None:
    invited = delivered(languages=["ka", "ru"])
    request = invited.request
    assert request.language == "ka"
    assert request.expires_at == request.created_at + dt.timedelta(days=30)
    path = invited.link.split("://", 1)[1].split("/", 1)[1]
    assert path.startswith("f/")
    assert len(path) <= 2 + 7 + 1 + services.SIGNATURE_CHARS
    assert invited.link in invited.message
    # a second call for the same delivery gives the same request
    again = services.request_feedback(request.delivery, actor=request.delivery.recorded_by)
    assert again.request.id == request.id
    assert again.link == invited.link
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FeedbackRequest)) == 1


def test_an_instalment_that_leaves_the_line_open_asks_nothing(app: Flask) -> None:
    world = build_world()
    record_delivery(
        world.line.id,
        delivery_input(amount_minor=25000, quantity=1),
        upload(),
        actor=world.case_manager,
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FeedbackRequest)) == 0


def test_a_line_reduced_to_what_was_delivered_asks_about_its_last_instalment(
    app: Flask,
) -> None:
    world = build_world()
    first = record_delivery(
        world.line.id,
        delivery_input(amount_minor=25000, quantity=1),
        upload(),
        actor=world.case_manager,
    )
    assert not first.final
    amendments.change_line(
        world.line.id, quantity=1, notes="", reason="One kit is enough", actor=world.counsellor
    )
    amendments.submit_amendment(world.plan.id, actor=world.counsellor)
    amendments.confirm_amendment(world.plan.id, actor=world.case_manager)

    (request,) = db.session.scalars(sa.select(FeedbackRequest)).all()
    assert request.delivery_id == first.id
    assert first.final  # the line is delivered: its last instalment ended it
    assert world.referral.status == ReferralStatus.DELIVERED
    assert db.session.scalar(
        sa.select(AuditEntry.id).where(
            AuditEntry.action == "delivery.final", AuditEntry.object_id == str(first.id)
        )
    )
    # the returnee answers about what was delivered, as after a complete delivery
    services.answer_feedback(request.id, {world.line.id: 4})
    assert [score.score for score in request.scores] == [4]


def test_the_message_is_in_the_returnees_language(app: Flask) -> None:
    invited = delivered(languages=["hy", "ru"])
    assert invited.request.language == "hy"
    assert invited.message != invited.message.encode("ascii", "ignore").decode()  # not English
    english = delivered(languages=["xx"])
    assert english.request.language == "en"
    assert english.message.startswith("IOM:")


def test_the_link_finds_its_request_and_a_tampered_one_finds_nothing(app: Flask) -> None:
    invited = delivered()
    code = code_of(invited.link)
    assert services.request_for_link(code).id == invited.request.id
    head, signature = code.split(".")
    other = "a" if signature[0] != "a" else "b"
    tampered = [
        f"{head}.{other}{signature[1:]}",  # one character of the signature
        f"{int(head, 36) + 1:x}.{signature}",  # another id, same signature
        f"{head}{signature}",  # no dot
        f"{head}.{signature[:-1]}",  # cut short
        f"zzzzzzzz.{signature}",  # past every id
        f"{head}.{signature}\x00",
        f"\ud800.{signature}",
        "",
    ]
    for code_given in tampered:
        with pytest.raises(NotFound):
            services.request_for_link(code_given)


def test_a_new_nonce_revokes_the_link(app: Flask) -> None:
    invited = delivered()
    invited.request.nonce = "0" * 16
    with pytest.raises(NotFound):
        services.request_for_link(code_of(invited.link))


def scores_of(request: FeedbackRequest, score: Any) -> dict[int, Any]:
    return {request.plan_line_id: score}


def test_a_request_is_answered_once(app: Flask) -> None:
    request = delivered().request
    services.answer_feedback(request.id, scores_of(request, 4), "  Good tools.  ")
    assert request.answered_at is not None
    assert request.comment == "Good tools."
    assert [score.score for score in request.scores] == [4]
    assert services.request_status(request) == services.RequestStatus.ANSWERED
    with pytest.raises(Conflict):
        services.answer_feedback(request.id, scores_of(request, 1), "")
    assert [s.score for s in db.session.scalars(sa.select(FeedbackScore))] == [4]


def test_an_answer_racing_another_is_refused_by_the_database(app: Flask) -> None:
    request = delivered().request
    # another request's transaction answered it after this one read it
    db.session.execute(
        sa.update(FeedbackRequest)
        .where(FeedbackRequest.id == request.id)
        .values(answered_at=now_utc())
        .execution_options(synchronize_session=False)
    )
    assert request.answered_at is None  # what this one still believes
    with pytest.raises(Conflict):
        services.answer_feedback(request.id, scores_of(request, 5), "")
    # and the scores' key refuses a second set whatever the code checks
    values = {
        "request_id": request.id,
        "plan_line_id": request.plan_line_id,
        "partner_id": request.plan_line.option.partner_id,
        "category": request.plan_line.option.category,
        "return_country_code": "GE",
        "returnee_id": request.returnee_id,
        "answered_on": TODAY,
        "score": 3,
    }
    db.session.execute(sa.insert(FeedbackScore).values(**values))
    with pytest.raises(sa.exc.IntegrityError), db.session.begin_nested():
        db.session.execute(sa.insert(FeedbackScore).values(**values))


def test_an_expired_link_takes_no_answer(app: Flask, time_machine: Any) -> None:
    request = delivered().request
    travel(time_machine, TODAY + dt.timedelta(days=31))
    assert services.link_state(request) == services.LinkState.EXPIRED
    assert services.request_status(request) == services.RequestStatus.EXPIRED
    with pytest.raises(Conflict):
        services.answer_feedback(request.id, scores_of(request, 5), "")
    assert request.answered_at is None


@pytest.mark.parametrize(
    "score",
    [0, 6, -1, 2**63, 10**100, "abc", "4", None, True, 4.0],
    ids=lambda value: repr(value)[:12],
)
def test_a_score_out_of_range_is_refused_at_its_field(app: Flask, score: Any) -> None:
    request = delivered().request
    with pytest.raises(InvalidInput) as refused:
        services.answer_feedback(request.id, scores_of(request, score), "")
    assert f"score_{request.plan_line_id}" in refused.value.field_errors
    assert request.answered_at is None


@pytest.mark.parametrize(
    "comment",
    ["bad\x00byte", "lone \ud800 surrogate", "x" * 1001],
    ids=["NUL", "surrogate", "long"],
)
def test_a_comment_that_cannot_be_stored_is_refused_at_its_field(app: Flask, comment: str) -> None:
    request = delivered().request
    with pytest.raises(InvalidInput) as refused:
        services.answer_feedback(request.id, scores_of(request, 3), comment)
    assert "comment" in refused.value.field_errors
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FeedbackScore)) == 0


def test_a_low_score_opens_the_case_managers_task(app: Flask) -> None:
    world = build_world()
    request = delivered(world).request
    services.answer_feedback(request.id, scores_of(request, 2), "The tools broke.")
    task = request.task
    assert task is not None
    assert task.kind == MilestoneKind.FEEDBACK_FOLLOWUP
    assert task.status == MilestoneStatus.DUE
    assert task.due_on == TODAY + dt.timedelta(days=3)
    assert task.office_id == world.origin.id
    assert task.plan_line_id is None  # the partner's work list does not show it
    mine = work_list(WorkListFilters(mine=True), actor=world.case_manager)
    assert task.id in [milestone.id for milestone in mine.items]
    assert task.id not in [
        m.id for m in work_list(WorkListFilters(), actor=world.partner_user).items
    ]
    notices = db.session.scalars(
        sa.select(InboxNotice).where(InboxNotice.user_id == world.case_manager.id)
    ).all()
    assert [notice.kind for notice in notices] == ["feedback:low-score"]


def test_a_good_score_opens_no_task(app: Flask) -> None:
    request = delivered().request
    services.answer_feedback(request.id, scores_of(request, 3), "")
    assert request.task is None
    kinds = db.session.scalars(sa.select(Milestone.kind)).all()
    assert MilestoneKind.FEEDBACK_FOLLOWUP not in kinds


def test_the_partners_satisfaction_is_the_mean_of_its_scores(app: Flask) -> None:
    worlds = [build_world() for _ in range(4)]
    partner = worlds[0].partner
    for world in worlds[1:3]:  # three lines of the same partner's options
        world.option.partner_id = partner.id
    given = [5, 2, 4, 1]  # the last is another partner's
    for world, score in zip(worlds, given, strict=True):
        request = delivered(world).request
        services.answer_feedback(request.id, scores_of(request, score), "")
    refresh_partner_performance(TODAY)
    figures = performance_of(partner.id)
    assert figures is not None
    assert figures.feedback_answers == 3
    assert figures.satisfaction == pytest.approx((5 + 2 + 4) / 3)
    other = performance_of(worlds[3].partner.id)
    assert other is not None
    assert (other.feedback_answers, other.satisfaction) == (1, pytest.approx(1.0))


def test_only_those_who_see_the_case_see_its_answers(app: Flask) -> None:
    world = build_world()
    request = delivered(world).request
    services.answer_feedback(request.id, scores_of(request, 5), "Thank you.")
    assert [r.id for r in services.case_feedback(world.case.id, actor=world.case_manager)] == [
        request.id
    ]
    assert len(services.case_feedback(world.case.id, actor=world.counsellor)) == 1
    assert len(services.case_feedback(world.case.id, actor=world.admin)) == 1
    elsewhere = case_manager_in("AM", "Yerevan")
    assert services.case_feedback(world.case.id, actor=elsewhere) == []
    assert services.case_feedback(world.case.id, actor=world.partner_user) == []
    assert services.delivery_feedback(request.delivery_id, actor=elsewhere) is None
    with pytest.raises(NotFound):
        services.mark_feedback_sent(request.id, actor=elsewhere)


def test_marking_the_link_sent_keeps_the_first_time(app: Flask) -> None:
    world = build_world()
    request = delivered(world).request
    assert services.request_status(request) == services.RequestStatus.NOT_SENT
    first = now_utc() - dt.timedelta(hours=1)
    services.mark_feedback_sent(request.id, actor=services.LINK_ACTOR, at=first)
    services.mark_feedback_sent(request.id, actor=world.case_manager)
    assert request.sent_at == first
    assert services.request_status(request) == services.RequestStatus.SENT


def test_only_an_expired_unanswered_link_is_made_again(app: Flask, time_machine: Any) -> None:
    world = build_world()
    invited = delivered(world)
    request, nonce = invited.request, invited.request.nonce
    with pytest.raises(Conflict):  # still open: the link the returnee holds stays theirs
        services.renew_feedback_link(request.id, actor=world.case_manager)
    assert request.nonce == nonce
    travel(time_machine, TODAY + dt.timedelta(days=31))
    renewed = services.renew_feedback_link(request.id, actor=world.case_manager)
    assert request.nonce != nonce
    assert services.link_state(request) == services.LinkState.OPEN
    assert renewed.link != invited.link
    services.answer_feedback(request.id, scores_of(request, 4), "")
    with pytest.raises(Conflict):  # answered: nothing to renew
        services.renew_feedback_link(request.id, actor=world.case_manager)


@pytest.mark.parametrize("sms_contact", [True, False])
def test_the_invitation_goes_by_sms_once_when_the_returnee_consents(
    app: Flask, sms_contact: bool
) -> None:
    world = build_world()
    world.case.mobile_number = "+995555123456"
    db.session.add(
        Consent(
            returnee_id=world.case.id,
            share_with_origin_office=True,
            share_with_partners=True,
            given_on=TODAY,
            sms_contact=sms_contact,
        )
    )
    invited = delivered(world, languages=["ka", "en"])
    texts = db.session.scalars(
        sa.select(OutboxMessage).where(OutboxMessage.channel == Channel.SMS)
    ).all()
    if not sms_contact:
        assert texts == []
        assert invited.request.sent_at is None  # the case manager hands the link over
        return
    assert [(t.to_address, t.language, t.returnee_id) for t in texts] == [
        ("+995555123456", "ka", world.case.id)
    ]
    assert invited.link in texts[0].body_text
    assert texts[0].body_text == services.feedback_message(invited.request, invited.link, "ka")
    assert invited.request.sent_at is not None
    # asked again for the same delivery: the same request, no second text
    services.request_feedback(invited.request.delivery, actor=world.case_manager)
    assert (
        db.session.scalar(sa.select(sa.func.count()).where(OutboxMessage.channel == Channel.SMS))
        == 1
    )
