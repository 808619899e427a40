"""The dashboard's filters and who may apply them.

``DashboardFilters`` is the one parser of the dashboard's filters: the pages, the API and the
exports build it from the same query parameters, and it gives the case list's parameters for
every figure's drill-down link (``cases.drill``), so a figure and its list count alike. It
also says whether the snapshot's cells answer a set of filters exactly (``from_cells``) and
gives the ``WHERE`` conditions on cases (live counts) and on cells (the snapshot).

``require_monitoring``: only the home office (``MONITORING_ROLES`` seeing every office) reads
the programme's figures.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from partners.models import SupportCategory
from reintegration_hub.cases.drill import CaseDrill, _bool, _date, _enum, _int, drill_conditions
from reintegration_hub.cases.models import CaseStatus, Returnee
from reintegration_hub.core.authz import sees_all_offices
from reintegration_hub.core.errors import PermissionDenied
from reintegration_hub.core.roles import Actor, Role
from reintegration_hub.monitoring.models import OutcomeCell

#: Roles that see the dashboard (the home office); everyone else is refused.
MONITORING_ROLES = frozenset({Role.ADMIN, Role.PROGRAMME_MANAGER})


@dataclass(frozen=True, kw_only=True)
class DashboardFilters:
    """The dashboard's filters. ``period_from``/``period_to`` select cases by return
    (departure) date; ``partner_id``/``category``: cases whose approved plan has such a line;
    ``vulnerable``: cases with (True) or without (False) a recorded vulnerability."""

    grant_id: int | None = None
    period_from: dt.date | None = None
    period_to: dt.date | None = None
    host_office_id: int | None = None
    return_country_code: str | None = None
    partner_id: int | None = None
    category: SupportCategory | None = None
    vulnerable: bool | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> DashboardFilters:
        """From query parameters (the pages' and the API's names); what does not parse is
        ignored, so a hand-edited address shows the unfiltered figure instead of an error.
        ``from``/``to`` are days (YYYY-MM-DD) or months (YYYY-MM: from its first day, until
        its last)."""
        country = str(args.get("country") or "").strip().upper()
        return cls(
            grant_id=_int(_text(args.get("grant"))),
            period_from=_period_day(_text(args.get("from")), end=False),
            period_to=_period_day(_text(args.get("to")), end=True),
            host_office_id=_int(_text(args.get("host_office"))),
            return_country_code=country if len(country) == 2 and country.isalpha() else None,
            partner_id=_int(_text(args.get("partner"))),
            category=_enum(SupportCategory, _text(args.get("category"))),
            vulnerable=_bool(_text(args.get("vulnerable"))),
        )

    def query_args(self) -> dict[str, str]:
        """The query parameters that give these filters back through ``from_args``."""
        pairs = {
            "grant": self.grant_id,
            "from": self.period_from.isoformat() if self.period_from else None,
            "to": self.period_to.isoformat() if self.period_to else None,
            "host_office": self.host_office_id,
            "country": self.return_country_code,
            "partner": self.partner_id,
            "category": self.category.value if self.category else None,
            "vulnerable": None if self.vulnerable is None else ("1" if self.vulnerable else "0"),
        }
        return {key: str(value) for key, value in pairs.items() if value is not None}

    @property
    def by_service(self) -> bool:
        """A partner or category filter: case-level snapshot cells cannot answer it."""
        return self.partner_id is not None or self.category is not None

    @property
    def from_cells(self) -> bool:
        """Whether the snapshot's case cells answer these filters exactly: any filter but a
        partner (a case served by a partner in two categories would count twice), with a
        period of whole months (the cells' precision)."""
        return (
            self.partner_id is None
            and (self.period_from is None or self.period_from.day == 1)
            and (self.period_to is None or self.period_to == month_end(self.period_to))
        )

    def drill(self, **more: Any) -> CaseDrill:
        return CaseDrill(
            grant_id=self.grant_id,
            returned_from=self.period_from,
            returned_to=self.period_to,
            partner_id=self.partner_id,
            category=self.category,
            vulnerable=self.vulnerable,
            **more,
        )

    def case_args(self, status: CaseStatus | None = None, **more: Any) -> dict[str, str]:
        """The case list's query parameters for the cases behind a figure: these filters plus
        the figure's own (``status`` and any ``CaseDrill`` field)."""
        args = self.drill(**more).query_args()
        if self.host_office_id is not None:
            args["office_id"] = str(self.host_office_id)
        if self.return_country_code:
            args["country"] = self.return_country_code
        if status is not None:
            args["status"] = status.value
        return args

    def case_conditions(self) -> list[sa.ColumnElement[bool]]:
        """``WHERE`` conditions on ``Returnee``: the case list's, for the same cases."""
        where = drill_conditions(self.drill())
        if self.host_office_id is not None:
            where.append(Returnee.host_office_id == self.host_office_id)
        if self.return_country_code:
            where.append(Returnee.return_country_code == self.return_country_code)
        return where

    def cell_conditions(self, *, service: bool) -> list[sa.ColumnElement[bool]]:
        """``WHERE`` conditions on snapshot cells (the period at month precision)."""
        where: list[sa.ColumnElement[bool]] = []
        if self.grant_id is not None:
            where.append(OutcomeCell.grant_id == self.grant_id)
        if self.host_office_id is not None:
            where.append(OutcomeCell.host_office_id == self.host_office_id)
        if self.return_country_code:
            where.append(OutcomeCell.return_country_code == self.return_country_code)
        if self.vulnerable is not None:
            where.append(OutcomeCell.vulnerable.is_(self.vulnerable))
        if self.period_from is not None:
            where.append(OutcomeCell.return_month >= self.period_from.replace(day=1))
        if self.period_to is not None:
            where.append(OutcomeCell.return_month <= self.period_to)
        if service and self.partner_id is not None:
            where.append(OutcomeCell.partner_id == self.partner_id)
        if service and self.category is not None:
            where.append(OutcomeCell.category == self.category.value)
        return where


def month_end(day: dt.date) -> dt.date:
    """The last day of ``day``'s month (December 9999 too)."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _period_day(raw: str | None, *, end: bool) -> dt.date | None:
    """A day, or a month (YYYY-MM) as its first day or, with ``end``, its last."""
    day = _date(raw)
    if day is not None or raw is None:
        return day
    month = _date(f"{raw.strip()}-01") if len(raw.strip()) == 7 else None
    return month_end(month) if month is not None and end else month


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    if hasattr(value, "value"):
        return str(value.value)
    return str(value)


def require_monitoring(actor: Actor) -> None:
    # a host office's programme manager (its own national programme) sees no other office's
    if actor.role not in MONITORING_ROLES or not sees_all_offices(actor):
        raise PermissionDenied(_l("Only the home office sees programme monitoring."))
