"""Flow test helpers: a referral to expire, the rows of a flow run's artifact."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from prefect.artifacts import Artifact

from partners.models import SupportOption
from partners.referrals import ReferralRequest, send_referral
from partners.services import hold_place
from reintegration_hub.core.roles import OfficeKind, SystemActor
from tests.factories import OfficeFactory

ACTOR = SystemActor("test")


def refer(option: SupportOption) -> int:
    """A referral sent now; its partner has REFERRAL_EXPIRY_DAYS to answer."""
    office = OfficeFactory(kind=OfficeKind.ORIGIN, country_code="GE")
    referral = send_referral(
        ReferralRequest(
            option_id=option.id,
            reference="plan-line:1",
            hold_id=hold_place(option.id, "plan-line:1", actor=ACTOR).hold_id,
            office_id=office.id,
            case_number="LV-2026-00042",
            first_name="Nino",
            quantity=1,
            starts_on=dt.date(2026, 5, 4),
            note_for_partner="",
            vulnerability_note="",
            contact_name="Tamar Case",
            contact_email="tamar.case@iom.example.org",
            contact_phone="+995 555 010 203",
        ),
        actor=ACTOR,
    )
    return referral.id


def artifact_rows(key: str, flow_run_id: Any) -> list[dict[str, Any]]:
    """The table the flow run ``flow_run_id`` stored as its artifact ``key``."""
    artifact = Artifact.get(key)
    assert artifact is not None
    assert artifact.flow_run_id == flow_run_id
    rows = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    assert isinstance(rows, list)
    return rows
