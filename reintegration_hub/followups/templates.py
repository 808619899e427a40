"""Milestone templates, kept by administrators: the default one and grants' own copies, and
their steps (what plans approved from then on are scheduled from; ``scheduling``)."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from reintegration_hub.core.audit import pending_changes, record_audit
from reintegration_hub.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import (
    UNTEMPLATED_KINDS,
    MilestoneKind,
    MilestoneStep,
    MilestoneTemplate,
    Responsible,
)
from reintegration_hub.programmes.models import Grant

#: A step's stable name: lower-case letters, digits and underscores (it ends milestone keys).
STEP_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")


STEP_FIELDS = (
    "key",
    "position",
    "kind",
    "name",
    "offset_days",
    "after_step",
    "responsible",
    "reminder_days",
    "supervisor_after_days",
    "home_office_after_days",
)


@dataclass(frozen=True, kw_only=True)
class StepInput:
    """A template step as an administrator gives it (``key`` only counts when adding)."""

    name: str
    kind: MilestoneKind
    offset_days: int
    responsible: Responsible
    reminder_days: int
    supervisor_after_days: int | None
    home_office_after_days: int | None
    after_step: str | None = None
    key: str = ""


@dataclass(frozen=True)
class TemplateRow:
    template: MilestoneTemplate
    grant: Grant | None
    steps: int


def _plain(value: object) -> object:
    return value.value if isinstance(value, enum.Enum) else value


def _template_admin(actor: Actor) -> None:
    if actor.role != Role.ADMIN:
        raise PermissionDenied(_l("Your role cannot do this."))


def milestone_templates(*, actor: Actor) -> tuple[list[TemplateRow], list[Grant]]:
    """The templates (the default one first, then by grant) with their number of steps, and
    the grants that have none of their own yet (they follow the default). Two statements."""
    _template_admin(actor)
    steps = (
        sa.select(sa.func.count(MilestoneStep.id))
        .where(MilestoneStep.template_id == MilestoneTemplate.id)
        .scalar_subquery()
    )
    rows = db.session.execute(
        sa.select(MilestoneTemplate, Grant, steps)
        .outerjoin(Grant, Grant.id == MilestoneTemplate.grant_id)
        .order_by(MilestoneTemplate.is_default.desc(), Grant.number, MilestoneTemplate.id)
    ).all()
    without = db.session.scalars(
        sa.select(Grant)
        .where(~sa.exists().where(MilestoneTemplate.grant_id == Grant.id))
        .order_by(Grant.number)
    ).all()
    return [TemplateRow(t, g, int(n or 0)) for t, g, n in rows], list(without)


def get_template(template_id: int, *, actor: Actor) -> MilestoneTemplate:
    _template_admin(actor)
    template = db.session.scalars(
        sa.select(MilestoneTemplate)
        .where(MilestoneTemplate.id == template_id)
        .options(selectinload(MilestoneTemplate.steps))
    ).one_or_none()
    if template is None:
        raise NotFound(_l("Not found."))
    return template


def default_template() -> MilestoneTemplate:
    """The template of plans whose grant has none of its own; Conflict when none is set up."""
    template = db.session.scalars(
        sa.select(MilestoneTemplate).where(MilestoneTemplate.is_default.is_(True))
    ).first()
    if template is None:
        raise Conflict(_l("No milestone template is set up: an administrator must add one."))
    return template


def create_grant_template(grant_id: int, *, actor: Actor) -> MilestoneTemplate:
    """A grant's own template, a copy of the default one (plans of the grant approved from
    now on follow it). Conflict when the grant has one already."""
    _template_admin(actor)
    grant = db.session.get(Grant, grant_id)
    if grant is None:
        raise NotFound(_l("Not found."))
    if db.session.scalar(
        sa.select(MilestoneTemplate.id).where(MilestoneTemplate.grant_id == grant.id)
    ):
        raise Conflict(_l("This grant has its own milestone template already."))
    default = default_template()
    template = MilestoneTemplate(
        name=f"{grant.number}: {grant.title}"[:200],
        grant_id=grant.id,
        is_default=False,
        grace_days=default.grace_days,
        steps=[
            MilestoneStep(**{name: getattr(step, name) for name in STEP_FIELDS})
            for step in default.steps
        ],
    )
    record_audit(
        "milestone_template.create",
        template,
        actor=actor,
        changes={
            "grant_id": [None, grant.id],
            "copied_from": [None, default.id],
            "steps": [None, len(template.steps)],
        },
    )
    return template


def update_template(template_id: int, *, name: str, grace_days: int, actor: Actor) -> None:
    """Rename a template or change its grace period (days the case stays open after +365)."""
    template = get_template(template_id, actor=actor)
    name = name.strip()
    problems: dict[str, list[object]] = {}
    if not name:
        problems["name"] = [_l("Give the template a name.")]
    elif db.session.scalar(
        sa.select(MilestoneTemplate.id).where(
            MilestoneTemplate.name == name, MilestoneTemplate.id != template.id
        )
    ):
        problems["name"] = [_l("Another template has this name.")]
    if grace_days < 0:
        problems["grace_days"] = [_l("Give 0 days or more.")]
    if problems:
        raise InvalidInput(_l("The template is not valid."), field_errors=problems)
    template.name, template.grace_days = name, grace_days
    changes = pending_changes(template)
    if changes:
        record_audit("milestone_template.update", template, actor=actor, changes=changes)


def _step_problems(
    template: MilestoneTemplate, data: StepInput, key: str, step_id: int | None
) -> dict[str, list[object]]:
    """What is wrong with ``data`` as the step ``key`` of ``template`` (``step_id``: the
    step being changed, None for a new one)."""
    others = {step.key: step for step in template.steps if step.id != step_id}
    problems: dict[str, list[object]] = {}
    if step_id is None:
        problems |= _key_problems(key, others)
    if not data.name.strip():
        problems["name"] = [_l("Give the step a name.")]
    problems |= _days_problems(data)
    if data.after_step:
        problems |= _after_step_problems(data.after_step, key, others)
    return problems | _kind_problems(template, data, step_id, others)


def _key_problems(key: str, others: Mapping[str, MilestoneStep]) -> dict[str, list[object]]:
    if not STEP_KEY.fullmatch(key):
        return {
            "key": [_l("Use up to 40 lower-case letters, digits and _, starting with a letter.")]
        }
    if key in others:
        return {"key": [_l("Another step of this template has this key.")]}
    return {}


def _days_problems(data: StepInput) -> dict[str, list[object]]:
    problems: dict[str, list[object]] = {}
    for field in ("offset_days", "reminder_days", "supervisor_after_days"):
        value = getattr(data, field)
        if value is not None and value < 0:
            problems[field] = [_l("Give 0 days or more.")]
    supervisor, home = data.supervisor_after_days, data.home_office_after_days
    if home is not None and home < 0:
        problems["home_office_after_days"] = [_l("Give 0 days or more.")]
    elif home is not None and supervisor is not None and home <= supervisor:
        problems["home_office_after_days"] = [
            _l("The home office is told after the office supervisor: give more days.")
        ]
    return problems


def _after_step_problems(
    after_step: str, key: str, others: Mapping[str, MilestoneStep]
) -> dict[str, list[object]]:
    """What is wrong with counting the step ``key`` from ``after_step``."""
    if after_step == key:
        return {"after_step": [_l("A step cannot count from itself.")]}
    if after_step not in others:
        return {"after_step": [_l("There is no such step in this template.")]}
    follower = _counting_from(key, others[after_step], others)
    if follower is not None:
        return {
            "after_step": [
                _l(
                    "%(step)s counts from this step already: that would be a loop.",
                    step=follower.name,
                )
            ]
        }
    return {}


def _counting_from(
    key: str, first: MilestoneStep, others: Mapping[str, MilestoneStep]
) -> MilestoneStep | None:
    """The step of the chain from ``first`` that counts from the step ``key``, if one does.
    The template has no loop now, so a new one would have to come back to this step."""
    current, seen = first, {key}
    while current.after_step and current.key not in seen:
        seen.add(current.key)
        if current.after_step == key:
            return current
        if current.after_step not in others:
            return None
        current = others[current.after_step]
    return None


def _kind_problems(
    template: MilestoneTemplate,
    data: StepInput,
    step_id: int | None,
    others: Mapping[str, MilestoneStep],
) -> dict[str, list[object]]:
    """One step closes the window, and it stays the one that does; no step is of a kind the
    product opens itself (a low feedback score's follow-up)."""
    problems: dict[str, list[object]] = {}
    if data.kind in UNTEMPLATED_KINDS:
        problems["kind"] = [_l("This type of milestone is not planned by a template.")]
    if data.kind == MilestoneKind.WINDOW_CLOSES and any(
        step.kind == MilestoneKind.WINDOW_CLOSES for step in others.values()
    ):
        problems["kind"] = [_l("A template has only one step where the window closes.")]
    if step_id is not None and data.kind != MilestoneKind.WINDOW_CLOSES:
        changed = template_step(template, step_id)
        if changed.kind == MilestoneKind.WINDOW_CLOSES:
            problems["kind"] = [_l("The step where the window closes keeps its type.")]
    return problems


def template_step(template: MilestoneTemplate, step_id: int) -> MilestoneStep:
    """The step ``step_id`` of ``template``; NotFound when it belongs to another template."""
    for step in template.steps:
        if step.id == step_id:
            return step
    raise NotFound(_l("Not found."))


def _set_step(step: MilestoneStep, data: StepInput) -> None:
    step.name, step.kind, step.responsible = data.name.strip(), data.kind, data.responsible
    step.offset_days, step.after_step = data.offset_days, data.after_step or None
    step.reminder_days = data.reminder_days
    step.supervisor_after_days = data.supervisor_after_days
    step.home_office_after_days = data.home_office_after_days


def add_step(template_id: int, data: StepInput, *, actor: Actor) -> MilestoneStep:
    """A new step at the end of the template (plans approved from now on get it)."""
    template = get_template(template_id, actor=actor)
    key = data.key.strip()
    problems = _step_problems(template, data, key, None)
    if problems:
        raise InvalidInput(_l("The step is not valid."), field_errors=problems)
    last = max((other.position for other in template.steps), default=-1)
    step = MilestoneStep(key=key, position=last + 1)
    _set_step(step, data)
    template.steps.append(step)
    changes = pending_changes(step) | {"template_id": [None, template.id]}
    record_audit("milestone_step.add", step, actor=actor, changes=changes)
    return step


def update_step(template_id: int, step_id: int, data: StepInput, *, actor: Actor) -> bool:
    """Change a step (its key stays: milestones scheduled from it carry it). Milestones
    already scheduled keep their dates. ``False`` when nothing changed."""
    template = get_template(template_id, actor=actor)
    step = template_step(template, step_id)
    problems = _step_problems(template, data, step.key, step.id)
    if problems:
        raise InvalidInput(_l("The step is not valid."), field_errors=problems)
    _set_step(step, data)
    changes = pending_changes(step)
    if not changes:
        return False
    record_audit("milestone_step.update", step, actor=actor, changes=changes)
    return True


def remove_step(template_id: int, step_id: int, *, actor: Actor) -> None:
    """Take a step out of the template; milestones already scheduled from it stay. Refused
    while another step counts from it, and for the step where the window closes."""
    template = get_template(template_id, actor=actor)
    step = template_step(template, step_id)
    if step.kind == MilestoneKind.WINDOW_CLOSES:
        raise Conflict(_l("The step where the window closes cannot be removed."))
    followers = [other.name for other in template.steps if other.after_step == step.key]
    if followers:
        raise Conflict(
            _l("Other steps count from this one: %(steps)s.", steps=", ".join(followers))
        )
    record_audit(
        "milestone_step.remove",
        step,
        actor=actor,
        changes={name: [_plain(getattr(step, name)), None] for name in STEP_FIELDS},
    )
    template.steps.remove(step)
    db.session.flush()
