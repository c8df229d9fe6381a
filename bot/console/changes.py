"""How a console form makes one change: the domain operation runs in the request's
session; taken, the change is committed, the page to come back to says what was done
(a flashed sentence) and the browser is sent there; refused, nothing is kept and the
form's page is shown again with the refusal in the reader's language. Forms that answer
htmx with a fragment, or that ask twice, keep their own flow.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect
from flask.typing import ResponseReturnValue

from bot.console.context import account, request_db
from models.needs.errors import NeedError
from texts.errors import CatalogError

# The refusals the domain raises, each said in a language by ``text(language)``.
Refusal = CatalogError | NeedError


def change_or_refuse(
    change: Callable[[], str],
    refused: Callable[[str], ResponseReturnValue],
    back_to: str,
    refusals: tuple[type[Refusal], ...],
) -> ResponseReturnValue:
    """Run ``change`` (which returns the sentence saying what it did): committed and
    redirected to ``back_to``; one of ``refusals`` rolls it back and answers
    ``refused(sentence)``."""
    db = request_db()
    try:
        done = change()
    except refusals as exc:
        db.rollback()
        return refused(exc.text(account().language))
    db.commit()
    flash(done)
    return redirect(back_to)
