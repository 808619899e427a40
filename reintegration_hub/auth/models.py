from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from reintegration_hub.core.db import Base, IdMixin, TimestampMixin, str_enum
from reintegration_hub.core.roles import Actor, OfficeKind, Role


class Office(IdMixin, TimestampMixin, Base):
    """An IOM office: in a host country, in a country of return, or the home office."""

    __tablename__ = "offices"

    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    kind: Mapped[OfficeKind] = mapped_column(str_enum(OfficeKind), index=True)
    country_code: Mapped[str] = mapped_column(sa.String(2), index=True)  # ISO 3166-1 alpha-2
    city: Mapped[str] = mapped_column(sa.String(120), default="")
    # ISO 639-1 codes of the languages the office works in, in order of use
    languages: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    is_active: Mapped[bool] = mapped_column(default=True, index=True)
    # told when the office's milestones are overdue (the first escalation level)
    supervisor_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL", use_alter=True)
    )

    users: Mapped[list[User]] = relationship(back_populates="office", foreign_keys="User.office_id")

    @property
    def audit_office_id(self) -> int:
        return self.id

    @classmethod
    def visible_to(cls, actor: Actor) -> sa.ColumnElement[bool]:
        # the office directory is reference data every user needs (to pick an origin office)
        return sa.true()

    def __repr__(self) -> str:
        return f"<Office {self.id} {self.name}>"


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"
    __audit_redact__ = ("password_hash",)

    email: Mapped[str] = mapped_column(sa.String(254), unique=True)  # stored lower-cased
    full_name: Mapped[str] = mapped_column(sa.String(160))
    office_id: Mapped[int] = mapped_column(sa.ForeignKey("offices.id"), index=True)
    role: Mapped[Role] = mapped_column(str_enum(Role), index=True)
    preferred_language: Mapped[str] = mapped_column(sa.String(8), default="en")
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    is_active: Mapped[bool] = mapped_column(default=True, index=True)
    last_login_at: Mapped[dt.datetime | None]

    office: Mapped[Office] = relationship(
        back_populates="users", lazy="joined", foreign_keys=[office_id]
    )

    # Flask-Login
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    @property
    def session_key(self) -> str | None:
        """The key of the server-side session (:class:`UserSession`) this object was signed in
        or loaded with in this request; kept beside the object, never stored."""
        key: str | None = sa.inspect(self).info.get("session_key")
        return key

    @session_key.setter
    def session_key(self, key: str) -> None:
        sa.inspect(self).info["session_key"] = key

    def get_id(self) -> str:
        """What Flask-Login keeps in the session cookie: the server-side session's key."""
        if self.session_key is None:
            raise RuntimeError("no session: start one with auth.services.start_session")
        return self.session_key

    # Actor
    @property
    def country_code(self) -> str | None:
        return self.office.country_code

    @property
    def office_kind(self) -> OfficeKind:
        return self.office.kind

    @property
    def audit_label(self) -> str:
        return f"user:{self.id}"

    @property
    def audit_office_id(self) -> int:
        return self.office_id

    @classmethod
    def visible_to(cls, actor: Actor) -> sa.ColumnElement[bool]:
        return cls.office_id == actor.office_id

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class UserSession(IdMixin, Base):
    """A signed-in browser. The session cookie carries a random key, of which only the SHA-256
    digest is stored; a cookie opens nothing once its row is gone. Signing out deletes the row,
    a password change or a deactivation every row of the user; a row not seen for the session
    lifetime (``PERMANENT_SESSION_LIFETIME``) is ended, and deleted at the next sign-in."""

    __tablename__ = "user_sessions"
    __audit_redact__ = ("key_hash",)

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime] = mapped_column(index=True)
    # what lets the user recognise it on the account page
    user_agent: Mapped[str] = mapped_column(sa.String(200), default="")
    address: Mapped[str] = mapped_column(sa.String(45), default="")


class ApiToken(IdMixin, Base):
    """A personal API token. Only a SHA-256 digest is stored: the token is shown once."""

    __tablename__ = "api_tokens"
    __audit_redact__ = ("token_hash",)

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(12))  # first characters, to recognise it
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship(lazy="joined")

    @property
    def audit_office_id(self) -> int:
        return self.user.office_id
