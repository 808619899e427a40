"""The plan printed for signature: the lines in effect, the returnee's language, audited."""

from __future__ import annotations

import pytest

from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.extensions import db
from reintegration_hub.plans import printout
from reintegration_hub.plans.models import LineStatus
from tests.plans.helpers import World, approved_plan, other_counsellor, world

LANGUAGES = ["en", "lt", "lv", "cs", "ru"]


@pytest.fixture
def w(app: object) -> World:
    return world()


def test_the_language_is_the_returnees_where_the_catalogue_has_it(w: World) -> None:
    w.case.languages = ["ka", "ru"]
    assert printout.print_language(w.case, LANGUAGES) == "ru"
    assert printout.print_language(w.case, LANGUAGES, asked="lv") == "lv"
    assert printout.print_language(w.case, LANGUAGES, asked="ka") == "ru"  # not in the catalogue
    w.case.languages = ["ka"]
    assert printout.print_language(w.case, LANGUAGES) == "en"


def test_the_printout_lists_the_lines_in_effect_and_the_name(w: World, login) -> None:
    plan = approved_plan(w, w.option(), w.option())
    declined = plan.lines[1]
    declined.status = LineStatus.DECLINED  # the partner declined it: it no longer counts
    w.case.languages = ["ka", "ru"]
    db.session.commit()

    page = login(w.counsellor).get(f"/cases/{w.case.id}/plan/print")

    assert page.status_code == 200
    html = page.data.decode()
    assert '<html lang="ru">' in html
    assert f'data-testid="print-name">{w.case.full_name}<' in html
    assert html.count('data-testid="print-line"') == 1
    assert plan.lines[0].option.partner.name in html
    assert "Подпись" in html or "подпись" in html  # the signature block, in Russian
    entry = db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == "plan.print")).one()
    assert entry.object_id == str(plan.id)
    assert entry.changes == {"language": "ru"}


def test_another_office_cannot_print_it(w: World, login) -> None:
    approved_plan(w, w.option())
    db.session.commit()

    assert login(other_counsellor()).get(f"/cases/{w.case.id}/plan/print").status_code == 404


def test_a_case_without_a_plan_has_nothing_to_print(w: World, login) -> None:
    db.session.commit()

    assert login(w.counsellor).get(f"/cases/{w.case.id}/plan/print").status_code == 404
