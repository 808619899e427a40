"""Partner performance on hand-made referrals, deliveries and surveys: every expected figure
is worked out by hand in the comments."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask

from partners.models import Partner, PartnerPerformance, ReferralStatus
from reintegration_hub.extensions import db
from reintegration_hub.monitoring.performance import refresh_partner_performance
from tests.monitoring import casework as w

AS_OF = dt.date(2026, 6, 30)
D = dt.date


def build_performance_world() -> dict[str, Any]:
    """Partner A (seven referrals by the as-of day, one after), B (one), C (none)."""
    where = w.offices()
    a, option_a = w.partner_with_option(where, "Kutaisi Business Hub")
    b, option_b = w.partner_with_option(where, "Batumi Start")
    c, _ = w.partner_with_option(where, "Poti Idle")

    def line(departed: dt.date | None, approved: dt.date, option: Any, **referral: Any) -> Any:
        returnee = w.case(where, where.riga, departed_on=departed)
        return returnee, w.referred_line(w.plan(returnee, approved), option, **referral)

    # 1: accepted after 24 h, delivered 59 days after sending, 55 days after the return
    case1, line1 = line(
        D(2025, 1, 10), D(2025, 1, 5), option_a,
        sent=w.at(D(2025, 1, 6)), answered=w.at(D(2025, 1, 7)),
    )  # fmt: skip
    w.deliver(line1, D(2025, 3, 6))
    # 2: accepted after 12 h, delivered 393 days after sending and after the return (too late)
    case2, line2 = line(
        D(2025, 2, 1), D(2025, 1, 20), option_a,
        sent=w.at(D(2025, 2, 1)), answered=w.at(D(2025, 2, 1), 21),
    )  # fmt: skip
    w.deliver(line2, D(2026, 3, 1))
    # 3: accepted after 48 h, never delivered; returned (approval day, no departure) more than
    # a year before the as-of day: due, not delivered
    case3, _ = line(
        None, D(2025, 3, 1), option_a,
        sent=w.at(D(2025, 3, 1)), answered=w.at(D(2025, 3, 3)),
    )  # fmt: skip
    # 4: accepted after 30 h, not delivered, the year after the return not over: not due
    line(
        D(2026, 5, 1), D(2026, 4, 20), option_a,
        sent=w.at(D(2026, 5, 2)), answered=w.at(D(2026, 5, 3), 15),
    )  # fmt: skip
    # 5: declined; 6: expired; 7: still open (not decided)
    line(None, D(2026, 4, 1), option_a, sent=w.at(D(2026, 4, 1)), answered=w.at(D(2026, 4, 2)),
         declined=True)  # fmt: skip
    line(None, D(2026, 4, 10), option_a, sent=w.at(D(2026, 4, 10)), status=ReferralStatus.EXPIRED)
    line(None, D(2026, 6, 29), option_a, sent=w.at(D(2026, 6, 29)))
    # 8: after the as-of day: not counted at all
    late_case, late_line = line(
        None, D(2026, 7, 1), option_a, sent=w.at(D(2026, 7, 5)), answered=w.at(D(2026, 7, 5), 10)
    )
    w.deliver(late_line, D(2026, 7, 20))
    # surveys: case 1's latest by the as-of day is the second; the one after it is ignored
    w.survey(case1, D(2025, 6, 1), 0.2, 0.2, 0.2)
    w.survey(case1, D(2026, 1, 10), 0.8, 0.6, 0.4)  # composite 0.6
    w.survey(case1, D(2026, 8, 1), 0.0, 0.0, 0.0)
    w.survey(case2, D(2026, 3, 15), 0.5, 0.7, 0.3)  # composite 0.5
    w.survey(case3, D(2026, 3, 15), 1.0, 1.0, 1.0)  # nothing delivered to case 3: not counted
    w.survey(late_case, D(2026, 6, 1), 0.1, 0.1, 0.1)  # delivered after the as-of day

    # partner B: accepted after 2 h, delivered 30 days later, composite 0.9
    case8, line8 = line(
        D(2025, 6, 1), D(2025, 5, 20), option_b,
        sent=w.at(D(2025, 6, 1)), answered=w.at(D(2025, 6, 1), 11),
    )  # fmt: skip
    w.deliver(line8, D(2025, 7, 1))
    w.survey(case8, D(2026, 1, 1), 0.9, 0.9, 0.9)
    db.session.commit()
    return {"where": where, "a": a, "b": b, "c": c, "option_a": option_a, "option_b": option_b}


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
