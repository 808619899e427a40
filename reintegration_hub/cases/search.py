"""Case search: one box for a name, a date of birth, a case number or a phone number.

Names are searched through keys stored with the case (``Returnee.*_key``, ``*_sound``), written
by the case services together with the names and blanked by retention:

- the *name key* is the name transliterated to Latin letters (``anyascii``: Georgian, Armenian,
  Cyrillic, accented Latin ...), lower case, letters only: ``"კაპანაძე"``, ``"Капанадзе"`` and
  ``"Kapanadze"`` all give ``"kapanadze"``. A searched word matches a first or last name that
  starts with its key (an indexed range, not ``LIKE``, so it works on both databases).
- the *sound key* folds what spellings of one name differ in: vowels after the first letter,
  doubled letters and sound-alikes (``z``/``s``, ``c``/``k``/``q``/``ch``/``kh``, ``v``/``w``,
  ``ph``/``f`` ...). A searched word of three letters or more also matches a name with the same
  sound key (indexed equality): ``"Kapanadse"`` finds ``"კაპანაძე"``.

Every word of a query must match (a first or a last name, in any order); several words also
match as one name (``"van der Berg"``). A word that is a date (``1990-04-12``, ``12.04.1990``)
matches the date of birth; a word with digits matches the end of the case number (``00022``,
``22``) or the end of the mobile number, else of the contact's phone number (its last digits,
whatever the spacing). Each
form is an indexed equality or range, so a search stays fast at 100,000 cases on either
database. The conditions only narrow the reader's list: the scope is the case list's.
"""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa
from anyascii import anyascii
from sqlalchemy.orm import InstrumentedAttribute

from reintegration_hub.cases.models import Returnee

#: The longest query the pages and the API take.
MAX_QUERY_LENGTH = 200
#: Keys are cut to their columns' length (a transliteration may be longer than the name).
KEY_LENGTH = 120
#: Sound keys match from this many letters of a searched word (shorter ones by prefix only).
SOUND_MIN_LETTERS = 3
#: Phone digits match from this many digits.
PHONE_MIN_DIGITS = 3

_NOT_LETTERS = re.compile(r"[^a-z]+")
_NOT_DIGITS = re.compile(r"\D+")
#: Sound-alikes, replaced in this order (digraphs before their letters).
_SOUNDS = (
    ("sch", "sh"),
    ("tch", "ch"),
    ("ph", "f"),
    ("kh", "k"),
    ("gh", "g"),
    ("sh", "s"),
    ("zh", "z"),
    ("ch", "c"),
    ("th", "t"),
    ("x", "ks"),
    ("w", "v"),
    ("q", "k"),
    ("c", "k"),
    ("z", "s"),
    ("j", "i"),
    ("y", "i"),
)
_VOWELS = frozenset("aeiou")
_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y")
_DATE_SHAPE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./]\d{1,2}[./]\d{4}")
_TAIL = re.compile(r"\d{1,9}$")
_WORDS = re.compile(r"[\s,;]+")
#: A word of a phone number as people write them: "+995", "(555)", "12-34", "56".
_PHONE_PART = re.compile(r"[+(]*\d[\d().-]*")


def name_key(text: str) -> str:
    """``text`` in Latin letters, lower case, letters only: ``"ნინო ბერიძე"`` ->
    ``"ninoberidze"``."""
    return _NOT_LETTERS.sub("", anyascii(text).lower())[:KEY_LENGTH]


def sound_key(text: str) -> str:
    """The name key with the differences of spelling folded: ``"Kapanadse"`` and
    ``"კაპანაძე"`` -> ``"kpnds"``."""
    key = name_key(text)
    for written, sound in _SOUNDS:
        key = key.replace(written, sound)
    if not key:
        return ""
    folded = ["a" if key[0] in _VOWELS or key[0] == "i" else key[0]]
    for letter in key[1:]:
        if letter in _VOWELS or letter == "i":
            continue
        if letter != folded[-1]:
            folded.append(letter)
    return "".join(folded)[:KEY_LENGTH]


def contact_digits(text: str) -> str:
    """The digits of a contact text: ``"+995 (555) 12-34"`` -> ``"9955551234"``."""
    return _NOT_DIGITS.sub("", text)[-500:]


def phone_key(text: str) -> str:
    """The digits of a contact text, last first: a phone number is searched by its end."""
    return contact_digits(text)[::-1]


