"""The partner performance step of ``snapshot_outcomes``, through ``.fn()``."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from partners.models import PartnerPerformance
from reintegration_hub.extensions import db
from tests.monitoring.performance_world import AS_OF, build_performance_world
from workflows import outcomes, performance


def test_the_step_refreshes_partner_performance_in_its_own_transaction(
    app: Flask, worker_app: Flask
) -> None:
    world = build_performance_world()
    db.session.commit()

    assert performance.refresh_partner_figures.fn(AS_OF) == {"partner performance rows": 3}

    db.session.rollback()  # read what the worker committed
    row = db.session.get(PartnerPerformance, world["a"].id)
    assert row is not None
    assert row.referrals_sent == 7
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PartnerPerformance)) == 3
    assert performance.refresh_partner_figures in outcomes.STEPS
