"""Saved work lists: a user's own or shared with their office; "mine" keeps what they answer for."""

from __future__ import annotations

import pytest

from reintegration_hub.extensions import db
from reintegration_hub.followups import worklist
from reintegration_hub.followups.models import SavedWorkList
from reintegration_hub.followups.sweep import sweep
from tests.cases.helpers import case_manager, origin_office
from tests.followups.helpers import approved, day
from tests.plans.helpers import World, world


@pytest.fixture
def w(app: object) -> World:
    w = world()
    w.case.departed_on = w.case.arrived_on = day(0)
    return w


def rows(html: bytes) -> list[str]:
    return [part.split("</tr>")[0] for part in html.decode().split('data-testid="work-row"')[1:]]


def test_a_kept_list_opens_with_its_filters(w: World, login) -> None:
    client = login(w.case_manager)

    answer = client.post(
        "/follow-up/lists?overdue=1&mine=1&kind=first_contact", data={"name": "My late calls"}
    )

    kept = db.session.scalars(db.select(SavedWorkList)).one()
    assert answer.status_code == 302
    assert kept.filters == {
        "office_id": None,
        "responsible": None,
        "kind": "first_contact",
        "overdue_only": True,
        "mine": True,
    }
    opened = client.get(f"/follow-up/lists/{kept.id}")
    assert opened.status_code == 302
    assert opened.headers["Location"] == "/follow-up/?kind=first_contact&overdue=1&mine=1"


def test_a_shared_list_is_seen_in_the_office_only(w: World, login) -> None:
    colleague = case_manager(w.tbilisi)
    stranger = case_manager(origin_office("AM", "Yerevan"))
    worklist.save_list("Office's", worklist.WorkListFilters(), shared=True, actor=w.case_manager)
    worklist.save_list("Private", worklist.WorkListFilters(), shared=False, actor=w.case_manager)
    db.session.commit()

    assert [k.name for k in worklist.saved_lists(actor=w.case_manager)] == ["Office's", "Private"]
    assert [k.name for k in worklist.saved_lists(actor=colleague)] == ["Office's"]
    assert worklist.saved_lists(actor=stranger) == []
    private = db.session.scalars(db.select(SavedWorkList).where(~SavedWorkList.shared)).one()
    assert login(colleague).get(f"/follow-up/lists/{private.id}").status_code == 404
    login(colleague).post(f"/follow-up/lists/{private.id}/delete")
    assert db.session.get(SavedWorkList, private.id) is not None  # only its owner deletes it
    login(w.case_manager).post(f"/follow-up/lists/{private.id}/delete")
    assert db.session.get(SavedWorkList, private.id) is None


def test_saving_again_under_a_name_replaces_the_list(w: World) -> None:
    worklist.save_list(
        "Mine", worklist.WorkListFilters(mine=True), shared=False, actor=w.case_manager
    )
    worklist.save_list(
        "Mine", worklist.WorkListFilters(overdue_only=True), shared=True, actor=w.case_manager
    )
    db.session.commit()

    (kept,) = worklist.saved_lists(actor=w.case_manager)
    assert kept.shared
    assert worklist.WorkListFilters.from_stored(kept.filters) == worklist.WorkListFilters(
        overdue_only=True
    )


@pytest.mark.parametrize("name", ["", "   ", "a\x00b", "x" * 81])
def test_a_bad_name_is_refused_at_the_field(w: World, login, name: str) -> None:
    answer = login(w.case_manager).post("/follow-up/lists?overdue=1", data={"name": name})

    assert answer.status_code == 400
    assert "invalid-feedback" in answer.data.decode()
    assert db.session.scalars(db.select(SavedWorkList)).all() == []


def test_mine_keeps_the_milestones_the_user_answers_for(w: World, login) -> None:
    approved(w, w.option(lead_time_days=200))
    db.session.commit()
    sweep(day(85))
    colleague = case_manager(w.tbilisi)

    assert len(rows(login(w.case_manager).get("/follow-up/?mine=1").data)) == 3
    assert len(rows(login(colleague).get("/follow-up/").data)) == 3  # the office's
    assert rows(login(colleague).get("/follow-up/?mine=1").data) == []  # not theirs
