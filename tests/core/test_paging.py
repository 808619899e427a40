"""Keyset pages (``core.paging``): which orders qualify, and the rows after a position."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from reintegration_hub.auth.models import Office
from reintegration_hub.core import paging
from reintegration_hub.core.roles import OfficeKind
from reintegration_hub.extensions import db
from tests.factories import OfficeFactory


def test_only_orders_of_not_null_columns_ending_with_a_key_qualify() -> None:
    assert paging.sort_keys(sa.select(Office).order_by(Office.name, Office.id))
    assert paging.sort_keys(sa.select(Office).order_by(Office.name)) is None  # ties
    assert paging.sort_keys(sa.select(Office).order_by(Office.supervisor_id, Office.id)) is None
    assert paging.sort_keys(sa.select(Office).order_by(Office.id.desc().nulls_last())) is None
    assert paging.sort_keys(sa.select(Office).order_by(sa.func.lower(Office.name))) is None


def test_rows_after_a_position_in_an_order_of_mixed_directions(app: Flask) -> None:
    for n, kind in enumerate([OfficeKind.ORIGIN, OfficeKind.HOST, OfficeKind.HOME] * 3):
        OfficeFactory(kind=kind, name=f"Office {n % 4}-{n}")
    db.session.flush()
    stmt = sa.select(Office).order_by(Office.kind, Office.name.desc(), Office.id)
    keys = paging.sort_keys(stmt)
    assert keys is not None
    whole = list(db.session.scalars(stmt))
    for position, office in enumerate(whole):
        values = [office.kind, office.name, office.id]
        after = list(db.session.scalars(stmt.where(paging.rows_after(keys, values))))
        assert after == whole[position + 1 :]
