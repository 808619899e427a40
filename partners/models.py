"""The marketplace: partner organisations and the support options they offer.

Shaped after Open Referral HSDS 3.0 (organization, service, location, cost_option, language,
required_document, service_area, assured_date/assurer_email, service_capacity) so that the HSDS
export is a projection, not a translation.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.orm import Mapped, mapped_column, relationship

from reintegration_hub.core.db import Base, IdMixin, TimestampMixin, now_utc, str_enum
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.core.validation import MONEY, accepts


class VettingStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    SUSPENDED = "suspended"


class SupportCategory(enum.StrEnum):
    BUSINESS_START_UP = "business_start_up"
    VOCATIONAL_TRAINING = "vocational_training"
    JOB_PLACEMENT = "job_placement"
    HOUSING = "housing"
    EDUCATION = "education"
    MEDICAL = "medical"
    PSYCHOSOCIAL = "psychosocial"
    LEGAL_DOCUMENTATION = "legal_documentation"
    POST_ARRIVAL_RECEPTION = "post_arrival_reception"


class OptionStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    TEMPORARILY_CLOSED = "temporarily_closed"
    ARCHIVED = "archived"


class CostBasis(enum.StrEnum):
    PER_PERSON = "per_person"
    PER_HOUSEHOLD = "per_household"
    PER_MONTH = "per_month"


class DeliveryMode(enum.StrEnum):
    IN_KIND = "in_kind"
    CASH = "cash"
    SERVICE = "service"


class PaymentSchedule(enum.StrEnum):
    """How an option is paid: at once, or month by month (rent, a staged business grant)."""

    ONE_OFF = "one_off"
    MONTHLY = "monthly"


#: The longest monthly schedule an option may have.
MAX_PAYMENT_MONTHS = 60


class CapacityPeriod(enum.StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class HoldStatus(enum.StrEnum):
    HELD = "held"
    WAITLISTED = "waitlisted"
    RELEASED = "released"
    CONSUMED = "consumed"


def new_public_id() -> uuid.UUID:
    return uuid.uuid4()


class Partner(IdMixin, TimestampMixin, Base):
    """A local service provider in a country of return (HSDS ``organization``)."""

    __tablename__ = "partners"
    __table_args__ = (
        sa.UniqueConstraint("office_id", "name"),
        sa.CheckConstraint(
            "agreement_valid_until IS NULL OR agreement_valid_from IS NULL "
            "OR agreement_valid_until >= agreement_valid_from",
            name="agreement_period",
        ),
    )

    public_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, default=new_public_id, unique=True)
    office_id: Mapped[int] = mapped_column(sa.ForeignKey("offices.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    legal_status: Mapped[str] = mapped_column(sa.String(120), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    country_code: Mapped[str] = mapped_column(sa.String(2), index=True)
    regions: Mapped[list[str]] = mapped_column(sa.JSON, default=list)  # regions served
    languages: Mapped[list[str]] = mapped_column(sa.JSON, default=list)  # ISO 639-1
    focal_point_name: Mapped[str] = mapped_column(sa.String(160), default="")
    focal_point_email: Mapped[str] = mapped_column(sa.String(254))  # where referrals go
    # ISO 639-1: the language of e-mails to a focal point without an account ("": English)
    contact_language: Mapped[str] = mapped_column(sa.String(8), default="", server_default="")
    phone: Mapped[str] = mapped_column(sa.String(40), default="")
    website: Mapped[str] = mapped_column(sa.String(300), default="")
    vetting_status: Mapped[VettingStatus] = mapped_column(
        str_enum(VettingStatus), default=VettingStatus.PENDING, index=True
    )
    suspension_reason: Mapped[str] = mapped_column(sa.Text, default="")
    agreement_number: Mapped[str] = mapped_column(sa.String(64), default="")
    agreement_valid_from: Mapped[dt.date | None]
    agreement_valid_until: Mapped[dt.date | None]

    options: Mapped[list[SupportOption]] = relationship(back_populates="partner")

    @property
    def audit_office_id(self) -> int:
        return self.office_id

    def agreement_valid_on(self, day: dt.date) -> bool:
        return (
            bool(self.agreement_number)
            and (self.agreement_valid_from is None or self.agreement_valid_from <= day)
            and (self.agreement_valid_until is None or day <= self.agreement_valid_until)
        )

    @classmethod
    def visible_to(cls, actor: Actor) -> sa.ColumnElement[bool]:
        if actor.role in {Role.CASE_MANAGER, Role.PARTNER}:
            return cls.country_code == actor.country_code
        return cls.vetting_status == VettingStatus.APPROVED


class SupportOption(IdMixin, TimestampMixin, Base):
    """One support a partner offers (HSDS ``service``): what, where, for whom, at what cost."""

    __tablename__ = "support_options"
    __table_args__ = (
        sa.Index("ix_support_options_search", "country_code", "status", "category"),
        sa.CheckConstraint("cost_minor >= 0", name="cost_not_negative"),
        sa.CheckConstraint(
            "min_age IS NULL OR max_age IS NULL OR min_age <= max_age", name="age_range"
        ),
        sa.CheckConstraint(
            "min_family_size IS NULL OR max_family_size IS NULL "
            "OR min_family_size <= max_family_size",
            name="family_size_range",
        ),
        sa.CheckConstraint(
            "valid_until IS NULL OR valid_from IS NULL OR valid_until >= valid_from",
            name="validity",
        ),
        sa.CheckConstraint("capacity_places IS NULL OR capacity_places >= 0", name="capacity"),
    )

    public_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, default=new_public_id, unique=True)
    partner_id: Mapped[int] = mapped_column(sa.ForeignKey("partners.id"), index=True)
    # denormalised from the partner: every search filters on it
    country_code: Mapped[str] = mapped_column(sa.String(2))
    category: Mapped[SupportCategory] = mapped_column(str_enum(SupportCategory))
    status: Mapped[OptionStatus] = mapped_column(str_enum(OptionStatus), default=OptionStatus.DRAFT)

    # where: the regions it serves (HSDS service_area); its sites are SupportOptionLocation rows
    service_area: Mapped[list[str]] = mapped_column(sa.JSON, default=list)

    # eligibility
    min_age: Mapped[int | None]
    max_age: Mapped[int | None]
    sexes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)  # empty: any (core Sex values)
    vulnerabilities_served: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    vulnerabilities_required: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    min_family_size: Mapped[int | None]
    max_family_size: Mapped[int | None]
    languages_required: Mapped[list[str]] = mapped_column(sa.JSON, default=list)  # any one of
    eligibility_notes: Mapped[str] = mapped_column(sa.Text, default="")

    # cost (HSDS cost_option), and its value in euro cents at the rate recorded with it
    cost_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0, info=accepts(MONEY))
    currency: Mapped[str] = mapped_column(sa.String(3), default="EUR")
    cost_basis: Mapped[CostBasis] = mapped_column(str_enum(CostBasis), default=CostBasis.PER_PERSON)
    delivery_mode: Mapped[DeliveryMode] = mapped_column(
        str_enum(DeliveryMode), default=DeliveryMode.SERVICE
    )
    cost_eur_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0, index=True)
    eur_rate: Mapped[Decimal] = mapped_column(sa.Numeric(18, 10), default=Decimal(1))
    # paid at once, or monthly: for ``payment_months`` months, or (a per-month cost, no
    # number given) one instalment for each month a plan line asks for
    payment_schedule: Mapped[PaymentSchedule] = mapped_column(
        str_enum(PaymentSchedule), default=PaymentSchedule.ONE_OFF, server_default="one_off"
    )
    payment_months: Mapped[int | None]

    duration_days: Mapped[int | None]
    lead_time_days: Mapped[int] = mapped_column(default=0)  # from referral to start
    delivery_languages: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    required_documents: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    valid_from: Mapped[dt.date | None]
    valid_until: Mapped[dt.date | None]

    # capacity (HSDS 3.1 service_capacity): places per period, None = unlimited
    capacity_places: Mapped[int | None]
    capacity_period: Mapped[CapacityPeriod] = mapped_column(
        str_enum(CapacityPeriod), default=CapacityPeriod.MONTH
    )

    # freshness (HSDS assured_date / assurer_email)
    last_verified_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    verified_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    stale_since: Mapped[dt.datetime | None]  # flagged by the daily freshness check

    partner: Mapped[Partner] = relationship(back_populates="options", lazy="joined")
    texts: Mapped[list[SupportOptionText]] = relationship(
        back_populates="option", cascade="all, delete-orphan", order_by="SupportOptionText.language"
    )
    locations: Mapped[list[SupportOptionLocation]] = relationship(
        back_populates="option", cascade="all, delete-orphan", order_by="SupportOptionLocation.id"
    )

    @property
    def audit_office_id(self) -> int:
        return self.partner.office_id

    def instalments_for(self, quantity: int) -> int:
        """How many instalments a plan line of ``quantity`` units of this option is paid in."""
        return instalments(self.payment_schedule, self.payment_months, self.cost_basis, quantity)

    def text(self, language: str) -> SupportOptionText | None:
        """The text in ``language``, falling back to English, then to any text there is."""
        by_language = {t.language: t for t in self.texts}
        return by_language.get(language) or by_language.get("en") or next(iter(self.texts), None)

    @classmethod
    def visible_to(cls, actor: Actor) -> sa.ColumnElement[bool]:
        if actor.role in {Role.CASE_MANAGER, Role.PARTNER}:
            return cls.country_code == actor.country_code
        now = now_utc()
        return cls.listed_condition(now.date(), listing_fresh_since(now))

    @classmethod
    def listed_condition(cls, on: dt.date, fresh_since: dt.datetime) -> sa.ColumnElement[bool]:
        """What counsellors see: published, valid on ``on``, offered by an approved partner whose
        agreement is valid on ``on``, and verified (or created) at or after ``fresh_since``."""
        partner_ok = (
            sa.select(Partner.id)
            .where(
                Partner.id == cls.partner_id,
                Partner.vetting_status == VettingStatus.APPROVED,
                Partner.agreement_number != "",
                sa.or_(Partner.agreement_valid_from.is_(None), Partner.agreement_valid_from <= on),
                sa.or_(
                    Partner.agreement_valid_until.is_(None), Partner.agreement_valid_until >= on
                ),
            )
            .correlate_except(Partner)
            .exists()
        )
        return sa.and_(
            cls.status == OptionStatus.PUBLISHED,
            sa.or_(cls.valid_from.is_(None), cls.valid_from <= on),
            sa.or_(cls.valid_until.is_(None), cls.valid_until >= on),
            sa.func.coalesce(cls.last_verified_at, cls.created_at) >= fresh_since,
            partner_ok,
        )

    def verified_or_created_at(self) -> dt.datetime:
        return self.last_verified_at or self.created_at


def instalments(
    schedule: PaymentSchedule, months: int | None, cost_basis: CostBasis, quantity: int
) -> int:
    """The instalments ``quantity`` units of an option paid on ``schedule`` come in: one when
    paid at once; monthly, ``months`` of them, or one per unit of a per-month cost."""
    if schedule != PaymentSchedule.MONTHLY:
        return 1
    if months is not None:
        return months
    return max(quantity, 1) if cost_basis == CostBasis.PER_MONTH else 1


def listing_fresh_since(now: dt.datetime) -> dt.datetime:
    """The oldest verification that still keeps an option listed for counsellors at ``now``:
    ``LISTING_STALE_DAYS`` until it is flagged stale, then ``LISTING_STALE_GRACE_DAYS`` of grace."""
    config = current_app.config if has_app_context() else {}
    days = int(config.get("LISTING_STALE_DAYS", 180)) + int(
        config.get("LISTING_STALE_GRACE_DAYS", 30)
    )
    return now - dt.timedelta(days=days)


class SupportOptionText(IdMixin, Base):
    """Title and description in one language; searched with full text on both databases."""

    __tablename__ = "support_option_texts"
    __table_args__ = (sa.UniqueConstraint("option_id", "language"),)

    option_id: Mapped[int] = mapped_column(sa.ForeignKey("support_options.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(sa.String(8))  # ISO 639-1
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")

    option: Mapped[SupportOption] = relationship(back_populates="texts")


class SupportOptionLocation(IdMixin, Base):
    """A site where the support is delivered (HSDS location via service_at_location)."""

    __tablename__ = "support_option_locations"
    __table_args__ = (sa.Index("ix_support_option_locations_place", "region", "city"),)

    option_id: Mapped[int] = mapped_column(
        sa.ForeignKey("support_options.id", ondelete="CASCADE"), index=True
    )
    city: Mapped[str] = mapped_column(sa.String(120))
    region: Mapped[str] = mapped_column(sa.String(120), default="")
    address: Mapped[str] = mapped_column(sa.String(300), default="")
    latitude: Mapped[Decimal | None] = mapped_column(sa.Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(sa.Numeric(9, 6))

    option: Mapped[SupportOption] = relationship(back_populates="locations")


class OptionCapacity(IdMixin, Base):
    """Places of one option in one period. Holding a place is one conditional UPDATE of this row,
    so concurrent holds can never overbook (the CHECK is the last line of defence)."""

    __tablename__ = "option_capacities"
    __table_args__ = (
        sa.UniqueConstraint("option_id", "period_start"),
        sa.CheckConstraint("places_held >= 0 AND places_used >= 0", name="counts"),
        sa.CheckConstraint("places_held + places_used <= places_total", name="not_overbooked"),
    )

    option_id: Mapped[int] = mapped_column(sa.ForeignKey("support_options.id", ondelete="CASCADE"))
    period_start: Mapped[dt.date]
    period_end: Mapped[dt.date]
    places_total: Mapped[int]
    places_held: Mapped[int] = mapped_column(default=0)
    places_used: Mapped[int] = mapped_column(default=0)
    # the last waitlist number handed out in this period; bumped by one UPDATE, so concurrent
    # waitlisting gets distinct numbers (the row lock orders them)
    waitlist_last: Mapped[int] = mapped_column(default=0, server_default=sa.text("0"))


class PlaceHold(IdMixin, Base):
    """A claim on a place for someone (``reference``, e.g. a plan line), or a waitlist entry."""

    __tablename__ = "place_holds"
    __table_args__ = (
        sa.Index("ix_place_holds_option_status", "option_id", "status", "id"),
        # waitlist positions: the holds ahead in the same period
        sa.Index("ix_place_holds_capacity_waitlist", "capacity_id", "status", "waitlist_number"),
    )

    option_id: Mapped[int] = mapped_column(sa.ForeignKey("support_options.id", ondelete="CASCADE"))
    capacity_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("option_capacities.id", ondelete="CASCADE")
    )
    reference: Mapped[str] = mapped_column(sa.String(64), index=True)
    status: Mapped[HoldStatus] = mapped_column(str_enum(HoldStatus))
    waitlist_number: Mapped[int | None]  # order on the waitlist of its period
    created_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    closed_at: Mapped[dt.datetime | None]
    promoted_at: Mapped[dt.datetime | None]  # took a freed place from the waitlist


class PartnerMember(Base):
    """A user (role partner) who answers for a partner organisation: their referral inbox."""

    __tablename__ = "partner_members"

    partner_id: Mapped[int] = mapped_column(
        sa.ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class ReferralStatus(enum.StrEnum):
    SENT = "sent"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"  # the plan line was removed or the case closed
    DELIVERED = "delivered"


#: Referrals a partner still has to answer.
OPEN_REFERRAL_STATUSES = frozenset({ReferralStatus.SENT})


class DeclineReason(enum.StrEnum):
    NO_CAPACITY = "no_capacity"
    NOT_ELIGIBLE = "not_eligible"
    SERVICE_UNAVAILABLE = "service_unavailable"
    CANNOT_CONTACT = "cannot_contact"
    LOCATION = "location"
    OTHER = "other"


class Referral(IdMixin, Base):
    """One support option asked of its partner for one returnee (a plan line).

    The partner sees only this row: what the referral needs, copied when it was sent (case
    number, first name, the service, dates, the origin case manager's contact, and vulnerability
    notes only when the consent in force shares them with partners). ``reference`` names what
    it was made for (``plan-line:<id>``); the marketplace knows nothing else of the case.
    ``shared_with_office`` and ``shared_with_partner`` copy the returnee's consent in force
    (kept by the case's consent service): without it, that reader sees the referral by its
    case number only (``partners.referrals.shows_person``).
    """

    __tablename__ = "referrals"
    __table_args__ = (
        sa.Index("ix_referrals_status_expires", "status", "expires_at"),
        sa.Index("ix_referrals_partner_status", "partner_id", "status", "id"),
        sa.CheckConstraint(
            "status != 'declined' OR decline_reason IS NOT NULL", name="decline_has_reason"
        ),
    )

    public_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, default=new_public_id, unique=True)
    reference: Mapped[str] = mapped_column(sa.String(64), index=True)
    option_id: Mapped[int] = mapped_column(sa.ForeignKey("support_options.id"), index=True)
    partner_id: Mapped[int] = mapped_column(sa.ForeignKey("partners.id"))
    hold_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("place_holds.id", ondelete="SET NULL")
    )
    office_id: Mapped[int] = mapped_column(sa.ForeignKey("offices.id"), index=True)  # origin
    status: Mapped[ReferralStatus] = mapped_column(
        str_enum(ReferralStatus), default=ReferralStatus.SENT
    )
    decline_reason: Mapped[DeclineReason | None] = mapped_column(str_enum(DeclineReason))
    answer_note: Mapped[str] = mapped_column(sa.String(1000), default="")
    sent_at: Mapped[dt.datetime] = mapped_column(default=now_utc)
    expires_at: Mapped[dt.datetime]
    answered_at: Mapped[dt.datetime | None]
    answered_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )  # None with an answer: through the e-mailed link

    # what the partner is told (a copy, see the class docstring)
    case_number: Mapped[str] = mapped_column(sa.String(20))
    first_name: Mapped[str] = mapped_column(sa.String(120))
    quantity: Mapped[int] = mapped_column(default=1)
    starts_on: Mapped[dt.date | None]
    note_for_partner: Mapped[str] = mapped_column(sa.String(1000), default="")
    vulnerability_note: Mapped[str] = mapped_column(sa.String(2000), default="")
    contact_name: Mapped[str] = mapped_column(sa.String(160), default="")
    contact_email: Mapped[str] = mapped_column(sa.String(254), default="")
    contact_phone: Mapped[str] = mapped_column(sa.String(40), default="")
    # the consent in force: whether the origin office / the partner may read the personal fields
    shared_with_office: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    shared_with_partner: Mapped[bool] = mapped_column(default=True, server_default=sa.true())

    option: Mapped[SupportOption] = relationship()
    partner: Mapped[Partner] = relationship()

    @property
    def audit_office_id(self) -> int:
        return self.office_id

    @classmethod
    def visible_to(cls, actor: Actor) -> sa.ColumnElement[bool]:
        if actor.role == Role.PARTNER and actor.id is not None:
            return cls.partner_id.in_(
                sa.select(PartnerMember.partner_id).where(PartnerMember.user_id == actor.id)
            )
        if actor.role == Role.CASE_MANAGER and actor.office_id is not None:
            return cls.office_id == actor.office_id
        return sa.false()


class PartnerPerformance(Base):
    """A partner's pre-aggregated performance, rewritten as a whole by the monitoring refresh
    (``reintegration_hub.monitoring.performance``); the marketplace only reads it.

    Rates and medians are NULL when there is nothing to compute them from. Acceptance is
    counted over the referrals the partner decided (accepted, declined) or let expire; the
    12-month share over the accepted lines delivered or whose year after the return is over.
    Scores are means of the latest sustainability survey of each returnee the partner
    delivered to; satisfaction the mean of the scores (1-5) returnees gave its delivered
    supports through their feedback links.
    """

    __tablename__ = "partner_performance"
    # the "best outcomes" sort reads the composite of every partner in a search's pool
    __table_args__ = (sa.Index("ix_partner_performance_composite", "composite", "partner_id"),)

    partner_id: Mapped[int] = mapped_column(
        sa.ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    as_of: Mapped[dt.date]
    refreshed_at: Mapped[dt.datetime]
    referrals_sent: Mapped[int] = mapped_column(default=0)
    referrals_decided: Mapped[int] = mapped_column(default=0)
    referrals_accepted: Mapped[int] = mapped_column(default=0)
    acceptance_rate: Mapped[float | None]
    median_hours_to_accept: Mapped[float | None]
    lines_delivered: Mapped[int] = mapped_column(default=0)
    median_days_to_deliver: Mapped[float | None]
    lines_due_within_year: Mapped[int] = mapped_column(default=0)
    lines_delivered_within_year: Mapped[int] = mapped_column(default=0)
    delivered_within_year_share: Mapped[float | None]
    returnees_surveyed: Mapped[int] = mapped_column(default=0)
    economic: Mapped[float | None]
    social: Mapped[float | None]
    psychosocial: Mapped[float | None]
    composite: Mapped[float | None]
    feedback_answers: Mapped[int] = mapped_column(default=0)
    satisfaction: Mapped[float | None]
