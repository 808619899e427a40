"""The returnee case core: the person, dependants, vulnerability, consent and case numbers.

Scope decision: ``Returnee.shares_with_origin`` is a denormalised copy of the latest consent's
``share_with_origin_office``, kept by the consent service (the only writer of consents). Case
managers' scope is then a plain indexed column test instead of a correlated subquery on the
latest consent row, which keeps the case list fast at 100,000 cases. Consent rows themselves
are append-only: the latest (highest id) is the one in force.
"""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from reintegration_hub.auth.models import Office, User
from reintegration_hub.core.db import Base, IdMixin, TimestampMixin, now_utc, str_enum
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.core.sql import partial_index
from reintegration_hub.core.validation import (
    BIRTH_DATE,
    FOLLOW_UP_DATE,
    PAST_DATE,
    TRAVEL_DATE,
    accepts,
)
from reintegration_hub.core.vocabulary import Sex, VulnerabilityCategory


class CaseStatus(enum.StrEnum):
    REGISTERED = "registered"
    ASSESSED = "assessed"
    PLAN_DRAFT = "plan_draft"
    PLAN_SUBMITTED = "plan_submitted"
    PLAN_APPROVED = "plan_approved"
    IN_DELIVERY = "in_delivery"
    MONITORING = "monitoring"
    CLOSED = "closed"


class ClosureReason(enum.StrEnum):
    COMPLETED = "completed"
    NO_LONGER_ELIGIBLE = "no_longer_eligible"
    WITHDREW = "withdrew"
    MOVED_AWAY = "moved_away"
    REMIGRATED = "remigrated"
    DIED = "died"
    THREATS_TO_STAFF = "threats_to_staff"
    STIGMA = "stigma"
    FUNDING_TERMINATION = "funding_termination"
    SECURITY_TERMINATION = "security_termination"


class LegalStatus(enum.StrEnum):
    REJECTED_ASYLUM_SEEKER = "rejected_asylum_seeker"
    IRREGULAR_STAY = "irregular_stay"
    OTHER = "other"


class DependantRelation(enum.StrEnum):
    SPOUSE = "spouse"
    CHILD = "child"
    PARENT = "parent"
    SIBLING = "sibling"
    OTHER = "other"


class NoteKind(enum.StrEnum):
    CONTACT_ATTEMPT = "contact_attempt"
    COUNSELLING = "counselling"  # a session before the return
    PHONE_CALL = "phone_call"  # after the arrival
    OTHER = "other"


class DocumentKind(enum.StrEnum):
    TRAVEL_DOCUMENT = "travel_document"  # passport, travel document or identity card
    SIGNED_CONSENT = "signed_consent"
    RETURN_DECISION = "return_decision"
    INVOICE = "invoice"
    PHOTO = "photo"
    OTHER = "other"


