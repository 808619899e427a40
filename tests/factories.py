"""factory_boy factories over the real models and session."""

from __future__ import annotations

import factory
from argon2 import PasswordHasher

from reintegration_hub.auth.models import Office, User
from reintegration_hub.core.roles import OfficeKind, Role
from reintegration_hub.extensions import db

PASSWORD = "correct horse battery"
# hashed once: argon2 is slow on purpose, and tests create many users
PASSWORD_HASH = PasswordHasher().hash(PASSWORD)


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
