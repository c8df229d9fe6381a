"""Needs by chat: submit one step by step, follow them, and erase what we keep.

The draft lives only in the flow state (Redis, with the flow TTL); nothing reaches the
database until the resident confirms, so leaving, going quiet or declining the privacy
notice leaves nothing behind. The steps run on handlers/flows.py, which drops a draft
older than the flow TTL even where Redis kept it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from handlers.answers import is_back, is_no, is_skip, is_yes, pick_option
from handlers.context import Context, NeedCategory
from handlers.flows import Draft, Flow, Step, ttl_minutes
from handlers.message import Location, Message, MessageType, Reply
from handlers.router import Router, normalize
from handlers.villages import VillageQuestion
from models.needs.erasure import erase_resident_data
from models.needs.notices import STATUS_NAME_TEXT_KEYS
from models.needs.queries import (
    count_resident_needs,
    demand_counts,
    need_history,
    need_photos,
    parse_ref,
    resident_needs,
)
from models.needs.submission import PhotoDraft, create_need
from models.needs.tables import Need, NeedStatus, need_ref

MAX_PLACE = 200
MY_NEEDS_SHOWN = 10
EXCERPT = 30
# A need's reference sent on its own (normalized): N-000001, n1. Bare numbers are not
# taken, since residents send those as answers and event numbers.
NEED_REF_ALONE = r"n-?\s*\d{1,9}"
DONE_WORDS = frozenset({"完成", "好了", "没有了", "done", "no more"})

# Starting ---------------------------------------------------------------------------------


def media_outside_a_draft(message: Message, ctx: Context) -> Reply:
    """A photo or a place sent on its own is most likely a problem being reported."""
    return Reply(ctx.t("need_media_outside_draft"))


def start_need(message: Message, ctx: Context) -> Reply:
    if ctx.resident.privacy_consent_at is None:
        return CONSENT.ask(ctx, NeedDraft())
    return VILLAGE.first(ctx, NeedDraft())


@dataclass
class NeedDraft(Draft):
    """A need as the resident tells it; the keys are those need drafts were stored with."""

    category: str = ""
    text: str = ""
    # [media_id, pic_url] pairs, as JSON gives them back.
    photos: list[list[str]] = field(default_factory=list)
    place: str | None = None
    lat: float | None = None
    lng: float | None = None


def _expired(ctx: Context, draft: Draft) -> str:
    return ctx.t("need_expired", minutes=ttl_minutes(ctx))


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


def _status_name(ctx: Context, status: str) -> str:
    return ctx.t(STATUS_NAME_TEXT_KEYS[status])


# The flow's questions -----------------------------------------------------------------------


def _consent_question(ctx: Context, draft: NeedDraft) -> str:
    return ctx.t("need_consent")


def _category_question(ctx: Context, draft: NeedDraft) -> str:
    return ctx.t("need_pick_category", options=_category_options(ctx))


def _describe_question(ctx: Context, draft: NeedDraft) -> str:
    return ctx.t(
        "need_describe",
        category=_category_name(ctx, draft.category),
        max_text=ctx.settings.need_max_text,
    )


def _photos_question(ctx: Context, draft: NeedDraft) -> str:
    return ctx.t("need_ask_photos", max_photos=ctx.settings.need_max_photos)


def _place_question(ctx: Context, draft: NeedDraft) -> str:
    return ctx.t("need_ask_place")


def _confirm_question(ctx: Context, draft: NeedDraft) -> str:
    return ctx.t(
        "need_confirm",
        category=_category_name(ctx, draft.category),
        text=draft.text,
        photos=len(draft.photos),
        place=_place_text(ctx, draft.place, draft.lat, draft.lng),
    )


def _place_text(ctx: Context, place: str | None, lat: float | None, lng: float | None) -> str:
    """The place as the resident knows it: the address WeChat labelled the location with
    (or what they typed); coordinates only for a location that came without a label."""
    if place:
        return place
    if lat is not None and lng is not None:
        return f"{lat:.5f}, {lng:.5f}"
    return ctx.t("need_no_place")


# The flow's answers -------------------------------------------------------------------------


def on_consent(message: Message, ctx: Context, draft: NeedDraft) -> Reply:
    if is_yes(message.words):
        ctx.resident.privacy_consent_at = ctx.now
        return VILLAGE.first(ctx, draft)
    if is_no(message.words):
        ctx.end_flow()
        return Reply(ctx.t("need_consent_declined"))
    return Reply(ctx.t("need_consent_again"))


def on_category(message: Message, ctx: Context, draft: NeedDraft) -> Reply:
    categories = _categories(ctx)
    options = [(c.zh, c.en, c.key) for c in categories]
    index = pick_option(message.words, options) if message.words else None
    if index is None:
        return Reply(
            ctx.t("need_unknown_category", count=len(categories), options=_category_options(ctx))
        )
    draft.category = categories[index].key
    return DESCRIBE.ask(ctx, draft)


def on_describe(message: Message, ctx: Context, draft: NeedDraft) -> Reply:
    if message.type == MessageType.LOCATION and message.location is not None:
        # The place came early: keep it, and the description is still what this step needs.
        _keep_location(draft, message.location)
        return Reply(f"{ctx.t('need_place_kept_describe')}\n{DESCRIBE.ask(ctx, draft).text}")
    if message.type not in (MessageType.TEXT, MessageType.VOICE):
        return Reply(ctx.t("need_text_expected"))
    text = message.text.strip()
    if is_back(message.words):
        return CATEGORY.ask(ctx, draft)
    if not text:
        key = "need_voice_unrecognised" if message.type == MessageType.VOICE else "need_text_empty"
        return Reply(ctx.t(key))
    if is_skip(message.words):
        return Reply(ctx.t("need_text_empty"))
    max_text = ctx.settings.need_max_text
    if len(text) > max_text:
        return Reply(ctx.t("need_text_too_long", length=len(text), max_text=max_text))
    draft.text = text
    if ctx.settings.need_max_photos == 0:
        return _after_photos(ctx, draft)
    return PHOTOS.ask(ctx, draft)


def on_photos(message: Message, ctx: Context, draft: NeedDraft) -> Reply:
    max_photos = ctx.settings.need_max_photos
    photos = draft.photos
    if message.type == MessageType.IMAGE:
        if not message.media_id:
            return Reply(ctx.t("need_unsupported_media"))
        if len(photos) >= max_photos:
            return Reply(ctx.t("need_photo_limit", max_photos=max_photos))
        photos.append([message.media_id, message.pic_url])
        if len(photos) < max_photos:
            PHOTOS.go(ctx, draft)
            return Reply(ctx.t("need_photo_received", count=len(photos), max_photos=max_photos))
        following = _after_photos(ctx, draft).text
        return Reply(f"{ctx.t('need_photos_full', count=len(photos))}\n{following}")
    if message.type == MessageType.LOCATION and message.location is not None:
        # The photos are optional: sending the place is moving on to it.
        return _take_location(ctx, draft, message.location)
    said = message.words
    if not said:
        return Reply(ctx.t("need_unsupported_media"))
    if is_back(said):
        return DESCRIBE.ask(ctx, draft)
    if is_skip(said) or normalize(said) in DONE_WORDS or is_yes(said):
        return _after_photos(ctx, draft)
    return Reply(ctx.t("need_photo_expected"))


def on_place(message: Message, ctx: Context, draft: NeedDraft) -> Reply:
    if message.type == MessageType.IMAGE:
        max_photos = ctx.settings.need_max_photos
        if len(draft.photos) >= max_photos:
            return Reply(ctx.t("need_photo_limit", max_photos=max_photos))
        return Reply(ctx.t("need_photo_step_over"))
    if message.type == MessageType.LOCATION and message.location is not None:
        return _take_location(ctx, draft, message.location)
    if message.words:
        text = message.words.strip()
        if is_back(text):
            if ctx.settings.need_max_photos == 0:
                return DESCRIBE.ask(ctx, draft)
            return PHOTOS.ask(ctx, draft)
        if not text:
            return Reply(_place_question(ctx, draft))
        if len(text) > MAX_PLACE:
            return Reply(ctx.t("need_place_too_long", max_place=MAX_PLACE))
        # "Done" here is the photo step's word typed once more: no place, not a place.
        skip = is_skip(text) or normalize(text) in DONE_WORDS
        draft.place = None if skip else text
        draft.lat = None
        draft.lng = None
        return CONFIRM.ask(ctx, draft)
    return Reply(ctx.t("need_unsupported_media"))


def _after_photos(ctx: Context, draft: NeedDraft) -> Reply:
    """The step after the photos: the place, unless a location already gave it (sent at
    the description step); then the summary, whose 'back' still changes the place."""
    if draft.lat is not None:
        return CONFIRM.ask(ctx, draft)
    return PLACE.ask(ctx, draft)


def _keep_location(draft: NeedDraft, location: Location) -> None:
    """A LOCATION message is the need's place, whichever step it arrives at."""
    draft.place = location.label.strip()[:MAX_PLACE] or None
    draft.lat = location.latitude
    draft.lng = location.longitude