class CaseNumberCounter(Base):
    """The last case number given per host-office country and year (``LV-2026-00042``)."""

    __tablename__ = "case_number_counters"

    country_code: Mapped[str] = mapped_column(sa.String(2), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last_value: Mapped[int] = mapped_column(default=0)


class Returnee(IdMixin, TimestampMixin, Base):
    """A returnee's case. Pages outside the case page show only ``case_number``."""

    __tablename__ = "returnees"
    # personal data: the audit trail records that these changed, never their values
    __audit_redact__ = (
        "first_name",
        "last_name",
        "date_of_birth",
        "contact_after_return",
        "mobile_number",
        *("first_name_key", "last_name_key", "first_name_sound", "last_name_sound"),
        "phone_key",
    )
    __table_args__ = (
        # one index per case-list filter, each ending in id (the list's order)
        sa.Index("ix_returnees_host_office_status", "host_office_id", "status", "id"),
        sa.Index("ix_returnees_host_office_order", "host_office_id", "id"),
        sa.Index("ix_returnees_return_country_status", "return_country_code", "status", "id"),
        sa.Index("ix_returnees_status_order", "status", "id"),
        sa.Index("ix_returnees_origin_office_status", "origin_office_id", "status", "id"),
        # monitoring: returns per grant and period, arrivals per period
        sa.Index("ix_returnees_grant_departed", "grant_id", "departed_on"),
        sa.Index("ix_returnees_departed_on", "departed_on"),
        sa.Index("ix_returnees_arrived_on", "arrived_on"),
        # case search (cases.search): a prefix range or an equality per name key
        sa.Index("ix_returnees_first_name_key", "first_name_key"),
        sa.Index("ix_returnees_last_name_key", "last_name_key"),
        sa.Index("ix_returnees_first_name_sound", "first_name_sound"),
        sa.Index("ix_returnees_last_name_sound", "last_name_sound"),
        sa.Index("ix_returnees_phone_key", "phone_key"),
        sa.Index("ix_returnees_case_number_tail", "case_number_tail"),
        # duplicate detection prefilter (and the search by date of birth)
        sa.Index("ix_returnees_identity", "date_of_birth", "nationality"),
        # closed cases waiting for anonymisation (cases.retention), oldest closure first
        partial_index(
            "ix_returnees_retention_due",
            "closed_at",
            "id",
            where="anonymised_at IS NULL AND closed_at IS NOT NULL",
        ),
        sa.CheckConstraint(
            "departure_deadline_on IS NULL OR return_decision_on IS NOT NULL",
            name="deadline_needs_decision",
        ),
    )

    case_number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    first_name: Mapped[str] = mapped_column(sa.String(120))
    last_name: Mapped[str] = mapped_column(sa.String(120))
    date_of_birth: Mapped[dt.date] = mapped_column(info=accepts(BIRTH_DATE))
    sex: Mapped[Sex] = mapped_column(str_enum(Sex))
    nationality: Mapped[str] = mapped_column(sa.String(2))  # ISO 3166-1 alpha-2
    return_country_code: Mapped[str] = mapped_column(sa.String(2))
    return_region: Mapped[str] = mapped_column(sa.String(120), default="")
    return_city: Mapped[str] = mapped_column(sa.String(120), default="")
    languages: Mapped[list[str]] = mapped_column(sa.JSON, default=list)  # ISO 639-1
    contact_after_return: Mapped[str] = mapped_column(sa.String(500), default="")
    # E.164 ("+995555123456"), normalised by ``cases.sms`` (the column is as long as a number
    # may be written with spaces); texts go to it with the SMS consent
    mobile_number: Mapped[str] = mapped_column(sa.String(32), default="", server_default="")
    # the search keys of the number, the names and the contact (cases.search), written with them
    case_number_tail: Mapped[int] = mapped_column(default=0)
    first_name_key: Mapped[str] = mapped_column(sa.String(120), default="")
    last_name_key: Mapped[str] = mapped_column(sa.String(120), default="")
    first_name_sound: Mapped[str] = mapped_column(sa.String(120), default="")
    last_name_sound: Mapped[str] = mapped_column(sa.String(120), default="")
    phone_key: Mapped[str] = mapped_column(sa.String(500), default="")
    host_office_id: Mapped[int] = mapped_column(sa.ForeignKey("offices.id"))
    counsellor_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    origin_office_id: Mapped[int | None] = mapped_column(sa.ForeignKey("offices.id"))
    case_manager_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    grant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("grants.id"), index=True)
    legal_status: Mapped[LegalStatus] = mapped_column(str_enum(LegalStatus))
    return_decision_on: Mapped[dt.date | None] = mapped_column(info=accepts(TRAVEL_DATE))
    departure_deadline_on: Mapped[dt.date | None] = mapped_column(info=accepts(TRAVEL_DATE))
    status: Mapped[CaseStatus] = mapped_column(str_enum(CaseStatus), default=CaseStatus.REGISTERED)
    closure_reason: Mapped[ClosureReason | None] = mapped_column(str_enum(ClosureReason))
    closed_at: Mapped[dt.datetime | None]
    departed_on: Mapped[dt.date | None] = mapped_column(info=accepts(TRAVEL_DATE))
    arrived_on: Mapped[dt.date | None] = mapped_column(info=accepts(TRAVEL_DATE))
    # set once the retention period after closure passed and personal fields were replaced
    anonymised_at: Mapped[dt.datetime | None]
    # copy of the latest consent's share_with_origin_office (see the module docstring)
    shares_with_origin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc, index=True)

    host_office: Mapped[Office] = relationship(foreign_keys=[host_office_id])
    origin_office: Mapped[Office | None] = relationship(foreign_keys=[origin_office_id])
    counsellor: Mapped[User] = relationship(foreign_keys=[counsellor_id])
    case_manager: Mapped[User | None] = relationship(foreign_keys=[case_manager_id])
    dependants: Mapped[list[Dependant]] = relationship(
        back_populates="returnee", cascade="all, delete-orphan", order_by="Dependant.id"
    )
    vulnerabilities: Mapped[list[VulnerabilityEntry]] = relationship(
        back_populates="returnee", cascade="all, delete-orphan", order_by="VulnerabilityEntry.id"
    )
    consents: Mapped[list[Consent]] = relationship(
        back_populates="returnee", cascade="all, delete-orphan", order_by="Consent.id.desc()"
    )

    @property
    def audit_office_id(self) -> int:
        return self.host_office_id

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def consent(self) -> Consent | None:
        """The consent in force: the latest recorded."""
        return self.consents[0] if self.consents else None

    def days_to_departure_deadline(self, today: dt.date | None = None) -> int | None:
        """Days left until the voluntary departure deadline (negative once passed)."""
        if self.departure_deadline_on is None:
            return None
        return (self.departure_deadline_on - (today or now_utc().date())).days

    @classmethod
    def visible_to(cls, actor: Actor) -> sa.ColumnElement[bool]:
        # a host office's programme manager (the home office's see every case)
        if actor.role in {Role.COUNSELLOR, Role.PROGRAMME_MANAGER} and actor.office_id is not None:
            return cls.host_office_id == actor.office_id
        if actor.role == Role.CASE_MANAGER and actor.country_code:
            return sa.and_(
                cls.return_country_code == actor.country_code, cls.shares_with_origin.is_(True)
            )
        return sa.false()  # partners see only their referrals (come with referrals)

    def __repr__(self) -> str:
        return f"<Returnee {self.id} {self.case_number}>"


