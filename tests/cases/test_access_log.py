"""Who looked: reads of the case, its plan, visit and survey forms and its referral are audited,
one row each, and the case's supervisors and administrators see them on the case page."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from partners.referrals import referral_token
from reintegration_hub.auth.models import User
from reintegration_hub.cases import access_log, notes
from reintegration_hub.cases.models import NoteKind
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.errors import NotFound, PermissionDenied
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from tests.clock import TODAY
from tests.deliveries.helpers import World, build_world
from tests.factories import UserFactory, bearer
from tests.plans.helpers import other_counsellor


@pytest.fixture
def w(app: Flask) -> World:
    return build_world()


def supervisor_of(w: World) -> User:
    """A counsellor of the case's host office named its supervisor."""
    user: User = UserFactory(role=Role.COUNSELLOR, office=w.host)
    w.host.supervisor_id = user.id
    db.session.flush()
    return user


def reads(action: str) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
    )


def test_a_plan_read_by_the_case_manager_shows_to_the_supervisor_only(w: World, login) -> None:
    supervisor = supervisor_of(w)
    db.session.commit()
    assert login(w.case_manager).get(f"/cases/{w.case.id}/plan").status_code == 200

    (read,) = reads("plan.view")
    assert (read.object_type, read.object_id, read.actor_id) == (
        "Plan",
        str(w.plan.id),
        w.case_manager.id,
    )
    page = login(supervisor).get(f"/cases/{w.case.id}").get_data(as_text=True)
    assert 'data-testid="access-log"' in page
    assert f"<td>{w.case_manager.full_name}</td><td>Opened the plan</td>" in page
    plain = login(w.counsellor).get(f"/cases/{w.case.id}").get_data(as_text=True)
    assert 'data-testid="access-log"' not in plain
    assert "Opened the plan" not in plain
    admin = login(w.admin).get(f"/cases/{w.case.id}").get_data(as_text=True)
    assert f"<td>{w.case_manager.full_name}</td><td>Opened the plan</td>" in admin


def test_the_log_is_refused_to_others_and_another_office_never_finds_the_case(w: World) -> None:
    supervisor_of(w)
    with pytest.raises(PermissionDenied):
        access_log.access_log(w.case.id, actor=w.counsellor)
    with pytest.raises(PermissionDenied):
        access_log.access_log(w.case.id, actor=w.case_manager)  # no supervisor of Tbilisi
    stranger = other_counsellor()
    stranger.office.supervisor_id = stranger.id
    with pytest.raises(NotFound):
        access_log.access_log(w.case.id, actor=stranger)
    w.origin.supervisor_id = w.case_manager.id  # the origin office's supervisor, case shared
    assert access_log.access_log(w.case.id, actor=w.case_manager).total > 0


def test_every_read_writes_one_audit_row_the_log_finds(
    w: World, login, client: FlaskClient, app: Flask
) -> None:
    db.session.commit()
    manager = login(w.case_manager)
    assert manager.get(f"/cases/{w.case.id}").status_code == 200
    assert manager.get(f"/follow-up/cases/{w.case.id}/visit").status_code == 200
    assert manager.get(f"/follow-up/cases/{w.case.id}/survey").status_code == 200
    api = client.get(f"/api/v1/cases/{w.case.id}/plan", headers=bearer(w.case_manager))
    assert api.status_code == 200
    partner = login(w.partner_user)
    assert partner.get(f"/marketplace/referrals/{w.referral.id}").status_code == 200
    link = app.test_client().get(f"/marketplace/referrals/answer/{referral_token(w.referral)}")
    assert link.status_code == 200

    assert [len(reads(a)) for a in ("case.view", "visit.view", "survey.view", "plan.view")] == [
        1,
        1,
        1,
        1,
    ]
    by_partner, by_link = reads("referral.view")
    assert (by_partner.object_type, by_partner.object_id, by_partner.actor_id) == (
        "Referral",
        str(w.referral.id),
        w.partner_user.id,
    )
    assert by_link.actor_label == "system:referral-link"
    log = access_log.access_log(w.case.id, actor=w.admin, page_size=100)
    actions = [line.action for line in log.items]
    for action in ("case.view", "visit.view", "survey.view", "plan.view", "referral.view"):
        assert action in actions
    assert actions.count("referral.view") == 2
    assert log.items[0].who == "system:referral-link"  # newest first


def test_changes_of_the_case_and_its_notes_are_in_the_log_and_it_is_paged(w: World) -> None:
    for number in range(3):
        notes.add_note(
            w.case.id,
            notes.NoteInput(kind=NoteKind.OTHER, noted_on=TODAY, text=f"Note {number}"),
            actor=w.counsellor,
        )
    other = build_world()  # another case: its rows are not this case's
    notes.add_note(
        other.case.id,
        notes.NoteInput(kind=NoteKind.OTHER, noted_on=TODAY, text="Elsewhere"),
        actor=other.counsellor,
    )

    first = access_log.access_log(w.case.id, actor=w.admin, page_size=2)
    everything = access_log.access_log(w.case.id, actor=w.admin, page_size=100)
    assert [line.action for line in everything.items].count("case_note.add") == 3
    assert "case.register" in [line.action for line in everything.items]
    assert "case.consent" in [line.action for line in everything.items]
    assert first.total == everything.total
    assert len(first.items) == 2
    assert first.pages == -(-everything.total // 2)
