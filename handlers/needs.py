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
from handlers.message import IMAGE, LOCATION, TEXT, VOICE, Location, Message, Reply
from handlers.router import Router, normalize
from models.needs.erasure import erase_resident_data
from models.needs.notices import STATUS_NAMES
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
DONE_WORDS = frozenset({"完成", "好了", "没有了", "done", "no more"})

TEXTS = {
    "need_consent": {
        "zh": (
            "提交需求前请知悉：我们会保存您填写的内容、照片和位置，仅用于处理您的需求和统计"
            "社区需求，您可随时发送“删除我的信息”删除。同意请回复“同意”，不同意请回复“不同意”。"
        ),
        "en": (
            "Before you submit: we keep what you write, your photos and the place, only to "
            "handle your need and count community needs; send 'delete my data' any time to "
            "erase them. Reply 'yes' to agree or 'no' to decline."
        ),
    },
    "need_consent_again": {
        "zh": "请回复“同意”或“不同意”（也可发送“退出”）。",
        "en": "Please reply 'yes' or 'no' (or 'exit').",
    },
    "need_consent_declined": {
        "zh": "好的，没有保存任何内容。如果改变主意，随时发送“需求”。",
        "en": "All right, nothing was kept. Send 'need' whenever you change your mind.",
    },
    "need_pick_category": {
        "zh": "请选择需求类别（回复数字或名称）：\n{options}\n随时发送“退出”可放弃。",
        "en": "Which kind of need is it? Reply with a number or a name:\n{options}\n"
        "Send 'exit' any time to stop.",
    },
    "need_unknown_category": {
        "zh": "没有这个类别。请回复 1–{count} 的数字或类别名称：\n{options}",
        "en": "That is not one of the categories. Reply with a number from 1 to {count} "
        "or a name:\n{options}",
    },
    "need_describe": {
        "zh": "类别：{category}。请用文字（或语音）描述您的需求，{max_text} 字以内。"
        "回复“返回”重新选择类别。",
        "en": "Category: {category}. Please describe the need in words (or a voice "
        "message), up to {max_text} characters. Reply 'back' to choose another category.",
    },
    "need_text_empty": {
        "zh": "描述不能为空，请用文字说明您的需求。",
        "en": "The description cannot be empty; please tell us the need in words.",
    },
    "need_text_too_long": {
        "zh": "描述太长了（{length} 字），请控制在 {max_text} 字以内后重新发送。",
        "en": "That is too long ({length} characters); please send at most {max_text}.",
    },
    "need_voice_unrecognised": {
        "zh": "没能听清这段语音，请再说一次，或直接打字。",
        "en": "I could not make out that voice message; please try again or type it.",
    },
    "need_text_expected": {
        "zh": "这一步需要文字描述（或语音），照片可以在下一步添加。",
        "en": "This step needs a description in words (or voice); photos come next.",
    },
    "need_place_kept_describe": {
        "zh": "已保存您发送的位置作为需求地点，之后不用再发。",
        "en": "The location you sent is kept as the need's place; no need to send it again.",
    },
    "need_ask_photos": {
        "zh": "可以发送最多 {max_photos} 张照片（可选）。发完回复“完成”，不需要照片回复“跳过”；"
        "回复“返回”修改描述。",
        "en": "You may send up to {max_photos} photos (optional). Reply 'done' when finished "
        "or 'skip' for none; 'back' to change the description.",
    },
    "need_photo_received": {
        "zh": "已收到第 {count} 张照片（最多 {max_photos} 张）。继续发送，或回复“完成”。",
        "en": "Photo {count} received (at most {max_photos}). Send another or reply 'done'.",
    },
    "need_photos_full": {
        "zh": "已收到 {count} 张照片，已达上限。",
        "en": "{count} photos received, which is the most a need can have.",
    },
    "need_photo_expected": {
        "zh": "这一步请发送照片，或回复“完成”“跳过”“返回”。",
        "en": "Send a photo here, or reply 'done', 'skip' or 'back'.",
    },
    "need_unsupported_media": {
        "zh": "这里只能接收照片、文字、语音和位置，这类消息暂不支持。",
        "en": "Only photos, text, voice and locations work here; this kind of message does not.",
    },
    "need_photo_limit": {
        "zh": "最多只能添加 {max_photos} 张照片，这张没有保存。",
        "en": "At most {max_photos} photos can be added; this one was not kept.",
    },
    "need_photo_step_over": {
        "zh": "照片步骤已经过了，这张没有保存；回复“返回”可回去添加照片。",
        "en": "The photo step is over and this one was not kept; reply 'back' to add photos.",
    },
    "need_ask_place": {
        "zh": "需求在哪里？可以发送位置（对话框“+”→位置），或输入村/小区/地址；"
        "不需要请回复“跳过”，回复“返回”回到上一步。",
        "en": "Where is it? Send a location (the '+' button, then Location) or type a village "
        "or address; reply 'skip' for none or 'back' to go back a step.",
    },
    "need_place_too_long": {
        "zh": "地点太长了，请控制在 {max_place} 字以内。",
        "en": "That place is too long; please keep it to {max_place} characters.",
    },
    "need_confirm": {
        "zh": "请确认您的需求：\n类别：{category}\n描述：{text}\n照片：{photos} 张\n地点：{place}\n"
        "回复“确认”提交，“返回”修改地点，“退出”放弃。",
        "en": "Please check your need:\nCategory: {category}\nDescription: {text}\n"
        "Photos: {photos}\nPlace: {place}\n"
        "Reply 'yes' to submit, 'back' to change the place, 'exit' to drop it.",
    },
    "need_photo_after_photo_step": {
        "zh": "照片步骤已经过了，这张没有保存；回复两次“返回”可回去添加照片。",
        "en": "The photo step is over and this one was not kept; reply 'back' twice to add photos.",
    },
    "need_place_replaced": {
        "zh": "已改用您刚发送的位置。",
        "en": "The place is now the location you just sent.",
    },
    "need_confirm_again": {
        "zh": "回复“确认”提交，“返回”修改地点，“退出”放弃。",
        "en": "Reply 'yes' to submit, 'back' to change the place, 'exit' to drop it.",
    },
    "need_media_outside_draft": {
        "zh": "收到了。如需反映社区问题，请先发送“需求”，照片和位置可以在填写时附上。"
        "发送“帮助”查看可用功能。",
        "en": "Got it. To report something in the community, send 'need' first; you can add "
        "photos and a location as you go. Send 'help' to see options.",
    },
    "need_no_place": {
        "zh": "（无）",
        "en": "(none)",
    },
    "need_dropped": {
        "zh": "已放弃这条需求，没有保存任何内容。",
        "en": "The need was dropped; nothing was kept.",
    },
    "need_submitted": {
        "zh": "已提交！您的需求编号是 {ref}。受理后我们会通知您；发送“我的需求”查看进展。",
        "en": "Submitted! Your need is {ref}. You will hear from us when it is acknowledged; "
        "send 'my needs' to follow it.",
    },
    "need_expired": {
        "zh": "您的需求草稿超过 {minutes} 分钟没有回复，已过期，没有保存任何内容。"
        "发送“需求”重新开始。",
        "en": "Your draft need waited more than {minutes} minutes and expired; nothing was "
        "kept. Send 'need' to start again.",
    },
    "my_needs_none": {
        "zh": "您还没有提交过需求。发送“需求”提交一个。",
        "en": "You have not submitted a need yet. Send 'need' to submit one.",
    },
    "my_needs_header": {
        "zh": "您的需求（共 {total} 条，最新在前）：",
        "en": "Your needs ({total}, newest first):",
    },
    "my_needs_line": {
        "zh": "{ref} {category} · {status} · 更新于 {updated}\n  {excerpt}",
        "en": "{ref} {category} · {status} · updated {updated}\n  {excerpt}",
    },
    "my_needs_footer": {
        "zh": "发送“需求 编号”查看详情，例如“需求 {ref}”。",
        "en": "Send 'need <ref>' for details, e.g. 'need {ref}'.",
    },
    "need_merged_into": {
        "zh": "已并入 {ref}（{status}）",
        "en": "merged into {ref} ({status})",
    },
    "need_not_found": {
        "zh": "没有找到您的需求 {ref}。发送“我的需求”查看您的需求编号。",
        "en": "You have no need {ref}. Send 'my needs' to see your references.",
    },
    "need_ref_hint": {
        "zh": "要提交新需求请发送“需求”；查看某个需求请发送“需求 N-000123”这样的编号。",
        "en": "Send 'need' to submit a new need, or 'need N-000123' to see one of yours.",
    },
    "need_detail": {
        "zh": "{ref} · {category} · {status}\n提交于 {created}\n描述：{text}\n地点：{place}\n"
        "照片：{photos} 张",
        "en": "{ref} · {category} · {status}\nSubmitted {created}\nDescription: {text}\n"
        "Place: {place}\nPhotos: {photos}",
    },
    "need_detail_demand": {
        "zh": "共有 {count} 位居民反映了这个需求。",
        "en": "{count} residents raised this need.",
    },
    "need_detail_history": {
        "zh": "进展：",
        "en": "History:",
    },
    "need_erased_text": {
        "zh": "（已删除）",
        "en": "(erased)",
    },
    "erase_ask": {
        "zh": "这将删除您提交的需求内容、照片、位置，您的姓名和手机号，以及您发给我们的消息"
        "文字；只保留不含个人信息的统计（类别、状态、时间）。确认删除请回复“确认”，保留请回复“否”。",
        "en": "This erases the text, photos and places of your needs, your name and mobile, "
        "and the words of your messages to us; only anonymous counts (category, status, "
        "dates) stay. Reply 'yes' to erase or 'no' to keep everything.",
    },
    "erase_ask_again": {
        "zh": "请回复“确认”删除，或“否”保留。",
        "en": "Please reply 'yes' to erase or 'no' to keep.",
    },
    "erase_kept": {
        "zh": "好的，没有删除任何内容。",
        "en": "All right, nothing was erased.",
    },
    "erase_done": {
        "zh": "已删除：{needs} 条需求的内容，{photos} 张照片，{places} 个地点，{contact}"
        "{messages} 条消息的文字。匿名统计已保留；以后提交需求时会再次征求您的同意。",
        "en": "Erased: the text of {needs} needs, {photos} photos, {places} places, {contact}"
        "the words of {messages} messages. Anonymous counts stay; we will ask for your "
        "consent again before a new need.",
    },
    "erase_contact": {
        "zh": "您的姓名和手机号，",
        "en": "your name and mobile, ",
    },
}


