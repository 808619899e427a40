"""The follow-up calendar: an office's milestones and visits by month, and each user's private
iCalendar feed of the milestones they answer for.

- **Month.** The milestones due in the month (not cancelled) and the visits recorded in it,
  of the cases the reader sees (``scoped``), one office's for those who see every office.
- **Feed.** A phone or a mail program subscribes to an address holding a random token (only
  its SHA-256 is stored); a new token replaces the old one, which stops working at once, and
  stopping the feed deletes it. The feed carries case numbers and milestone names only, never
  a returnee's name: it leaves the system for calendars we do not control. It lists the
  milestones the user answers for (``worklist.answered_by``), open ones from a month back to
  a year and a month ahead, each an all-day event on its due date linking to its page.
"""

from __future__ import annotations

import calendar as calendars
import datetime as dt
import hashlib
import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from icalendar import Calendar, Event
from sqlalchemy.orm import joinedload

from reintegration_hub.auth.models import User
from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.audit import record_audit
from reintegration_hub.core.authz import scoped
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import BadQuery, NotFound
from reintegration_hub.core.outbox import public_url
from reintegration_hub.core.roles import Actor
from reintegration_hub.extensions import db
from reintegration_hub.followups.labels import MILESTONE_STATUS_LABELS, milestone_name
from reintegration_hub.followups.models import (
    OPEN_STATUSES,
    CalendarFeed,
    Milestone,
    MilestoneStatus,
    MonitoringVisit,
)
from reintegration_hub.followups.worklist import answered_by

#: The months the calendar shows: the programme's years, not the whole of the Gregorian one.
FIRST_YEAR, LAST_YEAR = 2000, 2100
#: What a feed holds, around the day it is read.
FEED_DAYS_BACK, FEED_DAYS_AHEAD = 31, 396
#: At most this many milestones or visits a month page lists (an office's month holds far fewer).
MONTH_LIMIT = 3000


@dataclass(frozen=True)
class Visit:
    id: int
    returnee_id: int
    case_number: str
    visited_on: dt.date


@dataclass(frozen=True)
class Month:
    first: dt.date
    weeks: list[list[dt.date]]
    milestones: dict[dt.date, list[Milestone]] = field(default_factory=dict)
    visits: dict[dt.date, list[Visit]] = field(default_factory=dict)

    @property
    def last(self) -> dt.date:
        return self.weeks[-1][-1]

    @property
    def previous(self) -> dt.date:
        return (self.first - dt.timedelta(days=1)).replace(day=1)

    @property
    def next(self) -> dt.date:
        return (self.first + dt.timedelta(days=31)).replace(day=1)


def parse_month(text: str, today: dt.date) -> dt.date:
    """The first day of the month ``text`` names (``2026-12``); today's month when empty."""
    if not text:
        return today.replace(day=1)
    year, dash, month = text.partition("-")
    if not (dash and year.isdecimal() and month.isdecimal() and len(year) == 4):
        raise BadQuery(_l("Give the month as year-month, e.g. 2026-12."))
    if not 1 <= int(month) <= 12:
        raise BadQuery(_l("Give the month as year-month, e.g. 2026-12."))
    first = dt.date(int(year), int(month), 1)
    if not FIRST_YEAR <= first.year <= LAST_YEAR:
        raise BadQuery(
            _l("Choose a month from %(first)d to %(last)d.", first=FIRST_YEAR, last=LAST_YEAR)
        )
    return first


