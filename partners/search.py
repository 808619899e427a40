"""Searching the marketplace: free text, filters, eligibility, facets, sorting and pages.

One service over both databases. The text match is the main dialect branch
(``partners.search_text``): PostgreSQL uses the ``simple`` text-search configuration on the
stored ``fts_document`` vector of migration 0002 (GIN-indexed); SQLite uses the FTS5 table of
the same migration, with every word matched as a prefix. Everything else (scope, filters,
eligibility, facets, counting and the page) is the same set-based SQL on both, but for the
names of the JSON functions. A search's statement is built once per shape (which filters are
set, the sort, ...) and run with the search's own values (``partners.search_cache``).

Typo tolerance is a fallback, as search engines do it: on PostgreSQL, only when the exact
full-text match finds no option at all under the filters is the search run again with trigram
word similarity on titles added to the match (``<%``), so a misspelt word still finds its
option. Trigram matching is the expensive part of a search (it is computed for every pool
option the vector did not match), and a search whose words match needs none of it. The
threshold is zero: any exact hit means the words were spelt as some option spells them, and
mixing in near-misses would only rank noise below real hits.

The plan: the indexed filters (scope, country, category, cost, ...) run first and the text is a
semi-join on the options they keep, never a ranking of every matching text. One statement
computes a materialised pool (the options passing every filter but at most one facet filter,
with each facet filter's verdict as a flag) and from it the total, the four facets and the
page; only the page's candidates are ranked, and each page row carries its option's card (the
columns a result shows, partner, texts, locations and free places this period) as one JSON
value. So a search is one statement whatever the page size, two when the typo fallback runs.
Hits hold an :class:`OptionCard`, a plain snapshot, rather than ORM entities: loading a page of
entities with their collections cost more Python than the statement's SQL.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from typing import Any, cast

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from partners.eligibility import (
    Ineligibility,
    ReturneeProfile,
    eligible_condition,
    evaluate,
    json_list_contains_any,
)
from partners.models import (
    CostBasis,
    DeliveryMode,
    OptionCapacity,
    OptionStatus,
    Partner,
    PartnerPerformance,
    SupportCategory,
    SupportOption,
    SupportOptionLocation,
    SupportOptionText,
)
from partners.search_cache import bind_values, summary_statement
from partners.search_text import fts5_query, text_match
from partners.services import listed_for
from reintegration_hub.core import i18n
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.paging import Page, page_length, page_number
from reintegration_hub.core.roles import Actor
from reintegration_hub.extensions import db

FACETS = ("category", "country", "language", "partner")


class SortOrder(enum.StrEnum):
    RELEVANCE = "relevance"
    COST = "cost"
    SOONEST = "soonest"
    BEST_OUTCOMES = "outcomes"  # the partner's outcome score (``PartnerPerformance.composite``)
    ACCEPTANCE = "acceptance"  # the partner's referral acceptance rate


#: Sorts by a partner's pre-aggregated performance: the pool joins ``partner_performance``.
PERFORMANCE_SORTS = {
    SortOrder.BEST_OUTCOMES: "composite",
    SortOrder.ACCEPTANCE: "acceptance_rate",
}

SORT_LABELS = {
    SortOrder.RELEVANCE: _l("Best match"),
    SortOrder.COST: _l("Lowest cost"),
    SortOrder.SOONEST: _l("Soonest start"),
    SortOrder.BEST_OUTCOMES: _l("Best outcomes"),
    SortOrder.ACCEPTANCE: _l("Acceptance rate"),
}
PROFILE_PARAMS = ("age", "sex", "vulnerabilities", "family_size", "languages")


@dataclass(frozen=True)
class SearchQuery:
    """What a counsellor asks for. Empty fields do not filter."""

    text: str = ""
    country_code: str | None = None
    region: str | None = None
    city: str | None = None
    category: SupportCategory | None = None
    max_cost_eur_minor: int | None = None  # cost ceiling, euro cents
    language: str | None = None  # a delivery language, ISO 639-1
    with_free_places: bool = False  # unlimited, or places left this period
    partner_id: int | None = None
    profile: ReturneeProfile | None = None
    eligible_only: bool = True  # with a profile: drop options that do not fit (else explain)
    sort: SortOrder = SortOrder.RELEVANCE
    page: int = 1
    per_page: int = 20
    display_language: str = "en"  # which text to show (falls back to English)


@dataclass(frozen=True)
class FacetCount:
    value: str
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class PartnerCard:
    """The partner of an :class:`OptionCard`."""

    id: int
    public_id: uuid.UUID
    name: str


@dataclass(frozen=True, slots=True)
class OptionText:
    """One of an :class:`OptionCard`'s texts (a ``SupportOptionText``'s shown columns)."""

    language: str
    title: str
    description: str


@dataclass(frozen=True, slots=True)
class OptionPlace:
    """One of an :class:`OptionCard`'s locations."""

    city: str
    region: str


