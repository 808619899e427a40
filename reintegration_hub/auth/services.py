"""Rules for offices, accounts, log-in and API tokens."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l

from partners.models import Partner, PartnerMember
from reintegration_hub.auth.models import ApiToken, Office, User, UserSession
from reintegration_hub.core.audit import record_audit
from reintegration_hub.core.authz import get_scoped, scoped
from reintegration_hub.core.db import has_unsaved_work, now_utc
from reintegration_hub.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.i18n import country_codes, language_codes
from reintegration_hub.core.labels import OFFICE_KIND_LABELS, ROLE_LABELS
from reintegration_hub.core.roles import Actor, OfficeKind, Role
from reintegration_hub.extensions import db

MIN_PASSWORD_LENGTH = 10
#: A session's ``last_seen_at`` is written at most this often (not on every request).
SESSION_TOUCH_INTERVAL = dt.timedelta(minutes=5)
#: Longer values in a session cookie are not keys this application made.
SESSION_KEY_MAX_LENGTH = 64
TOKEN_PREFIX = "rh_"  # noqa: S105 - a marker, not a secret

#: The office kinds each role may belong to.
ROLE_OFFICE_KINDS: dict[Role, frozenset[OfficeKind]] = {
    Role.ADMIN: frozenset(OfficeKind),
    # a host office may run a national programme of its own (IOM Riga in Latvia)
    Role.PROGRAMME_MANAGER: frozenset({OfficeKind.HOME, OfficeKind.HOST}),
    Role.COUNSELLOR: frozenset({OfficeKind.HOST}),
    Role.CASE_MANAGER: frozenset({OfficeKind.ORIGIN}),
    Role.PARTNER: frozenset({OfficeKind.ORIGIN}),
}

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the e-mail is unknown, so both paths take the same time. Made on
    the first sign-in, not at import: a hash at the production cost is 0.1 s of CPU, which
    every process would pay (each flow run is a new one)."""
    return _hasher.hash(secrets.token_urlsafe(16))


class InvalidCredentials(PermissionDenied):
    def __init__(self) -> None:
        super().__init__(_l("E-mail or password is not correct."))


def _labels(values: Iterable[Any], labels: Mapping[Any, Any]) -> str:
    return ", ".join(sorted(str(labels[value]) for value in values))


def hash_password(password: str) -> str:
    _check_password_strength(password)
    return _hasher.hash(password)


def _check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            _l("Use at least %(count)d characters.", count=MIN_PASSWORD_LENGTH),
            field_errors={
                "password": [_l("Use at least %(count)d characters.", count=MIN_PASSWORD_LENGTH)]
            },
        )


def _password_matches(user: User | None, password: str) -> bool:
    try:
        stored = user.password_hash if user else _dummy_hash()
        return _hasher.verify(stored, password) and bool(user)
    except (VerificationError, InvalidHashError):
        return False


def normalise_email(email: str) -> str:
    return email.strip().lower()


# --- log-in ---------------------------------------------------------------------------------


def authenticate(email: str, password: str) -> User:
    """The active user with these credentials, else ``InvalidCredentials`` (never says why)."""
    user = db.session.scalars(
        sa.select(User).where(User.email == normalise_email(email))
    ).one_or_none()
    if not _password_matches(user, password) or user is None or not user.is_active:
        raise InvalidCredentials()
    if not user.office.is_active:
        raise InvalidCredentials()
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = now_utc()
    record_audit("user.login", user, actor=user, changes={})
    return user


# --- sessions (auth.models.UserSession) -----------------------------------------------------


def _session_lifetime() -> dt.timedelta:
    return current_app.permanent_session_lifetime


def _printable(header: str) -> str:
    """A request header as text a column takes (no NUL or other control characters)."""
    return "".join(char for char in header if char.isprintable())


