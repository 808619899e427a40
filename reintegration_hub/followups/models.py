"""Milestones: what must happen for a returnee, by when, who answers for it, and what was sent.

A programme's ``MilestoneTemplate`` lists its steps (offset in days from the return date or
from another step, who is responsible, how early to remind, after how many overdue days to
escalate to each level). Approving a plan turns the template into ``Milestone`` rows, one per
step (one per plan line for delivery steps). The follow-up sweep moves them through
``upcoming -> due -> overdue`` and writes ``MilestoneNotice`` rows (a reminder, each escalation
level), unique per milestone, kind and level, so running it twice sends nothing twice.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from partners.models import Referral
from reintegration_hub.auth.models import User
from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.db import Base, IdMixin, TimestampMixin, now_utc, str_enum
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.core.sql import partial_index
from reintegration_hub.plans.models import PlanLine


class MilestoneKind(enum.StrEnum):
    ARRIVAL_CONFIRMED = "arrival_confirmed"
    FIRST_CONTACT = "first_contact"
    PLAN_AGREED = "plan_agreed"
    LINE_DELIVERED = "line_delivered"  # one milestone per plan line
    MONITORING_VISIT = "monitoring_visit"
    SUSTAINABILITY_SURVEY = "sustainability_survey"
    WINDOW_CLOSES = "window_closes"
    # opened by a returnee's low feedback score (``feedback.services``), never by a template
    FEEDBACK_FOLLOWUP = "feedback_followup"


#: Kinds no template step has: the product opens these milestones itself.
UNTEMPLATED_KINDS = frozenset({MilestoneKind.FEEDBACK_FOLLOWUP})


class Responsible(enum.StrEnum):
    CASE_MANAGER = "case_manager"
    COUNSELLOR = "counsellor"
    PARTNER = "partner"


class MilestoneStatus(enum.StrEnum):
    UPCOMING = "upcoming"
    DUE = "due"  # within the reminder lead time
    OVERDUE = "overdue"
    DONE = "done"
    CANCELLED = "cancelled"


#: Milestones the sweep still looks at.
OPEN_STATUSES = (MilestoneStatus.UPCOMING, MilestoneStatus.DUE, MilestoneStatus.OVERDUE)


class NotApplicableReason(enum.StrEnum):
    """Why a milestone was marked not applicable (it is then ``cancelled`` with this reason;
    the sweep's own cancellations, when a window ends or a case closes, have none)."""

    RETURNEE_UNREACHABLE = "returnee_unreachable"
    RETURNEE_DECLINED = "returnee_declined"
    RETURNEE_MOVED = "returnee_moved"
    SUPPORT_CANCELLED = "support_cancelled"
    COVERED_ELSEWHERE = "covered_elsewhere"
    NOT_IN_PLAN = "not_in_plan"
    SECURITY = "security"
    OTHER = "other"  # the note says which


class ActionKind(enum.StrEnum):
    DONE = "done"
    NOT_APPLICABLE = "not_applicable"
    MOVED = "moved"
    REOPENED = "reopened"


class MilestoneTemplate(IdMixin, TimestampMixin, Base):
    """A programme's milestone steps; a grant's own template wins over the default one."""

    __tablename__ = "milestone_templates"
    __table_args__ = (
        partial_index(
            "uq_milestone_templates_default", "is_default", where="is_default", unique=True
        ),
    )

    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    grant_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("grants.id", ondelete="CASCADE"), unique=True
    )
    is_default: Mapped[bool] = mapped_column(default=False)
    # days after the window closes (+365) during which the case stays open for late work
    grace_days: Mapped[int] = mapped_column(default=30)

    steps: Mapped[list[MilestoneStep]] = relationship(
        back_populates="template", cascade="all, delete-orphan", order_by="MilestoneStep.position"
    )


class MilestoneStep(IdMixin, Base):
    __tablename__ = "milestone_steps"
    __table_args__ = (
        sa.UniqueConstraint("template_id", "key"),
        sa.CheckConstraint("reminder_days >= 0", name="reminder_not_negative"),
    )

    template_id: Mapped[int] = mapped_column(
        sa.ForeignKey("milestone_templates.id", ondelete="CASCADE")
    )
    key: Mapped[str] = mapped_column(sa.String(40))  # stable name, e.g. "visit_90"
    position: Mapped[int] = mapped_column(default=0)
    kind: Mapped[MilestoneKind] = mapped_column(str_enum(MilestoneKind))
    name: Mapped[str] = mapped_column(sa.String(120))
    # due = anchor + offset_days; the anchor is the return date, or the step named here
    offset_days: Mapped[int]
    after_step: Mapped[str | None] = mapped_column(sa.String(40))
    responsible: Mapped[Responsible] = mapped_column(str_enum(Responsible))
    reminder_days: Mapped[int] = mapped_column(default=7)
    # the escalation chain: days overdue before the office supervisor, then the home office,
    # is told (None: that level is skipped)
    supervisor_after_days: Mapped[int | None] = mapped_column(default=7)
    home_office_after_days: Mapped[int | None] = mapped_column(default=21)

    template: Mapped[MilestoneTemplate] = relationship(back_populates="steps")


