"""Every data label a page shows is in the reader's language. On the demo world, read in
Russian by each role, no page shows a milestone name or a score band as it is stored (the
default template's English names, the scoring version's band keys), nor a status as its key."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from reintegration_hub.auth.models import User
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.roles import SystemActor
from reintegration_hub.demo import data
from reintegration_hub.demo.monitoring import load_monitoring
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import Milestone, MilestoneStatus, ScoringVersion
from reintegration_hub.followups.sweep import sweep
from reintegration_hub.plans.models import Plan


class _Text(HTMLParser):
    """The text a reader sees: every text node outside scripts and styles, stripped."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self._hidden += tag in {"script", "style"}

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in {"script", "style"}

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.nodes.append(" ".join(data.split()))


def shown_text(client: FlaskClient, path: str) -> list[str]:
    answer = client.get(path)
    assert answer.status_code == 200, path
    parser = _Text()
    parser.feed(answer.data.decode())
    return parser.nodes


def _user(email: str) -> User:
    return db.session.scalars(sa.select(User).where(User.email == email)).one()


@pytest.fixture
def demo(app: Flask) -> None:
    data.load()
    db.session.commit()
    load_monitoring(actor=SystemActor("demo"))  # surveys and their bands for the dashboard
    db.session.commit()
    sweep(now_utc().date())  # milestones due and overdue, as the flows leave them


def test_no_page_shows_a_stored_label_to_a_russian_reader(demo: None, login) -> None:
    names = set(db.session.scalars(sa.select(Milestone.name).distinct()))
    bands = {
        name
        for version in db.session.scalars(sa.select(ScoringVersion))
        for name, _ in version.bands
    }
    keys = {status.value for status in MilestoneStatus}
    assert {"Arrival confirmed", "Sustainability survey"} <= names  # the default template's
    open_one = db.session.scalars(
        sa.select(Milestone).where(Milestone.status == MilestoneStatus.OVERDUE).limit(1)
    ).one()
    plan = db.session.scalars(sa.select(Plan).where(Plan.returnee_id == open_one.returnee_id)).one()
    pages = {
        "casemanager.tbilisi@demo.example": [
            "/",
            "/follow-up/",
            f"/follow-up/milestones/{open_one.id}",
            f"/cases/{plan.returnee_id}/plan",
        ],
        "counsellor.riga@demo.example": ["/", "/follow-up/"],
        "manager@demo.example": ["/", "/monitoring/"],
    }
    seen = 0
    for email, paths in pages.items():
        reader = _user(email)
        reader.preferred_language = "ru"
        client = login(reader)
        for path in paths:
            for node in shown_text(client, path):
                seen += 1
                stored = [name for name in names if name in node]
                assert not stored, (email, path, node)
                assert node not in bands | keys, (email, path, node)
                assert not any(f"({band})" in node for band in bands), (email, path, node)
    assert seen > 500  # the pages were read
