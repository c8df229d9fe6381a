"""Mass sends by WeChat user tag: make the tag hold exactly the audience, then send once.

A subscription account may mass-send only to every follower or to a tag, so a broadcast
to anyone else goes to a tag made for it (models/broadcasts/mass.py ``plan_mass``). Its
outbox row carries the tag's name and the openids it must hold; right before posting, the
worker finds or creates the tag, lists its members, untags whoever is not in the audience
(a resident who opted out since, or anyone staff tagged by hand), tags whoever is
missing, and posts one mass send to that tag (bot/wechat/api.py). All of it is safe to
repeat: a retried row syncs again, changing only what differs, and posts the same
``send_id``, which WeChat answers with 45065 when it has already taken that request; that
counts as sent, so nobody gets the message twice.

Each broadcast has its own tag, so two broadcasts never share members; tags of earlier
broadcasts are deleted once ``RETIRE_AFTER`` old (WeChat sends a job within minutes), so
the account never nears WeChat's 100 tags. Tags this project did not name are never touched.

A tag call that fails for a reason a retry can fix (-1, a timeout, the tag vanishing with
45159) raises WeChatAPIError naming the call, and the row is retried; one no retry can fix
(a name WeChat refuses, the account's 100 tags used, an openid not of this account)
raises :class:`TagRefused`, and the row is dead-lettered with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from bot.wechat.api import Tag, Tags, WeChatAPI
from bot.wechat.errors import Refusal, WeChatAPIError, tag_refusal
from models.broadcasts.mass import MassMethod, mass_tag_day
from models.broadcasts.sending import MassSend

log = logging.getLogger(__name__)

RETIRE_AFTER = timedelta(days=2)

T = TypeVar("T")


class TagRefused(Exception):
    """WeChat refused a tag sync in a way no retry fixes; the message is for last_error."""


def post_mass(api: WeChatAPI, mass: MassSend, now: datetime) -> dict[str, Any]:
    """Post one mass send, first making its tag (if it is a tag send) hold exactly the
    openids it names. WeChat's answer, or for a send it already took (45065, the same
    ``send_id``) the earlier job's ``msg_id``."""
    target = mass.target
    name: str | None = None
    tag_id: int | None = None
    try:
        if target["to"] == MassMethod.BY_TAG:
            name = str(target["tag"])
            tag_id = sync_tag(api.tags, name, [str(o) for o in target["openids"]], now)
            return api.mass.send_text_to_tag(tag_id, mass.text, mass.send_id)
        if target["to"] == MassMethod.BY_OPENIDS:
            return api.mass.send_text_to_openids(target["openids"], mass.text, mass.send_id)
        return api.mass.send_text_to_all(mass.text, mass.send_id)
    except WeChatAPIError as exc:
        if exc.refusal is Refusal.ALREADY_SENT:
            log.info("WeChat already took mass send %s; not sent again", mass.send_id)
            return {"msg_id": _answer(exc).get("msg_id")}
        if tag_id is not None and exc.refusal is Refusal.UNKNOWN_TAG:
            raise WeChatAPIError(
                exc.errcode,
                f"tag {name!r} (id {tag_id}) was deleted before the send, and the retry "
                f"makes it again: {exc.errmsg}",
                request=exc.request,
                response=exc.response,
            ) from exc
        raise


def sync_tag(tags: Tags, name: str, openids: Sequence[str], now: datetime) -> int:
    """The id of WeChat tag ``name``, created if missing, whose members are now exactly
    ``openids``; old tags of earlier broadcasts are deleted on the way."""
    existing = _call(name, Tags.LIST, tags.get)
    _retire(tags, existing, name, now)
    tag_id = next((tag.id for tag in existing if tag.name == name), None)
    current: set[str] = set()
    if tag_id is None:
        tag_id = _create(tags, name)
    else:
        current = _members(tags, name, tag_id)
    wanted = set(openids)
    removed = sorted(current - wanted)
    added = sorted(wanted - current)
    _change(name, Tags.UNTAG_USERS, partial(tags.untag_users, tag_id), removed)
    _change(name, Tags.TAG_USERS, partial(tags.tag_users, tag_id), added)
    log.info(
        "WeChat tag %s (id %s): %d members, %d added, %d removed",
        name,
        tag_id,
        len(wanted),
        len(added),
        len(removed),
    )
    return tag_id


def _call(name: str, step: str, call: Callable[[], T]) -> T:
    """One tag call. Its errors name the tag and the call (``step``), so last_error says
    which step failed; the ones no retry fixes become TagRefused."""
    try:
        return call()
    except WeChatAPIError as exc:
        code = "no answer" if exc.errcode is None else f"errcode {exc.errcode}"
        refused = tag_refusal(exc.errcode)
        if refused is not None:
            raise TagRefused(f"tag {name!r}, {step}: {refused} ({code}: {exc.errmsg})") from exc
        raise WeChatAPIError(
            exc.errcode,
            f"tag {name!r}, {step}: {exc.errmsg}",
            request=exc.request,
            response=exc.response,
        ) from exc


def _create(tags: Tags, name: str) -> int:
    try:
        return _call(name, Tags.CREATE, partial(tags.create, name))
    except TagRefused as refusal:
        # 45157 is also WeChat's answer when the name exists: another sync of this row
        # (a worker whose lease ran out) may have just made it.
        cause = refusal.__cause__
        if not isinstance(cause, WeChatAPIError) or cause.refusal is not Refusal.TAG_NAME_TAKEN:
            raise
        existing = _call(name, Tags.LIST, tags.get)
        found = next((tag.id for tag in existing if tag.name == name), None)
        if found is None:
            raise
        return found


def _members(tags: Tags, name: str, tag_id: int) -> set[str]:
    """Every openid with the tag, page by page (WeChat answers 10,000 at a time)."""
    members: set[str] = set()
    after = ""
    while True:
        openids, following = _call(name, Tags.MEMBERS, partial(tags.members, tag_id, after))
        members.update(openids)
        if not openids or not following or following == after:
            return members
        after = following


def _change(name: str, step: str, change: Callable[[list[str]], None], openids: list[str]) -> None:
    for start in range(0, len(openids), Tags.BATCH):
        batch = openids[start : start + Tags.BATCH]
        _call(name, step, partial(change, batch))


def _retire(tags: Tags, existing: list[Tag], keep: str, now: datetime) -> None:
    """Delete this project's tags of broadcasts older than RETIRE_AFTER. A failure here
    must not hold up today's send, so it is logged and the next sync tries again."""
    oldest_kept = (now - RETIRE_AFTER).astimezone(UTC).date()
    for tag in existing:
        day = mass_tag_day(tag.name)
        if day is None or tag.name == keep or day >= oldest_kept:
            continue
        try:
            tags.delete(tag.id)
        except WeChatAPIError as exc:
            log.warning("could not delete old WeChat tag %s: %s", tag.name, exc.errmsg)


def _answer(exc: WeChatAPIError) -> dict[str, Any]:
    """The JSON WeChat answered with an error, for what else it says (45065's msg_id)."""
    try:
        answer = exc.response.json() if exc.response is not None else {}
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}
