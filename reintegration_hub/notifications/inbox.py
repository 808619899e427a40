"""A user's inbox: the notices of the messages they were sent (``core.inbox``), read and marked
read by their owner only, and their e-mail choice for each kind of message.

A notice of another user is answered as if it did not exist (NotFound), never as forbidden.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from reintegration_hub.auth.models import User
from reintegration_hub.core.audit import record_audit
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import InvalidInput, NotFound
from reintegration_hub.core.inbox import (
    ALWAYS_EMAILED,
    EmailChoice,
    InboxNotice,
    NotificationPreference,
)
from reintegration_hub.core.paging import Page, paginate
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.extensions import db

CHOICE_LABELS = {
    EmailChoice.IMMEDIATELY: _l("E-mail at once"),
    EmailChoice.DIGEST: _l("In the daily digest"),
    EmailChoice.NONE: _l("No e-mail (inbox only)"),
}

_ALL = frozenset(Role)
_PLAN_BUILDERS = frozenset({Role.COUNSELLOR, Role.ADMIN})
_REVIEWERS = frozenset({Role.CASE_MANAGER, Role.PROGRAMME_MANAGER, Role.ADMIN})
_OVERSEERS = frozenset({Role.CASE_MANAGER, Role.COUNSELLOR, Role.PROGRAMME_MANAGER, Role.ADMIN})


@dataclass(frozen=True)
class MessageKind:
    """A kind of message the product sends (``core.outbox.message_key``), who receives it."""

    kind: str
    label: Any
    roles: frozenset[Role]

    @property
    def always_emailed(self) -> bool:
        return self.kind in ALWAYS_EMAILED


#: Every kind of message the product sends, in the order the e-mail choices show them.
MESSAGE_KINDS = (
    MessageKind("plan:submitted", _l("A plan waits for your review"), _REVIEWERS),
    MessageKind("plan:returned", _l("A plan is returned with comments"), _PLAN_BUILDERS),
    MessageKind("plan:approved", _l("A plan is approved"), _PLAN_BUILDERS),
    MessageKind(
        "plan:amendment-submitted", _l("An amendment waits for your confirmation"), _REVIEWERS
    ),
    MessageKind(
        "plan:amendment-returned", _l("An amendment is returned with comments"), _PLAN_BUILDERS
    ),
    MessageKind("plan:amendment-in-effect", _l("An amendment is in effect"), _PLAN_BUILDERS),
    MessageKind("plan-line:declined", _l("A partner declined a plan line"), _PLAN_BUILDERS),
    MessageKind("plan-line:expired", _l("A plan line's referral expired"), _PLAN_BUILDERS),
    MessageKind(
        "plan-line:hold:promoted", _l("A waitlisted plan line got a place"), _PLAN_BUILDERS
    ),
    MessageKind(
        "plan:visit:revision-needed", _l("A monitoring visit asks for a revision"), _PLAN_BUILDERS
    ),
    MessageKind("case-assign", _l("Cases are assigned to you"), _OVERSEERS),
    MessageKind("referral:sent", _l("A new referral to answer"), frozenset({Role.PARTNER})),
    MessageKind("referral:changed", _l("A referral is changed"), frozenset({Role.PARTNER})),
    MessageKind("referral:withdrawn", _l("A referral is withdrawn"), frozenset({Role.PARTNER})),
    MessageKind("referral:declined", _l("A partner declined a referral"), _OVERSEERS),
    MessageKind("referral:expired", _l("A referral expired unanswered"), _OVERSEERS),
    MessageKind("milestone", _l("A milestone is due or overdue"), _ALL),
    MessageKind(
        "feedback:low-score",
        _l("A returnee gave a low feedback score"),
        frozenset({Role.CASE_MANAGER}),
    ),
    MessageKind(
        "milestone:escalation",
        _l("An overdue milestone is escalated to you"),
        frozenset({Role.ADMIN, Role.PROGRAMME_MANAGER, Role.CASE_MANAGER, Role.COUNSELLOR}),
    ),
)
KINDS = {kind.kind: kind for kind in MESSAGE_KINDS}


def kinds_for(actor: Actor) -> list[MessageKind]:
    """The kinds of message ``actor``'s role receives, in the catalogue's order."""
    return [kind for kind in MESSAGE_KINDS if actor.role in kind.roles]


def _mine(actor: Actor) -> sa.ColumnElement[bool]:
    return InboxNotice.user_id == actor.id


def inbox_page(
    *, actor: Actor, page: int, per_page: int, unread: bool = False
) -> Page[InboxNotice]:
    """``actor``'s notices, newest first (only the unread ones if asked)."""
    stmt = inbox_statement(actor=actor, unread=unread)
    return paginate(stmt, page=page, per_page=per_page)