def case_number_tail(case_number: str) -> int:
    """The serial at the end of a case number: ``"GE-2026-00022"`` -> ``22``."""
    found = _TAIL.search(case_number)
    return int(found.group()) if found else 0


def search_keys(
    *, first_name: str, last_name: str, contact_after_return: str, mobile_number: str = ""
) -> dict[str, str]:
    """The search columns of a case with these names and contact (``Returnee`` attributes);
    the phone key is the mobile number's when the case has one, else the contact's."""
    return {
        "first_name_key": name_key(first_name),
        "last_name_key": name_key(last_name),
        "first_name_sound": sound_key(first_name),
        "last_name_sound": sound_key(last_name),
        "phone_key": phone_key(mobile_number or contact_after_return),
    }


#: The search columns of names and contact, blanked with them by retention.
SEARCH_COLUMNS = tuple(search_keys(first_name="", last_name="", contact_after_return=""))


def _date(word: str) -> dt.date | None:
    if not _DATE_SHAPE.fullmatch(word):
        return None
    for shape in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(word, shape).date()  # noqa: DTZ007 (a date only)
        except ValueError:
            continue
    return None


def _starts_with(column: InstrumentedAttribute[str], key: str) -> sa.ColumnElement[bool]:
    """An index range for the values that start with ``key`` (a-z or 0-9 only): ``"kap"``
    -> ``["kap", "kaq")``, ``"kaz"`` -> ``["kaz", "kb")``; bounds of letters and digits only,
    which every collation orders alike."""
    stem = key.rstrip("z9")
    if not stem:
        return column >= key
    return sa.and_(column >= key, column < stem[:-1] + chr(ord(stem[-1]) + 1))


def _name_matches(text: str) -> sa.ColumnElement[bool] | None:
    key, sound = name_key(text), sound_key(text)
    if not key:
        return None
    matches = [
        _starts_with(Returnee.first_name_key, key),
        _starts_with(Returnee.last_name_key, key),
    ]
    if len(key) >= SOUND_MIN_LETTERS:
        matches += [Returnee.first_name_sound == sound, Returnee.last_name_sound == sound]
    return sa.or_(*matches)


def _number_matches(word: str) -> sa.ColumnElement[bool]:
    """The end of a case number (``00022``, ``22``, ``2026-00022``, ``GE-2026-00022``: its
    serial, indexed) or of a phone number (its digits last first, an indexed range)."""
    matches: list[sa.ColumnElement[bool]] = []
    tail = _TAIL.search(word)
    if tail is not None:
        serial = Returnee.case_number_tail == int(tail.group())
        if tail.group() != word:
            serial = sa.and_(serial, Returnee.case_number.endswith(word.upper(), autoescape=True))
        matches.append(serial)
    digits = contact_digits(word)
    if len(digits) >= PHONE_MIN_DIGITS:
        matches.append(_starts_with(Returnee.phone_key, digits[::-1]))
    return sa.or_(*matches) if matches else sa.false()


def _words(query: str) -> list[str]:
    """The words of ``query``; the parts of a phone number written with spaces
    (``+995 555 12 34 56``) are one word."""
    words: list[str] = []
    joining = False
    for word in _WORDS.split(query.strip()):
        if not word:
            continue
        phone_part = _date(word) is None and _PHONE_PART.fullmatch(word) is not None
        if phone_part and joining:
            words[-1] += word
        else:
            words.append(word)
        joining = phone_part
    return words


def search_condition(query: str) -> sa.ColumnElement[bool] | None:
    """The condition on ``Returnee`` that ``query`` asks for (see the module docstring), or
    ``None`` when it asks for nothing (blank, or punctuation only)."""
    conditions: list[sa.ColumnElement[bool]] = []
    names: list[str] = []
    for word in _words(query):
        born_on = _date(word)
        if born_on is not None:
            conditions.append(Returnee.date_of_birth == born_on)
        elif any(c.isdigit() for c in word):
            conditions.append(_number_matches(word))
        elif name_key(word):
            names.append(word)
    if names:
        each = [_name_matches(word) for word in names]
        by_word = sa.and_(*(match for match in each if match is not None))
        if len(names) > 1:  # "van der Berg": the words as one name
            whole = _name_matches("".join(names))
            conditions.append(sa.or_(by_word, whole) if whole is not None else by_word)
        else:
            conditions.append(by_word)
    return sa.and_(*conditions) if conditions else None