@dataclass(frozen=True, slots=True)
class OptionCard:
    """What a result card (``templates/partners/search_card.html``), the API's
    ``SearchHitSchema`` and ``eligibility.evaluate`` read of a ``SupportOption``, under the same
    names and types: a snapshot taken by the search's statement, outside the session, that never
    loads anything. Anything else about the option: load the ``SupportOption`` by ``id``."""

    id: int
    public_id: uuid.UUID
    partner_id: int
    country_code: str
    category: SupportCategory
    status: OptionStatus
    min_age: int | None
    max_age: int | None
    sexes: list[str]
    vulnerabilities_required: list[str]
    min_family_size: int | None
    max_family_size: int | None
    languages_required: list[str]
    cost_minor: int
    currency: str
    cost_basis: CostBasis
    delivery_mode: DeliveryMode
    cost_eur_minor: int
    lead_time_days: int
    delivery_languages: list[str]
    valid_from: dt.date | None
    capacity_places: int | None
    partner: PartnerCard
    texts: tuple[OptionText, ...]  # ordered by language
    locations: tuple[OptionPlace, ...]  # ordered by id

    def text(self, language: str) -> OptionText | None:
        """As ``SupportOption.text``: in ``language``, else English, else any there is."""
        by_language = {t.language: t for t in self.texts}
        return by_language.get(language) or by_language.get("en") or next(iter(self.texts), None)


@dataclass(frozen=True)
class SearchHit:
    option: OptionCard
    title: str
    description: str
    text_language: str
    free_places: int | None  # None: unlimited
    reasons: list[Ineligibility] | None  # None: no profile given; []: fits
    rank: float | None

    @property
    def earliest_start(self) -> dt.date:
        """The first day the support could start if referred today."""
        start = now_utc().date() + dt.timedelta(days=self.option.lead_time_days)
        valid_from = self.option.valid_from
        return max(start, valid_from) if valid_from else start


@dataclass(frozen=True)
class SearchResult(Page[SearchHit]):
    """A page of hits (of the query's page and page length) with the query and its facets."""

    query: SearchQuery = field(default_factory=SearchQuery)
    facets: dict[str, list[FacetCount]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        query: SearchQuery,
        hits: list[SearchHit],
        total: int,
        facets: dict[str, list[FacetCount]],
    ) -> SearchResult:
        return cls(hits, total, query.page, query.per_page, query, facets)


def query_from_params(params: Mapping[str, Any], *, display_language: str = "en") -> SearchQuery:
    """A query from the parameters the page and the API share (already validated by them).

    ``max_cost_eur`` is in euros; a profile is built when any of ``PROFILE_PARAMS`` is given.
    """

    def given(name: str) -> Any:
        value = params.get(name)
        return None if value in (None, "", [], ()) else value

    profile = None
    if any(given(name) is not None for name in PROFILE_PARAMS):
        profile = ReturneeProfile.of(
            age=given("age"),
            sex=given("sex"),
            vulnerabilities=[str(v) for v in given("vulnerabilities") or ()],
            family_size=given("family_size"),
            languages=[str(v) for v in given("languages") or ()],
        )
    max_cost = given("max_cost_eur")
    return SearchQuery(
        text=given("q") or "",
        country_code=given("country"),
        region=given("region"),
        city=given("city"),
        category=SupportCategory(given("category")) if given("category") else None,
        max_cost_eur_minor=(
            int(Decimal(str(max_cost)).scaleb(2)) if max_cost is not None else None
        ),
        language=given("language"),
        with_free_places=bool(given("free_places")),
        partner_id=given("partner_id"),
        profile=profile,
        eligible_only=params.get("eligible_only", True) not in (False, "0", "no", "false"),
        sort=SortOrder(given("sort") or SortOrder.RELEVANCE),
        page=int(given("page") or 1),
        per_page=int(given("per_page") or 20),
        display_language=display_language,
    )