def _take_location(ctx: Context, draft: NeedDraft, location: Location) -> Reply:
    """A location sent once the description is in: the resident has said where, so the
    draft goes on to its summary."""
    _keep_location(draft, location)
    return CONFIRM.ask(ctx, draft)


def on_confirm(message: Message, ctx: Context, draft: NeedDraft) -> Reply:
    if message.type == MessageType.LOCATION and message.location is not None:
        # The summary offers to change the place; a location sent here does just that.
        summary = _take_location(ctx, draft, message.location).text
        return Reply(f"{ctx.t('need_place_replaced')}\n{summary}")
    if message.type == MessageType.IMAGE:
        return Reply(f"{_late_photo(ctx, draft)}\n{ctx.t('need_confirm_again')}")
    said = message.words
    if is_back(said):
        return PLACE.ask(ctx, draft)
    if is_no(said):
        ctx.end_flow()
        return Reply(ctx.t("need_dropped"))
    if not is_yes(said):
        return Reply(ctx.t("need_confirm_again"))
    need = create_need(
        ctx.db,
        resident=ctx.resident,
        category=draft.category,
        description=draft.text,
        now=ctx.now,
        photos=[PhotoDraft(media_id, pic_url) for media_id, pic_url in draft.photos],
        place=draft.place,
        latitude=draft.lat,
        longitude=draft.lng,
    )
    ctx.end_flow()
    return Reply(ctx.t("need_submitted", ref=need.ref))


