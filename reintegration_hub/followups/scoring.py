"""Sustainability scores: answers (0-4 per indicator) to 0-1 per dimension and a composite.

A dimension's score is the weighted mean of its indicators' answers scaled to 0-1; the
composite is the weighted mean of the dimensions. The weights, bands and flag thresholds come
from a ``ScoringVersion``, so stored answers can be scored again under a new version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from reintegration_hub.core.errors import InvalidInput
from reintegration_hub.followups.models import Dimension, ScoringVersion

MAX_ANSWER = 4


@dataclass(frozen=True)
class Scores:
    economic: float
    social: float
    psychosocial: float
    composite: float
    band: str
    flags: list[str]


def check_answers(version: ScoringVersion, answers: Mapping[str, int]) -> None:
    """Every indicator of the version answered with a whole number from 0 to 4."""
    errors: dict[str, list[object]] = {}
    for key in version.indicators:
        value = answers.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_ANSWER:
            errors[key] = [_l("Answer from 0 to %(max)d.", max=MAX_ANSWER)]
    unknown = sorted(set(answers) - set(version.indicators))
    for key in unknown:
        errors[key] = [_l("Not an indicator of this survey.")]
    if errors:
        raise InvalidInput(_l("Some answers are missing or out of range."), field_errors=errors)


def score(
    version: ScoringVersion, answers: Mapping[str, int], previous: float | None = None
) -> Scores:
    """The scores of ``answers`` under ``version``; ``previous`` is the returnee's composite
    in their last survey (for the decline flag)."""
    sums = {d.value: 0.0 for d in Dimension}
    weights = {d.value: 0.0 for d in Dimension}
    for key, (dimension, weight) in version.indicators.items():
        sums[dimension] += float(weight) * answers[key] / MAX_ANSWER
        weights[dimension] += float(weight)
    dimension_scores = {d: (sums[d] / weights[d] if weights[d] else 0.0) for d in sums}
    total_weight = sum(float(w) for w in version.dimension_weights.values())
    composite = sum(
        float(version.dimension_weights.get(d, 0)) * value for d, value in dimension_scores.items()
    ) / (total_weight or 1)
    band = next(
        (name for name, lower in sorted(version.bands, key=lambda b: -b[1]) if composite >= lower),
        version.bands[0][0],
    )
    flags = [f"low_{d}" for d, value in dimension_scores.items() if value < version.low_score]
    if composite < version.low_score:
        flags.append("low_composite")
    if max(dimension_scores.values()) - min(dimension_scores.values()) > version.imbalance_gap:
        flags.append("imbalance")
    if previous is not None and previous - composite > version.decline_drop:
        flags.append("decline")
    return Scores(
        economic=round(dimension_scores[Dimension.ECONOMIC], 4),
        social=round(dimension_scores[Dimension.SOCIAL], 4),
        psychosocial=round(dimension_scores[Dimension.PSYCHOSOCIAL], 4),
        composite=round(composite, 4),
        band=band,
        flags=flags,
    )
