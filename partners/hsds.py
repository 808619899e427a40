"""The marketplace as an Open Referral HSDS 3.0 directory (organizations and services).

A projection of ``Partner`` (organization) and ``SupportOption`` (service): ids are the public
UUIDs; nested records (cost option, language, location...) get stable UUIDs derived from their
parent's (uuid5), so a consumer sees the same id on every export. Only what counsellors see is
exported (``SupportOption.listed_condition``: published, valid, approved partner with a valid
agreement, not hidden as stale), and organizations are approved partners.

Every page loads its records in a fixed number of queries whatever its size.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from babel.numbers import get_currency_precision
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from partners.labels import COST_BASIS_LABELS
from partners.models import (
    OptionStatus,
    Partner,
    SupportOption,
    VettingStatus,
    listing_fresh_since,
)
from reintegration_hub.core import i18n
from reintegration_hub.core.audit import AuditEntry
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.errors import NotFound
from reintegration_hub.core.labels import SEX_LABELS, VULNERABILITY_LABELS
from reintegration_hub.core.paging import Page, paginate
from reintegration_hub.core.roles import Actor
from reintegration_hub.extensions import db

HSDS_STATUS = {
    OptionStatus.PUBLISHED: "active",
    OptionStatus.TEMPORARILY_CLOSED: "temporarily closed",
    OptionStatus.ARCHIVED: "defunct",
    OptionStatus.DRAFT: "inactive",
}
#: how many field changes a record's ``metadata`` lists (the latest first)
METADATA_LIMIT = 20
_users = sa.table("users", sa.column("id", sa.Integer), sa.column("email", sa.String))


def page_json(page: Page[dict[str, Any]]) -> dict[str, Any]:
    """A page of records in the shape of the HSDS OpenAPI ``Page`` (plus its ``contents``)."""
    return {
        "total_items": page.total,
        "total_pages": page.pages,
        "page_number": page.page,
        "size": len(page.items),
        "first_page": not page.has_prev,
        "last_page": not page.has_next,
        "empty": not page.items,
        "contents": page.items,
    }


def _child_id(parent: uuid.UUID, name: str) -> str:
    return str(uuid.uuid5(parent, name))


def _listed() -> sa.ColumnElement[bool]:
    now = now_utc()
    return SupportOption.listed_condition(now.date(), listing_fresh_since(now))


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _metadata(object_type: str, ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Field-level change history from the audit trail, per object id (one query)."""
    if not ids:
        return {}
    entries = db.session.scalars(
        sa.select(AuditEntry)
        .where(AuditEntry.object_type == object_type, AuditEntry.object_id.in_(map(str, ids)))
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    )
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    namespace = uuid.UUID("6f1c1f53-8d0e-4c43-9a3e-5b1f0d6a2c11")
    for entry in entries:
        records = found[int(entry.object_id or 0)]
        for field_name, change in sorted(entry.changes.items()):
            if len(records) >= METADATA_LIMIT:
                break
            before, after = (
                change if isinstance(change, list) and len(change) == 2 else (None, change)
            )
            records.append(
                {
                    "id": str(uuid.uuid5(namespace, f"{entry.id}:{field_name}")),
                    "resource_type": object_type,
                    "last_action_date": entry.at.isoformat(),
                    "last_action_type": entry.action,
                    "field_name": field_name,
                    "previous_value": _plain(before),
                    "replacement_value": _plain(after),
                    "updated_by": entry.actor_label,
                }
            )
    return found


def _amount(minor: int, currency: str) -> float:
    scale: int = 10 ** get_currency_precision(currency)
    return float(minor) / scale