class Dependant(IdMixin, Base):
    __tablename__ = "dependants"
    __audit_redact__ = ("date_of_birth",)

    returnee_id: Mapped[int] = mapped_column(
        sa.ForeignKey("returnees.id", ondelete="CASCADE"), index=True
    )
    relation: Mapped[DependantRelation] = mapped_column(str_enum(DependantRelation))
    date_of_birth: Mapped[dt.date] = mapped_column(info=accepts(BIRTH_DATE))
    accompanying: Mapped[bool] = mapped_column(default=True)

    returnee: Mapped[Returnee] = relationship(back_populates="dependants")


class VulnerabilityEntry(IdMixin, Base):
    __tablename__ = "vulnerability_entries"
    __table_args__ = (sa.UniqueConstraint("returnee_id", "category"),)

    returnee_id: Mapped[int] = mapped_column(sa.ForeignKey("returnees.id", ondelete="CASCADE"))
    category: Mapped[VulnerabilityCategory] = mapped_column(str_enum(VulnerabilityCategory))
    notes: Mapped[str] = mapped_column(sa.String(1000), default="")

    returnee: Mapped[Returnee] = relationship(back_populates="vulnerabilities")


class Consent(IdMixin, Base):
    """One recorded consent; never updated. The latest row of a case is the one in force."""

    __tablename__ = "consents"
    __table_args__ = (sa.Index("ix_consents_returnee_latest", "returnee_id", "id"),)

    returnee_id: Mapped[int] = mapped_column(sa.ForeignKey("returnees.id", ondelete="CASCADE"))
    share_with_origin_office: Mapped[bool]
    share_with_partners: Mapped[bool]
    # may be sent text messages (reminders of appointments) on the case's mobile number; an
    # opt-out (a STOP reply, or the case manager) is a new row with it off
    sms_contact: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    given_on: Mapped[dt.date]
    recorded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    recorded_at: Mapped[dt.datetime] = mapped_column(default=now_utc)

    returnee: Mapped[Returnee] = relationship(back_populates="consents")
    recorded_by: Mapped[User | None] = relationship()