def start_session(user: User, *, user_agent: str = "", address: str = "") -> UserSession:
    """A new server-side session for ``user``, who has just proved who they are; its key is
    set on ``user`` (``user.session_key``, what the cookie carries). Sessions of anyone that
    ended by idling past the lifetime are deleted on the way (one indexed DELETE)."""
    now = now_utc()
    db.session.execute(
        sa.delete(UserSession).where(UserSession.last_seen_at <= now - _session_lifetime())
    )
    key = secrets.token_urlsafe(32)
    row = UserSession(
        user_id=user.id,
        key_hash=_digest(key),
        created_at=now,
        last_seen_at=now,
        user_agent=_printable(user_agent)[:200],
        address=_printable(address)[:45],
    )
    db.session.add(row)
    db.session.flush()
    user.session_key = key
    return row


def load_session_user(session_key: str) -> User | None:
    """The active user whose live session has this key (Flask-Login's user loader), else None.

    A session lives while it is used: ``last_seen_at`` within the lifetime, refreshed at most
    every ``SESSION_TOUCH_INTERVAL``. The loader normally runs first in a request (the access
    check asks for the user), before the request has changed anything: the refresh is then
    committed at once, with nothing else in its transaction. Should the request have unsaved
    changes already, the refresh waits for a later request rather than commit them early.
    """
    if len(session_key) > SESSION_KEY_MAX_LENGTH:
        return None
    now = now_utc()
    this_session = UserSession.key_hash == _digest(session_key)
    # one statement for the session, the user and their office: it runs on every request
    live = db.session.execute(
        sa.select(User, UserSession.last_seen_at)
        .join(UserSession, UserSession.user_id == User.id)
        .where(this_session, UserSession.last_seen_at > now - _session_lifetime())
    ).first()
    if live is None:
        return None
    user: User = live[0]
    last_seen_at: dt.datetime = live[1]
    if now - last_seen_at > SESSION_TOUCH_INTERVAL and not has_unsaved_work(db.session()):
        db.session.execute(sa.update(UserSession).where(this_session).values(last_seen_at=now))
        db.session.commit()  # expires ``user``: read again when next used, once per interval
    if not user.is_active or not user.office.is_active:
        return None
    user.session_key = session_key
    return user


def session_key_digest(session_key: str | None) -> str | None:
    """What ``UserSession.key_hash`` holds for this key (to recognise the current session)."""
    return _digest(session_key) if session_key else None


def list_sessions(*, actor: Actor) -> Sequence[UserSession]:
    """The actor's live sessions, the most recently used first."""
    return db.session.scalars(
        sa.select(UserSession)
        .where(
            UserSession.user_id == actor.id,
            UserSession.last_seen_at > now_utc() - _session_lifetime(),
        )
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    ).all()


def _end_sessions(user: User, *where: sa.ColumnElement[bool]) -> int:
    ended = db.session.execute(sa.delete(UserSession).where(UserSession.user_id == user.id, *where))
    return int(getattr(ended, "rowcount", 0) or 0)


def _own_user(actor: Actor) -> User:
    user = db.session.get(User, actor.id) if actor.id is not None else None
    if user is None:
        raise PermissionDenied(_l("Only users have sessions."))
    return user


def end_session(session_key: str, *, actor: Actor) -> None:
    """Sign out: the actor's session with this key is deleted (its cookie, and any copy of
    it, opens nothing any more)."""
    user = _own_user(actor)
    _end_sessions(user, UserSession.key_hash == _digest(session_key))
    record_audit("user.logout", user, actor=actor, changes={})


def end_other_session(session_id: int, *, actor: Actor) -> None:
    """Sign out one of the actor's sessions from another browser; NotFound if it is not theirs
    (or already over)."""
    user = _own_user(actor)
    if not _end_sessions(user, UserSession.id == session_id):
        raise NotFound(_l("Session not found."))
    record_audit("user.sessions_end", user, actor=actor, changes={"sessions": [1, 0]})


def end_other_sessions(*, keep_key: str | None, actor: Actor) -> int:
    """Sign out every session of the actor but the one with ``keep_key``; how many ended."""
    user = _own_user(actor)
    kept = [UserSession.key_hash != _digest(keep_key)] if keep_key else []
    ended = _end_sessions(user, *kept)
    if ended:
        record_audit("user.sessions_end", user, actor=actor, changes={"sessions": [ended, 0]})
    return ended


