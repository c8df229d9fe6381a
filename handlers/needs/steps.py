"""The need flow's steps: each takes the resident's answer and moves the draft on.

A photo or a location is taken at any step that can use it (the place sent early is
kept; a photo after the photo step is refused with a word), so nothing sent is lost
unsaid."""

from __future__ import annotations

from handlers.answers import is_back, is_no, is_skip, is_yes, pick_option
from handlers.context import Context
from handlers.flows import Flow, Step
from handlers.message import Location, Message, MessageType, Reply
from handlers.needs.draft import NeedDraft, draft_expired, draft_kept
from handlers.needs.questions import (
    category_question,
    confirm_question,
    consent_question,
    describe_question,
    offer_question,
    photos_question,
    place_is_called,
    place_question,
    text_is_called,
)
from handlers.needs.wording import category_options, need_categories
from handlers.router import normalize
from handlers.villages import VillageQuestion
from models.needs.submission import PhotoDraft, create_need

MAX_PLACE = 200
DONE_WORDS = frozenset({"完成", "好了", "没有了", "done", "no more"})


def first_question(ctx: Context, draft: NeedDraft) -> Reply:
    if ctx.resident.privacy_consent_at is None:
        return CONSENT.ask(ctx, draft)
    return VILLAGE.first(ctx, draft)


def on_offer(message: Message, ctx: Context, draft: NeedDraft) -> Reply:
    if message.type in (MessageType.IMAGE, MessageType.LOCATION):
        added = add_media(ctx, draft, message)
        return Reply(f"{added}\n{OFFER.ask(ctx, draft).text}")
    if is_yes(message.words):
        return first_question(ctx, draft)
    if is_no(message.words):
        ctx.end_flow()
        return Reply(ctx.t("need_offer_declined"))
    return Reply(ctx.t("need_offer_again"))


def on_consent(message: Message, ctx: Context, draft: NeedDraft) -> Reply:
    if is_yes(message.words):
        ctx.resident.privacy_consent_at = ctx.now
        return VILLAGE.first(ctx, draft)
    if is_no(message.words):
        ctx.end_flow()
        return Reply(ctx.t("need_consent_declined"))
    return Reply(ctx.t("need_consent_again"))


def on_category(message: Message, ctx: Context, draft: NeedDraft) -> Reply:
    categories = need_categories(ctx)
    options = [(c.zh, c.en, c.key) for c in categories]
    index = pick_option(message.words, options) if message.words else None
    if index is None:
        return Reply(
            ctx.t("need_unknown_category", count=len(categories), options=category_options(ctx))
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
    if len(draft.photos) >= ctx.settings.need_max_photos:
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
            return Reply(place_question(ctx, draft))
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


def add_media(ctx: Context, draft: NeedDraft, message: Message) -> str:
    """Keep a photo or a location sent outside the step that asks for it; the line says
    what became of it."""
    if message.type == MessageType.LOCATION and message.location is not None:
        _keep_location(draft, message.location)
        return ctx.t("need_media_kept_place")
    if message.type != MessageType.IMAGE or not message.media_id:
        return ctx.t("need_unsupported_media")
    max_photos = ctx.settings.need_max_photos
    if len(draft.photos) >= max_photos:
        return ctx.t("need_photo_limit", max_photos=max_photos)
    draft.photos.append([message.media_id, message.pic_url])
    return ctx.t("need_media_kept_photo", count=len(draft.photos))


def ask_again(ctx: Context, draft: NeedDraft) -> Reply:
    """The question of the step a draft taken back is at, past what a photo or a place
    just added already answered (the place, a full set of photos)."""
    step = NEED_FLOW.current_step(ctx)
    photos_done = len(draft.photos) >= ctx.settings.need_max_photos
    if step in (PHOTOS, PLACE) and (draft.lat is not None or photos_done):
        return _after_photos(ctx, draft)
    return step.ask(ctx, draft)


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


OFFER = Step("need.offer", on_offer, offer_question)
CONSENT = Step("need.consent", on_consent, consent_question)
CATEGORY = Step("need.category", on_category, category_question)
# Asked once, before the first need's first question (handlers/villages.py).
VILLAGE = VillageQuestion("need.village", CATEGORY.ask)
DESCRIBE = Step("need.text", on_describe, describe_question, free_text=text_is_called)
PHOTOS = Step("need.photos", on_photos, photos_question)
PLACE = Step("need.place", on_place, place_question, free_text=place_is_called)
CONFIRM = Step("need.confirm", on_confirm, confirm_question)
NEED_FLOW = Flow(
    NeedDraft,
    (OFFER, CONSENT, VILLAGE.step, CATEGORY, DESCRIBE, PHOTOS, PLACE, CONFIRM),
    expired=draft_expired,
    kept=draft_kept,
)
