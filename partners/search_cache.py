"""Search statements built once per shape, for ``partners.search``.

Building the statements and their cache keys cost more Python than running them. A search's
statement depends on its *shape* (which filters are set, the sort, the dialect, the actor's
role) and its *values*. The statement of each shape is built once, from a query of that shape
holding sentinel values, and every sentinel's bound parameter is then renamed so that a search
only binds its own values (SQLAlchemy memoises the statement's cache key on the object).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import BindParameter

from partners.eligibility import ReturneeProfile
from partners.models import listing_fresh_since
from partners.search_text import fts5_query
from reintegration_hub.core.roles import Actor

if TYPE_CHECKING:
    from partners.search import SearchQuery

#: Builds the statement of a query (a template's sentinels, or real values) for an actor, a
#: dialect, a time and typo tolerance.
Build = Callable[["SearchQuery", Actor, str, dt.datetime, bool], sa.Executable]

_NOW = dt.datetime(1901, 1, 1, tzinfo=dt.UTC)
_SENTINELS: dict[str, Any] = {
    "text": "zzqsentinelzz",
    "country": "\x00country",
    "region": "\x00REGION",
    "region_lower": "\x00region",
    "city": "\x00CITY",
    "city_lower": "\x00city",
    "category": "\x00category",
    "max_cost": 1_000_000_001,
    "language": "\x00language",
    "partner_id": 1_000_000_002,
    "age": 1_000_000_003,
    "sex": "\x00sex",
    "vulnerabilities": "\x00vulnerabilities",
    "family_size": 1_000_000_004,
    "languages": "\x00languages",
}
_MAX_PLANS = 512
_UNCACHEABLE = sa.select(sa.null())
_PLANS: dict[Any, sa.Executable] = {}


def template_query(query: SearchQuery) -> SearchQuery:
    """``query``'s shape: the same filters set, holding sentinel values."""
    S: Any = _SENTINELS
    profile = query.profile
    if profile is not None:
        profile = ReturneeProfile(
            age=S["age"] if profile.age is not None else None,
            sex=S["sex"] if profile.sex else None,
            vulnerabilities=frozenset([S["vulnerabilities"]] if profile.vulnerabilities else []),
            family_size=S["family_size"] if profile.family_size is not None else None,
            languages=frozenset([S["languages"]] if profile.languages else []),
        )
    return replace(
        query,
        text=S["text"] if query.text else "",
        country_code=S["country"] if query.country_code else None,
        region=S["region"] if query.region else None,
        city=S["city"] if query.city else None,
        category=S["category"] if query.category else None,
        max_cost_eur_minor=S["max_cost"] if query.max_cost_eur_minor is not None else None,
        language=S["language"] if query.language else None,
        partner_id=S["partner_id"] if query.partner_id is not None else None,
        profile=profile,
        page=1,
        per_page=20,
        display_language="en",
    )


def bind_values(query: SearchQuery, now: dt.datetime) -> dict[str, Any]:
    """The values of ``query`` (and of now) under the names ``parametrised`` gives them."""
    profile = query.profile or ReturneeProfile()
    text = query.text
    return {
        "now": now,
        "today": now.date(),
        "fresh_since": listing_fresh_since(now),
        "text": text,
        "text_match": fts5_query(text) if text else None,
        "country": query.country_code,
        "region": query.region,
        "region_lower": query.region.lower() if query.region else None,
        "region_in": [query.region],
        "city": query.city,
        "city_lower": query.city.lower() if query.city else None,
        "category": query.category,
        "max_cost": query.max_cost_eur_minor,
        "language": query.language,
        "language_in": [query.language],
        "partner_id": query.partner_id,
        "age": profile.age,
        "sex": profile.sex,
        "sex_in": [profile.sex],
        "vulnerabilities_in": sorted(profile.vulnerabilities),
        "family_size": profile.family_size,
        "languages_in": sorted(profile.languages),
        "offset": (query.page - 1) * query.per_page,
        "limit": query.per_page,
    }


def _sentinel_names() -> dict[tuple[type, Any], str]:
    """Each sentinel (and each value derived from one) by ``(type, value)``: ``1 == True`` and
    a date is no datetime."""
    names = {name: value for name, value in _SENTINELS.items()}
    names |= {
        "now": _NOW,
        "today": _NOW.date(),
        "fresh_since": listing_fresh_since(_NOW),
        "text_match": fts5_query(_SENTINELS["text"]),
    }
    return {(type(value), value): name for name, value in names.items()}


def _is_sentinel_like(value: Any) -> bool:
    if isinstance(value, list):
        return any(_is_sentinel_like(item) for item in value)
    if isinstance(value, str):
        return value.startswith("\x00") or "sentinel" in value
    if isinstance(value, int) and not isinstance(value, bool):
        return value >= 1_000_000_000
    return isinstance(value, dt.date)


def parametrised(statement: sa.Executable) -> sa.Executable:
    """``statement`` with every sentinel's parameter named; ``_UNCACHEABLE`` when a date or a
    sentinel is left that has no name (derived in a way this module does not know)."""
    names = _sentinel_names()
    left: list[Any] = []

    def rename(element: Any, **_: Any) -> Any:
        if not isinstance(element, BindParameter) or element.callable is not None:
            return None
        value = element.value
        if element.expanding and isinstance(value, list) and len(value) == 1:
            name = _name_of(names, value[0])
            if name is not None:
                return sa.bindparam(f"{name}_in", type_=element.type, expanding=True)
        else:
            name = _name_of(names, value)
            if name is not None:
                return sa.bindparam(name, type_=element.type)
        if _is_sentinel_like(value):
            left.append(value)
        return None

    renamed: Any = visitors.replacement_traverse(cast(Any, statement), {}, rename)
    return _UNCACHEABLE if left else renamed


def _name_of(names: dict[tuple[type, Any], str], value: Any) -> str | None:
    try:
        return names.get((type(value), value))
    except TypeError:  # unhashable
        return None


def summary_statement(
    query: SearchQuery, *, actor: Actor, dialect: str, now: dt.datetime, typo: bool, build: Build
) -> sa.Executable:
    """The statement ``build`` gives for ``query``'s shape, built once per shape (and dialect,
    actor's role and country, typo tolerance), to be run with ``bind_values(query, now)``; built
    afresh with the real values when the template left a value it could not name."""
    key = (dialect, actor.role, actor.country_code, template_query(query), typo)
    plan = _PLANS.get(key)
    if plan is None:
        plan = _PLANS[key] = parametrised(build(key[3], actor, dialect, _NOW, typo))
        if len(_PLANS) > _MAX_PLANS:
            del _PLANS[next(iter(_PLANS))]
    if plan is _UNCACHEABLE:
        return build(query, actor, dialect, now, typo)
    return plan
