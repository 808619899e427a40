"""The text match of a marketplace search, the main dialect branch of ``partners.search``.

PostgreSQL matches the ``simple`` text-search configuration on the stored ``fts_document``
vector of migration 0002 (GIN-indexed); SQLite the FTS5 table of the same migration, with every
word matched as a prefix.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from partners.models import SupportOption, SupportOptionText

#: The stored ``tsvector`` of title and description that migration 0002 adds on PostgreSQL
#: (GIN-indexed; deliberately not mapped on the model, the database computes it).
SEARCH_VECTOR = "support_option_texts.fts_document"


def fts5_query(text: str) -> str | None:
    """Words only, each quoted and matched as a prefix (never an FTS5 syntax error)."""
    words = re.findall(r"\w+", text)
    if not words:
        return None
    return " ".join('"' + word.replace('"', '""') + '"*' for word in words)


def text_match(
    text: str, dialect: str, *, typo: bool = False
) -> tuple[sa.ColumnElement[bool], Callable[[sa.Select[Any]], sa.Subquery]] | None:
    """``(condition, ranks)``: whether a text of the option (any language) matches ``text``, as a
    condition over ``SupportOption``, and a function giving, for a select of candidate option
    ids, ``(option_id, rank)``: the best score of each candidate's matching texts (higher is
    better).

    The condition is a semi-join the planner runs only over the options the other filters keep;
    ranks are computed only for the candidates given (the page's). On PostgreSQL ``typo`` adds
    trigram word similarity on titles to the match (the fallback of ``search.search_options``);
    the rank is the same sum either way, so a typo-tolerant search orders as before.
    """
    T = SupportOptionText
    if dialect == "postgresql":
        document: sa.ColumnElement[Any] = sa.literal_column(SEARCH_VECTOR)
        tsquery = sa.func.websearch_to_tsquery(sa.literal_column("'simple'::regconfig"), text)
        matched: sa.ColumnElement[bool] = document.bool_op("@@")(tsquery)
        if typo:
            similar = sa.literal(text).bool_op("<%")(T.title)  # pg_trgm word similarity
            matched = sa.or_(matched, similar)
        score = sa.func.ts_rank(document, tsquery) + sa.func.word_similarity(text, T.title)

        def pg_ranks(candidates: sa.Select[Any]) -> sa.Subquery:
            return (
                sa.select(T.option_id, sa.func.max(score).label("rank"))
                .where(T.option_id.in_(candidates), matched)
                .group_by(T.option_id)
                .subquery("ranks")
            )

        return sa.exists().where(T.option_id == SupportOption.id, matched), pg_ranks
    match = fts5_query(text)
    if match is None:
        return None
    # FTS5's hidden ``rank`` column is bm25 (lower is better); one scan of the match computes it
    # (bm25 counts the whole match once per scan, so never look it up row by row)
    fts = sa.table("support_option_texts_fts", sa.column("rowid"), sa.column("rank"))
    fts_match = sa.literal_column("support_option_texts_fts").op("MATCH")(match)

    def sqlite_ranks(candidates: sa.Select[Any]) -> sa.Subquery:
        return (
            sa.select(T.option_id, sa.func.max(-fts.c.rank).label("rank"))
            .select_from(fts)
            .join(T, T.id == fts.c.rowid)
            .where(fts_match, T.option_id.in_(candidates))
            .group_by(T.option_id)
            .subquery("ranks")
        )

    # uncorrelated: SQLite runs the full-text lookup once, not once per option
    matching = sa.select(T.option_id).join(fts, fts.c.rowid == T.id).where(fts_match)
    return SupportOption.id.in_(matching), sqlite_ranks
