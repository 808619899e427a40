"""Countries, languages, currencies and money from pycountry and Babel (CLDR), localised."""

from __future__ import annotations

from decimal import Decimal
from functools import cache

import pycountry
from babel import Locale
from babel.numbers import format_currency, format_percent, get_currency_precision
from flask_babel import get_locale


def _locale() -> Locale:
    return get_locale() or Locale("en")


@cache
def country_codes() -> frozenset[str]:
    return frozenset(c.alpha_2 for c in pycountry.countries)


@cache
def language_codes() -> frozenset[str]:
    """ISO 639-1 codes (two letters)."""
    return frozenset(lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2"))


@cache
def currency_codes() -> frozenset[str]:
    return frozenset(c.alpha_3 for c in pycountry.currencies)


def country_name(code: str | None) -> str:
    if not code:
        return ""
    return _locale().territories.get(code.upper()) or code


def language_name(code: str | None) -> str:
    if not code:
        return ""
    return _locale().languages.get(code) or code


def currency_name(code: str | None) -> str:
    if not code:
        return ""
    return _locale().currencies.get(code.upper()) or code


def country_choices() -> list[tuple[str, str]]:
    locale = _locale()
    names = {code: locale.territories.get(code, code) for code in country_codes()}
    return sorted(names.items(), key=lambda item: item[1])


def language_choices() -> list[tuple[str, str]]:
    locale = _locale()
    named = [
        (code, locale.languages[code]) for code in language_codes() if code in locale.languages
    ]
    return sorted(named, key=lambda item: item[1])


def currency_choices() -> list[tuple[str, str]]:
    locale = _locale()
    return sorted(
        ((code, f"{code} - {locale.currencies.get(code, code)}") for code in currency_codes()),
        key=lambda item: item[0],
    )


def format_money(minor_units: int | None, currency: str) -> str:
    """An amount stored in minor units, formatted in the user's locale (``532 651,00 €``)."""
    if minor_units is None:
        return ""
    precision = get_currency_precision(currency)
    amount = Decimal(minor_units).scaleb(-precision)
    return format_currency(amount, currency, locale=_locale())


def format_share(basis_points: int) -> str:
    return format_percent(Decimal(basis_points).scaleb(-4), locale=_locale())