def eligibility_description(option: SupportOption) -> str:
    """The option's conditions in words (the reader's language), then its free-text notes."""
    parts: list[str] = []
    if option.min_age is not None or option.max_age is not None:
        if option.max_age is None:
            parts.append(str(_l("Ages %(min)s and over", min=option.min_age)))
        elif option.min_age is None:
            parts.append(str(_l("Ages up to %(max)s", max=option.max_age)))
        else:
            parts.append(str(_l("Ages %(min)s to %(max)s", min=option.min_age, max=option.max_age)))
    if option.sexes:
        who = ", ".join(str(SEX_LABELS.get(s, s)) for s in option.sexes)  # type: ignore[call-overload]
        parts.append(str(_l("Only for: %(who)s", who=who)))
    if option.vulnerabilities_required:
        needs = ", ".join(
            str(VULNERABILITY_LABELS.get(v, v))  # type: ignore[call-overload]
            for v in option.vulnerabilities_required
        )
        parts.append(str(_l("For people with one of: %(needs)s", needs=needs)))
    if option.min_family_size is not None:
        parts.append(str(_l("Households of %(n)s or more", n=option.min_family_size)))
    if option.max_family_size is not None:
        parts.append(str(_l("Households of up to %(n)s", n=option.max_family_size)))
    if option.languages_required:
        spoken = ", ".join(i18n.language_name(code) for code in option.languages_required)
        parts.append(str(_l("Speaks one of: %(languages)s", languages=spoken)))
    text = "; ".join(parts) + ("." if parts else "")
    notes = option.eligibility_notes.strip()
    return f"{text} {notes}".strip() if text and notes else text or notes


def _organization_ref(partner: Partner) -> dict[str, Any]:
    return {"id": str(partner.public_id), "name": partner.name, "description": partner.description}


def _web_address(value: str) -> str | None:
    return value if value.startswith(("https://", "http://")) else None


def service_record(
    option: SupportOption,
    *,
    language: str = "en",
    assurer_email: str | None = None,
    metadata: Iterable[dict[str, Any]] = (),
) -> dict[str, Any]:
    """One HSDS ``service`` (keys without a value are left out, as HSDS expects)."""
    pid = option.public_id
    text = option.text(language)
    cost = {
        "id": _child_id(pid, "cost"),
        "service_id": str(pid),
        "option": str(COST_BASIS_LABELS[option.cost_basis]),
        "currency": option.currency,
        "amount": _amount(option.cost_minor, option.currency),
        "amount_description": " ".join(
            [
                i18n.format_money(option.cost_minor, option.currency),
                str(COST_BASIS_LABELS[option.cost_basis]),
            ]
            + (
                [f"({i18n.format_money(option.cost_eur_minor, 'EUR')})"]
                if option.currency != "EUR"
                else []
            )
        ),
        "valid_from": option.valid_from.isoformat() if option.valid_from else None,
        "valid_to": option.valid_until.isoformat() if option.valid_until else None,
    }
    record: dict[str, Any] = {
        "id": str(pid),
        "organization_id": str(option.partner.public_id),
        "name": text.title if text else "",
        "description": text.description if text else "",
        "email": option.partner.focal_point_email or None,
        "url": _web_address(option.partner.website),
        "status": HSDS_STATUS[option.status],
        "eligibility_description": eligibility_description(option) or None,
        "minimum_age": option.min_age,
        "maximum_age": option.max_age,
        "wait_time": (
            str(_l("%(days)s days from referral to start", days=option.lead_time_days))
            if option.lead_time_days
            else None
        ),
        "assured_date": (
            option.last_verified_at.date().isoformat() if option.last_verified_at else None
        ),
        "assurer_email": assurer_email,
        "last_modified": option.updated_at.isoformat(),
        "cost_options": [{k: v for k, v in cost.items() if v is not None}],
        "languages": [
            {
                "id": _child_id(pid, f"language:{code}"),
                "service_id": str(pid),
                "code": code,
                "name": i18n.language_name(code),
            }
            for code in option.delivery_languages
        ],
        "required_documents": [
            {
                "id": _child_id(pid, f"document:{document}"),
                "service_id": str(pid),
                "document": document,
            }
            for document in option.required_documents
        ],
        "service_areas": [
            {"id": _child_id(pid, f"area:{area}"), "service_id": str(pid), "name": area}
            for area in option.service_area
        ],
        "service_at_locations": [
            {
                "id": _child_id(pid, f"service_at_location:{site.id}"),
                "service_id": str(pid),
                "location_id": _child_id(pid, f"location:{site.id}"),
                "location": {
                    k: v
                    for k, v in {
                        "id": _child_id(pid, f"location:{site.id}"),
                        "location_type": "physical",
                        "organization_id": str(option.partner.public_id),
                        "name": ", ".join(p for p in (site.city, site.region) if p),
                        "description": site.address or None,
                        "latitude": float(site.latitude) if site.latitude is not None else None,
                        "longitude": float(site.longitude) if site.longitude is not None else None,
                        # HSDS addresses need a postal code and a state/province we do not
                        # record, so the street address travels as the description instead
                    }.items()
                    if v is not None
                },
            }
            for site in option.locations
        ],
        "metadata": list(metadata),
        "organization": _organization_ref(option.partner),
    }
    return {k: v for k, v in record.items() if v is not None}