def _clean(value: str | None) -> str | None:
    return (value or "").replace("\x00", "").strip() or None


def normalise(query: SearchQuery) -> SearchQuery:
    """Clamp the page, trim the strings and upper-case the country."""
    return replace(
        query,
        text=(_clean(query.text) or "")[:200],
        country_code=(_clean(query.country_code) or "").upper() or None,
        region=_clean(query.region),
        city=_clean(query.city),
        language=(_clean(query.language) or "").lower() or None,
        page=page_number(query.page),
        per_page=page_length(query.per_page),
    )


def _current_capacity(today: dt.date | sa.BindParameter[Any]) -> sa.ScalarSelect[Any]:
    C = OptionCapacity
    return (
        sa.select(C.places_total - C.places_held - C.places_used)
        .where(C.option_id == SupportOption.id, C.period_start <= today, C.period_end >= today)
        .order_by(C.period_start.desc())
        .limit(1)
        .scalar_subquery()
    )


def free_places_expression(today: dt.date | sa.BindParameter[Any]) -> sa.ColumnElement[Any]:
    """Places left this period; ``capacity_places`` when the period has no row yet; NULL if
    the option is unlimited."""
    return sa.case(
        (SupportOption.capacity_places.is_(None), sa.null()),
        else_=sa.func.coalesce(_current_capacity(today), SupportOption.capacity_places),
    )


def _filters(query: SearchQuery, today: dt.date) -> dict[str, sa.ColumnElement[bool]]:
    """Each filter under a name, so a facet can count under all the *other* filters."""
    opt, loc = SupportOption, SupportOptionLocation
    filters: dict[str, sa.ColumnElement[bool]] = {
        "valid": sa.or_(opt.valid_until.is_(None), opt.valid_until >= today),
    }
    if query.country_code:
        filters["country"] = opt.country_code == query.country_code
    if query.category:
        filters["category"] = opt.category == query.category
    if query.language:
        filters["language"] = json_list_contains_any(opt.delivery_languages, [query.language])
    if query.partner_id is not None:
        filters["partner"] = opt.partner_id == query.partner_id
    if query.max_cost_eur_minor is not None:
        filters["cost"] = opt.cost_eur_minor <= query.max_cost_eur_minor
    if query.with_free_places:
        filters["places"] = sa.or_(
            opt.capacity_places.is_(None),
            sa.func.coalesce(_current_capacity(today), opt.capacity_places) > 0,
        )
    if query.city:
        filters["city"] = sa.exists().where(
            loc.option_id == opt.id, sa.func.lower(loc.city) == query.city.lower()
        )
    if query.region:
        filters["region"] = sa.or_(
            sa.exists().where(
                loc.option_id == opt.id, sa.func.lower(loc.region) == query.region.lower()
            ),
            json_list_contains_any(opt.service_area, [query.region]),
        )
    if query.profile is not None and query.eligible_only:
        filters["eligible"] = eligible_condition(query.profile)
    return filters


def _order_by(sort: SortOrder, option: Any, rank: Any | None) -> list[Any]:
    """The page order over ``option`` (columns named as ``SupportOption``'s)."""
    if sort == SortOrder.COST:
        return [option.cost_eur_minor, option.id]
    if sort == SortOrder.SOONEST:
        return [
            option.lead_time_days,
            option.valid_from.is_(None).desc(),
            option.valid_from,
            option.id,
        ]
    if sort in PERFORMANCE_SORTS:  # partners without figures last
        return [option.performance.desc().nulls_last(), option.id]
    if rank is not None:
        return [rank.desc(), option.id]
    return [option.last_verified_at.is_(None), option.last_verified_at.desc(), option.id]


