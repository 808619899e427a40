"""One eligibility rule set: the SQL filter and the explanation must agree."""

from __future__ import annotations

import sqlalchemy as sa

from partners.eligibility import ReturneeProfile, eligible_condition, evaluate
from partners.models import SupportOption
from reintegration_hub.extensions import db
from tests.factories import SupportOptionFactory

WOMAN_WITH_TWO_CHILDREN = ReturneeProfile.of(
    age=34, sex="female", vulnerabilities=["single_parent"], family_size=3, languages=["ka", "ru"]
)


def eligible_ids(profile: ReturneeProfile) -> set[int]:
    stmt = sa.select(SupportOption.id).where(eligible_condition(profile))
    return set(db.session.scalars(stmt))


def test_an_option_without_conditions_fits_anyone(app):
    option = SupportOptionFactory()
    assert evaluate(option, WOMAN_WITH_TWO_CHILDREN) == []
    assert evaluate(option, ReturneeProfile()) == []
    assert eligible_ids(WOMAN_WITH_TWO_CHILDREN) == {option.id}


def test_a_men_only_option_does_not_fit_a_woman_and_says_why(app):
    option = SupportOptionFactory(sexes=["male"])
    reasons = evaluate(option, WOMAN_WITH_TWO_CHILDREN)
    assert [r.rule for r in reasons] == ["sex"]
    assert str(reasons[0]) == "Only for: Male."
    assert eligible_ids(WOMAN_WITH_TWO_CHILDREN) == set()
    assert eligible_ids(ReturneeProfile.of(sex="male")) == {option.id}


def test_every_rule_explains_itself_and_filters_alike(app):
    options = {
        "age": SupportOptionFactory(min_age=18, max_age=30),
        "family_size": SupportOptionFactory(min_family_size=4),
        "vulnerability": SupportOptionFactory(vulnerabilities_required=["trafficking_victim"]),
        "language": SupportOptionFactory(languages_required=["en"]),
        "fits": SupportOptionFactory(
            min_age=18,
            max_age=60,
            sexes=["female"],
            vulnerabilities_required=["single_parent", "pregnant"],
            max_family_size=5,
            languages_required=["ka"],
        ),
    }
    expected = {
        "age": "Only for ages 18 to 30.",
        "family_size": "Only for households of 4 or more people.",
        "vulnerability": "Only for people with one of: Victim of trafficking.",
        "language": "Requires one of these languages: English.",
    }
    for rule, message in expected.items():
        reasons = evaluate(options[rule], WOMAN_WITH_TWO_CHILDREN)
        assert [(r.rule, str(r)) for r in reasons] == [(rule, message)]
    assert evaluate(options["fits"], WOMAN_WITH_TWO_CHILDREN) == []
    assert eligible_ids(WOMAN_WITH_TWO_CHILDREN) == {options["fits"].id}


def test_unknown_profile_fields_are_not_held_against_the_returnee(app):
    option = SupportOptionFactory(min_age=18, sexes=["male"], languages_required=["en"])
    assert evaluate(option, ReturneeProfile()) == []
    assert eligible_ids(ReturneeProfile()) == {option.id}
    # but an option for a vulnerability nobody recorded is not for them
    needs = SupportOptionFactory(vulnerabilities_required=["disability"])
    assert [r.rule for r in evaluate(needs, ReturneeProfile())] == ["vulnerability"]
    assert needs.id not in eligible_ids(ReturneeProfile())


def test_age_limits_are_inclusive(app):
    option = SupportOptionFactory(min_age=18, max_age=30)
    for age, fits in [(17, False), (18, True), (30, True), (31, False)]:
        profile = ReturneeProfile.of(age=age)
        assert (evaluate(option, profile) == []) is fits
        assert (option.id in eligible_ids(profile)) is fits