def inbox_statement(*, actor: Actor, unread: bool = False) -> sa.Select[tuple[InboxNotice]]:
    """The statement of ``actor``'s notices, newest first (the API pages it)."""
    stmt = sa.select(InboxNotice).where(_mine(actor))
    if unread:
        stmt = stmt.where(InboxNotice.read_at.is_(None))
    return stmt.order_by(InboxNotice.created_at.desc(), InboxNotice.id.desc())


def unread_count(*, actor: Actor) -> int:
    """How many of ``actor``'s notices are unread (the menu shows it)."""
    return int(
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(InboxNotice)
            .where(_mine(actor), InboxNotice.read_at.is_(None))
        )
        or 0
    )


def get_notice(notice_id: int, *, actor: Actor) -> InboxNotice:
    """One of ``actor``'s notices; NotFound for any other (another user's included)."""
    notice = db.session.scalar(
        sa.select(InboxNotice).where(InboxNotice.id == notice_id, _mine(actor))
    )
    if notice is None:
        raise NotFound(_l("No such notification."))
    return notice


def mark_read(notice_id: int, *, actor: Actor) -> InboxNotice:
    """Mark one of ``actor``'s notices read (a notice read before keeps its first time)."""
    notice = get_notice(notice_id, actor=actor)
    if notice.read_at is None:
        notice.read_at = now_utc()
        db.session.flush()
    return notice


def mark_all_read(*, actor: Actor) -> int:
    """Mark every unread notice of ``actor``'s read; how many."""
    result = db.session.execute(
        sa.update(InboxNotice)
        .where(_mine(actor), InboxNotice.read_at.is_(None))
        .values(read_at=now_utc())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def email_choices(*, actor: Actor) -> dict[str, EmailChoice]:
    """``actor``'s e-mail choice for each kind their role receives (at once unless chosen;
    always at once for the kinds that cannot be turned off)."""
    chosen = {
        kind: email
        for kind, email in db.session.execute(
            sa.select(NotificationPreference.kind, NotificationPreference.email).where(
                NotificationPreference.user_id == actor.id
            )
        )
    }
    return {
        kind.kind: EmailChoice.IMMEDIATELY
        if kind.always_emailed
        else EmailChoice(chosen.get(kind.kind, EmailChoice.IMMEDIATELY))
        for kind in kinds_for(actor)
    }


def set_email_choices(choices: Mapping[str, EmailChoice], *, actor: Actor) -> dict[str, Any]:
    """Record ``actor``'s e-mail choice for each kind in ``choices``; the changes.

    InvalidInput for a kind their role does not receive, or for anything but "at once" for a
    kind in ``ALWAYS_EMAILED`` (escalations must reach their recipient)."""
    user = db.session.get(User, actor.id) if actor.id is not None else None
    if user is None:
        raise NotFound(_l("Not found."))
    allowed = {kind.kind for kind in kinds_for(actor)}
    for kind, choice in choices.items():
        if kind not in allowed:
            raise InvalidInput(_l("No such kind of message."))
        if kind in ALWAYS_EMAILED and choice != EmailChoice.IMMEDIATELY:
            message = _l("This message is always e-mailed at once.")
            raise InvalidInput(message, field_errors={kind: [message]})
    before = email_choices(actor=actor)
    changes = {
        kind: [before[kind].value, choice.value]
        for kind, choice in choices.items()
        if before[kind] != choice
    }
    if not changes:
        return {}
    for kind in changes:
        db.session.merge(NotificationPreference(user_id=actor.id, kind=kind, email=choices[kind]))
    db.session.flush()
    record_audit("user.email_choices", user, actor=actor, changes=changes)
    return changes
