"""Tags and users: tags created and deleted, residents tagged, a tag's members paged."""

from __future__ import annotations

from typing import Any

from bot.wechat.fake_api.replies import OK, Reply, error
from bot.wechat.fake_api.state import FakeWeChat

MAX_TAGS = 100
MAX_TAGS_PER_USER = 20
TAGGING_MAX = 50
# Tags 0-2 are WeChat's own (blacklist, starred); they cannot be deleted.
SYSTEM_TAG_IDS = frozenset({0, 1, 2})


def tags_create(fake: FakeWeChat, query: dict[str, str], body: Any) -> Reply:
    tag = body.get("tag") if isinstance(body, dict) else None
    name = tag.get("name") if isinstance(tag, dict) else None
    if not isinstance(name, str) or not name.strip():
        return error(45157)
    if len(name.encode()) > 30:
        return error(45158)
    with fake.lock:
        if name in fake.tags.values():
            return error(45157)
        if len(fake.tags) >= MAX_TAGS:
            return error(45056)
        fake.next_id += 1
        tag_id = fake.next_id
        fake.tags[tag_id] = name
    return Reply({"tag": {"id": tag_id, "name": name}})


def tags_get(fake: FakeWeChat, query: dict[str, str], body: Any) -> Reply:
    with fake.lock:
        tags = [
            {
                "id": tag_id,
                "name": name,
                "count": sum(tag_id in tags for tags in fake.user_tags.values()),
            }
            for tag_id, name in fake.tags.items()
        ]
    return Reply({"tags": tags})


def tags_delete(fake: FakeWeChat, query: dict[str, str], body: Any) -> Reply:
    tag = body.get("tag") if isinstance(body, dict) else None
    tag_id = tag.get("id") if isinstance(tag, dict) else None
    if isinstance(tag_id, int) and tag_id in SYSTEM_TAG_IDS:
        return error(45058)
    with fake.lock:
        if not isinstance(tag_id, int) or tag_id not in fake.tags:
            return error(45159)
        del fake.tags[tag_id]
        for tags in fake.user_tags.values():
            tags.discard(tag_id)
    return OK


def tags_batchtagging(fake: FakeWeChat, query: dict[str, str], body: Any) -> Reply:
    return _change_members(fake, body, add=True)


def tags_batchuntagging(fake: FakeWeChat, query: dict[str, str], body: Any) -> Reply:
    return _change_members(fake, body, add=False)


def _change_members(fake: FakeWeChat, body: Any, add: bool) -> Reply:
    if not isinstance(body, dict):
        return error(44002)
    users = body.get("openid_list")
    if not isinstance(users, list) or not all(isinstance(u, str) and u for u in users):
        return error(40003)
    if not 1 <= len(users) <= TAGGING_MAX:
        return error(40032)
    with fake.lock:
        tag_id = body.get("tagid")
        if not isinstance(tag_id, int) or tag_id not in fake.tags:
            return error(45159)
        if not add:
            for openid in users:
                fake.user_tags.get(openid, set()).discard(tag_id)
            return OK
        for openid in users:
            tags = fake.user_tags.get(openid, set())
            if tag_id not in tags and len(tags) >= MAX_TAGS_PER_USER:
                return error(45059)
        for openid in users:
            fake.user_tags.setdefault(openid, set()).add(tag_id)
    return OK


def user_tag_get(fake: FakeWeChat, query: dict[str, str], body: Any) -> Reply:
    """A tag's members in openid order, a page at a time after ``next_openid``."""
    if not isinstance(body, dict):
        return error(44002)
    tag_id = body.get("tagid")
    after = body.get("next_openid") or ""
    if not isinstance(after, str):
        return error(47001)
    with fake.lock:
        if not isinstance(tag_id, int) or tag_id not in fake.tags:
            return error(45159)
        page = [openid for openid in fake.members(tag_id) if openid > after]
        page = page[: fake.tag_page_size]
    if not page:
        return Reply({"count": 0, "next_openid": ""})
    return Reply({"count": len(page), "data": {"openid": page}, "next_openid": page[-1]})


def user_info(fake: FakeWeChat, query: dict[str, str], body: Any) -> Reply:
    openid = query.get("openid")
    if not openid:
        return error(40003)
    with fake.lock:
        tag_ids = sorted(fake.user_tags.get(openid, ()))
    return Reply(
        {
            "subscribe": 1,
            "openid": openid,
            "language": query.get("lang", "zh_CN"),
            "subscribe_time": fake.started,
            "remark": "",
            "groupid": 0,
            "tagid_list": tag_ids,
            "subscribe_scene": "ADD_SCENE_QR_CODE",
            "qr_scene": 0,
            "qr_scene_str": "",
        }
    )
