"""The search statement cache: a statement built once per shape, run with a search's own
values, is the statement built afresh for that search."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.compiler import SQLCompiler

from partners.eligibility import ReturneeProfile
from partners.models import SupportCategory
from partners.search import SearchQuery, SortOrder, _summary_statement, normalise
from partners.search_cache import bind_values, summary_statement
from reintegration_hub.core.roles import Role

NOW = dt.datetime(2026, 3, 14, 9, 30, tzinfo=dt.UTC)
QUERIES = {
    "nothing": SearchQuery(),
    "text and country": SearchQuery(text="tailoring course", country_code="GE"),
    "filters and a page": SearchQuery(
        category=SupportCategory.EDUCATION,
        max_cost_eur_minor=150_000,
        language="ka",
        with_free_places=True,
        region="Imereti",
        city="Kutaisi",
        sort=SortOrder.COST,
        page=3,
        per_page=7,
    ),
    "a profile": SearchQuery(
        text="business",
        partner_id=4,
        profile=ReturneeProfile.of(
            age=34, sex="female", vulnerabilities=["disability"], family_size=3, languages=["ru"]
        ),
        sort=SortOrder.BEST_OUTCOMES,
    ),
}
ACTORS = {
    "counsellor": SimpleNamespace(id=1, role=Role.COUNSELLOR, office_id=1, country_code="GE"),
    "case manager": SimpleNamespace(id=2, role=Role.CASE_MANAGER, office_id=2, country_code="AM"),
}
DIALECTS = {
    "sqlite": sqlite.dialect(paramstyle="qmark"),
    "postgresql": postgresql.dialect(paramstyle="format"),
}


def compiled(statement: sa.ClauseElement, dialect: Any) -> tuple[str, list[Any]]:
    """The SQL with positional parameters (so their names do not matter) and their values in
    order, lists expanded."""
    sql = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    assert isinstance(sql, SQLCompiler)
    values = sql.construct_params()
    return str(sql), [values[name] for name in sql.positiontup or ()]


@pytest.mark.parametrize(
    ("dialect_name", "typo"), [("sqlite", False), ("postgresql", False), ("postgresql", True)]
)
@pytest.mark.parametrize("actor_name", sorted(ACTORS))
@pytest.mark.parametrize("query_name", sorted(QUERIES))
def test_a_cached_statement_is_the_statement_built_afresh(
    app, query_name: str, actor_name: str, dialect_name: str, typo: bool
) -> None:
    query, actor = normalise(QUERIES[query_name]), ACTORS[actor_name]
    cached = summary_statement(
        query, actor=actor, dialect=dialect_name, now=NOW, typo=typo, build=_summary_statement
    )
    fresh = _summary_statement(query, actor, dialect_name, NOW, typo)
    assert cached is not fresh
    assert isinstance(cached, sa.ClauseElement)
    assert isinstance(fresh, sa.ClauseElement)
    values = bind_values(query, NOW)  # what a search runs either with
    dialect = DIALECTS[dialect_name]
    assert compiled(cached.params(values), dialect) == compiled(fresh.params(values), dialect)


def test_searches_of_one_shape_share_one_statement(app) -> None:
    actor = ACTORS["counsellor"]

    def statement(query: SearchQuery) -> sa.Executable:
        return summary_statement(
            normalise(query),
            actor=actor,
            dialect="sqlite",
            now=NOW,
            typo=False,
            build=_summary_statement,
        )

    first = statement(SearchQuery(text="tailoring", country_code="GE", page=1))
    assert statement(SearchQuery(text="bakery", country_code="AM", page=4)) is first
    assert statement(SearchQuery(text="bakery")) is not first
