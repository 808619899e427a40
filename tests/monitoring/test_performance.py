"""Partner performance on hand-made referrals, deliveries and surveys: every expected figure
is worked out by hand in the comments."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from partners.models import Partner, PartnerPerformance
from reintegration_hub.extensions import db
from reintegration_hub.monitoring.performance import refresh_partner_performance
from tests.monitoring import casework as w
from tests.monitoring.performance_world import AS_OF, D, build_performance_world


def test_partner_performance_figures_match_the_hand_computed_ones(app: Flask) -> None:
    world = build_performance_world()

    assert refresh_partner_performance(AS_OF) == 3
    db.session.commit()

    a = db.session.get(PartnerPerformance, world["a"].id)
    assert a is not None
    assert a.as_of == AS_OF
    assert (a.referrals_sent, a.referrals_decided, a.referrals_accepted) == (7, 6, 4)
    assert a.acceptance_rate == pytest.approx(4 / 6)
    assert a.median_hours_to_accept == pytest.approx(27)  # 12, 24 | 30, 48
    assert a.lines_delivered == 2
    assert a.median_days_to_deliver == pytest.approx(226)  # (59 + 393) / 2
    assert (a.lines_due_within_year, a.lines_delivered_within_year) == (3, 1)
    assert a.delivered_within_year_share == pytest.approx(1 / 3)
    assert a.returnees_surveyed == 2
    assert a.economic == pytest.approx(0.65)
    assert a.social == pytest.approx(0.65)
    assert a.psychosocial == pytest.approx(0.35)
    assert a.composite == pytest.approx(0.55)

    b = db.session.get(PartnerPerformance, world["b"].id)
    assert b is not None
    assert (b.referrals_sent, b.referrals_decided, b.referrals_accepted) == (1, 1, 1)
    assert b.acceptance_rate == pytest.approx(1)
    assert b.median_hours_to_accept == pytest.approx(2)
    assert b.median_days_to_deliver == pytest.approx(30)
    assert b.delivered_within_year_share == pytest.approx(1)
    assert b.composite == pytest.approx(0.9)

    c = db.session.get(PartnerPerformance, world["c"].id)
    assert c is not None
    assert (c.referrals_sent, c.lines_delivered, c.returnees_surveyed) == (0, 0, 0)
    assert c.acceptance_rate is None
    assert c.median_hours_to_accept is None
    assert c.delivered_within_year_share is None
    assert c.composite is None


def test_refresh_replaces_the_previous_figures(app: Flask) -> None:
    world = build_performance_world()
    refresh_partner_performance(D(2025, 1, 31))  # only referral 1, accepted, not yet delivered
    db.session.commit()
    early = db.session.get(PartnerPerformance, world["a"].id)
    assert early is not None
    assert (early.referrals_sent, early.referrals_accepted, early.lines_delivered) == (1, 1, 0)
    assert early.composite is None

    refresh_partner_performance(AS_OF)
    db.session.commit()
    db.session.expire_all()
    assert db.session.query(PartnerPerformance).count() == db.session.query(Partner).count()
    later = db.session.get(PartnerPerformance, world["a"].id)
    assert later is not None
    assert later.referrals_sent == 7
    assert later.as_of == AS_OF


def test_marketplace_sorts_by_best_outcomes_with_partners_without_figures_last(app: Flask) -> None:
    from partners.models import SupportCategory
    from partners.search import SearchQuery, SortOrder, search_options

    world = build_performance_world()
    other = w.partner_with_option(world["where"], "Tbilisi Jobs", SupportCategory.JOB_PLACEMENT)
    refresh_partner_performance(AS_OF)
    db.session.commit()
    counsellor = world["where"].riga_counsellor

    def partners_in_order(sort: SortOrder) -> list[str]:
        found = search_options(
            SearchQuery(category=SupportCategory.BUSINESS_START_UP, country_code="GE", sort=sort),
            actor=counsellor,
        )
        return [hit.option.partner.name for hit in found.items]

    # composite: Batumi 0.9, Kutaisi 0.55, Poti none; the job placement partner is filtered out
    assert partners_in_order(SortOrder.BEST_OUTCOMES) == [
        "Batumi Start",
        "Kutaisi Business Hub",
        "Poti Idle",
    ]
    # acceptance: Batumi 1.0, Kutaisi 4/6, Poti none
    assert partners_in_order(SortOrder.ACCEPTANCE) == [
        "Batumi Start",
        "Kutaisi Business Hub",
        "Poti Idle",
    ]
    assert other[0].name not in partners_in_order(SortOrder.RELEVANCE)


def test_partner_page_shows_the_figures_and_when_they_were_computed(app: Flask, login: Any) -> None:
    world = build_performance_world()
    client = login(world["where"].programme_manager)
    before = client.get(f"/marketplace/partners/{world['a'].id}")
    assert before.status_code == 200
    assert b"No performance figures yet" in before.data

    refresh_partner_performance(AS_OF)
    db.session.commit()
    page = client.get(f"/marketplace/partners/{world['a'].id}").get_data(as_text=True)
    assert 'data-testid="partner-performance"' in page
    assert "67%" in page  # 4 of 6
    assert "4 of 6" in page
    assert "1 of 3 lines" in page
    assert "0.55" in page
    assert "Jun 30, 2026" in page  # as of


def test_search_page_sorted_by_outcomes_shows_each_partners_record(app: Flask, login: Any) -> None:
    world = build_performance_world()
    refresh_partner_performance(AS_OF)
    db.session.commit()
    client = login(world["where"].riga_counsellor)
    page = client.get(
        "/marketplace/search?category=business_start_up&country=GE&sort=outcomes"
    ).get_data(as_text=True)
    cards = page[page.index("<article") :]  # the partner facet lists them by name too
    assert cards.index("Batumi Start") < cards.index("Kutaisi Business Hub") < cards.index("Poti")
    assert "outcome score 0.90" in page
    assert "accepts 67% of referrals" in page
    plain = client.get("/marketplace/search?category=business_start_up&country=GE")
    assert 'data-testid="partner-record"' not in plain.get_data(as_text=True)
