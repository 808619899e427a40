"""Monitoring visits and sustainability surveys: recording them (each closes the milestone whose
window holds its date), reading a case's, and the scoring versions surveys are scored under.

A visit or survey sent through the API may carry a client's key (``record_visit_once``,
``record_survey_once``): the same key again, from the same user for the same case, answers
the record it made (a retried upload never makes a second); with another user or case it is
refused. A unique index keeps two uploads racing with one key to one record.

A client that recorded the answer offline also names the milestone it meant to close
(``for_milestone_id``): if meanwhile the case was closed, or that milestone was closed or moved
so that the date no longer falls in its window, nothing is recorded (Conflict), and the client
keeps the answer to show the conflict."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from reintegration_hub.cases.models import CaseStatus, Returnee
from reintegration_hub.core.audit import record_audit
from reintegration_hub.core.authz import get_scoped
from reintegration_hub.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import (
    Dimension,
    Milestone,
    MilestoneKind,
    MonitoringVisit,
    ScoringVersion,
    SustainabilitySurvey,
    VisitMode,
)
from reintegration_hub.followups.scheduling import close_milestone
from reintegration_hub.followups.scoring import Scores, check_answers, score
from reintegration_hub.followups.templates import STEP_KEY
from reintegration_hub.followups.windows import check_follow_up_date, closing_milestone
from reintegration_hub.plans.amendments import on_revision_needed

#: Who records visits and surveys: the origin office follows the returnee after arrival.
RECORDER_ROLES = frozenset({Role.CASE_MANAGER, Role.ADMIN})

Record = TypeVar("Record", MonitoringVisit, SustainabilitySurvey)


@dataclass(frozen=True, kw_only=True)
class VisitInput:
    visited_on: dt.date
    mode: VisitMode
    findings: str = ""
    next_steps: str = ""
    plan_revision_needed: bool = False
    for_milestone_id: int | None = None  # the milestone the client meant to close (offline)


def _followed_case(case_id: int, actor: Actor) -> Returnee:
    if actor.role not in RECORDER_ROLES:
        raise PermissionDenied(_l("Your role cannot do this."))
    case: Returnee = get_scoped(Returnee, case_id, actor)
    return case


def _check_meant(case: Returnee, closes: Milestone | None, meant_id: int | None) -> None:
    """Conflict unless the record closes the milestone its client meant (``meant_id``; None:
    whichever): the case closed, that milestone done, not applicable or cancelled, or moved
    so that the date falls outside its window; InvalidInput for a milestone of another case."""
    if meant_id is None:
        return
    meant = db.session.get(Milestone, meant_id)
    if meant is None or meant.returnee_id != case.id:
        message = _l("This is not a milestone of the case.")
        raise InvalidInput(message, field_errors={"for_milestone_id": [message]})
    if case.status == CaseStatus.CLOSED:
        message = _l("The case was closed meanwhile: nothing is recorded.")
    elif not meant.is_open:
        message = _l(
            "The milestone was closed meanwhile (done, not applicable or cancelled): "
            "nothing is recorded."
        )
    elif closes is None or closes.id != meant.id:
        message = _l(
            "The milestone was moved meanwhile: the date no longer falls in its window. "
            "Nothing is recorded."
        )
    else:
        return
    raise Conflict(message, field_errors={"for_milestone_id": [message]})


def record_visit(case_id: int, visit: VisitInput, *, actor: Actor) -> MonitoringVisit:
    """Record a monitoring visit, on or after the arrival and inside the reintegration window;
    it closes the visit milestone whose window holds its date, if one is open
    (``followups.windows``), and names it in ``milestone_id``. A visit that finds the plan
    needs a revision opens a draft amendment and tells the counsellor. With
    ``for_milestone_id``, Conflict unless it closes that one (see the module docstring)."""
    case = _followed_case(case_id, actor)
    check_follow_up_date(case, visit.visited_on, "visited_on")
    milestone = closing_milestone(case, MilestoneKind.MONITORING_VISIT, visit.visited_on)
    _check_meant(case, milestone, visit.for_milestone_id)
    row = MonitoringVisit(
        returnee_id=case.id,
        visited_on=visit.visited_on,
        mode=visit.mode,
        findings=visit.findings.strip(),
        next_steps=visit.next_steps.strip(),
        plan_revision_needed=visit.plan_revision_needed,
        milestone=milestone,
        recorded_by_id=actor.id,
    )
    db.session.add(row)
    record_audit("visit.record", row, actor=actor, office_id=case.host_office_id)
    if milestone is not None:
        close_milestone(milestone, completed_on=visit.visited_on, actor=actor)
    if row.plan_revision_needed:
        on_revision_needed(row, actor=actor)
    return row


def scoring_version_in_force() -> ScoringVersion | None:
    """The highest scoring version; None before any is loaded."""
    return db.session.scalars(
        sa.select(ScoringVersion).order_by(ScoringVersion.version.desc()).limit(1)
    ).first()


def current_scoring_version() -> ScoringVersion:
    version = scoring_version_in_force()
    if version is None:
        raise Conflict(_l("No scoring version is loaded: an administrator must add one."))
    return version


def _previous_composite(
    case_id: int, before: dt.date, exclude_id: int | None = None
) -> float | None:
    stmt = (
        sa.select(SustainabilitySurvey.composite)
        .where(SustainabilitySurvey.returnee_id == case_id, SustainabilitySurvey.taken_on < before)
        .order_by(SustainabilitySurvey.taken_on.desc(), SustainabilitySurvey.id.desc())
        .limit(1)
    )
    if exclude_id is not None:
        stmt = stmt.where(SustainabilitySurvey.id != exclude_id)
    return db.session.scalar(stmt)


def _apply_scores(survey: SustainabilitySurvey, scores: Scores, version: ScoringVersion) -> None:
    survey.scoring_version_id = version.id
    survey.economic, survey.social, survey.psychosocial = (
        scores.economic,
        scores.social,
        scores.psychosocial,
    )
    survey.composite, survey.band, survey.flags = scores.composite, scores.band, scores.flags


def record_survey(
    case_id: int,
    taken_on: dt.date,
    answers: Mapping[str, int],
    *,
    for_milestone_id: int | None = None,
    actor: Actor,
) -> SustainabilitySurvey:
    """Record a sustainability survey, scored under the version in force and flagged for low
    scores, imbalance between dimensions and decline since the last survey. Its date follows
    the rule of visits, and it closes the survey milestone whose window holds it, if one is
    open (``followups.windows``); ``for_milestone_id`` as for visits."""
    case = _followed_case(case_id, actor)
    check_follow_up_date(case, taken_on, "taken_on")
    version = current_scoring_version()
    check_answers(version, answers)
    milestone = closing_milestone(case, MilestoneKind.SUSTAINABILITY_SURVEY, taken_on)
    _check_meant(case, milestone, for_milestone_id)
    survey = SustainabilitySurvey(
        returnee_id=case.id,
        taken_on=taken_on,
        answers=dict(answers),
        milestone=milestone,
        recorded_by_id=actor.id,
    )
    _apply_scores(survey, score(version, answers, _previous_composite(case.id, taken_on)), version)
    db.session.add(survey)
    record_audit("survey.record", survey, actor=actor, office_id=case.host_office_id)
    if milestone is not None:
        close_milestone(milestone, completed_on=taken_on, actor=actor)
    return survey


def _scoring_admin(actor: Actor) -> None:
    """Administrators, and processes run by an operator (a CLI command, a flow)."""
    if actor.role is not None and actor.role != Role.ADMIN:
        raise PermissionDenied(_l("Your role cannot do this."))


def _scoring_problems(
    dimension_weights: Mapping[str, float],
    indicators: Mapping[str, tuple[str, float]],
    bands: Sequence[tuple[str, float]],
    thresholds: Mapping[str, float],
) -> dict[str, list[object]]:
    dimensions = {d.value for d in Dimension}
    problems: dict[str, list[object]] = {}
    if set(dimension_weights) != dimensions or any(w < 0 for w in dimension_weights.values()):
        problems["dimension_weights"] = [_l("Give a weight of 0 or more to each dimension.")]
    elif not sum(dimension_weights.values()) > 0:
        problems["dimension_weights"] = [_l("At least one dimension must weigh more than 0.")]
    if not indicators or any(d not in dimensions or w <= 0 for d, w in indicators.values()):
        problems["indicators"] = [_l("Each indicator needs a dimension and a positive weight.")]
    elif any(not STEP_KEY.fullmatch(key) for key in indicators):
        problems["indicators"] = [
            _l("Indicator keys are lower-case letters, digits and _, starting with a letter.")
        ]
    names = [name.strip() for name, _lower in bands]
    lowers = [lower for _name, lower in bands]
    if not bands or min(lowers) != 0:
        problems["bands"] = [_l("The lowest band must start at 0.")]
    elif any(not 0 <= lower <= 1 for lower in lowers) or len(set(lowers)) != len(lowers):
        problems["bands"] = [_l("Each band starts at a different score from 0 to 1.")]
    elif not all(names) or len(set(names)) != len(names):
        problems["bands"] = [_l("Each band needs a name of its own.")]
    for field, value in thresholds.items():
        if not 0 <= value <= 1:
            problems[field] = [_l("Give a score from 0 to 1.")]
    return problems


def load_scoring_version(
    *,
    dimension_weights: Mapping[str, float],
    indicators: Mapping[str, tuple[str, float]],
    bands: Sequence[tuple[str, float]],
    low_score: float = 0.33,
    imbalance_gap: float = 0.3,
    decline_drop: float = 0.1,
    note: str = "",
    actor: Actor,
) -> ScoringVersion:
    """A new scoring version, in force from now on (earlier versions stay for the record).
    Raises InvalidInput naming the part that is wrong; stored surveys keep their scores
    until ``rescore_surveys`` is run with the new version."""
    _scoring_admin(actor)
    thresholds = {
        "low_score": low_score,
        "imbalance_gap": imbalance_gap,
        "decline_drop": decline_drop,
    }
    problems = _scoring_problems(dimension_weights, indicators, bands, thresholds)
    if problems:
        raise InvalidInput(_l("The scoring version is not valid."), field_errors=problems)
    latest = db.session.scalar(sa.select(sa.func.max(ScoringVersion.version))) or 0
    version = ScoringVersion(
        version=latest + 1,
        dimension_weights=dict(dimension_weights),
        indicators={key: [d, w] for key, (d, w) in indicators.items()},
        bands=[[name.strip(), lower] for name, lower in sorted(bands, key=lambda b: b[1])],
        low_score=low_score,
        imbalance_gap=imbalance_gap,
        decline_drop=decline_drop,
        note=note.strip()[:300],
    )
    db.session.add(version)
    record_audit("scoring.load", version, actor=actor)
    db.session.flush()
    return version


def rescore_surveys(version_id: int, *, actor: Actor, batch_size: int = 1000) -> int:
    """Score every stored survey again under ``version_id``, which must be the version in
    force (the answers stay as given), in the order they were recorded, so each decline flag
    compares with a survey already scored under the new version. Surveys whose answers do not
    cover the version's indicators are left as they were."""
    _scoring_admin(actor)
    version = db.session.get(ScoringVersion, version_id)
    if version is None:
        raise NotFound(_l("Not found."))
    if version.id != current_scoring_version().id:
        raise Conflict(_l("Only the version in force scores the stored surveys again."))
    rescored, last_id = 0, 0
    while True:
        batch = db.session.scalars(
            sa.select(SustainabilitySurvey)
            .where(SustainabilitySurvey.id > last_id)
            .order_by(SustainabilitySurvey.id)
            .limit(batch_size)
        ).all()
        if not batch:
            break
        for survey in batch:
            last_id = survey.id
            if not set(version.indicators) <= set(survey.answers):
                continue
            previous = _previous_composite(survey.returnee_id, survey.taken_on, survey.id)
            _apply_scores(survey, score(version, survey.answers, previous), version)
            rescored += 1
        db.session.flush()
    record_audit("scoring.rescore", version, actor=actor, changes={"surveys": [None, rescored]})
    return rescored