def change_password(
    user_id: int, *, current_password: str, new_password: str, actor: Actor
) -> User:
    """Set a new password and end every session of the user, the current one too (a copy of
    its cookie may be why the password changes): the caller signs the browser in afresh
    with ``start_session``."""
    if actor.id != user_id:
        raise PermissionDenied(_l("You can only change your own password."))
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_l("User not found"))
    if not _password_matches(user, current_password):
        raise InvalidInput(
            _l("The current password is not correct."),
            field_errors={"current_password": [_l("The current password is not correct.")]},
        )
    user.password_hash = hash_password(new_password)
    record_audit("user.password_changed", user, actor=actor)
    _end_sessions(user)
    return user


# --- offices --------------------------------------------------------------------------------


def _validate_office_fields(country_code: str, languages: Sequence[str]) -> None:
    errors: dict[str, list[str]] = {}
    if country_code not in country_codes():
        errors["country_code"] = [
            _l("%(code)s is not an ISO 3166 country code.", code=country_code)
        ]
    unknown = [code for code in languages if code not in language_codes()]
    if unknown:
        errors["languages"] = [
            _l("Not ISO 639-1 language codes: %(codes)s.", codes=", ".join(unknown))
        ]
    if errors:
        raise InvalidInput(_l("Some office details are not valid."), field_errors=errors)


def _check_unique_office_name(name: str, office_id: int | None = None) -> None:
    stmt = sa.select(Office.id).where(sa.func.lower(Office.name) == name.strip().lower())
    if office_id is not None:
        stmt = stmt.where(Office.id != office_id)
    if db.session.scalar(stmt) is not None:
        raise Conflict(
            _l("An office with this name exists already."),
            field_errors={"name": [_l("An office with this name exists already.")]},
        )


def create_office(
    *,
    name: str,
    kind: OfficeKind,
    country_code: str,
    city: str = "",
    languages: Sequence[str] = (),
    actor: Actor,
) -> Office:
    country_code = country_code.upper()
    _validate_office_fields(country_code, languages)
    _check_unique_office_name(name)
    office = Office(
        name=name.strip(),
        kind=kind,
        country_code=country_code,
        city=city.strip(),
        languages=list(languages),
    )
    record_audit("office.create", office, actor=actor)
    return office


def update_office(
    office_id: int,
    *,
    name: str,
    kind: OfficeKind,
    country_code: str,
    city: str,
    languages: Sequence[str],
    actor: Actor,
) -> Office:
    office = get_scoped(Office, office_id, actor)
    country_code = country_code.upper()
    _validate_office_fields(country_code, languages)
    _check_unique_office_name(name, office_id)
    if kind != office.kind:
        _check_office_kind_fits_users(office, kind)
    office.name, office.kind, office.country_code = name.strip(), kind, country_code
    office.city, office.languages = city.strip(), list(languages)
    record_audit("office.update", office, actor=actor)
    return office


def _check_office_kind_fits_users(office: Office, kind: OfficeKind) -> None:
    misfits = {
        role
        for role in db.session.scalars(
            sa.select(User.role).where(User.office_id == office.id, User.is_active).distinct()
        )
        if kind not in ROLE_OFFICE_KINDS[role]
    }
    if misfits:
        raise Conflict(
            _l("Active users of this office have roles that do not fit that kind of office."),
            field_errors={
                "kind": [_l("Roles in the way: %(roles)s.", roles=_labels(misfits, ROLE_LABELS))]
            },
        )


def set_office_active(office_id: int, active: bool, *, actor: Actor) -> Office:
    office = get_scoped(Office, office_id, actor)
    if not active and office.id == actor.office_id:
        raise Conflict(_l("You cannot deactivate your own office."))
    office.is_active = active
    record_audit("office.activate" if active else "office.deactivate", office, actor=actor)
    return office


