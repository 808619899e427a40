"""The drill-down filters a monitoring figure links with: what they write, they read back;
what does not parse is no filter at all."""

from __future__ import annotations

from reintegration_hub.cases.drill import CaseDrill


def test_a_drill_reads_back_what_it_writes() -> None:
    drill = CaseDrill(plan_days="31-60", timeliness="late", score_bucket=0, milestone_office_id=3)
    assert CaseDrill.from_args(drill.query_args()) == drill
    assert CaseDrill.from_args(CaseDrill(score_bucket=9, plan_days="before").query_args()) == (
        CaseDrill(score_bucket=9, plan_days="before")
    )


def test_what_does_not_parse_is_ignored() -> None:
    for args in (
        {"plan_days": "31-59"},
        {"timeliness": "soon"},
        {"score_bucket": "10"},
        {"score_bucket": "-1"},
        {"score_bucket": "²"},
        {"score_bucket": ""},
    ):
        assert CaseDrill.from_args(args).is_empty, args