def organization_record(
    partner: Partner,
    *,
    services: Iterable[SupportOption] = (),
    language: str = "en",
    metadata: Iterable[dict[str, Any]] = (),
) -> dict[str, Any]:
    """One HSDS ``organization`` with the services it lists."""
    pid = partner.public_id
    record: dict[str, Any] = {
        "id": str(pid),
        "name": partner.name,
        "description": partner.description,
        "email": partner.focal_point_email or None,
        "website": _web_address(partner.website),
        "legal_status": partner.legal_status or None,
        "phones": (
            [{"id": _child_id(pid, "phone"), "number": partner.phone}] if partner.phone else []
        ),
        "services": [
            {
                "id": str(option.public_id),
                "name": (text.title if (text := option.text(language)) else ""),
                "status": HSDS_STATUS[option.status],
            }
            for option in services
        ],
        "metadata": list(metadata),
    }
    return {k: v for k, v in record.items() if v is not None}


def _service_records(options: Sequence[SupportOption], language: str) -> list[dict[str, Any]]:
    verifier_ids = {o.verified_by_id for o in options if o.verified_by_id is not None}
    emails: dict[int, str] = {}
    if verifier_ids:
        rows = db.session.execute(
            sa.select(_users.c.id, _users.c.email).where(_users.c.id.in_(verifier_ids))
        )
        emails = {user_id: email for user_id, email in rows}
    metadata = _metadata("SupportOption", [o.id for o in options])
    return [
        service_record(
            option,
            language=language,
            assurer_email=emails.get(option.verified_by_id or 0),
            metadata=metadata.get(option.id, ()),
        )
        for option in options
    ]


def _loaded(stmt: sa.Select[Any]) -> sa.Select[Any]:
    return stmt.options(selectinload(SupportOption.texts), selectinload(SupportOption.locations))


def _options(stmt: sa.Select[Any]) -> list[SupportOption]:
    return list(db.session.scalars(_loaded(stmt)).unique())


def list_services(
    *, page: int = 1, per_page: int = 20, language: str = "en", actor: Actor
) -> Page[dict[str, Any]]:
    """A page of the directory's services, oldest first (stable across pages)."""
    listed = _loaded(sa.select(SupportOption).where(_listed()).order_by(SupportOption.id))
    options = paginate(listed, page=page, per_page=per_page)
    return options.map(lambda found: _service_records(found, language))


def get_service(public_id: uuid.UUID, *, language: str = "en", actor: Actor) -> dict[str, Any]:
    """One listed service; ``NotFound`` for anything not in the directory."""
    options = _options(
        sa.select(SupportOption).where(SupportOption.public_id == public_id, _listed())
    )
    if not options:
        raise NotFound(_l("Not found."))
    return _service_records(options, language)[0]


def _organization_records(partners: Sequence[Partner], language: str) -> list[dict[str, Any]]:
    ids = [p.id for p in partners]
    services: dict[int, list[SupportOption]] = defaultdict(list)
    if ids:
        for option in _options(
            sa.select(SupportOption)
            .where(SupportOption.partner_id.in_(ids), _listed())
            .order_by(SupportOption.id)
        ):
            services[option.partner_id].append(option)
    metadata = _metadata("Partner", ids)
    return [
        organization_record(
            partner,
            services=services.get(partner.id, ()),
            language=language,
            metadata=metadata.get(partner.id, ()),
        )
        for partner in partners
    ]


def list_organizations(
    *, page: int = 1, per_page: int = 20, language: str = "en", actor: Actor
) -> Page[dict[str, Any]]:
    """A page of approved partners, oldest first."""
    approved = sa.select(Partner).where(Partner.vetting_status == VettingStatus.APPROVED)
    partners = paginate(approved.order_by(Partner.id), page=page, per_page=per_page)
    return partners.map(lambda found: _organization_records(found, language))


def get_organization(public_id: uuid.UUID, *, language: str = "en", actor: Actor) -> dict[str, Any]:
    partner = db.session.scalars(
        sa.select(Partner).where(
            Partner.public_id == public_id, Partner.vetting_status == VettingStatus.APPROVED
        )
    ).one_or_none()
    if partner is None:
        raise NotFound(_l("Not found."))
    return _organization_records([partner], language)[0]
