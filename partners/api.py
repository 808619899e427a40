"""``/api/v1`` marketplace endpoints: partners, support options, search, HSDS 3.0 export,
referrals."""

from __future__ import annotations

import uuid
from typing import Any

from flask_babel import get_locale
from flask_login import current_user

from partners import access, capacity, hsds, referrals, services
from partners.schemas import (
    HoldArgsSchema,
    HoldResultSchema,
    HoldSchema,
    HsdsOrganizationPageSchema,
    HsdsOrganizationSchema,
    HsdsPageArgsSchema,
    HsdsServicePageSchema,
    HsdsServiceSchema,
    OptionQuerySchema,
    OptionSchema,
    OptionStatusSchema,
    PartnerQuerySchema,
    PartnerSchema,
    ReferralAcceptSchema,
    ReferralDeclineSchema,
    ReferralQuerySchema,
    ReferralSchema,
    SearchArgsSchema,
    SearchResultSchema,
    VettingSchema,
)
from partners.search import query_from_params, search_options
from reintegration_hub.core.api import Blueprint, SelectPage, commits
from reintegration_hub.core.authz import roles, signed_in
from reintegration_hub.core.roles import Role

bp = Blueprint("partners_api", __name__, url_prefix="", description="Partner marketplace")


# --- search (helper B: partners/search.py) ---------------------------------------------------


@bp.get("/marketplace/search")
@bp.arguments(SearchArgsSchema, location="query")
@bp.response(200, SearchResultSchema)
@roles(Role.ADMIN, Role.PROGRAMME_MANAGER, Role.COUNSELLOR, Role.CASE_MANAGER)
def search(args: dict[str, Any]) -> Any:
    """Search support options: free text, filters, eligibility for a profile, facets, pages."""
    query = query_from_params(args, display_language=str(get_locale() or "en"))
    return search_options(query, actor=current_user)


# --- HSDS 3.0 export (helper B: partners/hsds.py) -------------------------------------------


def _language() -> str:
    return str(get_locale() or "en")


@bp.get("/hsds/services")
@bp.arguments(HsdsPageArgsSchema, location="query")
@bp.response(200, HsdsServicePageSchema)
@signed_in
def hsds_services(args: dict[str, Any]) -> Any:
    """The directory's services as HSDS 3.0 ``service`` records, paginated as in its OpenAPI."""
    return hsds.page_json(hsds.list_services(**args, language=_language(), actor=current_user))


@bp.get("/hsds/services/<uuid:public_id>")
@bp.response(200, HsdsServiceSchema)
@bp.refuses({404: "Not in the directory"})
@signed_in
def hsds_service(public_id: uuid.UUID) -> Any:
    """One HSDS 3.0 ``service``."""
    return hsds.get_service(public_id, language=_language(), actor=current_user)


@bp.get("/hsds/organizations")
@bp.arguments(HsdsPageArgsSchema, location="query")
@bp.response(200, HsdsOrganizationPageSchema)
@signed_in
def hsds_organizations(args: dict[str, Any]) -> Any:
    """Approved partners as HSDS 3.0 ``organization`` records, paginated as in its OpenAPI."""
    organizations = hsds.list_organizations(**args, language=_language(), actor=current_user)
    return hsds.page_json(organizations)


@bp.get("/hsds/organizations/<uuid:public_id>")
@bp.response(200, HsdsOrganizationSchema)
@bp.refuses({404: "Not in the directory"})
@signed_in
def hsds_organization(public_id: uuid.UUID) -> Any:
    """One HSDS 3.0 ``organization`` with its listed services."""
    return hsds.get_organization(public_id, language=_language(), actor=current_user)


# --- partners, options, capacity (partners/services.py, access.py, capacity.py) -------------

MANAGERS = (Role.ADMIN, Role.CASE_MANAGER)
NOT_FOUND = "No such object in the caller's scope"


