"""Returnee feedback: a request per delivered support, its short signed link, the answer, and
the case manager's task when a score is low.

When the instalment that completes a plan line is recorded (``deliveries.record_delivery``),
``request_feedback`` writes one request for that delivery (a second call returns the first)
and gives its link and the message to send it with, in the returnee's language; the message
goes by SMS when the returnee consents to texts (``cases.sms``), else the case manager hands
the link over. The link is
short enough for an SMS: ``<PUBLIC_BASE_URL>/f/<id in base 36>.<12 base-32 characters of an
HMAC-SHA256>``; the HMAC, keyed with ``SECRET_KEY``, covers the request's id and a random
nonce, so a link cannot be guessed or altered, and it expires ``FEEDBACK_LINK_DAYS`` after it
was made. ``answer_feedback`` takes one score (1-5) per delivered support and an optional
comment, once: the request is marked answered with a conditional UPDATE and each score is
unique per request and support, so a second answer, even one racing the first, is refused.
A score at or under ``LOW_SCORE`` opens a follow-up milestone for the case manager (in the
work list and on the case, with the usual done / not applicable / move actions) and tells
them in their inbox.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import hashlib
import hmac
import logging
import secrets
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload, selectinload

from partners.models import SupportOption
from reintegration_hub.cases.models import Returnee
from reintegration_hub.cases.services import read_case
from reintegration_hub.cases.sms import queue_returnee_sms
from reintegration_hub.core.audit import record_audit
from reintegration_hub.core.authz import get_scoped, scoped
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import Conflict, InvalidInput, NotFound
from reintegration_hub.core.outbox import (
    MessageKey,
    app_path,
    message_key,
    public_url,
    queue_message,
)
from reintegration_hub.core.roles import Actor, SystemActor
from reintegration_hub.core.validation import MAX_ID
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.extensions import babel, db
from reintegration_hub.feedback.models import (
    MAX_SCORE,
    MIN_SCORE,
    FeedbackRequest,
    FeedbackScore,
)
from reintegration_hub.followups.labels import FEEDBACK_TASK_PREFIX
from reintegration_hub.followups.models import (
    Milestone,
    MilestoneKind,
    MilestoneStatus,
    Responsible,
)
from reintegration_hub.followups.ownership import office_for
from reintegration_hub.plans.models import PlanLine

logger = logging.getLogger(__name__)
#: Who answers through the link (no account): audited under this name.
LINK_ACTOR = SystemActor("feedback-link")
#: The one rule for a low score: at or under it, the case manager is asked to follow up.
LOW_SCORE = 2
#: The comment's length, as the column holds it.
COMMENT_MAX = 1000
#: Characters of the link's signature: 12 base-32 characters are 60 bits of the HMAC.
SIGNATURE_CHARS = 12
#: The longest id a link carries (base 36 of ``MAX_ID``).
_ID_CHARS = 7
LINK_ENDPOINT = "feedback.answer"


class LinkState(enum.StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    EXPIRED = "expired"


class RequestStatus(enum.StrEnum):
    """What the case manager sees of a request."""

    NOT_SENT = "not_sent"
    SENT = "sent"
    ANSWERED = "answered"
    EXPIRED = "expired"


def is_low(score: int) -> bool:
    """Whether a score asks for the case manager's follow-up."""
    return score <= LOW_SCORE


@dataclass(frozen=True)
class Invitation:
    """A request with the link and the text to send it with (in ``request.language``)."""

    request: FeedbackRequest
    link: str
    message: str


# --- the link --------------------------------------------------------------------------------


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if number == 0:
            return text