# Starting ---------------------------------------------------------------------------------


def media_outside_a_draft(message: Message, ctx: Context) -> Reply:
    """A photo or a place sent on its own is most likely a problem being reported."""
    return Reply(ctx.t("need_media_outside_draft"))


def start_need(message: Message, ctx: Context) -> Reply:
    if ctx.resident.privacy_consent_at is None:
        return CONSENT.ask(ctx, NeedDraft())
    return CATEGORY.ask(ctx, NeedDraft())


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
    zh, en = STATUS_NAMES[status]
    return zh if ctx.language == "zh" else en


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
    if lat is not None and lng is not None:
        coordinates = f"{lat:.5f}, {lng:.5f}"
        return f"{place} ({coordinates})" if place else coordinates
    return place or ctx.t("need_no_place")


# The flow's answers -------------------------------------------------------------------------


def on_consent(message: Message, ctx: Context, draft: NeedDraft) -> Reply:
    if is_yes(message.words):
        ctx.resident.privacy_consent_at = ctx.now
        return CATEGORY.ask(ctx, draft)
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
    if message.type == LOCATION and message.location is not None:
        # The place came early: keep it, and the description is still what this step needs.
        _keep_location(draft, message.location)
        return Reply(f"{ctx.t('need_place_kept_describe')}\n{DESCRIBE.ask(ctx, draft).text}")
    if message.type not in (TEXT, VOICE):
        return Reply(ctx.t("need_text_expected"))
    text = message.text.strip()
    if is_back(message.words):
        return CATEGORY.ask(ctx, draft)
    if not text:
        key = "need_voice_unrecognised" if message.type == VOICE else "need_text_empty"
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
    if message.type == IMAGE:
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
    if message.type == LOCATION and message.location is not None:
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
    if message.type == IMAGE:
        max_photos = ctx.settings.need_max_photos
        if len(draft.photos) >= max_photos:
            return Reply(ctx.t("need_photo_limit", max_photos=max_photos))
        return Reply(ctx.t("need_photo_step_over"))
    if message.type == LOCATION and message.location is not None:
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
    if message.type == LOCATION and message.location is not None:
        # The summary offers to change the place; a location sent here does just that.
        summary = _take_location(ctx, draft, message.location).text
        return Reply(f"{ctx.t('need_place_replaced')}\n{summary}")
    if message.type == IMAGE:
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
DESCRIBE = Step("need.text", on_describe, _describe_question)
PHOTOS = Step("need.photos", on_photos, _photos_question)
PLACE = Step("need.place", on_place, _place_question)
CONFIRM = Step("need.confirm", on_confirm, _confirm_question)
NEED_FLOW = Flow(NeedDraft, (CONSENT, CATEGORY, DESCRIBE, PHOTOS, PLACE, CONFIRM), expired=_expired)


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
            needs=erased.needs,
            photos=erased.photos,
            places=erased.places,
            contact=ctx.t("erase_contact") if erased.contact else "",
            # This message too: it is stored without its words.
            messages=erased.messages + 1,
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
    router.add_keyword(("我的需求", "my needs", "my need"), my_needs)
    router.add_click(("MY_NEEDS",), my_needs)
    router.add_keyword(("删除我的信息", "delete my data"), ask_erase)
    router.add_message_type((IMAGE, LOCATION), media_outside_a_draft)
    NEED_FLOW.register(router)
    ERASE_FLOW.register(router)