@bp.get("/marketplace/partners")
@bp.arguments(PartnerQuerySchema, location="query")
@bp.response(200, PartnerSchema(many=True))
@bp.paginate(SelectPage)
@signed_in
def list_partners(query: dict[str, Any]) -> Any:
    """Partners the caller may see: their own country (case managers), approved ones
    (counsellors), all (administrators, programme managers)."""
    return services.partners_stmt(actor=current_user, **query)


@bp.post("/marketplace/partners")
@bp.arguments(PartnerSchema)
@bp.response(201, PartnerSchema)
@bp.refuses({409: "The office has a partner of this name"})
@roles(*MANAGERS)
@commits
def create_partner(data: dict[str, Any]) -> Any:
    """Add a partner, pending vetting (case managers: to their own office)."""
    return services.create_partner(data["partner"], office_id=data["office_id"], actor=current_user)


@bp.get("/marketplace/partners/<int:partner_id>")
@bp.response(200, PartnerSchema)
@bp.refuses({404: NOT_FOUND})
@signed_in
def get_partner(partner_id: int) -> Any:
    return access.get_partner(partner_id, actor=current_user)


@bp.put("/marketplace/partners/<int:partner_id>")
@bp.arguments(PartnerSchema)
@bp.response(200, PartnerSchema)
@bp.refuses({404: NOT_FOUND, 409: "The office has a partner of this name"})
@roles(*MANAGERS)
@commits
def update_partner(data: dict[str, Any], partner_id: int) -> Any:
    """Replace a partner's details (the office stays)."""
    return services.update_partner(partner_id, data["partner"], actor=current_user)


@bp.post("/marketplace/partners/<int:partner_id>/vetting")
@bp.arguments(VettingSchema)
@bp.response(200, PartnerSchema)
@bp.refuses({404: NOT_FOUND})
@roles(*MANAGERS)
@commits
def set_vetting(data: dict[str, Any], partner_id: int) -> Any:
    """Approve, suspend (with a reason; closes its published options) or reset to pending."""
    return services.set_vetting_status(
        partner_id, data["vetting_status"], reason=data["reason"], actor=current_user
    )


@bp.get("/marketplace/options")
@bp.arguments(OptionQuerySchema, location="query")
@bp.response(200, OptionSchema(many=True))
@bp.paginate(SelectPage)
@signed_in
def list_options(query: dict[str, Any]) -> Any:
    """Support options the caller may see (counsellors: listed ones only), newest first."""
    return services.options_stmt(actor=current_user, partner_id=query.get("partner_id"))


@bp.post("/marketplace/partners/<int:partner_id>/options")
@bp.arguments(OptionSchema)
@bp.response(201, OptionSchema)
@bp.refuses({404: NOT_FOUND})
@roles(*MANAGERS)
@commits
def create_option(data: services.OptionInput, partner_id: int) -> Any:
    """Add a draft support option with its texts and locations."""
    return services.create_option(partner_id, data, actor=current_user)


@bp.get("/marketplace/options/<int:option_id>")
@bp.response(200, OptionSchema)
@bp.refuses({404: NOT_FOUND})
@signed_in
def get_option(option_id: int) -> Any:
    return access.get_option(option_id, actor=current_user)


@bp.put("/marketplace/options/<int:option_id>")
@bp.arguments(OptionSchema)
@bp.response(200, OptionSchema)
@bp.refuses({404: NOT_FOUND, 409: "Archived, or no longer publishable"})
@roles(*MANAGERS)
@commits
def update_option(data: services.OptionInput, option_id: int) -> Any:
    """Replace an option's details, texts and locations (audited before/after)."""
    return services.update_option(option_id, data, actor=current_user)


@bp.post("/marketplace/options/<int:option_id>/status")
@bp.arguments(OptionStatusSchema)
@bp.response(200, OptionSchema)
@bp.refuses({404: NOT_FOUND, 409: "Transition or publishing not allowed"})
@roles(*MANAGERS)
@commits
def set_option_status(data: dict[str, Any], option_id: int) -> Any:
    """Publish, close temporarily, return to draft or archive."""
    return services.set_option_status(option_id, data["status"], actor=current_user)


