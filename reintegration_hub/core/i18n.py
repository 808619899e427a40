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


# The choice lists are the same for every request in a locale: built (names looked up, sorted)
# once per locale, copied out so callers may extend them.


def country_choices() -> list[tuple[str, str]]:
    return list(_country_choices(str(_locale())))


def language_choices() -> list[tuple[str, str]]:
    return list(_language_choices(str(_locale())))


def currency_choices() -> list[tuple[str, str]]:
    return list(_currency_choices(str(_locale())))


@cache
def _country_choices(locale_name: str) -> tuple[tuple[str, str], ...]:
    locale = Locale.parse(locale_name)
    names = {code: locale.territories.get(code, code) for code in country_codes()}
    return tuple(sorted(names.items(), key=lambda item: item[1]))


@cache
def _language_choices(locale_name: str) -> tuple[tuple[str, str], ...]:
    locale = Locale.parse(locale_name)
    named = [
        (code, locale.languages[code]) for code in language_codes() if code in locale.languages
    ]
    return tuple(sorted(named, key=lambda item: item[1]))


@cache
def _currency_choices(locale_name: str) -> tuple[tuple[str, str], ...]:
    locale = Locale.parse(locale_name)
    return tuple(
        sorted(
            ((code, f"{code} - {locale.currencies.get(code, code)}") for code in currency_codes()),
            key=lambda item: item[0],
        )
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
