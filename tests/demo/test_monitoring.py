"""The demo's programme history gives the dashboard something real to show."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from partners.models import PartnerPerformance, SupportCategory
from reintegration_hub.auth.models import User
from reintegration_hub.cases.models import CaseStatus, Returnee
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.roles import SystemActor
from reintegration_hub.demo import data
from reintegration_hub.demo.monitoring import (
    FEEDBACK_WAITING,
    GRANT_CASES,
    RECENT_CASES,
    load_monitoring,
)
from reintegration_hub.extensions import db
from reintegration_hub.feedback.models import FeedbackRequest
from reintegration_hub.followups.models import OPEN_STATUSES, Milestone
from reintegration_hub.followups.sweep import sweep
from reintegration_hub.monitoring.dashboard import dashboard
from reintegration_hub.monitoring.filters import DashboardFilters
from reintegration_hub.monitoring.outcomes import outcomes
from reintegration_hub.monitoring.snapshot import latest_snapshot
from reintegration_hub.programmes.models import TargetIndicator
from tests.database import empty_database


def test_demo_history_fills_every_part_of_the_dashboard(app: Flask) -> None:
    data.load()
    db.session.commit()
    made = load_monitoring(actor=SystemActor("demo"))
    db.session.commit()
    assert made["returnees"] == GRANT_CASES + RECENT_CASES
    manager = db.session.scalars(sa.select(User).where(User.email == "manager@demo.example")).one()
    board = dashboard(DashboardFilters(), actor=manager)
    (grant,) = board.grants
    targets = {t.indicator: (t.target, t.actual) for t in grant.targets}
    assert [targets[i][0] for i in (TargetIndicator.RETURNS, TargetIndicator.REINTEGRATION)] == [
        280,
        140,
    ]
    assert targets[TargetIndicator.SHORT_STAYS][0] == 56
    assert all(actual > 0 for _target, actual in targets.values())
    assert 0 < grant.delivered_minor <= grant.committed_minor < grant.budget_minor
    assert [s.share_bp for s in grant.sources] == [7500, 2500]
    overdue = {o.office: o.overdue for o in board.milestones}
    assert max(overdue, key=overdue.__getitem__) == "IOM Yerevan"
    assert board.outcomes.taken_at is not None  # the snapshot is taken
    closures = {b.key for b in board.outcomes.closures}
    assert "completed" in closures
    georgia = outcomes(
        DashboardFilters(return_country_code="GE", category=SupportCategory.BUSINESS_START_UP),
        actor=manager,
    )
    assert len(georgia.by_partner) >= 2
    best, *_rest, worst = georgia.by_partner
    assert best.label == "Kutaisi Small Business Incubator"
    assert best.composite - worst.composite > 0.1


@pytest.mark.commits  # loads the demo twice, into an emptied database each time
def test_demo_history_is_the_same_every_time(make_app) -> None:
    figures = []
    for _ in range(2):
        app = make_app()
        with app.app_context():
            data.load()
            load_monitoring(actor=SystemActor("demo"))
            db.session.commit()
            figures.append(
                db.session.execute(
                    sa.select(Returnee.case_number, Returnee.status, Returnee.departed_on)
                    .where(Returnee.grant_id.is_not(None))
                    .order_by(Returnee.case_number)
                ).all()
            )
            db.session.remove()
            empty_database(db.engine)
    assert figures[0] == figures[1]


def test_flask_demo_load_brings_the_history_and_a_snapshot_command_refreshes_it(
    app: Flask, runner
) -> None:
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    assert f"{GRANT_CASES + RECENT_CASES} cases of programme history" in result.output
    result = runner.invoke(args=["monitoring", "snapshot", "--as-of", "2026-01-31"])
    assert result.exit_code == 0, result.output
    assert "as of 2026-01-31" in result.output
    snapshot = latest_snapshot()
    assert snapshot is not None
    assert snapshot.as_of.isoformat() == "2026-01-31"


def test_demo_history_leaves_no_old_work_open(app: Flask) -> None:
    """Closed cases and ended windows hold no open milestone: the history is what the sweep
    leaves, so a sweep on the day of loading has nothing to close or cancel."""
    data.load()
    db.session.commit()
    load_monitoring(actor=SystemActor("demo"))
    db.session.commit()
    open_of_closed = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Milestone)
        .join(Returnee, Returnee.id == Milestone.returnee_id)
        .where(Returnee.status == CaseStatus.CLOSED, Milestone.status.in_(OPEN_STATUSES))
    )

    counts = sweep(now_utc().date())

    assert open_of_closed == 0
    assert (counts.closed_windows, counts.cancelled) == (0, 0)


def test_demo_feedback_fills_the_satisfaction_figures_and_opens_one_low_score_task(
    app: Flask,
) -> None:
    data.load()
    db.session.commit()
    made = load_monitoring(actor=SystemActor("demo"))
    db.session.commit()
    assert made["feedback_answers"] == made["feedback_requests"] - FEEDBACK_WAITING > 5
    manager = db.session.scalars(sa.select(User).where(User.email == "manager@demo.example")).one()
    found = dashboard(DashboardFilters(), actor=manager).satisfaction
    assert len(found.by_partner) >= 3
    assert len(found.by_category) >= 2
    assert len(found.by_country) >= 3
    assert sum(row.low for row in found.by_country) == 1
    rated = db.session.scalars(
        sa.select(PartnerPerformance).where(PartnerPerformance.satisfaction.is_not(None))
    ).all()
    assert len(rated) >= 3
    assert sum(p.feedback_answers for p in rated) == made["feedback_answers"]
    (low,) = db.session.scalars(
        sa.select(FeedbackRequest).where(FeedbackRequest.task_id.is_not(None))
    ).all()
    assert low.returnee.return_country_code == "GE"
    assert low.comment
    assert low.task is not None
    assert low.task.status in OPEN_STATUSES
    tbilisi = db.session.scalars(
        sa.select(User).where(User.email == "casemanager.tbilisi@demo.example")
    ).one()
    assert low.task.office_id == tbilisi.office_id
