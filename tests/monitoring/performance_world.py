"""Partners A, B and C with hand-made referrals, deliveries and surveys (partner performance)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from partners.models import ReferralStatus
from reintegration_hub.extensions import db
from tests.monitoring import casework as w

AS_OF = dt.date(2026, 6, 30)
D = dt.date


def build_performance_world() -> dict[str, Any]:
    """Partner A (seven referrals by the as-of day, one after), B (one), C (none)."""
    where = w.offices()
    a, option_a = w.partner_with_option(where, "Kutaisi Business Hub")
    b, option_b = w.partner_with_option(where, "Batumi Start")
    c, _ = w.partner_with_option(where, "Poti Idle")

    def line(departed: dt.date | None, approved: dt.date, option: Any, **referral: Any) -> Any:
        returnee = w.case(where, where.riga, departed_on=departed)
        return returnee, w.referred_line(w.plan(returnee, approved), option, **referral)

    # 1: accepted after 24 h, delivered 59 days after sending, 55 days after the return
    case1, line1 = line(
        D(2025, 1, 10), D(2025, 1, 5), option_a,
        sent=w.at(D(2025, 1, 6)), answered=w.at(D(2025, 1, 7)),
    )  # fmt: skip
    w.deliver(line1, D(2025, 3, 6))
    # 2: accepted after 12 h, delivered 393 days after sending and after the return (too late)
    case2, line2 = line(
        D(2025, 2, 1), D(2025, 1, 20), option_a,
        sent=w.at(D(2025, 2, 1)), answered=w.at(D(2025, 2, 1), 21),
    )  # fmt: skip
    w.deliver(line2, D(2026, 3, 1))
    # 3: accepted after 48 h, never delivered; returned (approval day, no departure) more than
    # a year before the as-of day: due, not delivered
    case3, _ = line(
        None, D(2025, 3, 1), option_a,
        sent=w.at(D(2025, 3, 1)), answered=w.at(D(2025, 3, 3)),
    )  # fmt: skip
    # 4: accepted after 30 h, not delivered, the year after the return not over: not due
    line(
        D(2026, 5, 1), D(2026, 4, 20), option_a,
        sent=w.at(D(2026, 5, 2)), answered=w.at(D(2026, 5, 3), 15),
    )  # fmt: skip
    # 5: declined; 6: expired; 7: still open (not decided)
    line(None, D(2026, 4, 1), option_a, sent=w.at(D(2026, 4, 1)), answered=w.at(D(2026, 4, 2)),
         declined=True)  # fmt: skip
    line(None, D(2026, 4, 10), option_a, sent=w.at(D(2026, 4, 10)), status=ReferralStatus.EXPIRED)
    line(None, D(2026, 6, 29), option_a, sent=w.at(D(2026, 6, 29)))
    # 8: after the as-of day: not counted at all
    late_case, late_line = line(
        None, D(2026, 7, 1), option_a, sent=w.at(D(2026, 7, 5)), answered=w.at(D(2026, 7, 5), 10)
    )
    w.deliver(late_line, D(2026, 7, 20))
    # surveys: case 1's latest by the as-of day is the second; the one after it is ignored
    w.survey(case1, D(2025, 6, 1), 0.2, 0.2, 0.2)
    w.survey(case1, D(2026, 1, 10), 0.8, 0.6, 0.4)  # composite 0.6
    w.survey(case1, D(2026, 8, 1), 0.0, 0.0, 0.0)
    w.survey(case2, D(2026, 3, 15), 0.5, 0.7, 0.3)  # composite 0.5
    w.survey(case3, D(2026, 3, 15), 1.0, 1.0, 1.0)  # nothing delivered to case 3: not counted
    w.survey(late_case, D(2026, 6, 1), 0.1, 0.1, 0.1)  # delivered after the as-of day

    # partner B: accepted after 2 h, delivered 30 days later, composite 0.9
    case8, line8 = line(
        D(2025, 6, 1), D(2025, 5, 20), option_b,
        sent=w.at(D(2025, 6, 1)), answered=w.at(D(2025, 6, 1), 11),
    )  # fmt: skip
    w.deliver(line8, D(2025, 7, 1))
    w.survey(case8, D(2026, 1, 1), 0.9, 0.9, 0.9)
    db.session.commit()
    return {"where": where, "a": a, "b": b, "c": c, "option_a": option_a, "option_b": option_b}
