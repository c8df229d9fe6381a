"""Fetch the photos residents attach to needs, from WeChat to local storage.

A resident's image message carries a MediaId that WeChat keeps for three days, so the
webhook only records it and this sweep downloads it later through the one outbound
client (media/get): never inline, never blocking a reply. Each run claims a batch under
a lease, downloads outside any transaction, then records the outcome; a photo whose
resident erased their data meanwhile has its file deleted instead. The same sweep
deletes the files of erased photos, since it is the one place that owns the media folder.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from sqlalchemy.orm import Session, sessionmaker

from bot.services import Services
from bot.wechat.api import WeChatAPI
from bot.wechat.client import AixiangWeChatClient
from bot.wechat.errors import Refusal, WeChatAPIError, WeChatFileTooLarge
from models.needs.photos import (
    claim_photos,
    photo_erased,
    photo_failed,
    photo_fetched,
    photos_to_erase,
)
from models.needs.tables import NeedPhoto

log = logging.getLogger(__name__)

BATCH = 20
LEASE = timedelta(minutes=5)
# Waits before the 2nd, 3rd, ... attempt; after the last one the photo is given up.
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30))
MAX_BYTES = 10 * 1024 * 1024
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/bmp": ".bmp",
}


class MediaRefused(Exception):
    """WeChat answered, but with something that is not a photo we can keep."""


@dataclass
class SweepResult:
    fetched: int = 0
    retrying: int = 0
    failed: int = 0
    erased: int = 0


@dataclass(frozen=True)
class _Claim:
    photo_id: int
    need_id: int
    media_id: str
    attempts: int


def sweep_media(
    session_factory: sessionmaker[Session],
    client: AixiangWeChatClient,
    media_dir: Path,
    clock: Callable[[], datetime],
    batch: int = BATCH,
) -> SweepResult:
    """Delete the files of erased photos, then fetch the photos that are due; one pass.

    Deleting comes first so that an erased resident's files go whatever the downloads do:
    a fetch that fails in a way nobody foresaw must not keep them on disk.
    """
    result = SweepResult()
    with session_factory() as db, db.begin():
        for photo in photos_to_erase(db, batch):
            _delete_file(media_dir, photo)
            photo_erased(photo)
            result.erased += 1
    with session_factory() as db, db.begin():
        claims = [
            _Claim(photo.id, photo.need_id, photo.media_id or "", photo.attempts)
            for photo in claim_photos(db, clock(), batch, LEASE)
        ]
    for claim in claims:
        outcome = _fetch_one(session_factory, client, media_dir, clock, claim)
        setattr(result, outcome, getattr(result, outcome) + 1)
    return result


def run_media_sweep(services: Services, client: AixiangWeChatClient) -> SweepResult:
    """One sweep with the process's settings (``needs.media_dir``, the services clock)."""
    return sweep_media(
        services.session_factory, client, Path(services.config.needs.media_dir), services.clock
    )


def _fetch_one(
    session_factory: sessionmaker[Session],
    client: AixiangWeChatClient,
    media_dir: Path,
    clock: Callable[[], datetime],
    claim: _Claim,
) -> str:
    """Fetch one claimed photo; returns the SweepResult counter it adds to."""
    try:
        content, content_type = _download(client, claim.media_id)
    except (WeChatAPIError, MediaRefused) as exc:
        give_up = isinstance(exc, MediaRefused) or exc.refusal is Refusal.MEDIA_GONE
        retry_at = None
        if not give_up and claim.attempts <= len(RETRY_DELAYS):
            retry_at = clock() + RETRY_DELAYS[claim.attempts - 1]
        with session_factory() as db, db.begin():
            photo_failed(db, claim.photo_id, _describe(exc), retry_at)
        if retry_at is not None:
            return "retrying"
        log.warning("gave up fetching photo %s of need %s: %s", claim.photo_id, claim.need_id, exc)
        return "failed"
    relative = Path(f"need-{claim.need_id}") / f"{claim.photo_id}{EXTENSIONS[content_type]}"
    _write_atomically(media_dir / relative, content)
    with session_factory() as db, db.begin():
        kept = photo_fetched(db, claim.photo_id, relative.as_posix(), content_type, clock())
    if not kept:
        (media_dir / relative).unlink(missing_ok=True)
        return "erased"
    return "fetched"


def _download(client: AixiangWeChatClient, media_id: str) -> tuple[bytes, str]:
    if not media_id:
        raise MediaRefused("the photo has no MediaId")
    try:
        response: Any = WeChatAPI(client).media.download(media_id, MAX_BYTES)
    except WeChatFileTooLarge as exc:
        raise MediaRefused(str(exc)) from exc
    if not isinstance(response, requests.Response):
        # JSON without an errcode: what media/get answers for a video's MediaId
        # ({"video_url": ...}), or a page from something in front of WeChat.
        raise MediaRefused("WeChat answered with JSON, not a photo")
    content_type = str(response.headers.get("Content-Type", "")).split(";")[0].strip().lower()
    if content_type not in EXTENSIONS:
        raise MediaRefused(f"WeChat sent {content_type or 'no content type'}, not a photo")
    content: bytes = response.content
    if not content:
        raise MediaRefused("WeChat sent an empty file")
    return content, content_type


def _describe(exc: Exception) -> str:
    errcode = getattr(exc, "errcode", None)
    return f"errcode {errcode}: {exc}" if errcode else str(exc)


def _write_atomically(path: Path, content: bytes) -> None:
    """Write then rename, so a crash never leaves a half photo under its final name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".fetch-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _delete_file(media_dir: Path, photo: NeedPhoto) -> None:
    if not photo.local_path:
        return
    root = media_dir.resolve()
    path = (root / photo.local_path).resolve()
    if path.is_relative_to(root):
        path.unlink(missing_ok=True)
    else:
        log.warning("photo %s points outside the media folder; not deleting %s", photo.id, path)
