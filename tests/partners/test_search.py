"""Searching the marketplace: text, filters, eligibility, facets, pages, scope, query count."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from html import unescape
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import sqlalchemy as sa

from partners.eligibility import ReturneeProfile
from partners.models import (
    OptionCapacity,
    OptionStatus,
    SupportCategory,
    SupportOption,
    VettingStatus,
)
from partners.search import SearchQuery, SortOrder, search_options
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from tests.factories import (
    PartnerFactory,
    SupportOptionFactory,
    SupportOptionLocationFactory,
    SupportOptionTextFactory,
    user_with_role,
)
from tests.queries import counted_statements


def option(title: str, description: str = "", **kwargs):
    made = SupportOptionFactory(texts=[], locations=[], **kwargs)
    SupportOptionTextFactory(option=made, title=title, description=description)
    SupportOptionLocationFactory(option=made, city=kwargs.pop("city", "Kutaisi"))
    db.session.refresh(made)
    return made


@pytest.fixture
def counsellor():
    return user_with_role(Role.COUNSELLOR)


@pytest.fixture
def world():
    """Three partners in Georgia and Armenia, options of several kinds."""
    imereti = PartnerFactory(name="Imereti Skills Centre")
    batumi = PartnerFactory(name="Adjara Jobs")
    armenia = PartnerFactory(
        name="Yerevan Start", office__country_code="AM", office__name="IOM Yerevan test"
    )
    tailoring = option(
        "Tailoring course",
        "Three months of sewing and garment making, with a certificate.",
        partner=imereti,
        cost_minor=12000,
        delivery_languages=["ka", "ru"],
        sexes=[],
        capacity_places=10,
        lead_time_days=14,
    )
    SupportOptionTextFactory(
        option=tailoring, language="ka", title="კერვის კურსი", description="კერვა და ტანსაცმელი"
    )
    welding = SupportOptionFactory(
        texts__title="Welding course for men",
        texts__description="Arc welding for construction work.",
        partner=batumi,
        cost_minor=30000,
        sexes=["male"],
        delivery_languages=["ka"],
        lead_time_days=3,
    )
    SupportOptionLocationFactory(option=welding, city="Batumi", region="Adjara")
    housing = SupportOptionFactory(
        texts__title="Rent support",
        texts__description="Six months of rent for a family.",
        partner=imereti,
        category=SupportCategory.HOUSING,
        cost_minor=90000,
        delivery_languages=["ru"],
        capacity_places=2,
    )
    start_up = SupportOptionFactory(
        texts__title="Business start-up grant in kind",
        partner=armenia,
        category=SupportCategory.BUSINESS_START_UP,
        cost_minor=150000,
        delivery_languages=["hy", "ru"],
        locations=[],
    )
    db.session.expire_all()
    return {"tailoring": tailoring, "welding": welding, "housing": housing, "start_up": start_up}


def titles(result) -> list[str]:
    return [hit.option.texts[0].title for hit in result.items]


def ids(result) -> set[int]:
    return {hit.option.id for hit in result.items}


def is_postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


def test_text_finds_by_title_and_by_description_in_another_language(app, world, counsellor):
    by_title = search_options(SearchQuery(text="tailoring"), actor=counsellor)
    assert ids(by_title) == {world["tailoring"].id}
    by_georgian_description = search_options(SearchQuery(text="ტანსაცმელი"), actor=counsellor)
    assert ids(by_georgian_description) == {world["tailoring"].id}
    # shown in the reader's language when there is a text in it
    georgian = search_options(
        SearchQuery(text="tailoring", display_language="ka"), actor=counsellor
    )
    assert georgian.items[0].title == "კერვის კურსი"
    assert by_title.items[0].title == "Tailoring course"


def test_text_tolerates_a_typo_on_postgresql_and_prefixes_on_sqlite(app, world, counsellor):
    if is_postgres():
        result = search_options(SearchQuery(text="Tailorng"), actor=counsellor)
    else:
        result = search_options(SearchQuery(text="Tailo"), actor=counsellor)
    assert ids(result) == {world["tailoring"].id}


def test_typo_tolerance_is_a_fallback_only_when_the_exact_words_find_nothing(
    app, world, counsellor
):
    workshop = option("Tailor workshop", partner=world["tailoring"].partner)
    exact = search_options(SearchQuery(text="tailor"), actor=counsellor)
    if is_postgres():
        # "tailor" is a near miss of "Tailoring course" too, but an exact hit exists
        assert ids(exact) == {workshop.id}
        with counted_statements() as statements:
            misspelt = search_options(SearchQuery(text="Tailorng"), actor=counsellor)
        assert ids(misspelt) == {world["tailoring"].id, workshop.id}
        # the summary (with the page's cards) ran exact, then typo-tolerant, and nothing else
        assert sum("pool" in statement for statement in statements) == 2
        assert len(statements) == 2
    else:  # every word is a prefix on SQLite
        assert ids(exact) == {workshop.id, world["tailoring"].id}


def test_text_that_matches_nothing_or_is_junk_finds_nothing(app, world, counsellor):
    for text in ["astrophysics", '!!("&|', "*"]:
        result = search_options(SearchQuery(text=text), actor=counsellor)
        assert result.total == 0
        assert result.items == []


def test_filters_narrow_the_result(app, world, counsellor):
    def found(**filters) -> set[int]:
        return ids(search_options(SearchQuery(**filters), actor=counsellor))

    everything = {o.id for o in world.values()}
    assert found() == everything
    assert found(country_code="am") == {world["start_up"].id}
    assert found(city="batumi") == {world["welding"].id}
    assert found(region="Adjara") == {world["welding"].id}
    assert found(category=SupportCategory.HOUSING) == {world["housing"].id}
    assert found(max_cost_eur_minor=30000) == {world["tailoring"].id, world["welding"].id}
    assert found(language="ru") == {
        world["tailoring"].id,
        world["housing"].id,
        world["start_up"].id,
    }
    assert found(partner_id=world["housing"].partner_id) == {
        world["tailoring"].id,
        world["housing"].id,
    }
    assert found(language="ka", city="Kutaisi", max_cost_eur_minor=20000) == {world["tailoring"].id}


def test_free_places_count_this_periods_capacity(app, world, counsellor):
    today = now_utc().date()
    db.session.add(
        OptionCapacity(
            option_id=world["housing"].id,
            period_start=today.replace(day=1),
            period_end=today + dt.timedelta(days=1),
            places_total=2,
            places_held=1,
            places_used=1,
        )
    )
    db.session.flush()
    result = search_options(SearchQuery(with_free_places=True), actor=counsellor)
    assert world["housing"].id not in ids(result)
    places = {hit.option.id: hit.free_places for hit in result.items}
    assert places[world["tailoring"].id] == 10  # no row for this period yet: the full capacity
    assert places[world["welding"].id] is None  # unlimited


def test_eligibility_excludes_a_men_only_option_for_a_woman_and_explains(app, world, counsellor):
    woman = ReturneeProfile.of(age=30, sex="female", family_size=3)
    result = search_options(SearchQuery(profile=woman), actor=counsellor)
    assert world["welding"].id not in ids(result)
    assert all(hit.reasons == [] for hit in result.items)

    explained = search_options(SearchQuery(profile=woman, eligible_only=False), actor=counsellor)
    reasons = {hit.option.id: [str(r) for r in hit.reasons or []] for hit in explained.items}
    assert reasons[world["welding"].id] == ["Only for: Male."]
    assert reasons[world["tailoring"].id] == []


def test_facets_count_under_the_other_filters(app, world, counsellor):
    result = search_options(
        SearchQuery(category=SupportCategory.VOCATIONAL_TRAINING, country_code="GE"),
        actor=counsellor,
    )
    assert result.total == 2
    # the category facet ignores the category filter, but not the country filter
    assert {f.value: f.count for f in result.facets["category"]} == {
        "vocational_training": 2,
        "housing": 1,
    }
    countries = {f.value: f.count for f in result.facets["country"]}
    assert countries == {"GE": 2}  # the country facet ignores the country, not the category
    languages = {f.value: f.count for f in result.facets["language"]}
    assert languages == {"ka": 2, "ru": 1}
    partners = {f.label: f.count for f in result.facets["partner"]}
    assert partners == {"Imereti Skills Centre": 1, "Adjara Jobs": 1}

    unfiltered = search_options(SearchQuery(), actor=counsellor)
    assert {f.value: f.count for f in unfiltered.facets["country"]} == {"GE": 3, "AM": 1}
    assert {f.value: f.count for f in unfiltered.facets["language"]} == {
        "ru": 3,
        "ka": 2,
        "hy": 1,
    }


def test_pages_and_totals(app, counsellor):
    for n in range(12):
        SupportOptionFactory(texts__title=f"Course {n:02d}", cost_minor=100 * (12 - n))
    first = search_options(SearchQuery(sort=SortOrder.COST, per_page=5), actor=counsellor)
    assert (first.total, first.pages, len(first.items)) == (12, 3, 5)
    last = search_options(SearchQuery(sort=SortOrder.COST, per_page=5, page=3), actor=counsellor)
    assert len(last.items) == 2
    costs = [hit.option.cost_eur_minor for hit in first.items + last.items]
    assert costs == sorted(costs)
    beyond = search_options(SearchQuery(per_page=5, page=9), actor=counsellor)
    assert beyond.total == 12
    assert beyond.items == []
    huge = search_options(SearchQuery(per_page=10_000), actor=counsellor)
    assert huge.per_page == 100


def test_sort_by_relevance_and_soonest_start(app, world, counsellor):
    soonest = search_options(
        SearchQuery(sort=SortOrder.SOONEST, country_code="GE"), actor=counsellor
    )
    leads = [hit.option.lead_time_days for hit in soonest.items]
    assert leads == sorted(leads)
    assert soonest.items[0].earliest_start == now_utc().date() + dt.timedelta(days=0)
    relevant = search_options(SearchQuery(text="course"), actor=counsellor)
    assert ids(relevant) == {world["tailoring"].id, world["welding"].id}
    assert all(hit.rank is not None for hit in relevant.items)
    ranks = [hit.rank for hit in relevant.items]
    assert ranks == sorted(ranks, reverse=True)


def test_counsellors_never_see_drafts_suspended_partners_or_stale_options(app, world, counsellor):
    draft = SupportOptionFactory(texts__title="Draft course", status=OptionStatus.DRAFT)
    suspended = SupportOptionFactory(
        texts__title="Suspended course",
        partner=PartnerFactory(vetting_status=VettingStatus.SUSPENDED),
    )
    expired_agreement = SupportOptionFactory(
        texts__title="Expired agreement course",
        partner=PartnerFactory(agreement_valid_until=now_utc().date() - dt.timedelta(days=1)),
    )
    long_ago = now_utc() - dt.timedelta(days=400)
    stale = SupportOptionFactory(texts__title="Stale course", last_verified_at=long_ago)
    hidden = {draft.id, suspended.id, expired_agreement.id, stale.id}

    seen = ids(search_options(SearchQuery(text="course", per_page=100), actor=counsellor))
    assert seen == {world["tailoring"].id, world["welding"].id}
    assert not seen & hidden
    admin = user_with_role(Role.ADMIN)  # every published option, to follow up on them
    seen_by_admin = ids(search_options(SearchQuery(text="course", per_page=100), actor=admin))
    assert hidden - seen_by_admin == {draft.id}


def test_case_managers_see_their_countrys_options(app, world):
    case_manager = user_with_role(Role.CASE_MANAGER)  # a Georgian office
    stale = SupportOptionFactory(last_verified_at=now_utc() - dt.timedelta(days=400))
    draft = SupportOptionFactory(status=OptionStatus.DRAFT)
    seen = ids(search_options(SearchQuery(per_page=100), actor=case_manager))
    assert world["start_up"].id not in seen
    assert draft.id not in seen
    assert {world["tailoring"].id, stale.id} <= seen  # they must re-verify it


def test_the_number_of_queries_does_not_grow_with_the_page(app, counsellor):
    for n in range(60):
        made = SupportOptionFactory(texts__title=f"Course {n}", capacity_places=5)
        SupportOptionTextFactory(option=made, language="ka", title=f"კურსი {n}")
        SupportOptionLocationFactory(option=made, city="Zestaponi")
    profile = ReturneeProfile.of(age=30, sex="female")
    counts = []
    for per_page in (5, 50):
        db.session.expire_all()
        with counted_statements() as statements:
            result = search_options(
                SearchQuery(text="course", per_page=per_page, profile=profile, eligible_only=False),
                actor=counsellor,
            )
            for hit in result.items:  # what a page shows must already be loaded
                _ = (hit.option.partner.name, hit.option.locations, hit.title, hit.free_places)
        assert len(result.items) == per_page
        counts.append(len(statements))
    assert counts[0] == counts[1]


def test_a_search_is_one_statement_and_its_cards_hold_what_the_options_hold(app, counsellor):
    welding = SupportOptionFactory(
        texts__title="Welding course",
        texts__description="Arc welding.",
        category=SupportCategory.JOB_PLACEMENT,
        min_age=18,
        sexes=["male"],
        vulnerabilities_required=["disability"],
        max_family_size=6,
        languages_required=["ka"],
        cost_minor=30000,
        currency="GEL",
        cost_eur_minor=10200,
        lead_time_days=5,
        delivery_languages=["ka", "ru"],
        valid_from=now_utc().date() - dt.timedelta(days=3),
        capacity_places=4,
        locations=[],
    )
    SupportOptionTextFactory(option=welding, language="ka", title="შედუღება", description="")
    SupportOptionLocationFactory(option=welding, city="Zugdidi", region="Samegrelo")
    SupportOptionLocationFactory(option=welding, city="Poti", region="")
    db.session.expire_all()
    _ = (counsellor.role, counsellor.country_code)  # the signed-in user is loaded per request
    with counted_statements() as statements:
        result = search_options(SearchQuery(text="welding"), actor=counsellor)
    assert len(statements) == 1  # total, facets, page and cards: nothing loads afterwards

    (hit,) = result.items
    card, option = hit.option, db.session.get(SupportOption, welding.id)
    assert option is not None
    for name in {f.name for f in dataclasses.fields(card)} - {"partner", "texts", "locations"}:
        assert getattr(card, name) == getattr(option, name), name
        assert type(getattr(card, name)) is type(getattr(option, name)), name
    assert (card.partner.id, card.partner.public_id, card.partner.name) == (
        option.partner.id,
        option.partner.public_id,
        option.partner.name,
    )
    assert [(t.language, t.title, t.description) for t in card.texts] == [
        (t.language, t.title, t.description) for t in option.texts
    ]
    assert [(place.city, place.region) for place in card.locations] == [
        ("Zugdidi", "Samegrelo"),
        ("Poti", ""),
    ]
    assert (hit.title, hit.description, hit.text_language) == (
        "Welding course",
        "Arc welding.",
        "en",
    )
    assert hit.free_places == 4
    assert hit.earliest_start == now_utc().date() + dt.timedelta(days=5)  # after valid_from


# --- the page and the API --------------------------------------------------------------------


def test_the_search_page_shows_cards_facets_and_the_verdict(app, world, counsellor, login):
    client = login(counsellor)
    page = client.get(
        "/marketplace/search",
        query_string={"q": "course", "sex": "female", "eligible_only": "0", "age": "30"},
    )
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Tailoring course" in html
    assert "Imereti Skills Centre" in html
    assert "Kutaisi" in html
    assert "10 places this period" in html
    assert "Unlimited" in html  # the welding course has no capacity limit
    assert "Only for: Male." in html
    assert "Fits this returnee." in html
    assert 'data-facet="category"' in html
    assert "2 options found" in html


def test_facet_links_keep_the_other_filters_and_go_back_to_page_one(app, world, counsellor, login):
    client = login(counsellor)
    category = world["tailoring"].category.value
    html = client.get(
        "/marketplace/search",
        query_string=[("q", "course"), ("page", "2"), ("category", category)],
    ).get_data(as_text=True)
    facet = re.search(r'data-facet="country">.*?<a href="([^"]+)"', html, re.S)
    assert facet is not None
    link = urlsplit(unescape(facet[1]))
    assert link.path == "/marketplace/search"
    # the other filters as they were, in their order, the page back to 1, the country chosen
    assert parse_qsl(link.query) == [
        ("q", "course"),
        ("page", "1"),
        ("category", category),
        ("country", "GE"),
    ]
    assert client.get(unescape(facet[1])).status_code == 200
    by_partner = client.get(
        "/marketplace/search",
        query_string={"q": "course", "partner_id": world["tailoring"].partner.id},
    ).get_data(as_text=True)
    any_partner = re.search(r'href="([^"]+)">Any partner<', by_partner)
    assert any_partner is not None  # the way back drops the partner, keeps the words
    assert parse_qsl(urlsplit(unescape(any_partner[1])).query) == [("q", "course"), ("page", "1")]


def test_the_search_page_refuses_bad_filters_and_other_roles(app, world, counsellor, login):
    client = login(counsellor)
    assert client.get("/marketplace/search", query_string={"age": "-3"}).status_code == 422
    partner_user = user_with_role(Role.PARTNER)
    assert login(partner_user).get("/marketplace/search").status_code == 403


def test_the_search_api_answers_with_items_facets_and_reasons(app, world, counsellor, login):
    client = login(counsellor)
    response = client.get(
        "/api/v1/marketplace/search",
        query_string={
            "q": "course",
            "language": "ka",
            "max_cost_eur": "200",
            "sex": "female",
            "family_size": 3,
            "vulnerabilities": ["single_parent"],
        },
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["total"] == 1
    (item,) = body["items"]
    assert item["public_id"] == str(world["tailoring"].public_id)
    assert item["cost_eur_minor"] == 12000
    assert item["free_places"] == 10
    assert item["reasons"] == []
    assert item["partner"]["name"] == "Imereti Skills Centre"
    assert {f["value"]: f["count"] for f in body["facets"]["category"]} == {
        "vocational_training": 1
    }
    bad = client.get("/api/v1/marketplace/search", query_string={"per_page": 1000})
    assert bad.status_code == 422


def test_demo_a_counsellor_finds_a_georgian_course_near_kutaisi_for_a_single_mother(app, login):
    from reintegration_hub.auth.models import User
    from reintegration_hub.demo import data
    from reintegration_hub.demo.marketplace import KUTAISI_COURSE

    data.load()
    counsellor = db.session.scalar(
        sa.select(User).where(User.email == "counsellor.riga@demo.example")
    )
    mother: dict[str, Any] = {
        "sex": "female",
        "age": 31,
        "family_size": 3,
        "vulnerabilities": ["single_parent"],
    }
    page = login(counsellor).get(
        "/marketplace/search",
        query_string={
            "q": "vocational course",
            "category": "vocational_training",
            "language": "ka",
            "city": "Kutaisi",
            **mother,
        },
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html[html.find("<main") :][:3000]
    assert KUTAISI_COURSE.title in html or KUTAISI_COURSE.local_title in html
    card = html[html.find(KUTAISI_COURSE.title) :][:3000]
    places = card[card.find('data-testid="free-places"') :][:80]
    assert ">\n        10 " in places  # "10 places this period", in the counsellor's language
    assert 'class="text-success small mt-2 mb-0" data-testid="verdict"' in card  # it fits
    result = search_options(
        SearchQuery(
            text="vocational course",
            language="ka",
            city="Kutaisi",
            profile=ReturneeProfile.of(**mother),
        ),
        actor=counsellor,
    )
    course = next(hit for hit in result.items if hit.title == KUTAISI_COURSE.title)
    assert course.free_places == 10
    assert (course.option.cost_minor, course.option.currency) == (120000, "GEL")
    assert course.option.cost_eur_minor == 40800