class CaseNote(IdMixin, Base):
    """A dated note on a case, written by a counsellor or case manager (``cases.notes``).

    Append-only like consents: never deleted; its author may correct it on the day it was
    written (audited with the text before and after). A ``follow_up_on`` day makes it a task of
    its author's until ``follow_up_done_at`` is set.
    """

    __tablename__ = "case_notes"
    __table_args__ = (
        # the case page's list, newest written first
        sa.Index("ix_case_notes_case_order", "returnee_id", "id"),
        # the author's notes to follow up (home.todo), the earliest first
        partial_index(
            "ix_case_notes_follow_up",
            "author_id",
            "follow_up_on",
            where="follow_up_on IS NOT NULL AND follow_up_done_at IS NULL",
        ),
    )

    returnee_id: Mapped[int] = mapped_column(sa.ForeignKey("returnees.id", ondelete="CASCADE"))
    kind: Mapped[NoteKind] = mapped_column(str_enum(NoteKind))
    noted_on: Mapped[dt.date] = mapped_column(info=accepts(PAST_DATE))
    text: Mapped[str] = mapped_column(sa.String(4000))
    follow_up_on: Mapped[dt.date | None] = mapped_column(info=accepts(FOLLOW_UP_DATE))
    follow_up_done_at: Mapped[dt.datetime | None]
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    corrected_at: Mapped[dt.datetime | None]

    returnee: Mapped[Returnee] = relationship()
    author: Mapped[User | None] = relationship()

    @property
    def audit_office_id(self) -> int:
        return self.returnee.host_office_id

    @property
    def follow_up_open(self) -> bool:
        return self.follow_up_on is not None and self.follow_up_done_at is None

    @classmethod
    def visible_to(cls, actor: Actor) -> sa.ColumnElement[bool]:
        """The notes of the cases ``actor`` sees (``Returnee.visible_to``)."""
        return cls.returnee_id.in_(sa.select(Returnee.id).where(Returnee.visible_to(actor)))


class CaseDocument(IdMixin, Base):
    """A file kept on a case (``cases.documents``): encrypted at rest outside the web root
    under ``storage_key``; here its checked type, size and SHA-256 (of the plain content).

    Removing a document deletes its file and keeps this row (``removed_at``, by whom) as the
    record that it existed; the retention of an anonymised case deletes rows and files.
    """

    __tablename__ = "case_documents"
    __table_args__ = (sa.Index("ix_case_documents_returnee", "returnee_id", "id"),)

    returnee_id: Mapped[int] = mapped_column(sa.ForeignKey("returnees.id", ondelete="CASCADE"))
    kind: Mapped[DocumentKind] = mapped_column(str_enum(DocumentKind))
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    name: Mapped[str] = mapped_column(sa.String(200))  # the download name, made safe
    content_type: Mapped[str] = mapped_column(sa.String(64))  # detected from the content
    size: Mapped[int]  # of the plain content, in bytes
    sha256: Mapped[str] = mapped_column(sa.String(64))  # of the plain content
    storage_key: Mapped[str] = mapped_column(sa.String(32), unique=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    uploaded_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    removed_at: Mapped[dt.datetime | None]
    removed_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )

    returnee: Mapped[Returnee] = relationship()
    uploaded_by: Mapped[User | None] = relationship(foreign_keys=[uploaded_by_id])
    removed_by: Mapped[User | None] = relationship(foreign_keys=[removed_by_id])

    @property
    def audit_office_id(self) -> int:
        return self.returnee.host_office_id
