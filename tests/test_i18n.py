"""The message catalogues are complete and safe to format.

Messages are re-extracted from the sources with Babel, with the same mapping (``babel.cfg``) and
keywords as the ``pybabel extract`` command, so a new ``_()``/``_l()`` string that nobody
translated fails here, naming the msgid. To fix a failure, from the repository root::

    .venv/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext \
        -o reintegration_hub/translations/messages.pot \
        --no-location --sort-output --project "Reintegration Hub" .
    .venv/bin/pybabel update -i reintegration_hub/translations/messages.pot \
        -d reintegration_hub/translations --no-fuzzy-matching

then translate the new entries in every ``<lang>/LC_MESSAGES/messages.po``.

These tests use no fixtures and do not import the application.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import PYTHON_FORMAT, Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
BABEL_CFG = ROOT / "babel.cfg"
TRANSLATIONS = ROOT / "reintegration_hub" / "translations"
LANGUAGES = ("lt", "lv", "cs", "ru")
#: pybabel's default keywords plus the ``-k _l -k lazy_gettext`` of the extract command.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}


@cache
def extracted() -> dict[tuple[str, str | None], tuple[bool, list[str]]]:
    """``{(msgid, context): (is_plural, ["file:line", ...])}`` for every message in the sources."""
    with BABEL_CFG.open(encoding="utf-8") as fileobj:
        method_map, options_map = parse_mapping_cfg(fileobj, filename=str(BABEL_CFG))
    found: dict[tuple[str, str | None], tuple[bool, list[str]]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS
    ):
        plural = not isinstance(message, str)
        msgid = message if isinstance(message, str) else message[0]
        was_plural, where = found.setdefault((msgid, context), (plural, []))
        found[(msgid, context)] = (was_plural or plural, [*where, f"{filename}:{lineno}"])
    return found


@cache
def catalogue(language: str) -> Catalog:
    path = TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fileobj:
        return read_po(fileobj, locale=language)


def describe(msgid: str, context: str | None, where: list[str]) -> str:
    label = repr(msgid) if context is None else f"{msgid!r} (context {context!r})"
    return f"  {label}  [{', '.join(where[:3])}{', ...' if len(where) > 3 else ''}]"


def placeholders(text: str) -> Counter[tuple[str, str]]:
    """The %-format directives of ``text``: named ones by name, positional ones numbered.

    ``%%`` counts too: a template string is always %-formatted (Jinja's newstyle gettext), a
    Python one only when given variables, so a translation must use ``%%`` exactly where the
    source does.
    """
    found: Counter[tuple[str, str]] = Counter()
    position = 0
    for match in PYTHON_FORMAT.finditer(text):
        name, spec, conversion = match.groups()
        if conversion == "%":
            found["%%", ""] += 1
        elif name is not None:
            found[f"%({name})", spec + conversion] += 1
        else:
            found[f"%{position}", spec + conversion] += 1
            position += 1
    return found


def msgstr_forms(message: Message) -> list[str]:
    string = message.string
    return list(string) if isinstance(string, (list, tuple)) else [string or ""]


def test_sources_have_messages() -> None:
    """Guards the check below against a mapping that silently matches no file."""
    assert len(extracted()) > 50, f"only {len(extracted())} messages extracted; is babel.cfg right?"


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_header(language: str) -> None:
    catalog = catalogue(language)
    assert not catalog.fuzzy, f"{language}: the header is fuzzy, so pybabel compile skips the file"
    assert str(catalog.locale) == language
    assert catalog.plural_forms == get_plural(language).plural_forms, (
        f"{language}: Plural-Forms differs from Babel's for the locale"
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_extracted_message_is_translated(language: str) -> None:
    catalog = catalogue(language)
    problems: dict[str, list[str]] = {
        "missing (run pybabel extract + update)": [],
        "untranslated": [],
        "fuzzy": [],
        "plural in the source but not in the catalogue (run pybabel update)": [],
        "wrong number of plural forms": [],
    }
    for (msgid, context), (plural, where) in sorted(
        extracted().items(), key=lambda item: (item[0][0], item[0][1] or "")
    ):
        line = describe(msgid, context, where)
        message = catalog.get(msgid, context)
        if message is None:
            problems["missing (run pybabel extract + update)"].append(line)
            continue
        forms = msgstr_forms(message)
        if plural and not message.pluralizable:
            problems["plural in the source but not in the catalogue (run pybabel update)"].append(
                line
            )
        elif message.pluralizable and len(forms) != catalog.num_plurals:
            problems["wrong number of plural forms"].append(
                f"{line} has {len(forms)}, {language} needs {catalog.num_plurals}"
            )
        if message.fuzzy:
            problems["fuzzy"].append(line)
        if not all(form.strip() for form in forms):
            problems["untranslated"].append(line)
    report = [
        f"{title} ({len(lines)}):\n" + "\n".join(lines)
        for title, lines in problems.items()
        if lines
    ]
    if report:
        pytest.fail(
            f"{language}/LC_MESSAGES/messages.po is incomplete:\n" + "\n".join(report),
            pytrace=False,
        )


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_the_placeholders(language: str) -> None:
    catalog = catalogue(language)
    wrong: list[str] = []
    for message in catalog:
        if not message.id or not message.string:
            continue
        ids = list(message.id) if isinstance(message.id, (list, tuple)) else [message.id]
        expected = [placeholders(msgid) for msgid in ids]
        for index, form in enumerate(msgstr_forms(message)):
            if not form:
                continue  # reported as untranslated by the test above
            got = placeholders(form)
            # msgstr[0] matches the singular or the plural msgid (a language whose "one" form
            # also covers 21, 31, ... must show the number); other forms match the plural
            allowed = expected if index == 0 else expected[-1:]
            if got not in allowed:
                wrong.append(
                    f"  {ids[0]!r}\n    msgstr[{index}] {form!r}\n"
                    f"    has {sorted(got.elements())}, expected {sorted(allowed[-1].elements())}"
                )
    if wrong:
        pytest.fail(
            f"{language}: translations whose %-placeholders differ from the msgid's:\n"
            + "\n".join(wrong),
            pytrace=False,
        )


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_catalogue_compiles_without_errors(language: str) -> None:
    """What ``pybabel compile`` (``make translations``) refuses: its checkers, run here."""
    problems = [
        f"  {message.id!r}: {error}"
        for message, errors in catalogue(language).check()
        for error in errors
    ]
    assert not problems, f"{language}: pybabel compile would fail:\n" + "\n".join(problems)
