"""The main menu. Each link shows only to users its endpoint's access rule admits; the inbox's
link shows the signed-in user's unread notices."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from reintegration_hub.notifications.inbox import unread_count

MENU: list[tuple[str, Any]] = [
    ("home.index", _l("Home")),
    ("cases.index", _l("Cases")),
    ("plans.queue", _l("Plans to review")),
    ("followups.index", _l("Follow-up")),
    ("followups.calendar_month", _l("Calendar")),
    ("followups.field", _l("In the field")),
    ("partners.search", _l("Marketplace")),
    ("partners.partners", _l("Partners")),
    ("partners.referral_inbox", _l("Referrals")),
    ("deliveries.index", _l("Deliveries")),
    ("monitoring.dashboard", _l("Monitoring")),
    ("programmes.grants", _l("Grants")),
    ("programmes.cap_rules", _l("Budget caps")),
    ("programmes.rates", _l("Exchange rates")),
    ("auth.users", _l("Users")),
    ("auth.offices", _l("Offices")),
    ("audit.index", _l("Audit trail")),
    ("notifications.index", _l("E-mail delivery")),
    ("operations.index", _l("Flow runs")),
    ("followups.supervisors", _l("Office supervisors")),
    ("followups.templates", _l("Milestone templates")),
    ("followups.scoring", _l("Scoring versions")),
    ("api_docs", _l("API")),
]


def inbox_unread() -> int:
    """The signed-in user's unread notices (one indexed count, only when a page asks)."""
    return unread_count(actor=current_user) if current_user.is_authenticated else 0


def init_navigation(app: Flask) -> None:
    app.context_processor(lambda: {"nav_items": MENU, "inbox_unread": inbox_unread})
