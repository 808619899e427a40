"""The demo marketplace loads through the services and has the Kutaisi course."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from partners import access, capacity, services
from partners.models import OptionStatus, Partner
from reintegration_hub.auth.models import User
from reintegration_hub.demo import data
from reintegration_hub.extensions import db
from tests.demo.helpers import kutaisi_course


def user(email: str) -> User:
    return db.session.scalars(sa.select(User).where(User.email == email)).one()


def test_demo_marketplace_has_the_kutaisi_course_for_a_single_mother(app: Flask) -> None:
    data.load()
    db.session.commit()
    course = kutaisi_course()
    assert course is not None
    assert course.status == OptionStatus.PUBLISHED
    assert course.delivery_languages == ["ka"]
    assert course.currency == "GEL"
    assert "single_parent" in course.vulnerabilities_served
    assert course.max_family_size is None or course.max_family_size >= 4
    assert course.sexes in ([], ["female"])
    assert {t.language for t in course.texts} == {"en", "ka"}
    assert (capacity.free_places(course.id) or 0) > 0
    assert 0 < course.cost_eur_minor < course.cost_minor
    counsellor = user("counsellor.riga@demo.example")
    assert course.id in {o.id for o in services.list_options(actor=counsellor)}
    tbilisi, yerevan = (
        user("casemanager.tbilisi@demo.example"),
        user("casemanager.yerevan@demo.example"),
    )
    assert access.can_manage(course, tbilisi)
    assert not access.can_manage(course, yerevan)
    countries = set(db.session.scalars(sa.select(Partner.country_code).distinct()))
    assert countries == {"GE", "AM", "AZ", "TJ", "IQ", "VN", "MN"}
