"""Who a support option is for: one rule set, used as a SQL filter and to explain a refusal.

Each rule has two faces that must agree: ``condition`` (a SQL expression over ``SupportOption``
that search uses to keep only fitting options, set-based and paginated in the database) and
``check`` (the same rule on a loaded option, which says *why* it does not fit). Cases reuse
:func:`evaluate` to check a returnee against an option before a referral.

A profile field left unknown (``None`` or empty) is not held against the returnee: the rule it
feeds is skipped, and the counsellor sees the option with its eligibility notes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from partners.models import SupportOption
from reintegration_hub.core import i18n
from reintegration_hub.core.labels import SEX_LABELS, VULNERABILITY_LABELS
from reintegration_hub.extensions import db


@dataclass(frozen=True)
class ReturneeProfile:
    """What eligibility needs to know about a returnee (all optional: unknown is not checked)."""

    age: int | None = None
    sex: str | None = None  # a core Sex value
    vulnerabilities: frozenset[str] = field(default_factory=frozenset)
    family_size: int | None = None  # people in the household, the returnee included
    languages: frozenset[str] = field(default_factory=frozenset)  # ISO 639-1

    @classmethod
    def of(
        cls,
        *,
        age: int | None = None,
        sex: str | None = None,
        vulnerabilities: Sequence[str] = (),
        family_size: int | None = None,
        languages: Sequence[str] = (),
    ) -> ReturneeProfile:
        return cls(age, sex or None, frozenset(vulnerabilities), family_size, frozenset(languages))


@dataclass(frozen=True)
class Ineligibility:
    """One reason an option does not fit: a stable ``rule`` code and a translatable message."""

    rule: str
    message: Any  # a lazy translation

    def __str__(self) -> str:
        return str(self.message)


def _labels(values: Sequence[str], labels: dict[Any, Any]) -> str:
    return ", ".join(str(labels.get(v, v)) for v in values)


def json_list_is_empty(column: Any) -> sa.ColumnElement[bool]:
    """A JSON list column holding ``[]`` (or nothing), on PostgreSQL (JSON) and SQLite."""
    return sa.or_(column.is_(None), sa.func.json_array_length(column) == 0)


def json_list_contains_any(column: Any, values: Sequence[str]) -> sa.ColumnElement[bool]:
    """A JSON list column holding at least one of ``values`` (a correlated ``EXISTS``)."""
    if not values:
        return sa.false()
    function = (
        sa.func.json_array_elements_text
        if db.session.get_bind().dialect.name == "postgresql"
        else sa.func.json_each
    )
    elements = function(column).table_valued("value")
    return sa.exists().select_from(elements).where(elements.c.value.in_(sorted(values)))


@dataclass(frozen=True)
class Rule:
    code: str
    applies: Callable[[ReturneeProfile], bool]
    condition: Callable[[ReturneeProfile], sa.ColumnElement[bool]]
    check: Callable[[SupportOption, ReturneeProfile], Any | None]


def _age_message(option: SupportOption) -> Any:
    if option.min_age is not None and option.max_age is not None:
        return _l("Only for ages %(min)s to %(max)s.", min=option.min_age, max=option.max_age)
    if option.min_age is not None:
        return _l("Only for ages %(min)s and over.", min=option.min_age)
    return _l("Only for ages up to %(max)s.", max=option.max_age)


def _check_age(option: SupportOption, profile: ReturneeProfile) -> Any | None:
    age = profile.age
    assert age is not None
    too_young = option.min_age is not None and age < option.min_age
    too_old = option.max_age is not None and age > option.max_age
    return _age_message(option) if too_young or too_old else None


def _age_condition(profile: ReturneeProfile) -> sa.ColumnElement[bool]:
    return sa.and_(
        sa.or_(SupportOption.min_age.is_(None), SupportOption.min_age <= profile.age),
        sa.or_(SupportOption.max_age.is_(None), SupportOption.max_age >= profile.age),
    )


def _check_sex(option: SupportOption, profile: ReturneeProfile) -> Any | None:
    if not option.sexes or profile.sex in option.sexes:
        return None
    return _l("Only for: %(who)s.", who=_labels(option.sexes, SEX_LABELS))


def _sex_condition(profile: ReturneeProfile) -> sa.ColumnElement[bool]:
    assert profile.sex is not None
    return sa.or_(
        json_list_is_empty(SupportOption.sexes),
        json_list_contains_any(SupportOption.sexes, [profile.sex]),
    )


def _check_vulnerabilities(option: SupportOption, profile: ReturneeProfile) -> Any | None:
    required = option.vulnerabilities_required
    if not required or profile.vulnerabilities & set(required):
        return None
    return _l(
        "Only for people with one of: %(needs)s.",
        needs=_labels(required, VULNERABILITY_LABELS),
    )


def _vulnerabilities_condition(profile: ReturneeProfile) -> sa.ColumnElement[bool]:
    return sa.or_(
        json_list_is_empty(SupportOption.vulnerabilities_required),
        json_list_contains_any(
            SupportOption.vulnerabilities_required, sorted(profile.vulnerabilities)
        ),
    )


def _check_family_size(option: SupportOption, profile: ReturneeProfile) -> Any | None:
    size = profile.family_size
    assert size is not None
    if option.min_family_size is not None and size < option.min_family_size:
        return _l("Only for households of %(n)s or more people.", n=option.min_family_size)
    if option.max_family_size is not None and size > option.max_family_size:
        return _l("Only for households of up to %(n)s people.", n=option.max_family_size)
    return None


def _family_size_condition(profile: ReturneeProfile) -> sa.ColumnElement[bool]:
    return sa.and_(
        sa.or_(
            SupportOption.min_family_size.is_(None),
            SupportOption.min_family_size <= profile.family_size,
        ),
        sa.or_(
            SupportOption.max_family_size.is_(None),
            SupportOption.max_family_size >= profile.family_size,
        ),
    )


def _check_languages(option: SupportOption, profile: ReturneeProfile) -> Any | None:
    required = option.languages_required
    if not required or profile.languages & set(required):
        return None
    return _l(
        "Requires one of these languages: %(languages)s.",
        languages=", ".join(i18n.language_name(code) for code in required),
    )


def _languages_condition(profile: ReturneeProfile) -> sa.ColumnElement[bool]:
    return sa.or_(
        json_list_is_empty(SupportOption.languages_required),
        json_list_contains_any(SupportOption.languages_required, sorted(profile.languages)),
    )


#: The rules, in the order their reasons are shown.
RULES: tuple[Rule, ...] = (
    Rule("age", lambda p: p.age is not None, _age_condition, _check_age),
    Rule("sex", lambda p: bool(p.sex), _sex_condition, _check_sex),
    # a returnee with no vulnerability recorded is still refused options that require one
    Rule("vulnerability", lambda p: True, _vulnerabilities_condition, _check_vulnerabilities),
    Rule(
        "family_size",
        lambda p: p.family_size is not None,
        _family_size_condition,
        _check_family_size,
    ),
    Rule("language", lambda p: bool(p.languages), _languages_condition, _check_languages),
)


def evaluate(option: SupportOption, profile: ReturneeProfile) -> list[Ineligibility]:
    """Why ``option`` does not fit ``profile``; an empty list means it fits."""
    reasons: list[Ineligibility] = []
    for rule in RULES:
        if rule.applies(profile):
            message = rule.check(option, profile)
            if message is not None:
                reasons.append(Ineligibility(rule.code, message))
    return reasons


def eligible_condition(profile: ReturneeProfile) -> sa.ColumnElement[bool]:
    """The SQL form of :func:`evaluate` being empty, over ``SupportOption`` columns."""
    return sa.and_(sa.true(), *(rule.condition(profile) for rule in RULES if rule.applies(profile)))