def _signature(request_id: int, nonce: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(key, f"feedback-link:{request_id}:{nonce}".encode(), hashlib.sha256)
    return base64.b32encode(digest.digest()).decode().lower()[:SIGNATURE_CHARS]


def link_code(request: FeedbackRequest) -> str:
    """The link's last path segment: ``<id in base 36>.<signature>``."""
    return f"{_base36(request.id)}.{_signature(request.id, request.nonce)}"


def feedback_link(request: FeedbackRequest) -> str:
    """The absolute link the returnee opens (under ``PUBLIC_BASE_URL``)."""
    return public_url(LINK_ENDPOINT, code=link_code(request))


def request_for_link(code: str) -> FeedbackRequest:
    """The request a link's code names; NotFound for a malformed, altered or unknown code
    (never which)."""
    head, dot, signature = code.partition(".")
    if (
        not dot
        or not 0 < len(head) <= _ID_CHARS
        or len(signature) != SIGNATURE_CHARS
        or not (head + signature).isascii()
        or not head.isalnum()
    ):
        raise NotFound(_l("Not found."))
    request_id = int(head, 36)
    request = db.session.get(FeedbackRequest, request_id) if 0 < request_id <= MAX_ID else None
    if request is None or not hmac.compare_digest(
        signature.lower(), _signature(request.id, request.nonce)
    ):
        raise NotFound(_l("Not found."))
    return request


def link_state(request: FeedbackRequest, now: dt.datetime | None = None) -> LinkState:
    if request.answered_at is not None:
        return LinkState.ANSWERED
    if (now or now_utc()) >= request.expires_at:
        return LinkState.EXPIRED
    return LinkState.OPEN


def request_status(request: FeedbackRequest, now: dt.datetime | None = None) -> RequestStatus:
    state = link_state(request, now)
    if state == LinkState.ANSWERED:
        return RequestStatus.ANSWERED
    if state == LinkState.EXPIRED:
        return RequestStatus.EXPIRED
    return RequestStatus.SENT if request.sent_at is not None else RequestStatus.NOT_SENT


# --- the request -----------------------------------------------------------------------------


def form_language(case: Returnee) -> str:
    """The first of the returnee's languages the application has a catalogue for (an
    interface language or not: Georgian and Armenian forms are translated), else English."""
    available = {str(locale) for locale in babel.list_translations()}
    return next((code for code in case.languages if code in available), "en")


def feedback_message(
    request: FeedbackRequest, link: str | None = None, language: str | None = None
) -> str:
    """The text that carries the link, in the request's language (or ``language``): short,
    for one SMS."""
    with force_locale(language or request.language):
        text: str = gettext(
            "IOM: how was the support you received? Tell us: %(link)s",
            link=link or feedback_link(request),
        )
        return text


def invitation(request: FeedbackRequest) -> Invitation:
    link = feedback_link(request)
    return Invitation(request=request, link=link, message=feedback_message(request, link))


def request_feedback(delivery: Delivery, *, actor: Actor) -> Invitation:
    """The feedback request for ``delivery`` (the instalment that completed its plan line),
    written now or, when it exists already, the one written before (one per delivery, a
    unique key on both databases), with its link and message. Audited
    (``feedback.request``). Conflict when the delivery did not complete its line."""
    if not delivery.final:
        raise Conflict(_l("Feedback is asked once the support is fully delivered."))
    found = db.session.scalar(
        sa.select(FeedbackRequest).where(FeedbackRequest.delivery_id == delivery.id)
    )
    if found is not None:
        return invitation(found)
    line = db.session.get(PlanLine, delivery.plan_line_id)
    assert line is not None
    case = line.plan.returnee
    now = now_utc()
    days = int(current_app.config["FEEDBACK_LINK_DAYS"])
    request = FeedbackRequest(
        delivery_id=delivery.id,
        returnee_id=case.id,
        plan_line_id=line.id,
        nonce=secrets.token_hex(8),
        language=form_language(case),
        created_at=now,
        expires_at=now + dt.timedelta(days=days),
        created_by_id=actor.id,
    )
    db.session.add(request)
    request.returnee = case
    record_audit("feedback.request", request, actor=actor, office_id=request.audit_office_id)
    made = invitation(request)
    _text_invitation(made, actor=actor, key=message_key("sms:feedback:{}", delivery.id))
    return made


def _text_invitation(made: Invitation, *, actor: Actor, key: MessageKey) -> None:
    """The invitation goes by SMS when the returnee consents to it and has a mobile number
    (``cases.sms``, through the outbox: once per delivery); the request is then sent. Else, or
    when a long public address makes the text too long for an SMS, the case manager hands the
    link over (the case page shows it, not sent)."""
    request = made.request
    try:
        queued = queue_returnee_sms(
            request.returnee_id,
            key=key,
            text_for_language=lambda language: feedback_message(request, made.link, language),
        )
    except ValueError:
        logger.warning("feedback request %s: its text is too long for an SMS", request.id)
        return
    if queued:
        mark_feedback_sent(request.id, actor=actor)


def mark_feedback_sent(
    request_id: int, *, actor: Actor, at: dt.datetime | None = None
) -> FeedbackRequest:
    """Record that the link went to the returnee (by SMS, or handed over by the case manager):
    the first time only. NotFound out of the actor's scope (a system actor sees all)."""
    if isinstance(actor, SystemActor):
        request = db.session.get(FeedbackRequest, request_id)
        if request is None:
            raise NotFound(_l("Not found."))
    else:
        request = get_scoped(FeedbackRequest, request_id, actor)
    if request.sent_at is None:
        request.sent_at = at or now_utc()
        record_audit("feedback.sent", request, actor=actor, office_id=request.audit_office_id)
    return request


def renew_feedback_link(request_id: int, *, actor: Actor) -> Invitation:
    """A new link for a request whose link expired unanswered (the returnee was away, the SMS
    never arrived): a new nonce (the old link stays refused) and a new expiry, not sent yet;
    texted again when the returnee consents to it. Conflict when it was answered, or while its
    link is still open (the returnee may hold it: hand it over again instead). Audited
    (``feedback.renew``)."""
    request = get_scoped(FeedbackRequest, request_id, actor)
    state = link_state(request)
    if state == LinkState.ANSWERED:
        raise Conflict(_l("This feedback was already given. Thank you."))
    if state == LinkState.OPEN:  # the link the returnee holds still works: it stays theirs
        raise Conflict(_l("This feedback link has not expired yet: hand it over again."))
    now = now_utc()
    request.nonce = secrets.token_hex(8)
    request.expires_at = now + dt.timedelta(days=int(current_app.config["FEEDBACK_LINK_DAYS"]))
    request.sent_at = None
    record_audit("feedback.renew", request, actor=actor, office_id=request.audit_office_id)
    db.session.flush()
    made = invitation(request)
    renewed = message_key("sms:feedback:{}:renewed:{}", request.delivery_id, request.nonce)
    _text_invitation(made, actor=actor, key=renewed)
    return made


# --- the answer ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Support:
    """What the form shows of a delivered support: enough to recognise it, nothing more."""

    line_id: int
    title: str
    partner: str
    delivered_on: dt.date


def supports(request: FeedbackRequest) -> list[Support]:
    """The delivered supports the request asks about (its plan line), with the option's title
    in the request's language where the partner wrote one."""
    line = db.session.scalars(
        sa.select(PlanLine)
        .where(PlanLine.id == request.plan_line_id)
        .options(joinedload(PlanLine.option).selectinload(SupportOption.texts))
        .options(joinedload(PlanLine.option).joinedload(SupportOption.partner))
    ).one()
    text = line.option.text(request.language)
    return [
        Support(
            line_id=line.id,
            title=text.title if text is not None else "",
            partner=line.option.partner.name,
            delivered_on=request.delivery.delivered_on,
        )
    ]


def _clean_comment(comment: str) -> str:
    text = (comment or "").strip()
    if any(ch == "\x00" or unicodedata.category(ch) == "Cs" for ch in text):
        message = _l("The text holds characters that cannot be stored.")
    elif len(text) > COMMENT_MAX:
        message = _l("At most %(num)d characters.", num=COMMENT_MAX)
    else:
        return text
    raise InvalidInput(message, field_errors={"comment": [message]})


def _clean_scores(request: FeedbackRequest, given: Mapping[int, Any]) -> dict[int, int]:
    """One score per support of the request, each a whole number from 1 to 5."""
    errors: dict[str, list[Any]] = {}
    cleaned: dict[int, int] = {}
    for support in supports(request):
        value = given.get(support.line_id)
        field = f"score_{support.line_id}"
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not MIN_SCORE <= value <= MAX_SCORE
        ):
            errors[field] = [_l("Choose a score from 1 to 5.")]
        else:
            cleaned[support.line_id] = value
    if errors:
        raise InvalidInput(_l("Check your answers."), field_errors=errors)
    return cleaned