class Milestone(IdMixin, Base):
    """One step for one plan (or plan line), with its due date and state."""

    __tablename__ = "milestones"
    __table_args__ = (
        # a line's steps carry the line in their key ("line_delivered:42")
        sa.UniqueConstraint("plan_id", "step_key"),
        # the sweep walks plans by id range and open state
        sa.Index("ix_milestones_sweep", "plan_id", "status"),
        # work lists: open milestones by office and due date
        sa.Index("ix_milestones_office_due", "office_id", "status", "due_on"),
        # the case list's drill-down: cases with overdue milestones of one office
        sa.Index("ix_milestones_case_status", "returnee_id", "status", "office_id"),
        # the dashboard's open milestones per office: an index-only count
        sa.Index("ix_milestones_status_office", "status", "office_id"),
        # the sweep's candidates (``followups.sweep``): the rows in the state each of its
        # statements changes, by plan and the date it compares, so that a run reads those of
        # its range, not every milestone of it, and fetches the few it changes (the plan id
        # first: PostgreSQL cannot tell how few rows of a state are past a date, and would
        # rather read the whole range than a date-first index)
        partial_index(
            "ix_milestones_window_closes",
            "plan_id",
            "due_on",
            where="kind = 'window_closes' AND status IN ('upcoming', 'due', 'overdue')",
        ),
        partial_index(
            "ix_milestones_becomes_overdue",
            "plan_id",
            "due_on",
            where="status IN ('upcoming', 'due')",
        ),
        partial_index(
            "ix_milestones_becomes_due", "plan_id", "remind_on", where="status = 'upcoming'"
        ),
        # escalations: the overdue milestones below the top level (the dates of two levels,
        # whose OR PostgreSQL cannot estimate, are checked on the rows)
        partial_index(
            "ix_milestones_escalating",
            "plan_id",
            where="status = 'overdue' AND escalation_level < 2",
        ),
    )

    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("plans.id", ondelete="CASCADE"))
    returnee_id: Mapped[int] = mapped_column(
        sa.ForeignKey("returnees.id", ondelete="CASCADE"), index=True
    )
    plan_line_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("plan_lines.id", ondelete="CASCADE"), index=True
    )
    office_id: Mapped[int] = mapped_column(sa.ForeignKey("offices.id"))  # who answers for it
    step_key: Mapped[str] = mapped_column(sa.String(60))
    kind: Mapped[MilestoneKind] = mapped_column(str_enum(MilestoneKind))
    name: Mapped[str] = mapped_column(sa.String(120))
    responsible: Mapped[Responsible] = mapped_column(str_enum(Responsible))
    # the dates the sweep compares with its as-of date (kept with due_on by every reschedule)
    due_on: Mapped[dt.date]
    remind_on: Mapped[dt.date]
    supervisor_on: Mapped[dt.date | None]
    home_office_on: Mapped[dt.date | None]
    # days from the return date to due_on as scheduled, so that a new return date moves the
    # milestone by the same step whatever its template says since (None: scheduled earlier)
    offset_days: Mapped[int | None]
    status: Mapped[MilestoneStatus] = mapped_column(
        str_enum(MilestoneStatus), default=MilestoneStatus.UPCOMING
    )
    escalation_level: Mapped[int] = mapped_column(default=0)
    completed_at: Mapped[dt.datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    # the day it was done as recorded (a visit's, an arrival's date), which may be before the
    # moment it was recorded (completed_at)
    completed_on: Mapped[dt.date | None]
    # set when someone marked it not applicable (status cancelled), with a note
    not_applicable_reason: Mapped[NotApplicableReason | None] = mapped_column(
        str_enum(NotApplicableReason)
    )
    note: Mapped[str] = mapped_column(sa.String(1000), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    returnee: Mapped[Returnee] = relationship()

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @classmethod
    def visible_to(cls, actor: Actor) -> sa.ColumnElement[bool]:
        """Counsellors: their host office's cases; case managers: their office's milestones
        of cases shared with it; partners: the milestones of lines referred to them."""
        if actor.role == Role.COUNSELLOR and actor.office_id is not None:
            return cls.returnee_id.in_(
                sa.select(Returnee.id).where(Returnee.host_office_id == actor.office_id)
            )
        if actor.role == Role.CASE_MANAGER and actor.office_id is not None:
            # correlated to the milestone only: a statement that joins the case itself (the
            # work list's export) must not correlate the case away from the EXISTS too
            case_shared = sa.exists().where(
                Returnee.id == cls.returnee_id, Returnee.visible_to(actor)
            )
            return sa.and_(cls.office_id == actor.office_id, case_shared.correlate(cls))
        if actor.role == Role.PARTNER and actor.id is not None:
            return cls.plan_line_id.in_(
                sa.select(PlanLine.id)
                .join(Referral, Referral.id == PlanLine.referral_id)
                .where(Referral.visible_to(actor))
            )
        return sa.false()


class MilestoneAction(IdMixin, Base):
    """What someone did to a milestone by hand: done, not applicable, moved or reopened (the
    milestone's history on its page; the audit trail has the same in its own terms)."""

    __tablename__ = "milestone_actions"
    __table_args__ = (sa.Index("ix_milestone_actions_milestone", "milestone_id", "id"),)

    milestone_id: Mapped[int] = mapped_column(sa.ForeignKey("milestones.id", ondelete="CASCADE"))
    action: Mapped[ActionKind] = mapped_column(str_enum(ActionKind))
    # done: the day it was done; moved: the new due date
    on_date: Mapped[dt.date | None]
    previous_due_on: Mapped[dt.date | None]  # moved: the due date before
    reason: Mapped[NotApplicableReason | None] = mapped_column(str_enum(NotApplicableReason))
    note: Mapped[str] = mapped_column(sa.String(1000), default="")
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(sa.String(120))
    at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    actor: Mapped[User | None] = relationship()


class NoticeKind(enum.StrEnum):
    REMINDER = "reminder"
    ESCALATION = "escalation"


class MilestoneNotice(IdMixin, Base):
    """A reminder or an escalation written for a milestone (and queued in the outbox)."""

    __tablename__ = "milestone_notices"
    __table_args__ = (sa.UniqueConstraint("milestone_id", "kind", "level"),)

    milestone_id: Mapped[int] = mapped_column(sa.ForeignKey("milestones.id", ondelete="CASCADE"))
    kind: Mapped[NoticeKind] = mapped_column(str_enum(NoticeKind))
    level: Mapped[int] = mapped_column(default=0)  # 1 supervisor, 2 home office; 0 reminders
    on_date: Mapped[dt.date]
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    milestone: Mapped[Milestone] = relationship()


class SweptRange(Base):
    """A plan-id range one run of the sweep finished, written in the range's own transaction
    (``followups.sweep.sweep_range`` with a ``sweep_id``). Its key is what keeps a range from
    being swept twice in one run when the run hands ranges to several workers and hands a
    stalled worker's ranges to another: the second writer of a key waits for the first one's
    transaction, then finds it done. Per run, not per day: the hourly sweep looks at every
    plan again."""

    __tablename__ = "swept_ranges"

    # the run of track-milestones that owns the range (its Prefect flow-run id)
    sweep_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    first_plan_id: Mapped[int] = mapped_column(primary_key=True)
    last_plan_id: Mapped[int]
    as_of: Mapped[dt.date]
    # the flow run that did it (a child run on a worker, or the sweep's own)
    flow_run_id: Mapped[str] = mapped_column(sa.String(36), default="")
    done_at: Mapped[dt.datetime] = mapped_column(default=now_utc, index=True)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)


class VisitMode(enum.StrEnum):
    IN_PERSON = "in_person"
    PHONE = "phone"
    OFFICE = "office"


class MonitoringVisit(IdMixin, Base):
    """A follow-up contact with the returnee: what was found and what happens next."""

    __tablename__ = "monitoring_visits"
    __table_args__ = (
        sa.Index("ix_monitoring_visits_case", "returnee_id", "visited_on"),
        sa.Index("ix_monitoring_visits_visited_on", "visited_on"),  # the office calendar
        partial_index(
            "uq_monitoring_visits_client_key",
            "client_key",
            where="client_key IS NOT NULL",
            unique=True,
        ),
    )

    returnee_id: Mapped[int] = mapped_column(sa.ForeignKey("returnees.id", ondelete="CASCADE"))
    visited_on: Mapped[dt.date]
    mode: Mapped[VisitMode] = mapped_column(str_enum(VisitMode))
    findings: Mapped[str] = mapped_column(sa.Text, default="")
    next_steps: Mapped[str] = mapped_column(sa.Text, default="")
    plan_revision_needed: Mapped[bool] = mapped_column(default=False)
    # the visit milestone it closed (None: an extra visit, outside every open one's window)
    milestone_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("milestones.id", ondelete="SET NULL"), index=True
    )
    recorded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    recorded_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    # the key a client sent with it (API): the same key again answers this record, not a new one
    client_key: Mapped[str | None] = mapped_column(sa.String(64))

    milestone: Mapped[Milestone | None] = relationship()


