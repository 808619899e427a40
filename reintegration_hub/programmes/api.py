"""``/api/v1/grants``, ``/api/v1/cap-rules``, ``/api/v1/exchange-rates``: programme set-up
with the same services and scope as the pages."""

from __future__ import annotations

from typing import Any

from flask_login import current_user

from reintegration_hub.core.api import Blueprint, SelectPage, commits
from reintegration_hub.core.authz import roles
from reintegration_hub.core.roles import Role
from reintegration_hub.programmes import caps, places, rates, services
from reintegration_hub.programmes.schemas import (
    CapRuleSchema,
    ExchangeRateSchema,
    GrantSchema,
    ImportResultSchema,
    PageQuerySchema,
    PlacesSchema,
    PriorityListSchema,
    RateChangeSchema,
    RateImportSchema,
    RateQuerySchema,
)

bp = Blueprint("programmes_api", __name__, url_prefix="", description="Programme set-up")

MANAGERS = (Role.ADMIN, Role.PROGRAMME_MANAGER)
NOT_YOURS = "No such grant among those the caller manages"


# --- grants ---------------------------------------------------------------------------------


@bp.get("/grants")
@bp.response(200, GrantSchema(many=True))
@roles(*MANAGERS)
def list_grants() -> Any:
    """The grants the caller manages (a host office's programme manager: its own), with their
    co-financing split and targets."""
    return services.list_grants(actor=current_user)


@bp.post("/grants")
@bp.arguments(GrantSchema)
@bp.response(201, GrantSchema)
@bp.refuses({409: "A grant with this number exists"})
@roles(*MANAGERS)
@commits
def create_grant(terms: services.GrantTerms) -> Any:
    """A new grant; co-financing shares add up to 100%."""
    return services.create_grant(**terms.__dict__, actor=current_user)


@bp.get("/grants/<int:grant_id>")
@bp.response(200, GrantSchema)
@bp.refuses({404: NOT_YOURS})
@roles(*MANAGERS)
def get_grant(grant_id: int) -> Any:
    return services.managed_grant(grant_id, actor=current_user)


@bp.put("/grants/<int:grant_id>")
@bp.arguments(GrantSchema)
@bp.response(200, GrantSchema)
@bp.refuses({404: NOT_YOURS, 409: "Cases or approved plans in the way"})
@roles(*MANAGERS)
@commits
def update_grant(terms: services.GrantTerms, grant_id: int) -> Any:
    """Replace a grant's terms, funding sources and targets."""
    return services.update_grant(grant_id, terms, actor=current_user)


@bp.get("/grants/<int:grant_id>/places")
@bp.response(200, PlacesSchema)
@bp.refuses({404: NOT_YOURS})
@roles(*MANAGERS)
def grant_places(grant_id: int) -> Any:
    """Reintegration places funded, used and left."""
    grant = services.managed_grant(grant_id, actor=current_user)
    return services.places_of([grant])[grant.id]


@bp.get("/grants/<int:grant_id>/priority")
@bp.arguments(PageQuerySchema, location="query")
@bp.response(200, PriorityListSchema)
@bp.refuses({404: NOT_YOURS})
@roles(*MANAGERS)
def grant_priority(query: dict[str, Any], grant_id: int) -> Any:
    """The grant's returnees waiting for a place, most vulnerable first (summed severity of
    their vulnerability categories, then their number, then the earliest return)."""
    return places.priority_list(grant_id, actor=current_user, page=query["page"])


# --- cap rules ------------------------------------------------------------------------------


@bp.get("/cap-rules")
@bp.response(200, CapRuleSchema(many=True))
@roles(*MANAGERS)
def list_cap_rules() -> Any:
    """Budget cap rules: per programme and country of return, the cap per adult and per
    dependant, the largest household covered and the departure window."""
    return caps.list_cap_rules(actor=current_user)


@bp.post("/cap-rules")
@bp.arguments(CapRuleSchema)
@bp.response(201, CapRuleSchema)
@bp.refuses({409: "A rule for this scope or name exists"})
@roles(*MANAGERS)
@commits
def create_cap_rule(terms: caps.CapRuleTerms) -> Any:
    return caps.create_cap_rule(terms, actor=current_user)


