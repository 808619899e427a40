"""Human labels for the enums every page shows, translated when rendered."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from reintegration_hub.core.roles import OfficeKind, Role
from reintegration_hub.core.vocabulary import Sex, VulnerabilityCategory

ROLE_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.PROGRAMME_MANAGER: _l("Programme manager / M&E"),
    Role.COUNSELLOR: _l("Counsellor"),
    Role.CASE_MANAGER: _l("Case manager"),
    Role.PARTNER: _l("Partner focal point"),
}
OFFICE_KIND_LABELS = {
    OfficeKind.HOST: _l("Host country office"),
    OfficeKind.ORIGIN: _l("Country of return office"),
    OfficeKind.HOME: _l("Home office"),
}
#: The interface languages, each named in itself.
LANGUAGE_LABELS = {
    "en": "English",
    "lt": "Lietuvių",
    "lv": "Latviešu",
    "cs": "Čeština",
    "ru": "Русский",
}
SEX_LABELS = {Sex.FEMALE: _l("Female"), Sex.MALE: _l("Male"), Sex.OTHER: _l("Other")}
VULNERABILITY_LABELS = {
    VulnerabilityCategory.DISABILITY: _l("Disability"),
    VulnerabilityCategory.SERIOUS_ILLNESS: _l("Serious illness"),
    VulnerabilityCategory.ELDERLY: _l("Elderly"),
    VulnerabilityCategory.PREGNANT: _l("Pregnant"),
    VulnerabilityCategory.SINGLE_PARENT: _l("Single parent with two or more children"),
    VulnerabilityCategory.LARGE_FAMILY: _l("Large family"),
    VulnerabilityCategory.TRAFFICKING_VICTIM: _l("Victim of trafficking"),
    VulnerabilityCategory.TORTURE_VICTIM: _l("Victim of torture"),
    VulnerabilityCategory.UNACCOMPANIED_MINOR: _l("Unaccompanied minor"),
}
