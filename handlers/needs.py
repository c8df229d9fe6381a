"""Needs by chat: submit one step by step, follow them, and erase what we keep.

The draft lives only in the flow state (Redis, with the flow TTL); nothing reaches the
database until the resident confirms, so leaving, going quiet or declining the privacy
notice leaves nothing behind. Each step also checks the draft's age against the clock,
so a draft older than the TTL is dropped even where Redis kept it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any

from handlers.answers import is_back, is_no, is_skip, is_yes, pick_option
from handlers.context import Context, NeedCategory
from handlers.message import IMAGE, LOCATION, TEXT, VOICE, Location, Message, Reply
from handlers.router import Handler, Prompt, Router, normalize
from models.needs import (
    DUPLICATE,
    STATUS_NAMES,
    Need,
    PhotoDraft,
    count_resident_needs,
    create_need,
    demand_counts,
    erase_resident_data,
    need_history,
    need_photos,
    need_ref,
    parse_ref,
    resident_needs,
)

CONSENT = "need.consent"
CATEGORY = "need.category"
DESCRIBE = "need.text"
PHOTOS = "need.photos"
PLACE = "need.place"
CONFIRM = "need.confirm"
ERASE = "need.erase"

MAX_PLACE = 200
MY_NEEDS_SHOWN = 10
EXCERPT = 30
DONE_WORDS = frozenset({"完成", "好了", "没有了", "done", "no more"})

# Starting ---------------------------------------------------------------------------------


def media_outside_a_draft(message: Message, ctx: Context) -> Reply:
    """A photo or a place sent on its own is most likely a problem being reported."""
    return Reply(ctx.t("need_media_outside_draft"))


def start_need(message: Message, ctx: Context) -> Reply:
    if ctx.resident.privacy_consent_at is None:
        _start(ctx, CONSENT)
        return Reply(ctx.t("need_consent"))
    _start(ctx, CATEGORY)
    return Reply(_category_prompt(ctx))


def _start(ctx: Context, state: str) -> None:
    ctx.start_flow(state, {"touched": ctx.now.isoformat()})


def _go(ctx: Context, state: str) -> None:
    """Move the draft to ``state``, keeping what the resident said so far."""
    assert ctx.flow is not None
    ctx.flow.name = state
    ctx.flow.data["touched"] = ctx.now.isoformat()
    ctx.save_flow()


def _step(handler: Callable[[Message, Context, dict[str, Any]], Reply]) -> Handler:
    """A step of a draft: an expired draft is dropped first, else the step gets its data.

    Redis expires drafts with the flow TTL too, but the clock decides, so that a draft
    Redis kept a little longer (or a test's clock) behaves the same.
    """

    @wraps(handler)
    def step(message: Message, ctx: Context) -> Reply:
        expired = _expired(ctx)
        if expired is not None:
            return Reply(expired)
        return handler(message, ctx, _draft(ctx))

    return step


def _question(ask: Callable[[Context], str]) -> Prompt:
    """A step's question asked again (after help or a language switch), unless the draft
    has expired meanwhile: then it says so, as the step itself would."""

    def prompt(ctx: Context) -> str:
        return _expired(ctx) or ask(ctx)

    return prompt


def _expired(ctx: Context) -> str | None:
    """Why the draft is gone, if it outlived the flow TTL (it is dropped then)."""
    touched = _draft(ctx).get("touched")
    ttl = timedelta(seconds=ctx.settings.flow_ttl_s)
    if touched is not None and ctx.now - datetime.fromisoformat(touched) <= ttl:
        return None
    ctx.end_flow()
    return ctx.t("need_expired", minutes=ctx.settings.flow_ttl_s // 60)


def _draft(ctx: Context) -> dict[str, Any]:
    if ctx.flow is None:
        raise RuntimeError("a need draft's step ran outside its flow")
    return ctx.flow.data


def _categories(ctx: Context) -> tuple[NeedCategory, ...]:
    return ctx.settings.need_categories


def _category_name(ctx: Context, key: str) -> str:
    for category in _categories(ctx):
        if category.key == key:
            return category.name(ctx.language)
    return key


def _category_options(ctx: Context) -> str:
    return "\n".join(
        f"{number}. {category.name(ctx.language)}"
        for number, category in enumerate(_categories(ctx), start=1)
    )


def _category_prompt(ctx: Context) -> str:
    return ctx.t("need_pick_category", options=_category_options(ctx))


def _status_name(ctx: Context, status: str) -> str:
    zh, en = STATUS_NAMES[status]
    return zh if ctx.language == "zh" else en


# The flow ---------------------------------------------------------------------------------


@_step
def on_consent(message: Message, ctx: Context, data: dict[str, Any]) -> Reply:
    if is_yes(message.words):
        ctx.resident.privacy_consent_at = ctx.now
        _go(ctx, CATEGORY)
        return Reply(_category_prompt(ctx))
    if is_no(message.words):
        ctx.end_flow()
        return Reply(ctx.t("need_consent_declined"))
    return Reply(ctx.t("need_consent_again"))


@_step
def on_category(message: Message, ctx: Context, data: dict[str, Any]) -> Reply:
    categories = _categories(ctx)
    options = [(c.zh, c.en, c.key) for c in categories]
    index = pick_option(message.words, options) if message.words else None
    if index is None:
        return Reply(
            ctx.t("need_unknown_category", count=len(categories), options=_category_options(ctx))
        )
    data["category"] = categories[index].key
    _go(ctx, DESCRIBE)
    return Reply(_describe_prompt(ctx, data))


def _describe_prompt(ctx: Context, data: dict[str, Any]) -> str:
    return ctx.t(
        "need_describe",
        category=_category_name(ctx, data["category"]),
        max_text=ctx.settings.need_max_text,
    )


@_step
def on_describe(message: Message, ctx: Context, data: dict[str, Any]) -> Reply:
    if message.type == LOCATION and message.location is not None:
        # The place came early: keep it, and the description is still what this step needs.
        _keep_location(data, message.location)
        _go(ctx, DESCRIBE)
        return Reply(f"{ctx.t('need_place_kept_describe')}\n{_describe_prompt(ctx, data)}")
    if message.type not in (TEXT, VOICE):
        return Reply(ctx.t("need_text_expected"))
    text = message.text.strip()
    if is_back(message.words):
        _go(ctx, CATEGORY)
        return Reply(_category_prompt(ctx))
    if not text:
        key = "need_voice_unrecognised" if message.type == VOICE else "need_text_empty"
        return Reply(ctx.t(key))
    if is_skip(message.words):
        return Reply(ctx.t("need_text_empty"))
    max_text = ctx.settings.need_max_text
    if len(text) > max_text:
        return Reply(ctx.t("need_text_too_long", length=len(text), max_text=max_text))
    data["text"] = text
    if ctx.settings.need_max_photos == 0:
        return _after_photos(ctx, data)
    data.setdefault("photos", [])
    _go(ctx, PHOTOS)
    return Reply(_photos_prompt(ctx))


def _photos_prompt(ctx: Context) -> str:
    return ctx.t("need_ask_photos", max_photos=ctx.settings.need_max_photos)


@_step
def on_photos(message: Message, ctx: Context, data: dict[str, Any]) -> Reply:
    max_photos = ctx.settings.need_max_photos
    photos: list[list[str]] = data.setdefault("photos", [])
    if message.type == IMAGE:
        if not message.media_id:
            return Reply(ctx.t("need_unsupported_media"))
        if len(photos) >= max_photos:
            return Reply(ctx.t("need_photo_limit", max_photos=max_photos))
        photos.append([message.media_id, message.pic_url])
        if len(photos) < max_photos:
            _go(ctx, PHOTOS)
            return Reply(ctx.t("need_photo_received", count=len(photos), max_photos=max_photos))
        following = _after_photos(ctx, data).text
        return Reply(f"{ctx.t('need_photos_full', count=len(photos))}\n{following}")
    if message.type == LOCATION and message.location is not None:
        # The photos are optional: sending the place is moving on to it.
        return _take_location(ctx, data, message.location)
    said = message.words
    if not said:
        return Reply(ctx.t("need_unsupported_media"))
    if is_back(said):
        _go(ctx, DESCRIBE)
        return Reply(_describe_prompt(ctx, data))
    if is_skip(said) or normalize(said) in DONE_WORDS or is_yes(said):
        return _after_photos(ctx, data)
    return Reply(ctx.t("need_photo_expected"))


@_step
def on_place(message: Message, ctx: Context, data: dict[str, Any]) -> Reply:
    if message.type == IMAGE:
        max_photos = ctx.settings.need_max_photos
        if len(data.get("photos", [])) >= max_photos:
            return Reply(ctx.t("need_photo_limit", max_photos=max_photos))
        return Reply(ctx.t("need_photo_step_over"))
    if message.type == LOCATION and message.location is not None:
        return _take_location(ctx, data, message.location)
    if message.words:
        text = message.words.strip()
        if is_back(text):
            if ctx.settings.need_max_photos == 0:
                _go(ctx, DESCRIBE)
                return Reply(_describe_prompt(ctx, data))
            _go(ctx, PHOTOS)
            return Reply(_photos_prompt(ctx))
        if not text:
            return Reply(ctx.t("need_ask_place"))
        if len(text) > MAX_PLACE:
            return Reply(ctx.t("need_place_too_long", max_place=MAX_PLACE))
        # "Done" here is the photo step's word typed once more: no place, not a place.
        skip = is_skip(text) or normalize(text) in DONE_WORDS
        data["place"] = None if skip else text
        data["lat"] = None
        data["lng"] = None
        _go(ctx, CONFIRM)
        return Reply(_confirm_prompt(ctx, data))
    return Reply(ctx.t("need_unsupported_media"))


def _after_photos(ctx: Context, data: dict[str, Any]) -> Reply:
    """The step after the photos: the place, unless a location already gave it (sent at
    the description step); then the summary, whose 'back' still changes the place."""
    if data.get("lat") is not None:
        _go(ctx, CONFIRM)
        return Reply(_confirm_prompt(ctx, data))
    _go(ctx, PLACE)
    return Reply(ctx.t("need_ask_place"))


def _keep_location(data: dict[str, Any], location: Location) -> None:
    """A LOCATION message is the need's place, whichever step it arrives at."""
    data["place"] = location.label.strip()[:MAX_PLACE] or None
    data["lat"] = location.latitude
    data["lng"] = location.longitude


def _take_location(ctx: Context, data: dict[str, Any], location: Location) -> Reply:
    """A location sent once the description is in: the resident has said where, so the
    draft goes on to its summary."""
    _keep_location(data, location)
    _go(ctx, CONFIRM)
    return Reply(_confirm_prompt(ctx, data))


def _place_text(ctx: Context, data: dict[str, Any]) -> str:
    place = data.get("place")
    if data.get("lat") is not None:
        coordinates = f"{data['lat']:.5f}, {data['lng']:.5f}"
        return f"{place} ({coordinates})" if place else coordinates
    return place or ctx.t("need_no_place")


def _confirm_prompt(ctx: Context, data: dict[str, Any]) -> str:
    return ctx.t(
        "need_confirm",
        category=_category_name(ctx, data["category"]),
        text=data["text"],
        photos=len(data.get("photos", [])),
        place=_place_text(ctx, data),
    )


@_step
def on_confirm(message: Message, ctx: Context, data: dict[str, Any]) -> Reply:
    if message.type == LOCATION and message.location is not None:
        # The summary offers to change the place; a location sent here does just that.
        summary = _take_location(ctx, data, message.location).text
        return Reply(f"{ctx.t('need_place_replaced')}\n{summary}")
    if message.type == IMAGE:
        return Reply(f"{_late_photo(ctx, data)}\n{ctx.t('need_confirm_again')}")
    said = message.words
    if is_back(said):
        _go(ctx, PLACE)
        return Reply(ctx.t("need_ask_place"))
    if is_no(said):
        ctx.end_flow()
        return Reply(ctx.t("need_dropped"))
    if not is_yes(said):
        return Reply(ctx.t("need_confirm_again"))
    need = create_need(
        ctx.db,
        resident=ctx.resident,
        category=data["category"],
        description=data["text"],
        now=ctx.now,
        photos=[PhotoDraft(media_id, pic_url) for media_id, pic_url in data.get("photos", [])],
        place=data.get("place"),
        latitude=data.get("lat"),
        longitude=data.get("lng"),
    )
    ctx.end_flow()
    return Reply(ctx.t("need_submitted", ref=need.ref))


def _late_photo(ctx: Context, data: dict[str, Any]) -> str:
    """Why a photo sent at the summary was not kept: the resident saw the photo count and
    must not submit believing it went with the need."""
    max_photos = ctx.settings.need_max_photos
    if len(data.get("photos", [])) >= max_photos:
        return ctx.t("need_photo_limit", max_photos=max_photos)
    return ctx.t("need_photo_after_photo_step")


# Following needs --------------------------------------------------------------------------


def _excerpt(ctx: Context, need: Need) -> str:
    if need.description is None:
        return ctx.t("need_erased_text")
    text = " ".join(need.description.split())
    return text if len(text) <= EXCERPT else f"{text[:EXCERPT]}…"


def _status_line(ctx: Context, need: Need) -> str:
    status = _status_name(ctx, need.status)
    if need.status != DUPLICATE or need.duplicate_of_id is None:
        return status
    original = ctx.db.get(Need, need.duplicate_of_id)
    if original is None:
        return status
    return ctx.t("need_merged_into", ref=original.ref, status=_status_name(ctx, original.status))


def my_needs(message: Message, ctx: Context) -> Reply:
    needs = resident_needs(ctx.db, ctx.resident, limit=MY_NEEDS_SHOWN)
    if not needs:
        return Reply(ctx.t("my_needs_none"))
    lines = [ctx.t("my_needs_header", total=count_resident_needs(ctx.db, ctx.resident))]
    for need in needs:
        lines.append(
            ctx.t(
                "my_needs_line",
                ref=need.ref,
                category=_category_name(ctx, need.category),
                status=_status_line(ctx, need),
                updated=ctx.local_time(need.updated_at),
                excerpt=_excerpt(ctx, need),
            )
        )
    lines.append(ctx.t("my_needs_footer", ref=needs[0].ref))
    return Reply("\n".join(lines))


def show_need(message: Message, ctx: Context, argument: str) -> Reply:
    need_id = parse_ref(argument)
    if need_id is None:
        return Reply(ctx.t("need_ref_hint"))
    need = ctx.db.get(Need, need_id)
    if need is None or need.resident_id != ctx.contact.resident_id:
        return Reply(ctx.t("need_not_found", ref=need_ref(need_id)))
    place = _place_text(ctx, {"place": need.place, "lat": need.latitude, "lng": need.longitude})
    lines = [
        ctx.t(
            "need_detail",
            ref=need.ref,
            category=_category_name(ctx, need.category),
            status=_status_line(ctx, need),
            created=ctx.local_time(need.created_at),
            text=need.description or ctx.t("need_erased_text"),
            place=place,
            photos=len(need_photos(ctx.db, need)),
        )
    ]
    demand = demand_counts(ctx.db, [need.id])[need.id]
    if demand > 1:
        lines.append(ctx.t("need_detail_demand", count=demand))
    lines.append(ctx.t("need_detail_history"))
    for entry in need_history(ctx.db, need):
        line = f"{ctx.local_time(entry.created_at)} {_status_name(ctx, entry.to_status)}"
        if entry.public and entry.note:
            line += f" · {entry.note}"
        lines.append(line)
    return Reply("\n".join(lines))


# Privacy ----------------------------------------------------------------------------------


def ask_erase(message: Message, ctx: Context) -> Reply:
    _start(ctx, ERASE)
    return Reply(ctx.t("erase_ask"))


@_step
def on_erase(message: Message, ctx: Context, data: dict[str, Any]) -> Reply:
    if is_no(message.words):
        ctx.end_flow()
        return Reply(ctx.t("erase_kept"))
    if not is_yes(message.words):
        return Reply(ctx.t("erase_ask_again"))
    ctx.end_flow()
    erased = erase_resident_data(ctx.db, ctx.resident, ctx.now)
    return Reply(
        ctx.t(
            "erase_done",
            needs=erased.needs,
            photos=erased.photos,
            places=erased.places,
            contact=ctx.t("erase_contact") if erased.contact else "",
            # This message too: it is stored without its words.
            messages=erased.messages + 1,
        ),
        erases_message=True,
    )


def register(router: Router) -> None:
    router.add_keyword(("需求", "need", "提交需求", "new need"), start_need)
    router.add_click(("NEED_NEW",), start_need)
    router.add_arg_keyword(("需求", "need"), show_need)
    router.add_keyword(("我的需求", "my needs", "my need"), my_needs)
    router.add_click(("MY_NEEDS",), my_needs)
    router.add_keyword(("删除我的信息", "delete my data"), ask_erase)
    router.add_message_type((IMAGE, LOCATION), media_outside_a_draft)
    router.add_flow(CONSENT, on_consent, _question(lambda ctx: ctx.t("need_consent")))
    router.add_flow(CATEGORY, on_category, _question(_category_prompt))
    router.add_flow(
        DESCRIBE, on_describe, _question(lambda ctx: _describe_prompt(ctx, _draft(ctx)))
    )
    router.add_flow(PHOTOS, on_photos, _question(_photos_prompt))
    router.add_flow(PLACE, on_place, _question(lambda ctx: ctx.t("need_ask_place")))
    router.add_flow(CONFIRM, on_confirm, _question(lambda ctx: _confirm_prompt(ctx, _draft(ctx))))
    router.add_flow(ERASE, on_erase, _question(lambda ctx: ctx.t("erase_ask")))
