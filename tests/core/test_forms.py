"""The base forms: selects render exactly as WTForms renders them, from a cache."""

from __future__ import annotations

from flask import Flask
from markupsafe import Markup
from wtforms import SelectField, SelectMultipleField
from wtforms.widgets import Select

from reintegration_hub.core.forms import RenderedSelect, SubForm, choices


class Choices(SubForm):
    country = SelectField(
        choices=choices([("", "Any"), ("GE", "Georgia"), ("XX", "<b>Tom & Jerry's</b>")])
    )
    number = SelectField(coerce=int, choices=choices([(1, "one"), (2, Markup("<i>two</i>"))]))
    languages = SelectMultipleField(choices=choices([("ka", "Georgian"), ("ru", "Russian")]))


def test_selects_render_as_wtforms_renders_them_every_time(app: Flask) -> None:
    for data in ({}, {"country": "XX", "number": 2, "languages": ["ka", "ru"]}):
        form = Choices(data=data)
        for field in (form.country, form.number, form.languages):
            assert isinstance(field.widget, RenderedSelect)
            plain = Select(multiple=field.widget.multiple)(field)
            assert field() == plain  # rendered, then from the cache
            assert field() == plain
    assert "&lt;b&gt;Tom &amp; Jerry&#39;s&lt;/b&gt;" in Choices().country()
    assert "<i>two</i>" in Choices().number()
    assert 'selected value="2"' in Choices(data={"number": 2}).number()