# --- users ----------------------------------------------------------------------------------


def _check_role_fits_office(role: Role, office: Office) -> None:
    if office.kind not in ROLE_OFFICE_KINDS[role]:
        kinds = _labels(ROLE_OFFICE_KINDS[role], OFFICE_KIND_LABELS)
        raise InvalidInput(
            _l("This role does not work in that kind of office."),
            field_errors={
                "office_id": [_l("This role works in an office of kind: %(kinds)s.", kinds=kinds)]
            },
        )


def _check_unique_email(email: str, user_id: int | None = None) -> None:
    stmt = sa.select(User.id).where(User.email == email)
    if user_id is not None:
        stmt = stmt.where(User.id != user_id)
    if db.session.scalar(stmt) is not None:
        raise Conflict(
            _l("A user with this e-mail exists already."),
            field_errors={"email": [_l("A user with this e-mail exists already.")]},
        )


def _active_office(office_id: int) -> Office:
    office = db.session.get(Office, office_id)
    if office is None or not office.is_active:
        raise InvalidInput(
            _l("Choose an active office."),
            field_errors={"office_id": [_l("Choose an active office.")]},
        )
    return office


def _check_language(language: str) -> None:
    if language not in current_app.config["LANGUAGES"]:
        raise InvalidInput(
            _l("That language is not available."),
            field_errors={"preferred_language": [_l("That language is not available.")]},
        )


def create_user(
    *,
    email: str,
    full_name: str,
    office_id: int,
    role: Role,
    password: str,
    preferred_language: str = "en",
    actor: Actor,
) -> User:
    email = normalise_email(email)
    office = _active_office(office_id)
    _check_role_fits_office(role, office)
    _check_unique_email(email)
    _check_language(preferred_language)
    user = User(
        email=email,
        full_name=full_name.strip(),
        office_id=office.id,
        role=role,
        preferred_language=preferred_language,
        password_hash=hash_password(password),
    )
    record_audit("user.create", user, actor=actor)
    return user


def update_user(
    user_id: int,
    *,
    email: str,
    full_name: str,
    office_id: int,
    role: Role,
    preferred_language: str,
    actor: Actor,
) -> User:
    user = get_scoped(User, user_id, actor)
    email = normalise_email(email)
    if user.id == actor.id and role != user.role:
        raise Conflict(
            _l("You cannot change your own role."), field_errors={"role": [_l("Not your own.")]}
        )
    office = _active_office(office_id) if office_id != user.office_id else user.office
    _check_role_fits_office(role, office)
    _check_unique_email(email, user.id)
    _check_language(preferred_language)
    user.email, user.full_name, user.office_id = email, full_name.strip(), office.id
    user.role, user.preferred_language = role, preferred_language
    record_audit("user.update", user, actor=actor)
    return user


def set_preferred_language(user_id: int, language: str, *, actor: Actor) -> User:
    if actor.id != user_id:
        raise PermissionDenied(_l("You can only change your own language."))
    _check_language(language)
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_l("User not found"))
    user.preferred_language = language
    record_audit("user.language", user, actor=actor)
    return user


def set_user_active(user_id: int, active: bool, *, actor: Actor) -> User:
    user = get_scoped(User, user_id, actor)
    if user.id == actor.id and not active:
        raise Conflict(_l("You cannot deactivate your own account."))
    user.is_active = active
    record_audit("user.activate" if active else "user.deactivate", user, actor=actor)
    if not active:
        _end_sessions(user)
    return user


# --- API tokens -----------------------------------------------------------------------------


def _digest(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode()).hexdigest()


def issue_api_token(*, name: str, actor: Actor) -> tuple[ApiToken, str]:
    """A new token for the actor; the raw token is returned once and never stored."""
    if actor.id is None:
        raise PermissionDenied(_l("Only users hold API tokens."))
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = now_utc()
    token = ApiToken(
        user_id=actor.id,
        name=name.strip() or "API token",
        token_hash=_digest(raw),
        prefix=raw[:10],
        created_at=now,
        expires_at=now + dt.timedelta(days=current_app.config["API_TOKEN_DAYS"]),
    )
    record_audit("api_token.issue", token, actor=actor)
    return token, raw