def search_options(query: SearchQuery, *, actor: Actor) -> SearchResult:
    """The options listed for ``actor`` that match ``query``: one page, the total and facets.

    Who sees what is ``partners.services.listed_for`` (counsellors: only listed options).

    Facet counts for category, country, delivery language and partner are counted under every
    filter except their own (so a counsellor sees what choosing another value would give).
    """
    query = normalise(query)
    now = now_utc()
    dialect = db.session.get_bind().dialect.name
    if query.text and dialect != "postgresql" and fts5_query(query.text) is None:
        # nothing searchable in the text: nothing matches
        return SearchResult.of(query, [], 0, {name: [] for name in FACETS})
    values = bind_values(query, now)

    def summary(typo: bool) -> tuple[int, dict[str, list[FacetCount]], list[SearchHit]]:
        statement = summary_statement(
            query, actor=actor, dialect=dialect, now=now, typo=typo, build=_summary_statement
        )
        return _summary(statement, values, query)

    total, facets, hits = summary(typo=False)
    if total == 0 and query.text and dialect == "postgresql":
        # typo tolerance as a fallback: only when the exact words find nothing at all
        total, facets, hits = summary(typo=True)
    return SearchResult.of(query, hits, total, facets)


def _summary_statement(
    query: SearchQuery, actor: Actor, dialect: str, now: dt.datetime, typo: bool = False
) -> sa.Executable:
    """The statement of :func:`_summary` for ``query`` (a template's sentinels, or real values)."""
    today = now.date()
    conditions: list[sa.ColumnElement[bool]] = [listed_for(actor, now)]
    ranks = None
    if query.text:
        text = text_match(query.text, dialect, typo=typo)
        assert text is not None  # an unsearchable text returned before
        conditions.append(text[0])
        ranks = text[1]
    filters = _filters(query, today)
    conditions += [condition for name, condition in filters.items() if name not in FACETS]
    facet_filters = {name: filters[name] for name in FACETS if name in filters}
    return _summary_select(query, conditions, facet_filters, ranks, dialect, today)


