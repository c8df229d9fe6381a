"""Which WeChat channel may carry a push to a resident right now, and in what order to try.

Order of preference: a customer-service message inside the resident's allowance (free
text, arrives as a chat message); a template message on a service account; a
subscription notice where the resident accepted one; otherwise the push is held and goes
out with the resident's next passive reply, or expires at its validity end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.config.sections import PushTemplate


@dataclass(frozen=True)
class Push:
    """What a channel needs to send one outbox row."""

    openid: str
    kind: str
    text: str
    fields: Mapping[str, Any]


class Unrenderable(ValueError):
    """A push that cannot be made into WeChat's message; no retry would change that, so
    its row is dead-lettered with this message."""


# What str.format raises for a pattern its values do not fit: a missing name, a stray or
# positional brace, an attribute or index of a value, a format spec the value refuses.
FORMAT_ERRORS = (KeyError, IndexError, ValueError, AttributeError, TypeError)


def render_template_fields(template: PushTemplate, push: Push) -> dict[str, str]:
    """Each configured template field's text, formatted from the push's values.

    Config checks the patterns at load, but a payload written before a change, or by
    other code, may still not fit one: that raises :class:`Unrenderable`, naming the field.
    """
    values = {"text": push.text, **push.fields}
    rendered: dict[str, str] = {}
    for name, pattern in template.fields:
        try:
            rendered[name] = pattern.format(**values)
        except FORMAT_ERRORS as exc:
            raise Unrenderable(
                f"cannot render the {push.kind} template's field {name} = {pattern!r}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    return rendered