class Dimension(enum.StrEnum):
    ECONOMIC = "economic"
    SOCIAL = "social"
    PSYCHOSOCIAL = "psychosocial"


class ScoringVersion(IdMixin, Base):
    """Weights and bands of the sustainability score. Versions are never changed: a new one is
    loaded, and stored answers can be scored again with it. The highest version is in force."""

    __tablename__ = "scoring_versions"

    version: Mapped[int] = mapped_column(unique=True)
    # {"economic": 1, "social": 1, "psychosocial": 1}: relative weights of the dimensions
    dimension_weights: Mapped[dict[str, float]] = mapped_column(sa.JSON)
    # {indicator key: [dimension, weight]}: which dimension each answer counts for
    indicators: Mapped[dict[str, list[Any]]] = mapped_column(sa.JSON)
    # [["low", 0], ["medium", 0.33], ["high", 0.66]]: band names and their lower bounds
    bands: Mapped[list[list[Any]]] = mapped_column(sa.JSON)
    low_score: Mapped[float] = mapped_column(default=0.33)  # flag a dimension or composite below
    imbalance_gap: Mapped[float] = mapped_column(default=0.3)  # flag max - min dimension above
    decline_drop: Mapped[float] = mapped_column(default=0.1)  # flag a composite drop above
    note: Mapped[str] = mapped_column(sa.String(300), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)


