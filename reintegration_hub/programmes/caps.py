"""Budget cap rules: per programme (grant) and country of return, the cap per adult and per
dependant, the largest household the rule covers and the voluntary departure window; and the
checks a case must pass against its rule and its grant.

The migrations seed the default rule (the EU Reintegration Programme: EUR 2,000 per adult and
EUR 1,000 per dependant in kind, households of up to 12, departure 7 to 30 days after the
return decision), so a fresh installation behaves as before any rule is entered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from reintegration_hub.core.audit import record_audit
from reintegration_hub.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.fallback import own_else_default, owned_by
from reintegration_hub.core.i18n import country_codes
from reintegration_hub.core.money import BASE_CURRENCY
from reintegration_hub.core.roles import Actor
from reintegration_hub.extensions import db
from reintegration_hub.plans.models import Plan
from reintegration_hub.programmes.models import BudgetCapRule, Grant
from reintegration_hub.programmes.services import (
    MAX_BUDGET_MINOR,
    Errors,
    check_count,
    clean_text,
    managed_grant,
    manages_every_grant,
    require_manager,
)

#: The largest household and departure window a rule may state.
MAX_HOUSEHOLD = 99
MAX_DEPARTURE_DAYS = 365


@dataclass(frozen=True, kw_only=True)
class CapRuleTerms:
    name: str
    grant_id: int | None  # None: every grant without a rule of its own, and cases without one
    return_country_code: str | None  # None: every country of return
    per_adult_minor: int  # euro cents
    per_dependant_minor: int
    max_household: int  # persons: the returnee and the dependants
    min_departure_days: int
    max_departure_days: int
    adult_age: int = 18
    in_kind_only: bool = True


# --- reading --------------------------------------------------------------------------------


def cap_rule_for(grant_id: int | None, return_country_code: str | None) -> BudgetCapRule | None:
    """The most specific rule: the grant's for the country, the grant's for any country, the
    programme-wide one for the country, then the default rule. One statement."""
    country = (return_country_code or "").upper() or None
    return own_else_default(
        sa.select(BudgetCapRule),
        (owned_by(BudgetCapRule.grant_id, grant_id), BudgetCapRule.grant_id.is_(None)),
        (
            owned_by(BudgetCapRule.return_country_code, country),
            BudgetCapRule.return_country_code.is_(None),
        ),
    )


def list_cap_rules(*, actor: Actor) -> Sequence[BudgetCapRule]:
    """The rules ``actor`` may change: every rule for administrators and the home office, the
    rules of their grants for a host office's programme manager. Programme-wide rules first."""
    require_manager(actor)
    stmt = sa.select(BudgetCapRule).options(joinedload(BudgetCapRule.grant))
    if not manages_every_grant(actor):
        stmt = stmt.join(Grant, Grant.id == BudgetCapRule.grant_id).where(
            Grant.office_id == actor.office_id
        )
    stmt = stmt.order_by(
        BudgetCapRule.grant_id.is_not(None),
        BudgetCapRule.is_default.desc(),
        BudgetCapRule.grant_id,
        BudgetCapRule.return_country_code,
    )
    return db.session.scalars(stmt).all()


def get_cap_rule(rule_id: int, *, actor: Actor) -> BudgetCapRule:
    """A rule ``actor`` may change (NotFound otherwise)."""
    require_manager(actor)
    rule = db.session.get(BudgetCapRule, rule_id)
    if rule is None:
        raise NotFound(_l("Not found."))
    if rule.grant_id is None:
        if not manages_every_grant(actor):
            raise NotFound(_l("Not found."))
    else:
        managed_grant(rule.grant_id, actor=actor)
    return rule


# --- changing -------------------------------------------------------------------------------


def _validate(terms: CapRuleTerms, actor: Actor) -> CapRuleTerms:
    errors: Errors = {}
    name = clean_text(terms.name, "name", errors, max_length=200)
    country = (terms.return_country_code or "").strip().upper() or None
    if country is not None and country not in country_codes():
        errors["return_country_code"] = [_l("Not an ISO 3166 country code.")]
    for field in ("per_adult_minor", "per_dependant_minor"):
        if not 0 <= getattr(terms, field) <= MAX_BUDGET_MINOR:
            errors[field] = [_l("The amount must be positive and plausible.")]
    if not 1 <= terms.max_household <= MAX_HOUSEHOLD:
        errors["max_household"] = [
            _l("Give a number of persons from 1 to %(max)d.", max=MAX_HOUSEHOLD)
        ]
    check_count(terms.adult_age, "adult_age", errors, maximum=99)
    check_count(terms.min_departure_days, "min_departure_days", errors, maximum=MAX_DEPARTURE_DAYS)
    check_count(terms.max_departure_days, "max_departure_days", errors, maximum=MAX_DEPARTURE_DAYS)
    if not errors and terms.max_departure_days < terms.min_departure_days:
        errors["max_departure_days"] = [_l("The window cannot end before it starts.")]
    if terms.grant_id is None:
        if not manages_every_grant(actor):
            errors["grant_id"] = [_l("Choose one of your grants.")]
    elif db.session.get(Grant, terms.grant_id) is None:
        errors["grant_id"] = [_l("No such grant.")]
    else:
        managed_grant(terms.grant_id, actor=actor)
    if errors:
        raise InvalidInput(_l("Some details of the rule are not valid."), field_errors=errors)
    return replace(terms, name=name, return_country_code=country)


