"""The [push] section: its settings, lists and [push.templates.<kind>] tables."""

from __future__ import annotations

import logging
import string
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bot.config.errors import ConfigError
from bot.config.sections import PushConfig, PushTemplate
from bot.config.values import as_list, build_section, coerce

# What each push kind's templates may show: models/ declares it, its builders are held to it.
from models.push.registry import TEMPLATE_VALUES

log = logging.getLogger(__name__)

PUSH_LISTS = ("reminder_offsets_h", "digest_openids")
PUSH_TABLES = ("templates", "subscribe_templates")


def build_push(values: Mapping[str, Any]) -> PushConfig:
    """The [push] settings: scalars, two lists, and [push.templates.<kind>] tables."""
    scalars = {k: v for k, v in values.items() if k not in PUSH_LISTS + PUSH_TABLES}
    push: PushConfig = build_section("push", PushConfig, scalars)
    changes: dict[str, Any] = {}
    if "reminder_offsets_h" in values:
        offsets = as_list(values["reminder_offsets_h"], "push.reminder_offsets_h")
        changes["reminder_offsets_h"] = tuple(
            coerce("push.reminder_offsets_h", o, 1.0) for o in offsets
        )
    if "digest_openids" in values:
        openids = as_list(values["digest_openids"], "push.digest_openids")
        changes["digest_openids"] = tuple(coerce("push.digest_openids", o, "") for o in openids)
    for table in PUSH_TABLES:
        if table in values:
            changes[table] = _push_templates(values[table], f"push.{table}")
    return replace(push, **changes)


TEMPLATE_KEYS = frozenset({"template_id", "fields", "url"})


def _push_templates(raw: Any, where: str) -> dict[str, PushTemplate]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be tables named by push kind, e.g. [{where}.reminder]")
    return {kind: _push_template(kind, spec, f"{where}.{kind}") for kind, spec in raw.items()}


def _push_template(kind: str, spec: Any, name: str) -> PushTemplate:
    """One [push.templates.<kind>] table; every field's format string is checked against
    the values its kind carries, so no push fails later in the worker."""
    if kind not in TEMPLATE_VALUES:
        raise ConfigError(f"{name}: no push kind {kind!r}; kinds: {', '.join(TEMPLATE_VALUES)}")
    template_id = spec.get("template_id") if isinstance(spec, Mapping) else None
    if not isinstance(template_id, str) or not template_id.strip():
        raise ConfigError(f"{name}.template_id is required")
    for key in set(spec) - TEMPLATE_KEYS:
        log.warning("ignoring unknown setting %s.%s", name, key)
    fields_spec = spec.get("fields", {})
    if not isinstance(fields_spec, Mapping) or not fields_spec:
        raise ConfigError(
            f'{name}.fields must map template fields to text, e.g. {{ keyword1 = "{{title}}" }}'
        )
    pairs = tuple(
        (str(field_name), _template_field(kind, f"{name}.fields.{field_name}", pattern))
        for field_name, pattern in fields_spec.items()
    )
    url = coerce(f"{name}.url", spec.get("url", ""), "")
    return PushTemplate(template_id=template_id, fields=pairs, url=url)


def _template_field(kind: str, name: str, pattern: Any) -> str:
    """A format string over the kind's values: plain ``{name}`` placeholders only, since a
    format spec or conversion (``{title:d}``) can fail on one push's value and not another's."""
    text: str = coerce(name, pattern, "")
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ConfigError(
            f"{name} is not a valid format string ({exc}); write {{{{ and }}}} for braces"
        ) from None
    for _, placeholder, spec, conversion in parts:
        if placeholder is None:
            continue
        if spec or conversion:
            raise ConfigError(f"{name}: write {{{placeholder}}} with no format spec or conversion")
        if placeholder not in TEMPLATE_VALUES[kind]:
            values = ", ".join(f"{{{v}}}" for v in sorted(TEMPLATE_VALUES[kind]))
            raise ConfigError(f"{name}: {kind} pushes have no {{{placeholder}}}, only {values}")
    return text