@dataclass(frozen=True)
class ScoringVersionRow:
    version: ScoringVersion
    surveys: int  # stored surveys scored under it
    current: bool


def scoring_versions(*, actor: Actor) -> list[ScoringVersionRow]:
    """Every scoring version, the one in force first, with how many surveys it scores now.
    One statement."""
    _scoring_admin(actor)
    # one pass over the surveys, grouped, rather than a count per version
    counts = (
        sa.select(
            SustainabilitySurvey.scoring_version_id.label("version_id"),
            sa.func.count().label("surveys"),
        )
        .group_by(SustainabilitySurvey.scoring_version_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(ScoringVersion, counts.c.surveys)
        .outerjoin(counts, counts.c.version_id == ScoringVersion.id)
        .order_by(ScoringVersion.version.desc())
    ).all()
    return [
        ScoringVersionRow(version, int(count or 0), current=index == 0)
        for index, (version, count) in enumerate(rows)
    ]


def case_visits(case_id: int) -> Sequence[MonitoringVisit]:
    """The case's visits, latest first, with the milestone each closed (the caller has checked
    the case's scope)."""
    return db.session.scalars(
        sa.select(MonitoringVisit)
        .where(MonitoringVisit.returnee_id == case_id)
        .options(joinedload(MonitoringVisit.milestone))
        .order_by(MonitoringVisit.visited_on.desc(), MonitoringVisit.id.desc())
    ).all()


def case_surveys(case_id: int) -> Sequence[SustainabilitySurvey]:
    """The case's surveys with their scores and the milestone each closed, latest first (scope
    checked by the caller)."""
    return db.session.scalars(
        sa.select(SustainabilitySurvey)
        .where(SustainabilitySurvey.returnee_id == case_id)
        .options(joinedload(SustainabilitySurvey.milestone))
        .order_by(SustainabilitySurvey.taken_on.desc(), SustainabilitySurvey.id.desc())
    ).all()


def _made_with(model: type[Record], client_key: str, case_id: int, actor: Actor) -> Record | None:
    found = db.session.scalar(sa.select(model).where(model.client_key == client_key))
    if found is not None and (found.returnee_id != case_id or found.recorded_by_id != actor.id):
        message = _l("This key was sent with another record: send a new key for a new one.")
        raise Conflict(message, field_errors={"client_key": [message]})
    return found


def _recorded_once(
    model: type[Record],
    client_key: str | None,
    case_id: int,
    record: Callable[[], Record],
    *,
    actor: Actor,
) -> tuple[Record, bool]:
    """``record()``, kept under ``client_key``, and True; or the record that key made before,
    and False (see the module docstring)."""
    if not client_key:
        return record(), True
    found = _made_with(model, client_key, case_id, actor)
    if found is not None:
        return found, False
    try:
        with db.session.begin_nested():  # a concurrent upload of the same key loses only this
            made = record()
            made.client_key = client_key
            db.session.flush()
    except IntegrityError:
        found = _made_with(model, client_key, case_id, actor)
        if found is None:
            raise
        return found, False
    return made, True


def read_case_visits(case_id: int, *, actor: Actor) -> Sequence[MonitoringVisit]:
    """The case's visits for the API, in scope or NotFound; the read is audited."""
    case: Returnee = get_scoped(Returnee, case_id, actor)
    record_audit("visit.list", case, actor=actor, changes={})
    return case_visits(case.id)


def read_case_surveys(case_id: int, *, actor: Actor) -> Sequence[SustainabilitySurvey]:
    """The case's surveys with their scores for the API, in scope or NotFound; audited."""
    case: Returnee = get_scoped(Returnee, case_id, actor)
    record_audit("survey.list", case, actor=actor, changes={})
    return case_surveys(case.id)


def record_visit_once(
    case_id: int, visit: VisitInput, *, client_key: str | None, actor: Actor
) -> tuple[MonitoringVisit, bool]:
    """``record_visit`` under a client's key: the visit, and whether it was made now (False:
    the key made it before)."""
    return _recorded_once(
        MonitoringVisit,
        client_key,
        case_id,
        lambda: record_visit(case_id, visit, actor=actor),
        actor=actor,
    )


def record_survey_once(
    case_id: int,
    taken_on: dt.date,
    answers: Mapping[str, int],
    *,
    client_key: str | None,
    for_milestone_id: int | None = None,
    actor: Actor,
) -> tuple[SustainabilitySurvey, bool]:
    """``record_survey`` under a client's key (see ``record_visit_once``)."""
    return _recorded_once(
        SustainabilitySurvey,
        client_key,
        case_id,
        lambda: record_survey(
            case_id, taken_on, answers, for_milestone_id=for_milestone_id, actor=actor
        ),
        actor=actor,
    )