def _late_photo(ctx: Context, draft: NeedDraft) -> str:
    """Why a photo sent at the summary was not kept: the resident saw the photo count and
    must not submit believing it went with the need."""
    max_photos = ctx.settings.need_max_photos
    if len(draft.photos) >= max_photos:
        return ctx.t("need_photo_limit", max_photos=max_photos)
    return ctx.t("need_photo_after_photo_step")


CONSENT = Step("need.consent", on_consent, _consent_question)
CATEGORY = Step("need.category", on_category, _category_question)
# Asked once, before the first need's first question (handlers/villages.py).
VILLAGE = VillageQuestion("need.village", CATEGORY.ask)
DESCRIBE = Step("need.text", on_describe, _describe_question)
PHOTOS = Step("need.photos", on_photos, _photos_question)
PLACE = Step("need.place", on_place, _place_question)
CONFIRM = Step("need.confirm", on_confirm, _confirm_question)
NEED_FLOW = Flow(
    NeedDraft,
    (CONSENT, VILLAGE.step, CATEGORY, DESCRIBE, PHOTOS, PLACE, CONFIRM),
    expired=_expired,
)


# Following needs --------------------------------------------------------------------------


def _excerpt(ctx: Context, need: Need) -> str:
    if need.description is None:
        return ctx.t("need_erased_text")
    text = " ".join(need.description.split())
    return text if len(text) <= EXCERPT else f"{text[:EXCERPT]}…"


def _status_line(ctx: Context, need: Need) -> str:
    status = _status_name(ctx, need.status)
    if need.status != NeedStatus.DUPLICATE or need.duplicate_of_id is None:
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
    place = _place_text(ctx, need.place, need.latitude, need.longitude)
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


@dataclass
class EraseDraft(Draft):
    """Nothing to keep: the erasure's one question is answered yes or no."""


def ask_erase(message: Message, ctx: Context) -> Reply:
    return ERASE.ask(ctx, EraseDraft())


def _erase_question(ctx: Context, draft: EraseDraft) -> str:
    return ctx.t("erase_ask")


def on_erase(message: Message, ctx: Context, draft: EraseDraft) -> Reply:
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
            needs=ctx.t("erase_needs", count=erased.needs),
            photos=ctx.t("erase_photos", count=erased.photos),
            places=ctx.t("erase_places", count=erased.places),
            contact=ctx.t("erase_contact") if erased.contact else "",
            # This message too: it is stored without its words.
            messages=ctx.t("erase_messages", count=erased.messages + 1),
        ),
        erases_message=True,
    )


ERASE = Step("need.erase", on_erase, _erase_question)
# An erasure left unanswered expires with the need draft's reply, as it always has.
ERASE_FLOW = Flow(EraseDraft, (ERASE,), expired=_expired)


def register(router: Router) -> None:
    router.add_keyword(("需求", "need", "提交需求", "new need"), start_need)
    router.add_click(("NEED_NEW",), start_need)
    router.add_arg_keyword(("需求", "need"), show_need)
    router.add_pattern(NEED_REF_ALONE, show_need)
    router.add_keyword(("我的需求", "my needs", "my need"), my_needs)
    router.add_click(("MY_NEEDS",), my_needs)
    router.add_keyword(("删除我的信息", "delete my data"), ask_erase)
    router.add_message_type((MessageType.IMAGE, MessageType.LOCATION), media_outside_a_draft)
    NEED_FLOW.register(router)
    ERASE_FLOW.register(router)
