"""The media sweep fetches need photos from the fake WeChat API (media/get) to a folder."""

from __future__ import annotations

import json
import threading
import time
import tracemalloc
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import fakeredis
import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from bot.services import Services
from bot.wechat.api import WeChatAPI
from bot.wechat.client import AixiangWeChatClient
from bot.wechat.fake_api.server import FakeWeChatServer
from models import NeedPhoto
from models.needs.erasure import erase_resident_data
from models.needs.photos import photo_fetched
from models.needs.submission import PhotoDraft, create_need
from models.needs.tables import PhotoStatus
from models.residents import Resident, get_or_create_resident
from scheduler.media import MAX_BYTES, RETRY_DELAYS, SweepResult, sweep_media
from tests.conftest import FakeClock

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HUGE = 4 * MAX_BYTES
# A drip of 30 bytes, one every 0.3 s: 9 s in all, against a 1 s timeout.
DRIP_BYTES = 30
DRIP_GAP_S = 0.3


class _OddMedia(BaseHTTPRequestHandler):
    """WeChat's API answering media/get in ways the project's fake does not: by the
    MediaId's first word. ``json-``: JSON without an errcode (a video's MediaId);
    ``huge-declared``/``huge-undeclared``: a JPEG of HUGE bytes, with or without a
    Content-Length; ``drip-``: a PNG a byte at a time, each sooner than a read timeout
    but all of it far later than one (``drip-undeclared``: with no Content-Length, on a
    connection closed after it); anything else: a small PNG. Any POST gets an
    access token."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests read the outcome from the database, not the log."""

    def _answer(self, content_type: str, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _huge(self, declared: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        if declared:
            self.send_header("Content-Length", str(HUGE))
        else:
            self.send_header("Connection", "close")  # the end of the body is the end
            self.close_connection = True
        self.end_headers()
        chunk = b"\xff" * (1 << 20)
        try:
            for _ in range(HUGE // len(chunk)):
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client stopped reading, as it should

    def _drip(self, declared: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        if declared:
            self.send_header("Content-Length", str(DRIP_BYTES))
        else:
            self.send_header("Connection", "close")  # the end of the body is the end
            self.close_connection = True
        self.end_headers()
        self.wfile.flush()
        try:
            for _ in range(DRIP_BYTES):
                time.sleep(DRIP_GAP_S)
                self.wfile.write(b"x")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up, as it should

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer("application/json", b'{"access_token": "tok", "expires_in": 7200}')

    def do_GET(self) -> None:
        media_id = parse_qs(urlsplit(self.path).query).get("media_id", [""])[0]
        if media_id.startswith("drip-"):
            self._drip(declared=media_id != "drip-undeclared")
        elif media_id.startswith("huge-"):
            self._huge(declared=media_id == "huge-declared")
        elif media_id.startswith("json-"):
            self._answer(
                "application/json", json.dumps({"video_url": "http://v.invalid/v.mp4"}).encode()
            )
        else:
            self._answer("image/png", PNG_SIGNATURE + b"0" * 100)


@pytest.fixture(scope="module")
def odd_wechat_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OddMedia)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cgi-bin/"
    server.shutdown()
    thread.join()
    server.server_close()


@pytest.fixture
def odd_client(odd_wechat_url: str) -> Iterator[AixiangWeChatClient]:
    client = odd_wechat_client(odd_wechat_url, timeout=2.0)
    yield client
    client.close()


def odd_wechat_client(url: str, timeout: float) -> AixiangWeChatClient:
    return AixiangWeChatClient(
        "wx-odd",
        "secret",
        api_base_url=url,
        timeout=timeout,
        redis_client=fakeredis.FakeRedis(decode_responses=True),
    )


@pytest.fixture
def media_dir(tmp_path: Path) -> Path:
    return tmp_path / "media"


def add_need(services: Services, clock: FakeClock, *media_ids: str, openid: str = "o-1") -> int:
    with services.session_factory() as db, db.begin():
        resident = get_or_create_resident(db, openid, clock.now)
        resident.privacy_consent_at = clock.now
        need = create_need(
            db,
            resident=resident,
            category="environment",
            description="河边垃圾",
            now=clock.now,
            photos=[PhotoDraft(m, f"http://mmbiz.example/{m}") for m in media_ids],
        )
        return need.id


def photos(services: Services) -> list[NeedPhoto]:
    with services.session_factory() as db:
        return list(db.execute(select(NeedPhoto).order_by(NeedPhoto.id)).scalars())


def sweep(
    services: Services, client: AixiangWeChatClient, media_dir: Path, clock: FakeClock
) -> SweepResult:
    return sweep_media(services.session_factory, client, media_dir, clock)


def test_photos_are_fetched_to_the_media_folder(
    services: Services,
    wechat_client: AixiangWeChatClient,
    fake_wechat: FakeWeChatServer,
    media_dir: Path,
    clock: FakeClock,
) -> None:
    need_id = add_need(services, clock, "media-a", "media-b")
    assert sweep(services, wechat_client, media_dir, clock) == SweepResult(fetched=2)
    stored = photos(services)
    assert [p.status for p in stored] == [PhotoStatus.FETCHED, PhotoStatus.FETCHED]
    assert [p.local_path for p in stored] == [
        f"need-{need_id}/{stored[0].id}.png",
        f"need-{need_id}/{stored[1].id}.png",
    ]
    assert all(p.content_type == "image/png" and p.fetched_at == clock.now for p in stored)
    for photo in stored:
        assert (media_dir / str(photo.local_path)).read_bytes().startswith(PNG_SIGNATURE)
    asked = [call["query"]["media_id"] for call in fake_wechat.calls("media/get")]
    assert asked == ["media-a", "media-b"]
    assert sweep(services, wechat_client, media_dir, clock) == SweepResult()
    assert not list(media_dir.rglob(".fetch-*"))


def test_an_expired_media_id_is_given_up_at_once(
    services: Services,
    wechat_client: AixiangWeChatClient,
    fake_wechat: FakeWeChatServer,
    media_dir: Path,
    clock: FakeClock,
) -> None:
    add_need(services, clock, "too-old")
    fake_wechat.add_fault("media/get", errcode=40007)
    assert sweep(services, wechat_client, media_dir, clock) == SweepResult(failed=1)
    [photo] = photos(services)
    assert photo.status == PhotoStatus.FAILED and "40007" in (photo.last_error or "")
    assert not media_dir.exists() or not any(media_dir.rglob("*.png"))


def test_a_failing_server_is_retried_later_then_given_up(
    services: Services,
    wechat_client: AixiangWeChatClient,
    fake_wechat: FakeWeChatServer,
    media_dir: Path,
    clock: FakeClock,
) -> None:
    add_need(services, clock, "flaky")
    fake_wechat.add_fault("media/get", http_status=502, times=None)
    assert sweep(services, wechat_client, media_dir, clock) == SweepResult(retrying=1)
    [photo] = photos(services)
    assert photo.status == PhotoStatus.PENDING and photo.attempts == 1
    assert photo.next_attempt_at == clock.now + RETRY_DELAYS[0]
    assert sweep(services, wechat_client, media_dir, clock) == SweepResult()
    for delay in RETRY_DELAYS[1:]:
        clock.set(photos(services)[0].next_attempt_at)
        assert sweep(services, wechat_client, media_dir, clock) == SweepResult(retrying=1)
        assert photos(services)[0].next_attempt_at == clock.now + delay
    clock.set(photos(services)[0].next_attempt_at)
    assert sweep(services, wechat_client, media_dir, clock) == SweepResult(failed=1)
    [photo] = photos(services)
    assert photo.status == PhotoStatus.FAILED and photo.attempts == len(RETRY_DELAYS) + 1
    assert "502" in (photo.last_error or "")


def test_recovers_once_the_server_does(
    services: Services,
    wechat_client: AixiangWeChatClient,
    fake_wechat: FakeWeChatServer,
    media_dir: Path,
    clock: FakeClock,
) -> None:
    add_need(services, clock, "later")
    fake_wechat.add_fault("media/get", http_status=500)
    assert sweep(services, wechat_client, media_dir, clock).retrying == 1
    clock.advance(minutes=2)
    assert sweep(services, wechat_client, media_dir, clock) == SweepResult(fetched=1)


def test_a_claimed_photo_is_left_alone_during_its_lease(
    services: Services,
    wechat_client: AixiangWeChatClient,
    media_dir: Path,
    clock: FakeClock,
) -> None:
    """A sweep that died mid-download leaves its lease; the photo waits for it to pass."""
    add_need(services, clock, "slow")
    with services.session_factory() as db, db.begin():
        photo = db.execute(select(NeedPhoto)).scalar_one()
        photo.attempts = 1
        photo.next_attempt_at = clock.now + timedelta(minutes=5)
    assert sweep(services, wechat_client, media_dir, clock) == SweepResult()
    clock.advance(minutes=5)
    assert sweep(services, wechat_client, media_dir, clock) == SweepResult(fetched=1)


def test_erasing_a_resident_deletes_their_photo_files(
    services: Services,
    wechat_client: AixiangWeChatClient,
    media_dir: Path,
    clock: FakeClock,
) -> None:
    add_need(services, clock, "mine")
    add_need(services, clock, "theirs", openid="o-2")
    sweep(services, wechat_client, media_dir, clock)
    mine, theirs = photos(services)
    with services.session_factory() as db, db.begin():
        resident = db.execute(select(Resident).where(Resident.openid == "o-1")).scalar_one()
        assert erase_resident_data(db, resident, clock.now).photos == 1
    assert (media_dir / str(mine.local_path)).exists()
    assert sweep(services, wechat_client, media_dir, clock) == SweepResult(erased=1)
    after_mine, after_theirs = photos(services)
    assert (after_mine.status, after_mine.local_path) == (PhotoStatus.ERASED, None)
    assert not (media_dir / str(mine.local_path)).exists()
    assert (
        media_dir / str(theirs.local_path)
    ).exists() and after_theirs.status == PhotoStatus.FETCHED


def test_a_json_answer_is_refused_and_the_next_photo_still_fetched(
    services: Services, odd_client: AixiangWeChatClient, media_dir: Path, clock: FakeClock
) -> None:
    """media/get answers a video's MediaId with {"video_url": ...} and no errcode."""
    add_need(services, clock, "json-video", "good-1")
    assert sweep(services, odd_client, media_dir, clock) == SweepResult(fetched=1, failed=1)
    video, good = photos(services)
    assert video.status == PhotoStatus.FAILED and video.attempts == 1
    assert "JSON" in (video.last_error or "")
    assert good.status == PhotoStatus.FETCHED and (media_dir / str(good.local_path)).exists()
    clock.advance(hours=1)
    assert sweep(services, odd_client, media_dir, clock) == SweepResult()


def test_erased_files_go_even_when_a_fetch_fails_unforeseen(
    services: Services, odd_client: AixiangWeChatClient, media_dir: Path, clock: FakeClock
) -> None:
    add_need(services, clock, "mine", openid="o-erase")
    sweep(services, odd_client, media_dir, clock)
    [mine] = photos(services)
    with services.session_factory() as db, db.begin():
        resident = db.execute(select(Resident).where(Resident.openid == "o-erase")).scalar_one()
        erase_resident_data(db, resident, clock.now)
    assert photos(services)[0].status == PhotoStatus.ERASING
    blocked = add_need(services, clock, "blocked", openid="o-2")
    (media_dir / f"need-{blocked}").write_text("a file where the photo's folder should be")
    with pytest.raises(OSError):
        sweep(services, odd_client, media_dir, clock)
    assert not (media_dir / str(mine.local_path)).exists()
    assert photos(services)[0].status == PhotoStatus.ERASED


def test_a_download_finishing_during_erasure_leaves_no_file_behind(
    services: Services, media_dir: Path, clock: FakeClock
) -> None:
    """The sweep records a finished download while the resident's erasure is under way.

    Either the download lands first and the erasure sees its file, or it waits and finds
    the photo erased (and deletes its file); never an erased row whose file stays.
    """
    need_id = add_need(services, clock, "racing")
    [photo] = photos(services)
    relative = f"need-{need_id}/{photo.id}.png"
    (media_dir / f"need-{need_id}").mkdir(parents=True)
    (media_dir / relative).write_bytes(PNG_SIGNATURE)
    recorded: list[bool] = []

    def record_download() -> None:
        with services.session_factory() as other, other.begin():
            recorded.append(photo_fetched(other, photo.id, relative, "image/png", clock.now))

    downloader = threading.Thread(target=record_download)

    def download_finishes_meanwhile(session: Session, *_: object) -> None:
        downloader.start()
        downloader.join(timeout=1.0)  # with the rows locked, it waits for the erasure

    with services.session_factory() as db, db.begin():
        resident = db.execute(select(Resident).where(Resident.openid == "o-1")).scalar_one()
        event.listen(db, "before_flush", download_finishes_meanwhile, once=True)
        assert erase_resident_data(db, resident, clock.now).photos == 1
    downloader.join()
    assert recorded == [False]  # so the sweep deletes the file it just wrote
    [after] = photos(services)
    assert (after.status, after.local_path, after.media_id) == (PhotoStatus.ERASED, None, None)


@pytest.mark.parametrize("media_id", ["huge-declared", "huge-undeclared"])
def test_a_file_over_the_limit_is_refused_without_being_held_whole(
    services: Services,
    odd_client: AixiangWeChatClient,
    media_dir: Path,
    clock: FakeClock,
    media_id: str,
) -> None:
    add_need(services, clock, media_id)
    tracemalloc.start()
    try:
        result = sweep(services, odd_client, media_dir, clock)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result == SweepResult(failed=1)
    [photo] = photos(services)
    assert photo.status == PhotoStatus.FAILED and f"over {MAX_BYTES}" in (photo.last_error or "")
    assert peak < 2 * MAX_BYTES  # read up to the limit, never the whole 40 MiB
    assert not media_dir.exists() or not any(media_dir.rglob("*.*"))


@pytest.mark.parametrize("media_id", ["drip-1", "drip-undeclared"])
def test_a_trickling_download_ends_at_the_timeout_and_is_retried(
    services: Services, odd_wechat_url: str, media_dir: Path, clock: FakeClock, media_id: str
) -> None:
    """Each byte comes sooner than the 1 s read timeout; the whole never would, whether
    the connection stays open after the answer or closes to end it."""
    add_need(services, clock, media_id)
    client = odd_wechat_client(odd_wechat_url, timeout=1.0)
    try:
        assert sweep(services, client, media_dir, clock) == SweepResult(retrying=1)
        assert (
            WeChatAPI(client).media.download("m-after", MAX_BYTES).content.startswith(PNG_SIGNATURE)
        )
    finally:
        client.close()
    [photo] = photos(services)
    assert photo.status == PhotoStatus.PENDING and "did not finish within 1s" in str(
        photo.last_error
    )
    assert "access_token" not in str(photo.last_error)