def _summary_select(
    query: SearchQuery,
    conditions: list[sa.ColumnElement[bool]],
    facet_filters: dict[str, sa.ColumnElement[bool]],
    ranks: Callable[[sa.Select[Any]], sa.Subquery] | None,
    dialect: str,
    today: dt.date,
) -> sa.Executable:
    """The total, every facet and the page's cards in one statement.

    A materialised ``pool`` holds, once, the options that pass the filters no facet drops (scope,
    text, cost, eligibility, ...) and all facet filters but at most one, each facet filter's
    verdict as a flag. The total, each facet and the page then read the pool under the flags
    they keep; only the page's candidates are ranked. Each page row carries its option's
    :func:`_card` (NULL in the other rows). Page bounds are the parameters ``offset`` and
    ``limit``.
    """
    opt = SupportOption
    flags = {name: condition.label(f"in_{name}") for name, condition in facet_filters.items()}

    def all_but(name: str | None) -> sa.ColumnElement[bool]:
        return sa.and_(sa.true(), *(c for other, c in facet_filters.items() if other != name))

    wanted = sa.or_(*(all_but(name) for name in facet_filters)) if facet_filters else sa.true()
    performance: list[sa.ColumnElement[Any]] = []
    source: sa.FromClause = opt.__table__
    if query.sort in PERFORMANCE_SORTS:
        # one primary-key lookup per pool option; other sorts leave the pool as it was
        performance = [
            getattr(PartnerPerformance, PERFORMANCE_SORTS[query.sort]).label("performance")
        ]
        source = sa.outerjoin(
            opt, PartnerPerformance, PartnerPerformance.partner_id == opt.partner_id
        )
    pool = (
        sa.select(
            opt.id,
            opt.category,
            opt.country_code,
            opt.partner_id,
            opt.delivery_languages,
            opt.cost_eur_minor,
            opt.lead_time_days,
            opt.valid_from,
            opt.last_verified_at,
            *performance,
            *flags.values(),
        )
        .select_from(source)
        .where(*conditions, wanted)
        .cte("pool")
        .prefix_with("MATERIALIZED")
    )

    def kept(name: str | None) -> list[sa.ColumnElement[bool]]:
        return [pool.c[f"in_{other}"] for other in flags if other != name]

    def kind(name: str) -> sa.ColumnElement[str]:
        return sa.literal_column(f"'{name}'", sa.String).label("kind")

    # typed NULLs: PostgreSQL resolves a UNION's column types pair by pair
    nothing = [
        sa.cast(sa.null(), sa.Integer).label("option_id"),
        sa.cast(sa.null(), sa.Float).label("rank"),
        sa.cast(sa.null(), sa.JSON).label("card"),
    ]
    no_value = sa.cast(sa.null(), sa.String).label("value")
    no_label = sa.cast(sa.null(), sa.String).label("label")
    candidates: sa.FromClause = pool
    scored = None
    if ranks is not None:
        ranked = ranks(sa.select(pool.c.id).where(*kept(None)))
        candidates = pool.join(ranked, ranked.c.option_id == pool.c.id)
        scored = ranked.c.rank
    order = _order_by(query.sort, pool.c, scored)
    page = (
        sa.select(
            pool.c.id,
            (scored if scored is not None else sa.cast(sa.null(), sa.Float)).label("rank"),
            sa.func.row_number().over(order_by=order).label("position"),
        )
        .select_from(candidates)
        .where(*kept(None))
        .order_by(*order)
        .offset(sa.bindparam("offset", type_=sa.Integer))
        .limit(sa.bindparam("limit", type_=sa.Integer))
        .subquery("page")
    )
    function = sa.func.json_array_elements_text if dialect == "postgresql" else sa.func.json_each
    elements = function(pool.c.delivery_languages).table_valued("value")
    statement: sa.Executable = sa.union_all(
        sa.select(kind("total"), no_value, no_label, sa.func.count(), *nothing)
        .select_from(pool)
        .where(*kept(None)),
        sa.select(kind("category"), pool.c.category, no_label, sa.func.count(), *nothing)
        .where(*kept("category"))
        .group_by(pool.c.category),
        sa.select(kind("country"), pool.c.country_code, no_label, sa.func.count(), *nothing)
        .where(*kept("country"))
        .group_by(pool.c.country_code),
        sa.select(
            kind("partner"), sa.cast(Partner.id, sa.String), Partner.name, sa.func.count(), *nothing
        )
        .select_from(pool)
        .join(Partner, Partner.id == pool.c.partner_id)
        .where(*kept("partner"))
        .group_by(Partner.id, Partner.name),
        sa.select(
            kind("language"),
            elements.c.value,
            no_label,
            sa.func.count(pool.c.id.distinct()),
            *nothing,
        )
        .select_from(pool)
        .join(elements, sa.true())
        .where(*kept("language"))
        .group_by(elements.c.value),
        sa.select(
            kind("page"),
            no_value,
            no_label,
            page.c.position,
            page.c.id,
            page.c.rank,
            _card(today, dialect).label("card"),
        )
        .select_from(page)
        .join(SupportOption, SupportOption.id == page.c.id)
        .join(Partner, Partner.id == SupportOption.partner_id),
    )
    return statement


def _summary(
    statement: sa.Executable, values: dict[str, Any], query: SearchQuery
) -> tuple[int, dict[str, list[FacetCount]], list[SearchHit]]:
    """Run :func:`_summary_select`'s statement: the total, the facets and the page's hits."""
    total = 0
    counted: dict[str, list[tuple[str, str | None, int]]] = {name: [] for name in FACETS}
    page: list[sa.Row[Any]] = []
    for row in db.session.execute(statement, values).all():
        row_kind = row[0]
        if row_kind == "page":
            page.append(row)
        elif row_kind == "total":
            total = int(row[3])
        else:
            counted[row_kind].append((str(row[1]), row[2], int(row[3])))
    facets = {
        name: [
            FacetCount(value, _FACET_LABELS[name](value, label), count)
            for value, label, count in sorted(rows, key=_FACET_ORDER[name])
        ]
        for name, rows in counted.items()
    }
    return total, facets, _hits(page, query)


