"""Reassignment from the case list (ticked cases, or every case that matches the filters) and
from the case's own page."""

from __future__ import annotations

import pytest

from reintegration_hub.cases.models import Returnee
from reintegration_hub.extensions import db
from tests.cases.helpers import counsellor, host_office
from tests.plans.helpers import World, single_mother, world


@pytest.fixture
def w(app: object) -> World:
    w = world()
    w.riga.supervisor_id = w.counsellor.id
    return w


def test_the_supervisor_reassigns_every_case_of_a_leaving_counsellor(w: World, login) -> None:
    leaving = counsellor(w.riga)
    theirs = [single_mother(leaving, w.tbilisi) for _ in range(3)]
    staying = counsellor(w.riga)
    db.session.commit()
    client = login(w.counsellor)

    listed = client.get(f"/cases/?counsellor_id={leaving.id}").get_data(as_text=True)
    moved = client.post(
        "/cases/reassign",
        data={"all_matching": "y", "counsellor_id": leaving.id, "user_id": staying.id},
    )

    assert listed.count('data-testid="case-row"') == 3
    assert 'data-testid="bulk-assign"' in listed
    assert moved.status_code == 302
    assert f"counsellor_id={leaving.id}" in moved.headers["Location"]
    db.session.expire_all()
    assert {db.session.get(Returnee, case.id).counsellor_id for case in theirs} == {staying.id}
    assert db.session.get(Returnee, w.case.id).counsellor_id == w.counsellor.id


def test_ticked_cases_only_and_a_refusal_at_the_field(w: World, login) -> None:
    second = single_mother(w.counsellor, w.tbilisi)
    colleague = counsellor(w.riga)
    prague = counsellor(host_office("CZ", "Prague"))
    db.session.commit()
    client = login(w.counsellor)

    refused = client.post("/cases/reassign", data={"case_ids": [second.id], "user_id": prague.id})
    none = client.post("/cases/reassign", data={"user_id": colleague.id})
    ticked = client.post("/cases/reassign", data={"case_ids": [second.id], "user_id": colleague.id})

    assert refused.status_code == 422
    assert "transfer" in refused.get_data(as_text=True)
    assert none.status_code == 422
    assert ticked.status_code == 302
    db.session.expire_all()
    assert db.session.get(Returnee, second.id).counsellor_id == colleague.id
    assert db.session.get(Returnee, w.case.id).counsellor_id == w.counsellor.id


def test_the_case_page_transfers_the_case(w: World, login) -> None:
    prague = counsellor(host_office("CZ", "Prague"))
    db.session.commit()
    client = login(w.counsellor)

    page = client.get(f"/cases/{w.case.id}").get_data(as_text=True)
    form = client.get(f"/cases/{w.case.id}/assign")
    transferred = client.post(
        f"/cases/{w.case.id}/assign", data={"user_id": prague.id, "transfer": "y"}
    )

    assert 'data-testid="reassign"' in page
    assert form.status_code == 200
    assert transferred.status_code == 302
    db.session.expire_all()
    assert db.session.get(Returnee, w.case.id).host_office_id == prague.office_id


def test_a_counsellor_who_is_not_the_supervisor_sees_no_reassignment(w: World, login) -> None:
    colleague = counsellor(w.riga)
    db.session.commit()
    client = login(colleague)

    listed = client.get("/cases/").get_data(as_text=True)
    page = client.get(f"/cases/{w.case.id}").get_data(as_text=True)
    posted = client.post("/cases/reassign", data={"case_ids": [w.case.id], "user_id": colleague.id})

    assert "bulk-assign" not in listed
    assert 'data-testid="reassign"' not in page
    assert posted.status_code == 422  # the form offers them nobody to choose
    db.session.expire_all()
    assert db.session.get(Returnee, w.case.id).counsellor_id == w.counsellor.id


def test_hostile_filters_are_refused_naming_them_not_a_server_error(w: World, login) -> None:
    client = login(w.counsellor)

    for query in ("counsellor_id=99999999999999999999999", "case_manager_id=-1", "office_id=x"):
        refused = client.get(f"/cases/?{query}")
        assert refused.status_code == 400
        assert query.split("=")[0] in refused.get_data(as_text=True)
    nul = client.post("/cases/reassign", data={"case_ids": ["1\x00"], "user_id": w.counsellor.id})
    huge = client.post(
        "/cases/reassign", data={"case_ids": ["99999999999999999999"], "user_id": w.counsellor.id}
    )
    assert nul.status_code == 422  # not a number: refused by the form
    assert huge.status_code == 404  # no such case


def test_altered_list_filters_are_refused_above_the_form_and_nothing_moves(w: World, login) -> None:
    """ "Every case that matches" with a filter that no longer reads (the page was changed)
    would reassign more cases than the list showed: refused, nothing reassigned."""
    colleague = counsellor(w.riga)
    db.session.commit()
    client = login(w.counsellor)

    refused = client.post(
        "/cases/reassign",
        data={"all_matching": "y", "returned": "\x00", "user_id": colleague.id},
    )

    assert refused.status_code == 422
    assert "This form was changed or is out of date" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Returnee, w.case.id).counsellor_id == w.counsellor.id