def _check_unique(terms: CapRuleTerms, rule_id: int | None = None) -> None:
    others = sa.select(BudgetCapRule.id).where(BudgetCapRule.id != (rule_id or 0))
    if db.session.scalar(others.where(sa.func.lower(BudgetCapRule.name) == terms.name.lower())):
        message = _l("A rule with this name exists already.")
        raise Conflict(message, field_errors={"name": [message]})
    same_scope = others.where(
        BudgetCapRule.grant_id.is_(None)
        if terms.grant_id is None
        else BudgetCapRule.grant_id == terms.grant_id,
        BudgetCapRule.return_country_code.is_(None)
        if terms.return_country_code is None
        else BudgetCapRule.return_country_code == terms.return_country_code,
    )
    if db.session.scalar(same_scope) is not None:
        message = _l("This programme has a rule for this country of return already: edit it.")
        raise Conflict(message, field_errors={"return_country_code": [message]})


def _apply(rule: BudgetCapRule, terms: CapRuleTerms) -> None:
    for name, value in terms.__dict__.items():
        setattr(rule, name, value)
    rule.currency = BASE_CURRENCY  # plans are capped and totalled in euros
    rule.is_default = terms.grant_id is None and terms.return_country_code is None


def create_cap_rule(terms: CapRuleTerms, *, actor: Actor) -> BudgetCapRule:
    require_manager(actor)
    terms = _validate(terms, actor)
    _check_unique(terms)
    rule = BudgetCapRule()
    _apply(rule, terms)
    record_audit("cap_rule.create", rule, actor=actor)
    return rule


def update_cap_rule(rule_id: int, terms: CapRuleTerms, *, actor: Actor) -> BudgetCapRule:
    """Change a rule; the default rule stays general (no grant, any country). Plans started
    already keep the cap they were given."""
    rule = get_cap_rule(rule_id, actor=actor)
    terms = _validate(terms, actor)
    if rule.is_default and (terms.grant_id is not None or terms.return_country_code is not None):
        message = _l("The default rule applies to every grant and country; add a rule instead.")
        raise Conflict(message, field_errors={"grant_id": [message]})
    _check_unique(terms, rule.id)
    _apply(rule, terms)
    record_audit("cap_rule.update", rule, actor=actor)
    return rule


def delete_cap_rule(rule_id: int, *, actor: Actor) -> None:
    """Remove a rule no plan was capped under; never the default one."""
    rule = get_cap_rule(rule_id, actor=actor)
    if rule.is_default:
        raise PermissionDenied(_l("The default rule cannot be removed; change it instead."))
    plans = db.session.scalar(sa.select(sa.func.count(Plan.id)).where(Plan.cap_rule_id == rule.id))
    if plans:
        raise Conflict(
            _l(
                "%(count)d plans were capped under this rule: change it instead of removing it.",
                count=plans,
            )
        )
    record_audit("cap_rule.delete", rule, actor=actor, changes={"name": [rule.name, None]})
    db.session.delete(rule)
    db.session.flush()


# --- the checks a case passes ---------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CaseFacts:
    """What the programme rules look at in a case."""

    grant_id: int | None
    return_country_code: str
    host_office_id: int | None
    dependants: int
    return_decision_on: dt.date | None
    departure_deadline_on: dt.date | None
    departed_on: dt.date | None
    registered_on: dt.date


def case_errors(facts: CaseFacts) -> Errors:
    """Field errors of a case against its grant and its cap rule: the grant exists, is held by
    the home office or the case's host office and covers the return (the departure, else the
    deadline, else the registration day); the household is within the rule's largest; the
    departure deadline falls in the rule's window after the return decision."""
    errors: Errors = {}
    grant = db.session.get(Grant, facts.grant_id) if facts.grant_id is not None else None
    if facts.grant_id is not None and grant is None:
        errors["grant_id"] = [_l("No such grant.")]
    elif grant is not None:
        day = facts.departed_on or facts.departure_deadline_on or facts.registered_on
        if grant.office_id is not None and grant.office_id != facts.host_office_id:
            errors["grant_id"] = [_l("This grant is held by another office.")]
        elif not grant.start_on <= day <= grant.end_on:
            errors["grant_id"] = [
                _l(
                    "Grant %(number)s runs from %(start)s to %(end)s: it does not cover this "
                    "return (%(day)s).",
                    number=grant.number,
                    start=grant.start_on.isoformat(),
                    end=grant.end_on.isoformat(),
                    day=day.isoformat(),
                )
            ]
    rule = cap_rule_for(facts.grant_id if grant else None, facts.return_country_code)
    if rule is None:
        errors["grant_id"] = [
            _l("No budget cap rule covers this case: an administrator must add one.")
        ]
        return errors
    if 1 + facts.dependants > rule.max_household:
        errors["dependants"] = [
            _l(
                "%(rule)s covers households of at most %(count)d persons: the returnee and "
                "%(dependants)d dependants.",
                rule=rule.name,
                count=rule.max_household,
                dependants=rule.max_household - 1,
            )
        ]
    if facts.departure_deadline_on is not None and facts.return_decision_on is not None:
        period = (facts.departure_deadline_on - facts.return_decision_on).days
        if not rule.min_departure_days <= period <= rule.max_departure_days:
            errors["departure_deadline_on"] = [
                _l(
                    "The voluntary departure deadline must be %(min)s to %(max)s days "
                    "after the return decision.",
                    min=rule.min_departure_days,
                    max=rule.max_departure_days,
                )
            ]
    return errors
