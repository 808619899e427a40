"""Controlled vocabularies shared by cases and the marketplace."""

from __future__ import annotations

import enum


class VulnerabilityCategory(enum.StrEnum):
    """The Lithuanian programme's vulnerability list."""

    DISABILITY = "disability"
    SERIOUS_ILLNESS = "serious_illness"
    ELDERLY = "elderly"
    PREGNANT = "pregnant"
    SINGLE_PARENT = "single_parent"  # single parent with two or more children
    LARGE_FAMILY = "large_family"
    TRAFFICKING_VICTIM = "trafficking_victim"
    TORTURE_VICTIM = "torture_victim"
    UNACCOMPANIED_MINOR = "unaccompanied_minor"


class Sex(enum.StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