def office_month(first: dt.date, *, actor: Actor, office_id: int | None = None) -> Month:
    """The month starting ``first``: its weeks (Monday first) and, by day, the milestones due
    and the visits recorded in it that ``actor`` sees (of ``office_id`` only, when given)."""
    weeks = calendars.Calendar().monthdatescalendar(first.year, first.month)
    last = first.replace(day=calendars.monthrange(first.year, first.month)[1])
    due = scoped(
        sa.select(Milestone).where(
            Milestone.due_on.between(first, last), Milestone.status != MilestoneStatus.CANCELLED
        ),
        Milestone,
        actor,
    )
    cases = scoped(sa.select(Returnee.id), Returnee, actor)
    if office_id is not None:
        due = due.where(Milestone.office_id == office_id)
        cases = cases.where(
            sa.or_(Returnee.host_office_id == office_id, Returnee.origin_office_id == office_id)
        )
    milestones: dict[dt.date, list[Milestone]] = defaultdict(list)
    found = db.session.scalars(
        due.options(joinedload(Milestone.returnee))
        .order_by(Milestone.due_on, Milestone.id)
        .limit(MONTH_LIMIT)
    )
    for milestone in found:
        milestones[milestone.due_on].append(milestone)
    visits: dict[dt.date, list[Visit]] = defaultdict(list)
    rows = db.session.execute(
        sa.select(
            MonitoringVisit.id,
            MonitoringVisit.returnee_id,
            Returnee.case_number,
            MonitoringVisit.visited_on,
        )
        .join(Returnee, Returnee.id == MonitoringVisit.returnee_id)
        .where(MonitoringVisit.visited_on.between(first, last), Returnee.id.in_(cases))
        .order_by(MonitoringVisit.visited_on, MonitoringVisit.id)
        .limit(MONTH_LIMIT)
    )
    for row in rows:
        visits[row.visited_on].append(Visit(*row))
    return Month(first=first, weeks=weeks, milestones=milestones, visits=visits)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feed_of(user_id: int) -> CalendarFeed | None:
    return db.session.scalar(sa.select(CalendarFeed).where(CalendarFeed.user_id == user_id))


def issue_feed(*, actor: Actor) -> str:
    """A new private feed address token for ``actor``; the old one stops working."""
    if actor.id is None:
        raise NotFound(_l("Only users have a calendar."))
    revoke_feed(actor=actor)
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed(user_id=actor.id, token_hash=_digest(token), created_at=now_utc())
    record_audit("calendar_feed.issue", feed, actor=actor, changes={})
    return token


def revoke_feed(*, actor: Actor) -> bool:
    """Stop ``actor``'s feed; whether there was one."""
    feed = feed_of(actor.id) if actor.id is not None else None
    if feed is None:
        return False
    record_audit("calendar_feed.revoke", feed, actor=actor, changes={})
    db.session.delete(feed)
    db.session.flush()
    return True


def feed_user(token: str) -> User:
    """The active user whose feed ``token`` opens; NotFound for any other token."""
    user = db.session.scalar(
        sa.select(User)
        .join(CalendarFeed, CalendarFeed.user_id == User.id)
        .where(CalendarFeed.token_hash == _digest(token), User.is_active.is_(True))
    )
    if user is None:
        raise NotFound(_l("No such calendar."))
    return user


def feed_milestones(user: User, today: dt.date) -> Sequence[Milestone]:
    mine = answered_by(user)
    if mine is None:
        return []
    stmt = scoped(
        sa.select(Milestone).where(
            mine,
            Milestone.status.in_(OPEN_STATUSES),
            Milestone.due_on.between(
                today - dt.timedelta(days=FEED_DAYS_BACK),
                today + dt.timedelta(days=FEED_DAYS_AHEAD),
            ),
        ),
        Milestone,
        user,
    )
    stmt = stmt.options(joinedload(Milestone.returnee)).order_by(Milestone.due_on, Milestone.id)
    return db.session.scalars(stmt).all()


def feed_calendar(user: User, today: dt.date) -> bytes:
    """``user``'s feed as an iCalendar document, in their language; its read is recorded."""
    stamp = now_utc()
    feed = feed_of(user.id)
    if feed is not None:
        feed.last_read_at = stamp
    document = Calendar()
    document.add("prodid", "-//Reintegration Hub//Follow-up//EN")
    document.add("version", "2.0")
    document.add("x-wr-calname", "Reintegration Hub")
    with force_locale(user.preferred_language):
        for milestone in feed_milestones(user, today):
            event = Event()
            event.add("uid", f"milestone-{milestone.id}@reintegration-hub")
            event.add("dtstamp", stamp)
            event.add("dtstart", milestone.due_on)
            event.add("dtend", milestone.due_on + dt.timedelta(days=1))
            event.add(
                "summary",
                f"{milestone.returnee.case_number} · {milestone_name(milestone.name)}",
            )
            event.add("description", str(MILESTONE_STATUS_LABELS[milestone.status]))
            event.add("url", public_url("followups.milestone", milestone_id=milestone.id))
            document.add_component(event)
    return bytes(document.to_ical())
