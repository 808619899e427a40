"""Which milestone a monitoring visit or a sustainability survey answers, and when one may fall.

A visit or survey is about the returnee's life after return: it falls on or after the recorded
arrival, not in the future, and not after the reintegration window closed (the plan's
*window closes* milestone, grace period included).

Each scheduled visit (or survey) has a window of its own. It opens halfway between the previous
one's due date (for the first: the arrival) and its own due date, and stays open until the next
one is due (for the last: until the reintegration window closes). A visit answers the earliest
*open* milestone whose window holds its date: a late 3-month visit still answers the 3-month
milestone while the 6-month one is not due yet, and a visit a month after arrival answers none
(an extra contact, recorded all the same), where the first open milestone would once have been
taken whatever its date (a survey a week after arrival closing the 12-month one).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence

import sqlalchemy as sa
from flask_babel import format_date
from flask_babel import lazy_gettext as _l

from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import InvalidInput
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import Milestone, MilestoneKind


def window_end(case_id: int) -> dt.date | None:
    """The day the case's reintegration window closes (None: no plan is approved yet)."""
    return db.session.scalar(
        sa.select(sa.func.max(Milestone.due_on)).where(
            Milestone.returnee_id == case_id, Milestone.kind == MilestoneKind.WINDOW_CLOSES
        )
    )


def check_follow_up_date(case: Returnee, day: dt.date, field: str) -> None:
    """InvalidInput on ``field`` unless ``day`` may carry a visit or survey of ``case``."""
    message = None
    end = window_end(case.id)
    if day > now_utc().date():
        message = _l("The date cannot be in the future.")
    elif case.arrived_on is None:
        message = _l("Record the returnee's arrival first: visits and surveys come after it.")
    elif day < case.arrived_on:
        message = _l(
            "The returnee arrived on %(date)s: the date cannot be before that.",
            date=format_date(case.arrived_on, "medium"),
        )
    elif end is not None and day > end:
        message = _l(
            "The reintegration window closed on %(date)s.", date=format_date(end, "medium")
        )
    if message is not None:
        raise InvalidInput(message, field_errors={field: [message]})


def _windows(
    milestones: Sequence[Milestone], arrived_on: dt.date, end: dt.date | None
) -> list[tuple[Milestone, dt.date, dt.date | None]]:
    """``(milestone, opens on, closes before)`` for milestones in due-date order (``None``:
    open until ``end``, which the date check enforces)."""
    windows = []
    previous = arrived_on
    for index, milestone in enumerate(milestones):
        opens = previous + (milestone.due_on - previous) // 2
        later = [m.due_on for m in milestones[index + 1 :] if m.due_on > milestone.due_on]
        windows.append((milestone, opens, later[0] if later else None))
        previous = milestone.due_on
    return windows


def closing_milestone(case: Returnee, kind: MilestoneKind, day: dt.date) -> Milestone | None:
    """The open milestone of ``kind`` a visit or survey on ``day`` answers (see the module
    docstring), or None. ``day`` has passed ``check_follow_up_date``."""
    assert case.arrived_on is not None  # checked with the date
    milestones = db.session.scalars(
        sa.select(Milestone)
        .where(Milestone.returnee_id == case.id, Milestone.kind == kind)
        .order_by(Milestone.due_on, Milestone.id)
    ).all()
    for milestone, opens, closes in _windows(milestones, case.arrived_on, window_end(case.id)):
        if milestone.is_open and opens <= day and (closes is None or day < closes):
            return milestone
    return None


#: The milestones a visit or a survey closes.
WINDOWED_KINDS = (MilestoneKind.MONITORING_VISIT, MilestoneKind.SUSTAINABILITY_SURVEY)


def opens_on(case: Returnee, milestone: Milestone) -> dt.date | None:
    """The day a visit or survey milestone's window opens (for the pages: "counts from ...");
    None for other milestones, and before the arrival is recorded."""
    if case.arrived_on is None or milestone.kind not in WINDOWED_KINDS:
        return None
    milestones = db.session.scalars(
        sa.select(Milestone)
        .where(Milestone.returnee_id == case.id, Milestone.kind == milestone.kind)
        .order_by(Milestone.due_on, Milestone.id)
    ).all()
    for candidate, opens, _closes in _windows(milestones, case.arrived_on, None):
        if candidate.id == milestone.id:
            return opens
    return None


def case_windows(cases: Sequence[Returnee]) -> dict[int, tuple[dt.date, dt.date | None]]:
    """``{milestone id: (opens on, closes before)}`` for every visit and survey milestone of
    those of ``cases`` that have arrived (``closes before`` None: open until the reintegration
    window closes), as ``closing_milestone`` reckons them. One statement."""
    arrived = {case.id: case.arrived_on for case in cases if case.arrived_on is not None}
    milestones = db.session.scalars(
        sa.select(Milestone)
        .where(Milestone.returnee_id.in_(arrived), Milestone.kind.in_(WINDOWED_KINDS))
        .order_by(Milestone.returnee_id, Milestone.kind, Milestone.due_on, Milestone.id)
    ).all()
    found: dict[int, tuple[dt.date, dt.date | None]] = {}
    for (case_id, _kind), group in itertools.groupby(
        milestones, key=lambda m: (m.returnee_id, m.kind)
    ):
        for milestone, opens, closes in _windows(list(group), arrived[case_id], None):
            found[milestone.id] = (opens, closes)
    return found