def answer_feedback(
    request_id: int, scores: Mapping[int, Any], comment: str = "", *, actor: Actor = LINK_ACTOR
) -> FeedbackRequest:
    """Record the returnee's answer: ``scores`` by plan-line id (one per delivered support,
    1-5) and an optional comment. Once: Conflict when the request is answered already (also
    when another answer commits first: the conditional update finds it answered, and the
    scores' unique key refuses a second set), or its link expired. InvalidInput naming each
    bad field. A low score (``is_low``) opens the case manager's follow-up. Audited
    (``feedback.answer``)."""
    request = db.session.get(FeedbackRequest, request_id)
    if request is None:
        raise NotFound(_l("Not found."))
    now = now_utc()
    state = link_state(request, now)
    if state == LinkState.ANSWERED:
        raise Conflict(_l("This feedback was already given. Thank you."))
    if state == LinkState.EXPIRED:
        raise Conflict(_l("This link has expired."))
    cleaned = _clean_scores(request, scores)
    text = _clean_comment(comment)
    claimed = db.session.execute(
        sa.update(FeedbackRequest)
        .where(FeedbackRequest.id == request.id, FeedbackRequest.answered_at.is_(None))
        .values(answered_at=now, comment=text)
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        raise Conflict(_l("This feedback was already given. Thank you."))
    db.session.refresh(request)
    case = request.returnee
    lines = {
        line.id: line
        for line in db.session.scalars(
            sa.select(PlanLine)
            .where(PlanLine.id.in_(list(cleaned)))
            .options(joinedload(PlanLine.option))
        )
    }
    for line_id, score in cleaned.items():
        option = lines[line_id].option
        db.session.add(
            FeedbackScore(
                request_id=request.id,
                plan_line_id=line_id,
                partner_id=option.partner_id,
                category=option.category,
                return_country_code=case.return_country_code,
                returnee_id=case.id,
                answered_on=now.date(),
                score=score,
            )
        )
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        raise Conflict(_l("This feedback was already given. Thank you.")) from None
    record_audit(
        "feedback.answer",
        request,
        actor=actor,
        changes={"scores": [None, sorted(cleaned.values())]},
        office_id=request.audit_office_id,
    )
    if any(is_low(score) for score in cleaned.values()):
        open_feedback_task(request, actor=actor)
    return request


def open_feedback_task(request: FeedbackRequest, *, actor: Actor) -> Milestone:
    """The case manager's follow-up of a low score: a milestone of the case's plan, due in
    ``FEEDBACK_TASK_DAYS``, in the work list from today; their inbox tells them."""
    if request.task is not None:
        return request.task
    line = request.plan_line
    case = request.returnee
    today = now_utc().date()
    due = today + dt.timedelta(days=int(current_app.config["FEEDBACK_TASK_DAYS"]))
    task = Milestone(
        plan_id=line.plan_id,
        returnee_id=case.id,
        # not the line's: its partner must not see the returnee's opinion in its work list
        plan_line_id=None,
        office_id=office_for(Responsible.CASE_MANAGER, case),
        step_key=f"feedback:{request.id}",
        kind=MilestoneKind.FEEDBACK_FOLLOWUP,
        name=f"{FEEDBACK_TASK_PREFIX}{_english_title(line.option)}"[:120],
        responsible=Responsible.CASE_MANAGER,
        due_on=due,
        remind_on=today,
        supervisor_on=due + dt.timedelta(days=7),
        home_office_on=None,
        offset_days=None,  # a new return date does not move it
        status=MilestoneStatus.DUE,
    )
    db.session.add(task)
    request.task = task
    record_audit("feedback.task", task, actor=actor, office_id=task.office_id)
    manager = case.case_manager
    if manager is not None and manager.is_active:
        queue_message(
            message_key("feedback:{}:low-score", request.id),
            manager.email,
            _l("A returnee gave a low feedback score in case %(number)s", number=case.case_number),
            "feedback_low_score.txt",
            language=manager.preferred_language,
            user_id=manager.id,
            app_link=app_path("plans.plan", case_id=case.id),
            link=public_url("plans.plan", case_id=case.id),
            case=case,
            request=request,
            due_on=due,
        )
    return task


def _english_title(option: SupportOption) -> str:
    text = option.text("en")
    return text.title if text is not None else f"#{option.id}"


# --- reads -----------------------------------------------------------------------------------


def case_feedback(case_id: int, *, actor: Actor) -> Sequence[FeedbackRequest]:
    """The feedback requests of a case ``actor`` sees, newest first, with their scores and
    supports, tasks and the options' titles (four statements whatever their number)."""
    return db.session.scalars(
        scoped(
            sa.select(FeedbackRequest).where(FeedbackRequest.returnee_id == case_id),
            FeedbackRequest,
            actor,
        )
        .options(
            selectinload(FeedbackRequest.scores),
            joinedload(FeedbackRequest.delivery),
            joinedload(FeedbackRequest.task),
            joinedload(FeedbackRequest.plan_line)
            .joinedload(PlanLine.option)
            .joinedload(SupportOption.partner),
            # the case page shows each option's title in the reader's language
            joinedload(FeedbackRequest.plan_line)
            .joinedload(PlanLine.option)
            .selectinload(SupportOption.texts),
        )
        .order_by(FeedbackRequest.created_at.desc(), FeedbackRequest.id.desc())
    ).all()


def read_case_feedback(case_id: int, *, actor: Actor) -> Sequence[FeedbackRequest]:
    """The API's read of a case's feedback (``case_feedback``): the case in ``actor``'s scope,
    else NotFound; audited on the case (``feedback.read``), as the case page's read is."""
    read_case(case_id, action="feedback.read", actor=actor)
    return case_feedback(case_id, actor=actor)


def delivery_feedback(delivery_id: int, *, actor: Actor) -> FeedbackRequest | None:
    """The feedback request of a delivery, if ``actor`` sees it."""
    return db.session.scalars(
        scoped(
            sa.select(FeedbackRequest).where(FeedbackRequest.delivery_id == delivery_id),
            FeedbackRequest,
            actor,
        ).options(selectinload(FeedbackRequest.scores))
    ).one_or_none()
