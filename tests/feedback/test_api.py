"""``GET /api/v1/cases/<id>/feedback``: the case's feedback answers, to whoever reads the case,
audited; another office's staff and partners never see them."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.extensions import db
from reintegration_hub.feedback import services
from tests.deliveries.helpers import build_world, case_manager_in
from tests.factories import bearer
from tests.feedback.helpers import delivered


def test_the_case_manager_reads_the_answers_and_the_read_is_audited(
    app: Flask, client: FlaskClient
) -> None:
    world = build_world()
    invited = delivered(world)
    services.answer_feedback(invited.request.id, {world.line.id: 2}, "The kit came late.")
    db.session.commit()

    answer = client.get(
        f"/api/v1/cases/{world.case.id}/feedback", headers=bearer(world.case_manager)
    )

    assert answer.status_code == 200
    (found,) = answer.json
    assert found["id"] == invited.request.id
    assert found["delivery_id"] == invited.request.delivery_id
    assert (found["status"], found["comment"]) == ("answered", "The kit came late.")
    assert [(s["plan_line_id"], s["score"]) for s in found["scores"]] == [(world.line.id, 2)]
    assert found["task_id"] is not None  # the low score's follow-up
    assert found["partner"] == world.partner.name
    assert "link" not in found
    assert invited.link.rsplit("/", 1)[1] not in answer.get_data(as_text=True)
    assert db.session.scalar(
        sa.select(sa.func.count()).where(
            AuditEntry.action == "feedback.read", AuditEntry.object_id == str(world.case.id)
        )
    )


def test_another_offices_staff_and_partners_never_see_a_cases_feedback(
    app: Flask, client: FlaskClient
) -> None:
    world = build_world()
    invited = delivered(world)
    services.answer_feedback(invited.request.id, {world.line.id: 5})
    yerevan = case_manager_in("AM", "Yerevan")
    db.session.commit()
    url = f"/api/v1/cases/{world.case.id}/feedback"
    assert client.get(url, headers=bearer(yerevan)).status_code == 404
    assert client.get(url, headers=bearer(world.partner_user)).status_code == 403
    assert (
        client.get(
            f"/api/v1/cases/{world.case.id + 1000}/feedback", headers=bearer(world.admin)
        ).status_code
        == 404
    )
    assert client.get(url, headers=bearer(world.admin)).json[0]["status"] == "answered"