def revoke_api_token(token_id: int, *, actor: Actor) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    if token is None or (token.user_id != actor.id and actor.role != Role.ADMIN):
        raise NotFound(_l("Token not found"))
    if token.revoked_at is None:
        token.revoked_at = now_utc()
        record_audit("api_token.revoke", token, actor=actor)
    return token


def list_api_tokens(*, actor: Actor) -> Sequence[ApiToken]:
    return db.session.scalars(
        sa.select(ApiToken).where(ApiToken.user_id == actor.id).order_by(ApiToken.created_at.desc())
    ).all()


def user_for_token(raw_token: str) -> User | None:
    """The active user a live token belongs to; records when the token was last used."""
    if not raw_token.startswith(TOKEN_PREFIX):
        return None
    token = db.session.scalars(
        sa.select(ApiToken).where(ApiToken.token_hash == _digest(raw_token))
    ).one_or_none()
    now = now_utc()
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        return None
    if not token.user.is_active or not token.user.office.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=5):
        token.last_used_at = now
    return token.user


# --- queries --------------------------------------------------------------------------------


def list_offices(*, actor: Actor, include_inactive: bool = False) -> Sequence[Office]:
    stmt = scoped(sa.select(Office), Office, actor).order_by(Office.kind, Office.name)
    if not include_inactive:
        stmt = stmt.where(Office.is_active)
    return db.session.scalars(stmt).all()


def list_users(
    *, actor: Actor, office_id: int | None = None, role: Role | None = None
) -> Sequence[User]:
    stmt = scoped(sa.select(User), User, actor).order_by(User.full_name)
    if office_id is not None:
        stmt = stmt.where(User.office_id == office_id)
    if role is not None:
        stmt = stmt.where(User.role == role)
    return db.session.scalars(stmt).all()


# --- partner focal points -------------------------------------------------------------------


def partner_choices() -> list[tuple[int, str]]:
    """Partner organisations a partner focal point may answer for, by country and name."""
    rows = db.session.execute(
        sa.select(Partner.id, Partner.name, Partner.country_code).order_by(
            Partner.country_code, Partner.name
        )
    ).all()
    return [(row.id, f"{row.name} ({row.country_code})") for row in rows]


def partner_ids_of(user_id: int) -> list[int]:
    return list(
        db.session.scalars(
            sa.select(PartnerMember.partner_id).where(PartnerMember.user_id == user_id)
        )
    )


def set_partner_memberships(user_id: int, partner_ids: Sequence[int], *, actor: Actor) -> None:
    """The partner organisations whose referrals a partner focal point answers (their inbox).

    Only users of role partner, and only partners in their office's country.
    """
    user: User = get_scoped(User, user_id, actor)
    wanted = set(partner_ids)
    if wanted and user.role != Role.PARTNER:
        message = _l("Only partner focal points answer for partner organisations.")
        raise InvalidInput(message, field_errors={"partner_ids": [message]})
    countries: dict[int, str] = {
        row.id: row.country_code
        for row in db.session.execute(
            sa.select(Partner.id, Partner.country_code).where(Partner.id.in_(sorted(wanted)))
        )
    }
    if set(countries) != wanted or any(c != user.office.country_code for c in countries.values()):
        message = _l("Choose partners in the country of the user's office.")
        raise InvalidInput(message, field_errors={"partner_ids": [message]})
    current = set(partner_ids_of(user.id))
    if current == wanted:
        return
    db.session.execute(
        sa.delete(PartnerMember).where(
            PartnerMember.user_id == user.id, PartnerMember.partner_id.in_(current - wanted)
        )
    )
    db.session.add_all(PartnerMember(partner_id=p, user_id=user.id) for p in wanted - current)
    record_audit(
        "user.partners",
        user,
        actor=actor,
        changes={"partner_ids": [sorted(current), sorted(wanted)]},
    )