@bp.get("/cap-rules/<int:rule_id>")
@bp.response(200, CapRuleSchema)
@bp.refuses({404: "No such rule the caller may change"})
@roles(*MANAGERS)
def get_cap_rule(rule_id: int) -> Any:
    return caps.get_cap_rule(rule_id, actor=current_user)


@bp.put("/cap-rules/<int:rule_id>")
@bp.arguments(CapRuleSchema)
@bp.response(200, CapRuleSchema)
@bp.refuses(
    {404: "No such rule the caller may change", 409: "A rule for this scope or name exists"}
)
@roles(*MANAGERS)
@commits
def update_cap_rule(terms: caps.CapRuleTerms, rule_id: int) -> Any:
    """Change a rule; plans started already keep their cap."""
    return caps.update_cap_rule(rule_id, terms, actor=current_user)


@bp.delete("/cap-rules/<int:rule_id>")
@bp.response(204)
@bp.refuses({404: "No such rule the caller may change", 409: "Plans were capped under the rule"})
@roles(*MANAGERS)
@commits
def delete_cap_rule(rule_id: int) -> Any:
    """Remove a rule no plan was capped under (never the default rule)."""
    caps.delete_cap_rule(rule_id, actor=current_user)
    return None


# --- exchange rates -------------------------------------------------------------------------


@bp.get("/exchange-rates")
@bp.arguments(RateQuerySchema, location="query")
@bp.response(200, ExchangeRateSchema(many=True))
@bp.paginate(SelectPage)
@roles(*MANAGERS)
def list_rates(query: dict[str, Any]) -> Any:
    """Recorded rates, newest day first."""
    return rates.rate_list_statement(actor=current_user, currency=query.get("currency"))


@bp.post("/exchange-rates")
@bp.arguments(ExchangeRateSchema)
@bp.response(201, ExchangeRateSchema)
@bp.refuses({409: "A rate for this currency and day exists"})
@roles(*MANAGERS)
@commits
def create_rate(data: dict[str, Any]) -> Any:
    """A rate for a currency from a day on, as euros per unit or as units per euro."""
    return rates.record_rate(data["currency"], data["valid_on"], **_rate(data), actor=current_user)


@bp.put("/exchange-rates/<int:rate_id>")
@bp.arguments(RateChangeSchema)
@bp.response(200, ExchangeRateSchema)
@bp.refuses({404: "No such rate"})
@roles(*MANAGERS)
@commits
def update_rate(data: dict[str, Any], rate_id: int) -> Any:
    """Correct a rate; plan lines and deliveries priced with it keep the old one."""
    return rates.update_rate(rate_id, **_rate(data), actor=current_user)


@bp.delete("/exchange-rates/<int:rate_id>")
@bp.response(204)
@bp.refuses({404: "No such rate"})
@roles(*MANAGERS)
@commits
def delete_rate(rate_id: int) -> Any:
    rates.delete_rate(rate_id, actor=current_user)
    return None


@bp.post("/exchange-rates/import")
@bp.arguments(RateImportSchema, location="files")
@bp.response(200, ImportResultSchema)
@bp.refuses({422: "Nothing imported: errors by line"})
@roles(*MANAGERS)
@commits
def import_rates(files: dict[str, Any]) -> Any:
    """Daily rates from a CSV or XLSX file (columns currency, date, and eur_per_unit or
    units_per_eur, optionally source), all or none; errors.lines lists each problem."""
    upload = files["file"]
    return rates.import_rates(
        upload.filename or "", upload.read(rates.MAX_IMPORT_BYTES + 1), actor=current_user
    )


def _rate(data: dict[str, Any]) -> dict[str, Any]:
    by_unit = "units_per_eur" in data
    return {
        "rate": data["units_per_eur"] if by_unit else data["eur_per_unit"],
        "units_per_eur": by_unit,
        "source": data.get("source", ""),
    }