@bp.post("/marketplace/options/<int:option_id>/verify")
@bp.response(200, OptionSchema)
@bp.refuses({404: NOT_FOUND, 409: "Archived"})
@roles(*MANAGERS)
@commits
def verify_option(option_id: int) -> Any:
    """Record that the caller verified the option today (HSDS assured_date)."""
    return services.verify_option(option_id, actor=current_user)


@bp.post("/marketplace/options/<int:option_id>/holds")
@bp.arguments(HoldArgsSchema)
@bp.response(201, HoldResultSchema)
@bp.refuses({404: NOT_FOUND, 409: "The option is not published"})
@roles(Role.ADMIN, Role.COUNSELLOR, Role.CASE_MANAGER)
@commits
def hold_place(data: dict[str, Any], option_id: int) -> Any:
    """Hold a place for ``reference``; when full, join the waitlist (its position is returned)."""
    return capacity.hold_place(option_id, data["reference"], on=data.get("on"), actor=current_user)


@bp.post("/marketplace/holds/<int:hold_id>/release")
@bp.response(200, HoldSchema)
@bp.refuses({404: NOT_FOUND, 409: "Already closed"})
@roles(Role.ADMIN, Role.COUNSELLOR, Role.CASE_MANAGER)
@commits
def release_place(hold_id: int) -> Any:
    """Give the place back, or leave the waitlist; nobody is promoted automatically."""
    return capacity.release_place(hold_id, actor=current_user)


@bp.post("/marketplace/holds/<int:hold_id>/consume")
@bp.response(200, HoldSchema)
@bp.refuses({404: NOT_FOUND, 409: "Not a held place"})
@roles(Role.ADMIN, Role.CASE_MANAGER)
@commits
def consume_place(hold_id: int) -> Any:
    """The held place is used: the support was delivered or has started."""
    return capacity.consume_place(hold_id, actor=current_user)


# --- referrals (partners/referrals.py) -------------------------------------------------------

REFERRAL_READERS = (Role.PARTNER, Role.CASE_MANAGER, Role.ADMIN, Role.PROGRAMME_MANAGER)
CLOSED = "Answered already, withdrawn or expired"


@bp.get("/referrals")
@bp.arguments(ReferralQuerySchema, location="query")
@bp.response(200, ReferralSchema(many=True))
@bp.paginate(SelectPage)
@roles(*REFERRAL_READERS)
def list_referrals(query: dict[str, Any]) -> Any:
    """Referrals the caller may see: their partners' (partner users), their office's (case
    managers), all (administrators, programme managers); newest first."""
    return referrals.referrals_stmt(actor=current_user, status=query.get("status"))


@bp.get("/referrals/<int:referral_id>")
@bp.response(200, ReferralSchema)
@bp.refuses({404: NOT_FOUND})
@roles(*REFERRAL_READERS)
def get_referral(referral_id: int) -> Any:
    return referrals.get_referral(referral_id, actor=current_user)


@bp.post("/referrals/<int:referral_id>/accept")
@bp.arguments(ReferralAcceptSchema)
@bp.response(200, ReferralSchema)
@bp.refuses({403: "Only the partner's users answer", 404: NOT_FOUND, 409: CLOSED})
@roles(Role.PARTNER)
@commits
def accept_referral(data: dict[str, Any], referral_id: int) -> Any:
    """Accept the referral for the caller's partner; the held place stays held."""
    return referrals.accept_referral(referral_id, note=data["note"], actor=current_user)


@bp.post("/referrals/<int:referral_id>/decline")
@bp.arguments(ReferralDeclineSchema)
@bp.response(200, ReferralSchema)
@bp.refuses({403: "Only the partner's users answer", 404: NOT_FOUND, 409: CLOSED})
@roles(Role.PARTNER)
@commits
def decline_referral(data: dict[str, Any], referral_id: int) -> Any:
    """Decline with a coded reason (``other`` needs a note); the held place is given back and
    the origin case manager is e-mailed."""
    return referrals.decline_referral(
        referral_id, data["reason"], note=data["note"], actor=current_user
    )
