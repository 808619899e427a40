"""A page's form submitted: validate it, call the service, commit on success or roll back on a
refusal, show the refusal, then redirect or show the page again.

The caller owns the transaction (style.md 6), and this is where every page view's commit or
roll-back happens: a view says only which service it calls, what it says when done and where
it goes. ``submit_form`` is for a form shown on a page of its own (a refusal at its fields,
the page again); ``submit_flashed`` for a form posted from another page (a row's button: its
errors and the refusal flashed, back to that page); ``commit_or_roll_back`` for the views
whose refusals take another turn (a warning with its own answer, a status of its own).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import flash, redirect
from flask_wtf import FlaskForm

from reintegration_hub.core.errors import DomainError
from reintegration_hub.core.forms import error_summary, show_domain_error
from reintegration_hub.extensions import db

T = TypeVar("T")

#: What a view says or where it goes once the service is done: as it is, or from its result.
Said = str | Callable[[T], str]


@dataclass(frozen=True)
class Refused:
    """A service's refusal, after the roll-back."""

    error: DomainError


def commit_or_roll_back(
    act: Callable[[], T], *, passes: tuple[type[DomainError], ...] = ()
) -> T | Refused:
    """``act()`` (the service call) committed, and its result; on a ``DomainError``, rolled
    back and ``Refused``. A refusal of a kind in ``passes`` (say ``NotFound``) is raised again
    after the roll-back, for the error pages to answer."""
    try:
        result = act()
    except DomainError as error:
        db.session.rollback()
        if isinstance(error, passes):
            raise
        return Refused(error)
    db.session.commit()
    return result


def _said(value: Said[T], result: T) -> str:
    return str(value(result) if callable(value) else value)


def submit_form(
    form: FlaskForm,
    act: Callable[[], T],
    *,
    then: Said[T],
    page: Callable[[], Any],
    done: Said[T] | None = None,
    show: Callable[[DomainError], Any] | None = None,
    passes: tuple[type[DomainError], ...] = (),
) -> Any:
    """The answer to a page's form: once ``form`` validates, ``act()`` is committed, ``done``
    flashed and the browser sent to ``then`` (either may be worked out from ``act``'s result).
    Refused: rolled back, the refusal at the form's fields (``show``, by default
    ``show_domain_error``), and ``page()`` again, as when the form is not sent or invalid. A
    ``show`` that answers itself (a response, not None) is that answer instead of the page."""
    if form.validate_on_submit():
        result = commit_or_roll_back(act, passes=passes)
        if isinstance(result, Refused):
            answer = (show or (lambda error: show_domain_error(form, error)))(result.error)
            if answer is not None:
                return answer
        else:
            if done is not None:
                flash(_said(done, result), "success")
            return redirect(_said(then, result))
    return page()


def submit_flashed(
    form: FlaskForm,
    act: Callable[[], T],
    *,
    back: str,
    done: Said[T],
    then: Said[T] | None = None,
) -> Any:
    """The answer to a form posted from another page: committed, ``done`` flashed, to ``then``
    (by default ``back``); its input errors, or the refusal (rolled back), flashed, to ``back``."""
    if not form.validate_on_submit():
        flash(error_summary(form), "danger")
        return redirect(back)
    result = commit_or_roll_back(act)
    if isinstance(result, Refused):
        flash(str(result.error.message), "danger")
        return redirect(back)
    flash(_said(done, result), "success")
    return redirect(_said(back if then is None else then, result))
