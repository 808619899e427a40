"""Milestone templates: administrators copy the default for a grant and edit its steps; the
rules (offsets, chains, escalation order) refuse bad steps; every change is audited; plans
approved afterwards follow the new steps and milestones already scheduled stay put."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from reintegration_hub.cases import services as cases
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.errors import Conflict, InvalidInput, PermissionDenied
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from reintegration_hub.followups import scheduling, templates
from reintegration_hub.followups.models import (
    Milestone,
    MilestoneKind,
    MilestoneTemplate,
    Responsible,
)
from reintegration_hub.programmes.models import Grant
from tests.cases.helpers import details
from tests.factories import user_with_role
from tests.followups.helpers import DEPARTURE, approved, by_key
from tests.plans.helpers import World, world


@pytest.fixture
def w(app: object) -> World:
    w = world()
    w.case.departed_on = DEPARTURE
    return w


def a_grant(number: str = "G-7") -> Grant:
    grant = Grant(
        number=number,
        title="National programme",
        start_on=dt.date(2026, 1, 1),
        end_on=dt.date(2027, 12, 31),
        currency="EUR",
        total_budget_minor=10**8,
    )
    db.session.add(grant)
    db.session.flush()
    return grant


STEP = templates.StepInput(
    key="visit_120",
    name="Monitoring visit (4 months)",
    kind=MilestoneKind.MONITORING_VISIT,
    offset_days=30,
    after_step="visit_90",
    responsible=Responsible.CASE_MANAGER,
    reminder_days=7,
    supervisor_after_days=7,
    home_office_after_days=21,
)


def step_of(template: MilestoneTemplate, key: str) -> int:
    return next(step.id for step in template.steps if step.key == key)


def audits(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


def test_a_grant_template_is_a_copy_of_the_default_and_its_plans_follow_it(w: World) -> None:
    admin = user_with_role(Role.ADMIN)
    grant = a_grant()
    w.case.grant_id = grant.id

    template = templates.create_grant_template(grant.id, actor=admin)
    templates.add_step(template.id, STEP, actor=admin)
    plan = approved(w, w.option())

    assert template.grant_id == grant.id
    assert len(template.steps) == 10  # the default's nine, then the new one
    milestones = by_key(plan)
    # chained: 30 days after the 90-day visit
    assert milestones["visit_120"].due_on == DEPARTURE + dt.timedelta(days=120)
    assert milestones["visit_120"].remind_on == DEPARTURE + dt.timedelta(days=113)
    (created,) = audits("milestone_template.create")
    assert created.changes["steps"] == [None, 9]
    with pytest.raises(Conflict):
        templates.create_grant_template(grant.id, actor=admin)


def test_only_administrators_edit_templates(w: World) -> None:
    grant = a_grant()
    for role in (Role.COUNSELLOR, Role.PROGRAMME_MANAGER, Role.CASE_MANAGER):
        with pytest.raises(PermissionDenied):
            templates.create_grant_template(grant.id, actor=user_with_role(role))


def test_a_step_counts_from_a_later_step_and_chains_to_the_return_date(w: World) -> None:
    admin = user_with_role(Role.ADMIN)
    default = scheduling.template_for(w.case)
    call = dataclasses.replace(STEP, key="follow_up_call", after_step="visit_270", offset_days=5)
    templates.add_step(default.id, call, actor=admin)
    templates.add_step(
        default.id,
        dataclasses.replace(STEP, key="exit_call", after_step="visit_270", offset_days=10),
        actor=admin,
    )
    # the first of the two now counts from the one placed after it
    templates.update_step(
        default.id,
        step_of(default, "follow_up_call"),
        dataclasses.replace(call, after_step="exit_call"),
        actor=admin,
    )
    plan = approved(w, w.option())

    milestones = by_key(plan)
    assert milestones["exit_call"].due_on == DEPARTURE + dt.timedelta(days=280)
    assert milestones["follow_up_call"].due_on == DEPARTURE + dt.timedelta(days=285)
    assert milestones["follow_up_call"].offset_days == 285


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"offset_days": -1}, "offset_days"),
        ({"reminder_days": -3}, "reminder_days"),
        ({"supervisor_after_days": 21, "home_office_after_days": 21}, "home_office_after_days"),
        ({"supervisor_after_days": 30, "home_office_after_days": 7}, "home_office_after_days"),
        ({"after_step": "nowhere"}, "after_step"),
        ({"key": "visit_90"}, "key"),
        ({"key": "Visit 4"}, "key"),
        ({"name": "  "}, "name"),
        ({"kind": MilestoneKind.WINDOW_CLOSES}, "kind"),
    ],
)
def test_a_bad_new_step_is_refused_next_to_its_field(
    w: World, change: dict[str, Any], field: str
) -> None:
    default = scheduling.template_for(w.case)

    with pytest.raises(InvalidInput) as refused:
        templates.add_step(
            default.id, dataclasses.replace(STEP, **change), actor=user_with_role(Role.ADMIN)
        )

    assert field in refused.value.field_errors


def test_a_step_cannot_count_from_itself_or_close_a_loop(w: World) -> None:
    admin = user_with_role(Role.ADMIN)
    default = scheduling.template_for(w.case)
    templates.add_step(default.id, STEP, actor=admin)  # visit_120 after visit_90
    visit_90 = step_of(default, "visit_90")
    as_is = templates.StepInput(
        name="Monitoring visit (3 months)",
        kind=MilestoneKind.MONITORING_VISIT,
        offset_days=90,
        responsible=Responsible.CASE_MANAGER,
        reminder_days=14,
        supervisor_after_days=14,
        home_office_after_days=30,
    )

    with pytest.raises(InvalidInput) as itself:
        templates.update_step(
            default.id, visit_90, dataclasses.replace(as_is, after_step="visit_90"), actor=admin
        )
    with pytest.raises(InvalidInput) as loop:
        templates.update_step(
            default.id, visit_90, dataclasses.replace(as_is, after_step="visit_120"), actor=admin
        )

    assert "itself" in str(itself.value.field_errors["after_step"][0])
    assert "loop" in str(loop.value.field_errors["after_step"][0])


def test_changes_are_audited_with_before_and_after(w: World) -> None:
    admin = user_with_role(Role.ADMIN)
    default = scheduling.template_for(w.case)
    visit_90 = step_of(default, "visit_90")
    changed = templates.StepInput(
        name="Monitoring visit (3 months)",
        kind=MilestoneKind.MONITORING_VISIT,
        offset_days=100,
        responsible=Responsible.COUNSELLOR,
        reminder_days=14,
        supervisor_after_days=14,
        home_office_after_days=30,
    )

    assert templates.update_step(default.id, visit_90, changed, actor=admin) is True
    assert templates.update_step(default.id, visit_90, changed, actor=admin) is False
    templates.add_step(default.id, STEP, actor=admin)
    templates.remove_step(default.id, step_of(default, "visit_120"), actor=admin)
    templates.update_template(default.id, name="IOM practice", grace_days=45, actor=admin)

    (update,) = audits("milestone_step.update")
    assert update.changes == {
        "offset_days": [90, 100],
        "responsible": ["case_manager", "counsellor"],
    }
    (added,) = audits("milestone_step.add")
    assert added.changes["after_step"] == [None, "visit_90"]
    assert added.changes["template_id"] == [None, default.id]
    (removed,) = audits("milestone_step.remove")
    assert removed.changes["key"] == ["visit_120", None]
    assert removed.changes["kind"] == ["monitoring_visit", None]
    (template,) = audits("milestone_template.update")
    assert template.changes["grace_days"] == [30, 45]
    assert all(entry.actor_id == admin.id for entry in audits("milestone_step.update"))


def test_a_step_others_count_from_and_the_window_step_stay(w: World) -> None:
    admin = user_with_role(Role.ADMIN)
    default = scheduling.template_for(w.case)
    templates.add_step(default.id, STEP, actor=admin)

    with pytest.raises(Conflict):
        templates.remove_step(default.id, step_of(default, "visit_90"), actor=admin)
    with pytest.raises(Conflict):
        templates.remove_step(default.id, step_of(default, "window_closes"), actor=admin)


def test_scheduled_milestones_keep_their_dates_when_the_template_changes(w: World) -> None:
    admin = user_with_role(Role.ADMIN)
    plan = approved(w, w.option())
    default = scheduling.template_for(w.case)
    visit = next(step for step in default.steps if step.key == "visit_90")
    templates.update_step(
        default.id,
        visit.id,
        templates.StepInput(
            name=visit.name,
            kind=visit.kind,
            offset_days=120,
            responsible=visit.responsible,
            reminder_days=30,
            supervisor_after_days=visit.supervisor_after_days,
            home_office_after_days=visit.home_office_after_days,
        ),
        actor=admin,
    )
    assert by_key(plan)["visit_90"].due_on == DEPARTURE + dt.timedelta(days=90)

    # a new return date moves them by the offsets they were scheduled with
    cases.update_case(
        w.case.id,
        details(origin_office_id=w.tbilisi.id, departed_on=DEPARTURE + dt.timedelta(days=10)),
        actor=w.counsellor,
    )

    moved = by_key(plan)["visit_90"]
    assert moved.due_on == DEPARTURE + dt.timedelta(days=100)
    assert moved.remind_on == DEPARTURE + dt.timedelta(days=86)  # 14 days, as scheduled


def test_milestones_without_a_kept_offset_follow_the_template(w: World) -> None:
    plan = approved(w, w.option())
    db.session.execute(sa.update(Milestone).values(offset_days=None))

    cases.update_case(
        w.case.id,
        details(origin_office_id=w.tbilisi.id, departed_on=DEPARTURE + dt.timedelta(days=10)),
        actor=w.counsellor,
    )

    db.session.expire_all()
    assert by_key(plan)["visit_180"].due_on == DEPARTURE + dt.timedelta(days=190)


# --- pages -----------------------------------------------------------------------------------


def test_the_administrator_creates_a_grant_template_and_edits_its_steps(w: World, login) -> None:
    grant = a_grant()
    client = login(user_with_role(Role.ADMIN))

    listing = client.get("/follow-up/templates").get_data(as_text=True)
    assert "IOM practice (default)" in listing
    assert "G-7 · National programme" in listing
    created = client.post("/follow-up/templates", data={"grant_id": grant.id})
    template = db.session.scalars(
        sa.select(MilestoneTemplate).where(MilestoneTemplate.grant_id == grant.id)
    ).one()
    assert created.headers["Location"].endswith(f"/follow-up/templates/{template.id}")
    page = client.get(f"/follow-up/templates/{template.id}").get_data(as_text=True)
    assert page.count('data-testid="step-row"') == 9
    assert "Changes apply to plans approved afterwards" in page

    step = {
        "key": "visit_120",
        "name": "Monitoring visit (4 months)",
        "kind": "monitoring_visit",
        "offset_days": "30",
        "after_step": "visit_90",
        "responsible": "case_manager",
        "reminder_days": "7",
        "supervisor_after_days": "14",
        "home_office_after_days": "7",
    }
    refused = client.post(f"/follow-up/templates/{template.id}/steps/new", data=step)
    assert refused.status_code == 422
    form = refused.get_data(as_text=True)
    # the error is shown under the home-office field
    home_field = form.split('id="home_office_after_days"')[1].split("</div>")[0]
    assert "The home office is told after the office supervisor" in home_field
    saved = client.post(
        f"/follow-up/templates/{template.id}/steps/new",
        data=step | {"home_office_after_days": ""},
    )
    assert saved.status_code == 302
    page = client.get(f"/follow-up/templates/{template.id}").get_data(as_text=True)
    assert page.count('data-testid="step-row"') == 10
    assert "30 days after Monitoring visit (3 months)" in page

    new = step_of(template, "visit_120")
    edit = client.get(f"/follow-up/templates/{template.id}/steps/{new}")
    assert '<option selected value="visit_90">' in edit.get_data(as_text=True)
    changed = client.post(
        f"/follow-up/templates/{template.id}/steps/{new}",
        data=step | {"offset_days": "40", "home_office_after_days": "", "key": "ignored"},
    )
    assert changed.status_code == 302
    db.session.expire_all()
    visit = db.session.get(type(template.steps[0]), new)
    assert (visit.offset_days, visit.key, visit.home_office_after_days) == (40, "visit_120", None)
    removed = client.post(f"/follow-up/templates/{template.id}/steps/{new}/remove")
    assert removed.status_code == 302
    assert audits("milestone_step.remove")


def test_a_counsellor_cannot_reach_the_template_pages(w: World, login) -> None:
    default = scheduling.template_for(w.case)
    visit = step_of(default, "visit_90")
    client = login(w.counsellor)

    assert client.get("/follow-up/templates").status_code == 403
    assert client.get(f"/follow-up/templates/{default.id}").status_code == 403
    assert client.post("/follow-up/templates", data={"grant_id": 1}).status_code == 403
    assert client.post(f"/follow-up/templates/{default.id}/steps/{visit}/remove").status_code == 403
    assert db.session.get(type(default.steps[0]), visit) is not None
    assert b"Milestone templates" not in client.get("/follow-up/").data