#: The option's columns a card holds, in ``OptionCard``'s field order.
_OPTION_COLUMNS = tuple(
    getattr(SupportOption, card_field.name)
    for card_field in fields(OptionCard)
    if card_field.name not in ("partner", "texts", "locations")
)
#: How a JSON value of :func:`_card` becomes the field's Python value (the rest are as read).
_FROM_JSON: dict[str, Callable[[Any], Any]] = {
    "public_id": uuid.UUID,
    "category": SupportCategory,
    "status": OptionStatus,
    "cost_basis": CostBasis,
    "delivery_mode": DeliveryMode,
    "valid_from": dt.date.fromisoformat,
}
#: ``_FROM_JSON`` as ``(index in _OPTION_COLUMNS, decode)``.
_DECODERS = tuple(
    (at, _FROM_JSON[column.key])
    for at, column in enumerate(_OPTION_COLUMNS)
    if column.key in _FROM_JSON
)


def _card(today: dt.date, dialect: str) -> sa.ColumnElement[Any]:
    """An option's card as one JSON array (decoded once, where typed columns cost a loader per
    column and row): ``_OPTION_COLUMNS``, the free places, the partner's id, public id and name,
    then its texts ``[[language, title, description], ...]`` and its locations
    ``[[id, city, region], ...]``, in no order."""
    text, place = SupportOptionText, SupportOptionLocation
    if dialect == "postgresql":
        array, aggregate = sa.func.json_build_array, sa.func.json_agg

        def embedded(value: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
            return value

    else:
        array, aggregate = sa.func.json_array, sa.func.json_group_array

        def embedded(value: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
            return sa.func.json(value)  # stored JSON text: embed it as JSON, not as a string

    texts = (
        sa.select(aggregate(array(text.language, text.title, text.description)))
        .where(text.option_id == SupportOption.id)
        .scalar_subquery()
    )
    places = (
        sa.select(aggregate(array(place.id, place.city, place.region)))
        .where(place.option_id == SupportOption.id)
        .scalar_subquery()
    )
    return array(
        *(
            embedded(column) if isinstance(column.type, sa.JSON) else column
            for column in _OPTION_COLUMNS
        ),
        free_places_expression(today),
        Partner.id,
        Partner.public_id,
        Partner.name,
        embedded(texts),
        embedded(places),
        type_=sa.JSON,
    )


def _hits(rows: list[sa.Row[Any]], query: SearchQuery) -> list[SearchHit]:
    """The page's hits from :func:`_summary_select`'s page rows (kind, value, label, position,
    option id, rank, card)."""
    hits = []
    profile = query.profile
    for row in sorted(rows, key=lambda row: row[3]):  # by position
        *columns, free_places, partner_id, partner_public_id, partner_name, texts, places = row[6]
        for at, decode in _DECODERS:
            if columns[at] is not None:
                columns[at] = decode(columns[at])
        fields_in_order: tuple[Any, ...] = (
            *columns,
            PartnerCard(partner_id, uuid.UUID(partner_public_id), partner_name),
            tuple(OptionText(*entry) for entry in sorted(texts or ())),
            tuple(OptionPlace(city, region) for _, city, region in sorted(places or ())),
        )
        card = OptionCard(*fields_in_order)
        text = card.text(query.display_language)
        # ``evaluate`` reads only the eligibility columns, which a card holds under their names
        reasons = evaluate(cast(SupportOption, card), profile) if profile is not None else None
        hits.append(
            SearchHit(
                option=card,
                title=text.title if text else "",
                description=text.description if text else "",
                text_language=text.language if text else "",
                free_places=free_places,
                reasons=reasons,
                rank=float(row[5]) if query.text else None,
            )
        )
    return hits


def _by_count_then_value(row: tuple[str, str | None, int]) -> tuple[int, str]:
    return (-row[2], row[0])


def _by_count_then_id(row: tuple[str, str | None, int]) -> tuple[int, int]:
    return (-row[2], int(row[0]))


_FACET_ORDER: dict[str, Callable[[tuple[str, str | None, int]], Any]] = {
    "category": _by_count_then_value,
    "country": _by_count_then_value,
    "language": _by_count_then_value,
    "partner": _by_count_then_id,
}
_FACET_LABELS: dict[str, Callable[[str, str | None], str]] = {
    "category": lambda value, label: value,
    "country": lambda value, label: i18n.country_name(value),
    "language": lambda value, label: i18n.language_name(value),
    "partner": lambda value, label: str(label),
}