class SustainabilitySurvey(IdMixin, Base):
    """A returnee's answers (0-4 per indicator) and their scores under a scoring version."""

    __tablename__ = "sustainability_surveys"
    __table_args__ = (
        sa.Index("ix_sustainability_surveys_case", "returnee_id", "taken_on"),
        partial_index(
            "uq_sustainability_surveys_client_key",
            "client_key",
            where="client_key IS NOT NULL",
            unique=True,
        ),
    )

    returnee_id: Mapped[int] = mapped_column(sa.ForeignKey("returnees.id", ondelete="CASCADE"))
    taken_on: Mapped[dt.date]
    answers: Mapped[dict[str, int]] = mapped_column(sa.JSON)
    scoring_version_id: Mapped[int] = mapped_column(sa.ForeignKey("scoring_versions.id"))
    economic: Mapped[float]
    social: Mapped[float]
    psychosocial: Mapped[float]
    composite: Mapped[float] = mapped_column(index=True)
    band: Mapped[str] = mapped_column(sa.String(40))
    flags: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # the survey milestone it closed (None: outside every open one's window)
    milestone_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("milestones.id", ondelete="SET NULL"), index=True
    )
    recorded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    recorded_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    # the key a client sent with it (API): the same key again answers this record, not a new one
    client_key: Mapped[str | None] = mapped_column(sa.String(64))

    scoring_version: Mapped[ScoringVersion] = relationship()
    milestone: Mapped[Milestone | None] = relationship()


class CalendarFeed(IdMixin, Base):
    """A user's private iCalendar feed of their own due items (``followups.calendar``): the
    address holds a random token, only its SHA-256 is stored; a new token revokes the old."""

    __tablename__ = "calendar_feeds"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    last_read_at: Mapped[dt.datetime | None]


class SavedWorkList(IdMixin, Base):
    """A work list's filters kept under a name (``followups.worklist``): its owner's, or shared
    with the owner's office."""

    __tablename__ = "saved_work_lists"
    __table_args__ = (
        sa.UniqueConstraint("owner_id", "name"),
        sa.Index("ix_saved_work_lists_office_shared", "office_id", "shared"),
    )

    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    office_id: Mapped[int] = mapped_column(sa.ForeignKey("offices.id"))
    name: Mapped[str] = mapped_column(sa.String(80))
    filters: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    shared: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
