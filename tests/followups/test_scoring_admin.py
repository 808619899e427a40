"""Scoring versions for administrators: the page lists them, loads a new one (checked), and
scores the stored answers again under it; the same from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.errors import Conflict, InvalidInput, PermissionDenied
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db
from reintegration_hub.followups import visits
from tests.clock import travel
from tests.factories import user_with_role
from tests.followups.helpers import answers, day
from tests.plans.helpers import World, world

#: The day these tests run on (the clock is set to it): a year after the return.
TODAY = day(365)


@pytest.fixture
def w(app: object, time_machine: object) -> World:
    travel(time_machine, TODAY)
    w = world()
    w.case.departed_on, w.case.arrived_on = day(0), day(2)
    return w


def equal_indicators() -> dict[str, tuple[str, float]]:
    current = visits.current_scoring_version()
    return {key: (d, 1) for key, (d, _w) in current.indicators.items()}


def new_version(**overrides: object) -> dict[str, object]:
    return {
        "dimension_weights": {"economic": 2, "social": 1, "psychosocial": 1},
        "indicators": equal_indicators(),
        "bands": [("low", 0), ("high", 0.6)],
    } | overrides


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"dimension_weights": {"economic": 0, "social": 0, "psychosocial": 0}},
            "dimension_weights",
        ),
        (
            {"dimension_weights": {"economic": 1, "social": -1, "psychosocial": 1}},
            "dimension_weights",
        ),
        ({"bands": [("low", 0.1), ("high", 0.6)]}, "bands"),
        ({"bands": [("low", 0), ("high", 1.5)]}, "bands"),
        ({"bands": [("low", 0), ("low", 0.5)]}, "bands"),
        ({"bands": [("low", 0), ("high", 0)]}, "bands"),
        ({"indicators": {"Income!": ("economic", 1)}}, "indicators"),
        ({"indicators": {"income": ("wealth", 1)}}, "indicators"),
        ({"low_score": 1.2}, "low_score"),
        ({"decline_drop": -0.1}, "decline_drop"),
    ],
)
def test_a_bad_version_is_refused_naming_the_part(
    w: World, change: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        visits.load_scoring_version(
            **new_version(**change),  # type: ignore[arg-type]
            actor=user_with_role(Role.ADMIN),
        )

    assert field in refused.value.field_errors


def test_only_the_version_in_force_rescores_and_only_for_administrators(w: World) -> None:
    admin = user_with_role(Role.ADMIN)
    first = visits.current_scoring_version()
    visits.load_scoring_version(**new_version(), actor=admin)  # type: ignore[arg-type]

    with pytest.raises(Conflict):
        visits.rescore_surveys(first.id, actor=admin)
    with pytest.raises(PermissionDenied):
        visits.rescore_surveys(
            visits.current_scoring_version().id, actor=user_with_role(Role.PROGRAMME_MANAGER)
        )
    with pytest.raises(PermissionDenied):
        visits.scoring_versions(actor=w.case_manager)


def test_the_list_counts_the_surveys_each_version_scores(w: World) -> None:
    admin = user_with_role(Role.ADMIN)
    visits.record_survey(w.case.id, TODAY, answers(4, 2, 0), actor=w.case_manager)
    visits.record_survey(w.case.id, TODAY, answers(1, 2, 3), actor=w.case_manager)
    version = visits.load_scoring_version(**new_version(), actor=admin)  # type: ignore[arg-type]

    rows = visits.scoring_versions(actor=admin)

    assert [(r.version.version, r.surveys, r.current) for r in rows] == [
        (version.version, 0, True),
        (version.version - 1, 2, False),
    ]


# --- the page --------------------------------------------------------------------------------


def form_data(**overrides: str) -> dict[str, str]:
    return {
        "weight_economic": "2",
        "weight_social": "1",
        "weight_psychosocial": "1",
        "bands": "low = 0\nhigh = 0.6",
        "indicators": "\n".join(f"{key} = {d}, 1" for key, (d, _w) in equal_indicators().items()),
        "low_score": "0.33",
        "imbalance_gap": "0.3",
        "decline_drop": "0.1",
        "note": "Economy counts double",
        "rescore": "y",
    } | overrides


def test_the_administrator_loads_a_version_and_the_stored_surveys_are_rescored(
    w: World, login
) -> None:
    survey = visits.record_survey(w.case.id, TODAY, answers(4, 2, 0), actor=w.case_manager)
    client = login(user_with_role(Role.ADMIN))

    page = client.get("/follow-up/scoring").get_data(as_text=True)
    assert page.count('data-testid="scoring-version"') == 1
    assert "low = 0\nmedium = 0.33\nhigh = 0.66" in page  # the form starts from version 1
    bad = client.post("/follow-up/scoring", data=form_data(bands="low = 0.2\nhigh = 0.6"))
    assert bad.status_code == 422
    bands_field = bad.get_data(as_text=True).split('id="bands"')[1].split("</div>")[0]
    assert "The lowest band must start at 0." in bands_field
    unreadable = client.post("/follow-up/scoring", data=form_data(bands="low 0"))
    assert unreadable.status_code == 422
    assert visits.current_scoring_version().version == 1

    loaded = client.post("/follow-up/scoring", data=form_data())

    assert loaded.status_code == 302
    version = visits.current_scoring_version()
    assert (version.version, version.note) == (2, "Economy counts double")
    db.session.refresh(survey)
    assert survey.scoring_version_id == version.id
    assert survey.composite == 0.625
    actions = set(db.session.scalars(sa.select(AuditEntry.action)))
    assert {"scoring.load", "scoring.rescore"} <= actions
    page = client.get("/follow-up/scoring").get_data(as_text=True)
    assert page.count('data-testid="scoring-version"') == 2
    assert "Economy counts double" in page


def test_the_rescore_button_scores_the_stored_answers_again(w: World, login) -> None:
    admin = user_with_role(Role.ADMIN)
    survey = visits.record_survey(w.case.id, TODAY, answers(4, 2, 0), actor=w.case_manager)
    version = visits.load_scoring_version(**new_version(), actor=admin)  # type: ignore[arg-type]
    client = login(admin)
    assert survey.composite == 0.5

    answer = client.post(f"/follow-up/scoring/{version.id}/rescore", follow_redirects=True)

    assert "1 stored survey was scored again." in answer.get_data(as_text=True)
    db.session.refresh(survey)
    assert survey.composite == 0.625


def test_a_counsellor_cannot_reach_the_scoring_pages(w: World, login) -> None:
    client = login(w.counsellor)
    version = visits.current_scoring_version()

    assert client.get("/follow-up/scoring").status_code == 403
    assert client.post("/follow-up/scoring", data=form_data()).status_code == 403
    assert client.post(f"/follow-up/scoring/{version.id}/rescore").status_code == 403
    assert visits.current_scoring_version().version == 1


# --- the command line ------------------------------------------------------------------------


def test_the_command_loads_a_version_file_and_rescores(w: World, runner, tmp_path: Path) -> None:
    survey = visits.record_survey(w.case.id, TODAY, answers(4, 2, 0), actor=w.case_manager)
    db.session.commit()
    path = tmp_path / "weights.json"
    version = new_version()
    version["indicators"] = {k: list(v) for k, v in equal_indicators().items()}
    path.write_text(json.dumps(version | {"note": "from a file"}))

    result = runner.invoke(args=["followups", "load-scoring", str(path)])

    assert result.exit_code == 0, result.output
    assert "scoring version 2 is in force" in result.output
    assert "1 stored surveys scored again" in result.output
    db.session.expire_all()
    assert visits.current_scoring_version().note == "from a file"
    assert db.session.get(type(survey), survey.id).composite == 0.625
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(version | {"bands": [["low", 0.5]]}))
    refused = runner.invoke(args=["followups", "load-scoring", str(bad)])
    assert refused.exit_code != 0
    assert "bands" in refused.output
