"""Case input the programme's rules refuse (reported on the code before the rules were data):
a household larger than the cap rule covers, a grant that does not cover the return."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from reintegration_hub.cases import services
from reintegration_hub.cases.models import DependantRelation, Returnee
from reintegration_hub.core.errors import InvalidInput
from reintegration_hub.extensions import db
from reintegration_hub.programmes.models import Grant
from tests.cases.helpers import counsellor, details, register


def test_a_case_with_1000_dependants_is_refused(app) -> None:
    """It used to be accepted, which lifted the family's cap to EUR 1,002,000."""
    children = [
        services.DependantInput(DependantRelation.CHILD, dt.date(2015, 1, 1)) for _ in range(1000)
    ]
    with pytest.raises(InvalidInput) as refused:
        services.register_case(details(), dependants=children, actor=counsellor())
    assert "12 persons" in str(refused.value.field_errors["dependants"][0])
    assert db.session.scalar(sa.select(sa.func.count(Returnee.id))) == 0


def test_a_2026_case_cannot_join_a_grant_that_ended_in_2022(app) -> None:
    ended = Grant(
        number="AK/IOM/PMIF/2018/1",
        title="AVRR Latvia",
        start_on=dt.date(2019, 1, 3),
        end_on=dt.date(2022, 12, 31),
        currency="EUR",
        total_budget_minor=532_651_00,
    )
    db.session.add(ended)
    db.session.flush()
    with pytest.raises(InvalidInput) as refused:
        register(counsellor(), grant_id=ended.id, departed_on=dt.date(2026, 3, 1))
    message = str(refused.value.field_errors["grant_id"][0])
    assert "2022-12-31" in message
    assert "2026-03-01" in message
