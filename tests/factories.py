"""factory_boy factories over the real models and session."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from argon2 import PasswordHasher

from partners.models import (
    OptionStatus,
    Partner,
    SupportCategory,
    SupportOption,
    SupportOptionLocation,
    SupportOptionText,
    VettingStatus,
)
from reintegration_hub.auth.models import Office, User
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.roles import OfficeKind, Role
from reintegration_hub.extensions import db

PASSWORD = "correct horse battery"
#: argon2id at its lowest cost: the application's hasher in tests (tests/conftest.py), whose
#: production cost (about a tenth of a second a hash, on purpose) would dominate the suite
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
# hashed once all the same: tests create many users
PASSWORD_HASH = FAST_HASHER.hash(PASSWORD)


class BaseFactory(factory.alchemy.SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"


class OfficeFactory(BaseFactory):
    class Meta:
        model = Office

    name = factory.Sequence(lambda n: f"Office {n}")
    kind = OfficeKind.HOST
    country_code = "LV"
    city = "Riga"
    languages = factory.LazyFunction(lambda: ["lv", "en"])


class UserFactory(BaseFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    full_name = factory.Sequence(lambda n: f"User Number{n}")
    office = factory.SubFactory(OfficeFactory)
    role = Role.COUNSELLOR
    preferred_language = "en"
    password_hash = PASSWORD_HASH


def user_with_role(role: Role, **kwargs: object) -> User:
    """A user whose office is of the kind the role works in."""
    kind = {
        Role.ADMIN: OfficeKind.HOME,
        Role.PROGRAMME_MANAGER: OfficeKind.HOME,
        Role.COUNSELLOR: OfficeKind.HOST,
        Role.CASE_MANAGER: OfficeKind.ORIGIN,
        Role.PARTNER: OfficeKind.ORIGIN,
    }[role]
    if "office" not in kwargs:
        kwargs["office"] = OfficeFactory(
            kind=kind, country_code="GE" if kind == OfficeKind.ORIGIN else "LV"
        )
    return UserFactory(role=role, **kwargs)


def bearer(user: User) -> dict[str, str]:
    """The ``Authorization`` header of a new API token of ``user`` (committed)."""
    from reintegration_hub.auth import services

    _, raw = services.issue_api_token(name="test", actor=user)
    db.session.commit()
    return {"Authorization": f"Bearer {raw}"}


# --- marketplace (partners) -------------------------------------------------------------------


class PartnerFactory(BaseFactory):
    """An approved partner of a Georgian origin office, with an agreement valid for years."""

    class Meta:
        model = Partner

    class Params:
        office = factory.SubFactory(OfficeFactory, kind=OfficeKind.ORIGIN, country_code="GE")

    office_id = factory.SelfAttribute("office.id")
    name = factory.Sequence(lambda n: f"Partner Organisation {n}")
    legal_status = "NGO"
    country_code = factory.SelfAttribute("office.country_code")
    regions = factory.LazyFunction(lambda: ["Imereti"])
    languages = factory.LazyFunction(lambda: ["ka", "en"])
    focal_point_name = "Focal Point"
    focal_point_email = factory.Sequence(lambda n: f"referrals{n}@partner.example.org")
    vetting_status = VettingStatus.APPROVED
    agreement_number = factory.Sequence(lambda n: f"FA-{n:04d}")
    agreement_valid_from = dt.date(2020, 1, 1)
    agreement_valid_until = dt.date(2099, 12, 31)


class SupportOptionTextFactory(BaseFactory):
    class Meta:
        model = SupportOptionText

    language = "en"
    title = factory.Sequence(lambda n: f"Support option {n}")
    description = "Practical support for people who return."


class SupportOptionLocationFactory(BaseFactory):
    class Meta:
        model = SupportOptionLocation

    city = "Kutaisi"
    region = "Imereti"


class SupportOptionFactory(BaseFactory):
    """A published option of an approved partner: one English text, one location (Kutaisi)."""

    class Meta:
        model = SupportOption

    partner = factory.SubFactory(PartnerFactory)
    country_code = factory.SelfAttribute("partner.country_code")
    category = SupportCategory.VOCATIONAL_TRAINING
    status = OptionStatus.PUBLISHED
    service_area = factory.LazyFunction(lambda: ["Imereti"])
    cost_minor = 0
    currency = "EUR"
    cost_eur_minor = factory.SelfAttribute("cost_minor")
    eur_rate = Decimal(1)
    delivery_languages = factory.LazyFunction(lambda: ["ka"])
    last_verified_at = factory.LazyFunction(now_utc)
    texts = factory.RelatedFactoryList(
        SupportOptionTextFactory, factory_related_name="option", size=1
    )
    locations = factory.RelatedFactoryList(
        SupportOptionLocationFactory, factory_related_name="option", size=1
    )
