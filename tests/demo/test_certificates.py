"""Every seeded delivery has its certificate on disk, downloadable like an uploaded one."""

from __future__ import annotations

import hashlib
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from reintegration_hub.auth.models import Office, User
from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.roles import SystemActor
from reintegration_hub.deliveries import certificates
from reintegration_hub.deliveries.models import Delivery
from reintegration_hub.demo import data
from reintegration_hub.demo.certificates import CERTIFICATE
from reintegration_hub.demo.monitoring import load_monitoring
from reintegration_hub.extensions import db
from reintegration_hub.plans.models import Plan, PlanLine


def test_seeded_deliveries_have_their_certificates(app: Flask, login) -> None:
    certificate_dir = Path(app.config["CERTIFICATE_DIR"])
    data.load()
    load_monitoring(actor=SystemActor("demo"))
    db.session.commit()
    assert certificates.certificate_dir() == certificate_dir.resolve()
    assert certificates.detect_certificate_type(CERTIFICATE) == "application/pdf"
    deliveries = db.session.scalars(sa.select(Delivery)).all()
    assert len(deliveries) > 50
    assert len({d.certificate_key for d in deliveries}) == len(deliveries)
    for delivery in deliveries:
        stored = (certificate_dir / delivery.certificate_key).read_bytes()
        assert len(stored) == delivery.certificate_size
        assert hashlib.sha256(stored).hexdigest() == delivery.certificate_sha256
    assert sorted(p.name for p in certificate_dir.iterdir()) == sorted(
        d.certificate_key for d in deliveries
    )
    tbilisi = (
        sa.select(Delivery.id)
        .join(PlanLine, PlanLine.id == Delivery.plan_line_id)
        .join(Plan, Plan.id == PlanLine.plan_id)
        .join(Returnee, Returnee.id == Plan.returnee_id)
        .join(Office, Office.id == Returnee.origin_office_id)
        .where(Office.name == "IOM Tbilisi")
        .order_by(Delivery.id)
        .limit(1)
    )
    delivery_id = db.session.scalar(tbilisi)
    manager = db.session.scalars(
        sa.select(User).where(User.email == "casemanager.tbilisi@demo.example")
    ).one()
    response = login(manager).get(f"/deliveries/{delivery_id}/certificate")
    assert response.status_code == 200
    assert response.data == CERTIFICATE
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == "attachment; filename=handover.pdf"
