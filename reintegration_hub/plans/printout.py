"""The plan printed for the returnee to sign: what it holds, and the language it is printed in.

The printout is a page of its own (``templates/plans/print.html``) that the browser prints or
saves as PDF. It carries the returnee's name, so every printout is audited (``plan.print``).
It lists the lines in effect (those that count in the plan's total), never the ones declined,
expired or cancelled, nor those an open amendment only proposes: what the returnee signs is
what the plan holds today.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from partners.models import SupportOption, SupportOptionText
from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.audit import record_audit
from reintegration_hub.core.errors import NotFound
from reintegration_hub.core.roles import Actor
from reintegration_hub.plans.models import LineStatus, Plan, PlanLine
from reintegration_hub.plans.services import NO_PLAN, plan_for_case


@dataclass(frozen=True)
class Printout:
    plan: Plan
    lines: Sequence[PlanLine]
    language: str  # the interface language it is printed in


def print_language(case: Returnee, languages: Sequence[str], asked: str | None = None) -> str:
    """``asked`` when it is one of ``languages`` (the catalogue's); else the first of the
    returnee's languages the catalogue has; else English."""
    if asked in languages:
        return str(asked)
    return next((code for code in case.languages if code in languages), "en")


def option_text(option: SupportOption, case: Returnee, language: str) -> SupportOptionText | None:
    """The option's text in the first of the returnee's own languages it has (a partner may
    describe it in Georgian where the interface has no Georgian), else in ``language``."""
    by_language = {text.language: text for text in option.texts}
    found = next((by_language[code] for code in case.languages if code in by_language), None)
    return found or option.text(language)


def printout(
    case_id: int, *, languages: Sequence[str], asked: str | None = None, actor: Actor
) -> Printout:
    """The case's plan to print, in scope or NotFound; audited (``plan.print``)."""
    plan = plan_for_case(case_id, actor=actor)
    if plan is None:
        raise NotFound(NO_PLAN)
    language = print_language(plan.returnee, languages, asked)
    record_audit("plan.print", plan, actor=actor, changes={"language": language})
    lines = [line for line in plan.lines if line.status == LineStatus.ACTIVE]
    return Printout(plan=plan, lines=lines, language=language)
