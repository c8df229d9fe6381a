"""The webhook speaks WeChat's protocol exactly and rejects every bad input, storing nothing."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError
from wechatpy.replies import TextReply
from werkzeug.test import TestResponse

from bot.app import create_app
from bot.outage import WECHAT_WAIT_S, note_arrival
from bot.webhook_services import WEBHOOK_CONNECTIONS, WebhookServices, build_webhook_services
from bot.wechat.payloads import WeChatPayloads
from bot.wechat.protocol import Cipher, parse_xml, render_text_reply, sign
from handlers.context import Context
from handlers.message import Message, Reply
from models import InboundMessage, Resident
from tests.chat import Chat
from tests.conftest import FakeClock, make_test_config
from tests.helpers import count, resident, serving
from tests.settings import TEST_TOKEN


def assert_nothing_stored(services: WebhookServices) -> None:
    assert count(services, InboundMessage) == 0
    assert count(services, Resident) == 0


# URL verification -------------------------------------------------------------------


def verify_query(timestamp: int, nonce: str = "n1", echostr: str = "hello") -> dict[str, str]:
    return {
        "timestamp": str(timestamp),
        "nonce": nonce,
        "echostr": echostr,
        "signature": sign(TEST_TOKEN, str(timestamp), nonce),
    }


def test_url_verification_echoes(client) -> None:
    response = client.get("/wechat", query_string=verify_query(int(time.time())))
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "hello"


def test_url_verification_bad_signature_is_403(client) -> None:
    query = verify_query(int(time.time()))
    query["signature"] = "0" * 40
    assert client.get("/wechat", query_string=query).status_code == 403


def test_url_verification_stale_timestamp_is_403(client) -> None:
    response = client.get("/wechat", query_string=verify_query(int(time.time()) - 3600))
    assert response.status_code == 403


# Accepted messages ------------------------------------------------------------------


def test_a_request_that_waited_past_wechats_deadline_is_dropped_unhandled(
    chat: Chat, services: WebhookServices
) -> None:
    """WeChat has stopped waiting for it and sends another copy: no work is done."""
    spooled = services.spool.depth().records
    note_arrival(time.monotonic() - WECHAT_WAIT_S - 1)
    response = chat.post(chat.payloads.text("o-late", "帮助"))
    assert response.status_code == 503
    assert_nothing_stored(services)
    assert services.spool.depth().records == spooled


def test_help_in_plaintext_mode(chat: Chat, services: WebhookServices) -> None:
    response = chat.post(chat.payloads.text("o-alice", "帮助"))
    fields = chat.payloads.read_reply(response.get_data())
    assert fields["ToUserName"] == "o-alice"
    assert fields["FromUserName"] == chat.payloads.account
    assert fields["MsgType"] == "text"
    assert "活动" in fields["Content"] and "需求" in fields["Content"]
    assert count(services, InboundMessage) == 1


def test_safe_mode_round_trip(chat: Chat) -> None:
    chat.safe = True
    response = chat.post(chat.payloads.text(chat.openid, "help"))
    envelope = parse_xml(response.get_data())
    assert set(envelope) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    assert envelope["MsgSignature"] == sign(
        TEST_TOKEN, envelope["TimeStamp"], envelope["Nonce"], envelope["Encrypt"]
    )
    assert "events" in chat.reply_of(response)  # a first "help" is answered in English


def test_compatible_mode_reply_is_encrypted(chat: Chat) -> None:
    """Compatible mode sends plaintext fields beside Encrypt; we answer encrypted."""
    xml = chat.payloads.text(chat.openid, "帮助")
    delivery = chat.payloads.sign(xml, safe=True)
    encrypted = parse_xml(delivery.body)["Encrypt"]
    body = xml.replace("</xml>", f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")
    response = chat.client.post("/wechat", query_string=delivery.query, data=body)
    assert "Encrypt" in parse_xml(response.get_data())
    assert "活动" in chat.reply_of(response, safe=True)


TENCENT_SAMPLE = {
    "token": "spamtest",
    "aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "app_id": "wx2c2769f8efd9abc2",
    "timestamp": "1409735669",
    "nonce": "1320562132",
    "msg_signature": "5d197aaffba7e9b25a30732f161a50dee96bd5fa",
    "encrypt": (
        "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8"
        "PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332j"
        "isa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCga"
        "vjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6Oewpu"
        "sjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
    ),
}


def test_tencent_official_sample_decrypts() -> None:
    sample = TENCENT_SAMPLE
    assert (
        sign(sample["token"], sample["timestamp"], sample["nonce"], sample["encrypt"])
        == sample["msg_signature"]
    )
    cipher = Cipher(sample["token"], sample["aes_key"], sample["app_id"])
    fields = parse_xml(cipher.decrypt(sample["encrypt"]))
    assert fields["FromUserName"] == "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
    assert fields["Content"] == "abcdteT"
    assert fields["MsgId"] == "6054768590064713728"


@pytest.fixture
def tencent_sample_services(database_url: str, redis_url: str, services: WebhookServices):
    """Services configured with the sample's account; its 2014 timestamp needs tolerance 0."""
    config = make_test_config(
        database_url,
        redis_url,
        wechat={
            "token": TENCENT_SAMPLE["token"],
            "encoding_aes_key": TENCENT_SAMPLE["aes_key"],
            "app_id": TENCENT_SAMPLE["app_id"],
            "timestamp_tolerance_s": 0,
        },
    )
    sample_services = build_webhook_services(config, clock=services.clock)
    yield sample_services
    sample_services.close()


def test_tencent_official_sample_through_the_webhook(
    tencent_sample_services: WebhookServices,
) -> None:
    sample = TENCENT_SAMPLE
    body = (
        "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
        f"<Encrypt><![CDATA[{sample['encrypt']}]]></Encrypt></xml>"
    )
    query = {
        "timestamp": sample["timestamp"],
        "nonce": sample["nonce"],
        "encrypt_type": "aes",
        "msg_signature": sample["msg_signature"],
        "signature": sign(sample["token"], sample["timestamp"], sample["nonce"]),
    }
    client = create_app(services=tencent_sample_services).test_client()
    response = client.post("/wechat", query_string=query, data=body)
    assert response.status_code == 200
    cipher = Cipher(sample["token"], sample["aes_key"], sample["app_id"])
    reply = parse_xml(cipher.decrypt(parse_xml(response.get_data())["Encrypt"]))
    assert reply["ToUserName"] == "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
    # Unknown English text, from a resident whose first words they are: help in English.
    assert "events" in reply["Content"]


# Bad input --------------------------------------------------------------------------


def test_bad_signature_is_403_and_stores_nothing(chat: Chat, services: WebhookServices) -> None:
    delivery = chat.payloads.sign(chat.payloads.text(chat.openid, "帮助"))
    delivery.query["signature"] = "f" * 40
    response = chat.client.post("/wechat", query_string=delivery.query, data=delivery.body)
    assert response.status_code == 403
    assert_nothing_stored(services)


def test_missing_signature_is_403(chat: Chat, services: WebhookServices) -> None:
    delivery = chat.payloads.sign(chat.payloads.text(chat.openid, "帮助"))
    del delivery.query["signature"]
    response = chat.client.post("/wechat", query_string=delivery.query, data=delivery.body)
    assert response.status_code == 403
    assert_nothing_stored(services)


def test_bad_msg_signature_in_safe_mode_is_403(chat: Chat, services: WebhookServices) -> None:
    delivery = chat.payloads.sign(chat.payloads.text(chat.openid, "帮助"), safe=True)
    delivery.query["msg_signature"] = "0" * 40
    response = chat.client.post("/wechat", query_string=delivery.query, data=delivery.body)
    assert response.status_code == 403
    assert_nothing_stored(services)


@pytest.mark.parametrize("offset", [-301, 301])
def test_timestamp_outside_tolerance_is_403(
    chat: Chat, services: WebhookServices, offset: int
) -> None:
    response = chat.post(
        chat.payloads.text(chat.openid, "帮助"), timestamp=int(time.time()) + offset
    )
    assert response.status_code == 403
    assert_nothing_stored(services)


def test_timestamp_inside_tolerance_is_accepted(chat: Chat) -> None:
    response = chat.post(chat.payloads.text(chat.openid, "帮助"), timestamp=int(time.time()) - 250)
    assert response.status_code == 200


def test_non_numeric_timestamp_is_403(chat: Chat, services: WebhookServices) -> None:
    xml = chat.payloads.text(chat.openid, "帮助")
    query = {"timestamp": "soon", "nonce": "n", "signature": sign(TEST_TOKEN, "soon", "n")}
    response = chat.client.post("/wechat", query_string=query, data=xml)
    assert response.status_code == 403
    assert_nothing_stored(services)


def test_reused_timestamp_nonce_with_another_body_is_403(
    chat: Chat, services: WebhookServices
) -> None:
    now = int(time.time())
    first = chat.post(chat.payloads.text(chat.openid, "帮助"), timestamp=now, nonce="fixed")
    assert first.status_code == 200
    second = chat.post(chat.payloads.text(chat.openid, "中文"), timestamp=now, nonce="fixed")
    assert second.status_code == 403
    assert count(services, InboundMessage) == 1


def test_a_pair_is_kept_while_a_timestamp_ahead_of_our_clock_stays_fresh(
    chat: Chat, services: WebhookServices
) -> None:
    """A timestamp the tolerance (300 s) ahead is accepted until 300 s after it, 600 s
    from its first use: the pair must be remembered that long, or a captured URL could
    carry a new body once the pair expired."""
    ahead = int(time.time()) + 299
    response = chat.post(chat.payloads.text(chat.openid, "帮助"), timestamp=ahead, nonce="early")
    assert response.status_code == 200
    ttl = services.redis.ttl(f"aixiang:nonce:{ahead}:early")
    assert 590 < ttl <= 600


def test_same_pair_same_message_is_a_resend(chat: Chat, services: WebhookServices) -> None:
    xml = chat.payloads.text(chat.openid, "帮助", msg_id=42)
    now = int(time.time())
    first = chat.post(xml, timestamp=now, nonce="same")
    again = chat.post(xml, timestamp=now, nonce="same")
    assert again.status_code == 200
    assert chat.reply_of(again) == chat.reply_of(first)
    assert count(services, InboundMessage) == 1


def test_body_over_64_kib_is_413(chat: Chat, services: WebhookServices) -> None:
    response = chat.post(chat.payloads.text(chat.openid, "x" * (65 * 1024)))
    assert response.status_code == 413
    assert_nothing_stored(services)


@pytest.mark.parametrize(
    "body",
    [
        b"this is not xml",
        b"<xml><ToUserName>unclosed",
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaa">]>'
        b"<xml><Content>&a;</Content></xml>",
        b'<!DOCTYPE xml SYSTEM "http://127.0.0.1:1/evil.dtd"><xml></xml>',
        b"<notxml><a>1</a></notxml>",
        b"",
    ],
    ids=["text", "truncated", "entity", "doctype", "wrong-root", "empty"],
)
def test_unparseable_or_dangerous_xml_is_400(
    chat: Chat, services: WebhookServices, body: bytes
) -> None:
    response = chat.post(body)  # type: ignore[arg-type]
    assert response.status_code == 400
    assert_nothing_stored(services)


@pytest.mark.parametrize("missing", ["ToUserName", "FromUserName", "CreateTime", "MsgType"])
def test_missing_required_field_is_400(chat: Chat, services: WebhookServices, missing: str) -> None:
    xml = chat.payloads.text(chat.openid, "帮助")
    start, end = xml.index(f"<{missing}>"), xml.index(f"</{missing}>") + len(missing) + 3
    response = chat.post(xml[:start] + xml[end:])
    assert response.status_code == 400
    assert_nothing_stored(services)


def with_field(xml: str, name: str, value: str) -> str:
    """``xml`` with field ``name`` set to ``value`` (added if it is not there)."""
    start = xml.find(f"<{name}>")
    if start < 0:
        return xml.replace("</xml>", f"<{name}>{value}</{name}></xml>")
    end = xml.index(f"</{name}>") + len(name) + 3
    return xml[:start] + f"<{name}>{value}</{name}>" + xml[end:]


@pytest.mark.parametrize("timestamp", ["9" * 400, "²", "-5", "1_700_000_000", " 1700000000", "1e9"])
def test_a_timestamp_that_is_not_a_plain_number_is_403(
    chat: Chat, services: WebhookServices, timestamp: str
) -> None:
    xml = chat.payloads.text(chat.openid, "帮助")
    plain = {"timestamp": timestamp, "nonce": "n", "signature": sign(TEST_TOKEN, timestamp, "n")}
    safe = {**plain, "encrypt_type": "aes", "msg_signature": "x"}
    for query in (plain, safe):
        response = chat.client.post("/wechat", query_string=query, data=xml)
        assert response.status_code == 403, query
        assert response.get_data(as_text=True) == "timestamp is not a number"
    assert_nothing_stored(services)


@pytest.mark.parametrize("encoding", ["bogus", "rot13", "base64"])
def test_xml_in_an_unknown_encoding_is_400(
    chat: Chat, services: WebhookServices, encoding: str
) -> None:
    xml = f'<?xml version="1.0" encoding="{encoding}"?>' + chat.payloads.text(chat.openid, "帮助")
    for safe in (False, True):
        delivery = chat.payloads.sign(xml)
        if safe:
            delivery.query.update(encrypt_type="aes", msg_signature="x")
        response = chat.client.post("/wechat", query_string=delivery.query, data=delivery.body)
        assert response.status_code == 400
        assert response.get_data(as_text=True) == "XML in an unknown encoding"
    assert_nothing_stored(services)


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("CreateTime", "²", "CreateTime is not a time"),
        ("CreateTime", "-1", "CreateTime is not a time"),
        ("CreateTime", "999999999999", "CreateTime is not a time"),
        ("MsgId", "abc", "MsgId is not a 64-bit number"),
        ("MsgId", str(2**64), "MsgId is not a 64-bit number"),
        ("MsgId", "١٢٣", "MsgId is not a 64-bit number"),
        ("FromUserName", "o" * 65, "FromUserName is longer than 64 characters"),
        ("MsgType", "t" * 33, "MsgType is longer than 32 characters"),
        ("Event", "e" * 65, "Event is longer than 64 characters"),
    ],
)
def test_a_field_the_row_could_not_hold_is_400_and_stores_nothing(
    chat: Chat, services: WebhookServices, name: str, value: str, reason: str
) -> None:
    """Signed but malformed: refused before the sender is enrolled, so no resident row is
    left behind by a message that could never be stored."""
    response = chat.post(with_field(chat.payloads.text(chat.openid, "帮助"), name, value))
    assert response.status_code == 400
    assert response.get_data(as_text=True) == reason
    assert_nothing_stored(services)


def test_a_menu_link_tap_with_a_long_url_is_stored_once(
    chat: Chat, services: WebhookServices
) -> None:
    """A VIEW event's key is the link (WeChat allows 1,024 bytes): too long for the dedupe
    key as it is, so the key keeps its hash, and the row keeps the whole link."""
    url = "https://example.org/co-building/articles?" + "q=" * 490
    xml = chat.payloads.event(chat.openid, "VIEW", url, create_time=1_770_000_000)
    assert chat.post(xml).status_code == 200
    assert chat.post(xml).status_code == 200
    with services.session_factory() as db:
        rows = db.scalars(select(InboundMessage)).all()
    assert [row.event_key for row in rows] == [url]
    assert rows[0].dedupe_key.startswith("evt:sha256:")
    assert len(rows[0].dedupe_key) <= 160


def test_a_click_key_of_128_bytes_is_stored(chat: Chat, services: WebhookServices) -> None:
    key = "k" * 128
    chat.tap(key)
    with services.session_factory() as db:
        assert db.scalars(select(InboundMessage.event_key)).all() == [key]


def test_encrypt_that_does_not_decrypt_is_400(chat: Chat, services: WebhookServices) -> None:
    now, nonce, garbage = str(int(time.time())), "n-bad", "bm90IGEgY2lwaGVydGV4dA=="
    query = {
        "timestamp": now,
        "nonce": nonce,
        "signature": sign(TEST_TOKEN, now, nonce),
        "encrypt_type": "aes",
        "msg_signature": sign(TEST_TOKEN, now, nonce, garbage),
    }
    body = f"<xml><ToUserName>gh</ToUserName><Encrypt>{garbage}</Encrypt></xml>"
    response = chat.client.post("/wechat", query_string=query, data=body)
    assert response.status_code == 400
    assert_nothing_stored(services)


def test_message_encrypted_for_another_app_is_400(chat: Chat, services: WebhookServices) -> None:
    other = WeChatPayloads(
        token=TEST_TOKEN, app_id="wxsomeoneelse", encoding_aes_key=chat.payloads.encoding_aes_key
    )
    delivery = other.sign(other.text(chat.openid, "帮助"), safe=True)
    response = chat.client.post("/wechat", query_string=delivery.query, data=delivery.body)
    assert response.status_code == 400
    assert_nothing_stored(services)


class StalledBody(io.RawIOBase):
    """A body its sender never sends: reading it fails as the server's socket timeout
    makes it fail (bot/gunicorn_app.py)."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise TimeoutError("timed out")


def post_stalled(chat: Chat, query: dict[str, str]) -> TestResponse:
    return chat.client.post(
        "/wechat",
        query_string=query,
        environ_overrides={"wsgi.input": StalledBody(), "CONTENT_LENGTH": "600"},
    )


@pytest.mark.parametrize("safe", [False, True], ids=["plaintext", "safe"])
def test_a_forged_or_stale_query_is_refused_before_the_body_is_read(
    chat: Chat, services: WebhookServices, safe: bool
) -> None:
    """The query alone decides: a slow client without WeChat's signature, or with a
    stale one, holds no thread waiting for its body."""
    delivery = chat.payloads.sign(chat.payloads.text(chat.openid, "帮助"), safe=safe)
    forged = {**delivery.query, "signature": "0" * 40}
    assert post_stalled(chat, forged).get_data(as_text=True) == "bad signature"
    stale = chat.payloads.sign(b"", safe=False, timestamp=int(time.time()) - 3600).query
    if safe:
        stale.update(encrypt_type="aes", msg_signature="0" * 40)
    response = post_stalled(chat, stale)
    assert response.status_code == 403
    assert response.get_data(as_text=True).startswith("timestamp ")
    assert_nothing_stored(services)


def test_a_signed_request_whose_body_stalls_is_408_and_stores_nothing(
    chat: Chat, services: WebhookServices, caplog: pytest.LogCaptureFixture
) -> None:
    delivery = chat.payloads.sign(chat.payloads.text(chat.openid, "帮助"))
    with caplog.at_level(logging.WARNING, logger="bot.webhook"):
        response = post_stalled(chat, delivery.query)
    assert response.status_code == 408
    assert [r.getMessage() for r in caplog.records if r.name == "bot.webhook"] == [
        "rejected POST /wechat from 127.0.0.1: body stalled or was cut short"
    ]
    assert_nothing_stored(services)


def test_safe_mode_without_encrypt_is_400(chat: Chat, services: WebhookServices) -> None:
    delivery = chat.payloads.sign(chat.payloads.text(chat.openid, "帮助"))
    delivery.query["encrypt_type"] = "aes"
    response = chat.client.post("/wechat", query_string=delivery.query, data=delivery.body)
    assert response.status_code == 400
    assert_nothing_stored(services)


def test_rejections_log_one_line_without_the_body(
    chat: Chat, caplog: pytest.LogCaptureFixture
) -> None:
    secret_words = "my secret need"
    delivery = chat.payloads.sign(chat.payloads.text(chat.openid, secret_words))
    delivery.query["signature"] = "bad"
    with caplog.at_level(logging.WARNING, logger="bot.webhook"):
        chat.client.post("/wechat", query_string=delivery.query, data=delivery.body)
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.webhook"]
    assert len(lines) == 1 and "bad signature" in lines[0]
    assert secret_words not in lines[0]


def test_a_database_error_never_carries_what_a_resident_wrote(services: WebhookServices) -> None:
    """Errors are logged; the statement's values (a message's words) stay out of them."""
    row = {"resident_id": 999_999, "dedupe_key": "msg:1", "msg_type": "text"}
    with pytest.raises(IntegrityError) as failure, services.engine.begin() as connection:
        connection.execute(
            insert(InboundMessage).values(
                **row, content="my secret need", received_at=services.clock()
            )
        )
    assert "my secret need" not in str(failure.value)


def test_unknown_message_type_gets_a_polite_reply(chat: Chat) -> None:
    xml = chat.payloads.raw(chat.openid, "shortvideo", {"MediaId": "m", "MsgId": 77})
    assert "文字" in chat.send(xml)


# Dedupe ----------------------------------------------------------------------------


def test_resent_delivery_is_answered_identically_and_stored_once(
    chat: Chat, services: WebhookServices
) -> None:
    xml = chat.payloads.text(chat.openid, "english", msg_id=9001)
    first = chat.send(xml)
    second = chat.send(xml)  # a fresh timestamp and nonce, as WeChat's retry has
    assert first == second == "Switched to English."
    assert count(services, InboundMessage) == 1


def test_resend_after_reply_cache_loss_is_answered_from_the_database(
    chat: Chat, services: WebhookServices
) -> None:
    xml = chat.payloads.text(chat.openid, "english", msg_id=9002)
    first = chat.send(xml)
    services.redis.flushdb()
    assert chat.send(xml) == first
    assert count(services, InboundMessage) == 1


def test_events_are_deduped_by_sender_time_and_key(chat: Chat, services: WebhookServices) -> None:
    xml = chat.payloads.event(chat.openid, "CLICK", "HELP", create_time=1_770_000_000)
    assert chat.send(xml) == chat.send(xml)
    other_key = chat.payloads.event(chat.openid, "CLICK", "EVENTS", create_time=1_770_000_000)
    chat.send(other_key)
    assert count(services, InboundMessage) == 2


def post_copies_at_once(url: str, payloads: WeChatPayloads, xml: str, copies: int) -> set[str]:
    """Every copy's status and reply, each copy signed afresh as WeChat's re-sends are."""
    deliveries = [payloads.sign(xml) for _ in range(copies)]

    def post(index: int) -> str:
        delivery = deliveries[index]
        response = requests.post(url, params=delivery.query, data=delivery.body, timeout=10)
        reply = payloads.read_reply(response.content).get("Content", "")
        return f"{response.status_code} {reply}"

    with ThreadPoolExecutor(max_workers=copies) as pool:
        return set(pool.map(post, range(copies)))


def test_concurrent_duplicates_are_processed_once(
    payloads: WeChatPayloads, services: WebhookServices
) -> None:
    xml = payloads.text("o-racer", "english", msg_id=31337)
    with serving(create_app(services=services)) as root:
        url = f"{root}/wechat"
        assert post_copies_at_once(url, payloads, xml, 8) == {"200 Switched to English."}
    assert count(services, InboundMessage) == 1
    assert count(services, Resident) == 1


# Redis down ------------------------------------------------------------------------


@pytest.fixture
def services_without_redis(
    database_url: str, services: WebhookServices
) -> Iterator[WebhookServices]:
    config = make_test_config(database_url, "redis://127.0.0.1:1/0")
    broken = build_webhook_services(config, clock=FakeClock())
    yield broken
    broken.close()


def test_webhook_answers_and_dedupes_when_redis_is_down(
    services_without_redis: WebhookServices,
    payloads: WeChatPayloads,
    caplog: pytest.LogCaptureFixture,
) -> None:
    chat = Chat(client=create_app(services=services_without_redis).test_client(), payloads=payloads)
    xml = payloads.text(chat.openid, "帮助", msg_id=5150)
    with caplog.at_level(logging.WARNING, logger="bot.redis_conn"):
        first = chat.send(xml)
        second = chat.send(xml)
        chat.say("需求")  # a flow cannot start without Redis; still an answer
    assert "活动" in first and first == second
    assert count(services_without_redis, InboundMessage) == 2
    degraded = [r.getMessage() for r in caplog.records if "Redis unavailable" in r.getMessage()]
    assert len(degraded) == len(set(degraded))  # once a minute per reason, not once a request


def test_concurrent_duplicates_without_redis_are_stored_once_with_one_reply(
    services_without_redis: WebhookServices, payloads: WeChatPayloads, services: WebhookServices
) -> None:
    """No Redis claim to keep the copies apart: each is handled, the database keeps the
    first to be stored, and the others roll their work back and answer with its reply."""
    xml = payloads.text("o-racer", "english", msg_id=31338)
    with serving(create_app(services=services_without_redis)) as root:
        url = f"{root}/wechat"
        assert post_copies_at_once(url, payloads, xml, 6) == {"200 Switched to English."}
    assert count(services, InboundMessage) == 1
    assert count(services, Resident) == 1
    assert resident(services, "o-racer").language == "en"


# A handler that fails ---------------------------------------------------------------


def test_a_failing_handler_leaves_no_work_behind_and_the_message_kept(
    chat: Chat, services: WebhookServices, monkeypatch: pytest.MonkeyPatch
) -> None:
    def half_done(message: Message, ctx: Context) -> Reply:
        ctx.resident.language = "en"
        ctx.db.flush()
        ctx.start_flow("inbox.write")
        raise RuntimeError("boom")

    chat.say("帮助")
    monkeypatch.setitem(services.router._keywords, "中文", half_done)
    assert "抱歉" in chat.say("中文")
    # Chinese, from the first words: the handler's change went with its rollback, and
    # so did the flow it started.
    assert resident(services, chat.openid).language == "zh"
    assert services.sessions.load(chat.openid) is None
    with services.session_factory() as db:
        kept = db.execute(
            select(InboundMessage).where(InboundMessage.content == "中文")
        ).scalar_one()
    assert kept.reply is not None and "抱歉" in kept.reply


# PostgreSQL restarted --------------------------------------------------------------


def test_webhook_retries_a_delivery_whose_connection_was_lost(
    database_url: str,
    redis_url: str,
    services: WebhookServices,
    payloads: WeChatPayloads,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The webhook does not ping pooled connections (a round trip a message): a message
    that meets a dead one is retried on a fresh connection, not lost."""
    if not database_url.startswith("postgresql"):
        pytest.skip("only a PostgreSQL server can drop the webhook's connections")
    config = make_test_config(database_url, redis_url)
    webhook_services = build_webhook_services(config, clock=services.clock, ping_connections=False)
    chat = Chat(client=create_app(services=webhook_services).test_client(), payloads=payloads)
    try:
        assert "活动" in chat.say("帮助")
        with services.engine.connect() as connection:
            killed = connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        assert killed >= 1
        with caplog.at_level(logging.WARNING, logger="bot.inbound"):
            assert "活动" in chat.say("help")
    finally:
        webhook_services.close()
    assert any("connection was lost" in r.getMessage() for r in caplog.records)
    assert count(services, InboundMessage) == 2


def test_the_webhook_keeps_open_every_postgresql_connection_it_may_open() -> None:
    """As many as SQLAlchemy's default pool may open (5 kept, 10 more), all kept: past
    five deliveries at once, each used to open a backend and close it again."""
    config = make_test_config("postgresql://postgres@127.0.0.1:1/never_opened", "memory://")
    engine = build_webhook_services(config).engine
    assert engine.pool.size() == WEBHOOK_CONNECTIONS == 15


@pytest.mark.parametrize("text", ["帮助", "a <b> & c", "ends ]]> early", "two\nlines", ""])
def test_a_text_reply_is_what_wechatpy_renders(text: str) -> None:
    """The passive reply is written out rather than built by wechatpy, byte for byte
    the same (a ]]> in the text split across two CDATA sections, as before)."""
    fields = {"ToUserName": "gh_account", "FromUserName": "o-resident"}
    wechatpy = TextReply(
        source="gh_account",
        target="o-resident",
        time=1700000000,
        content=text.replace("]]>", "]]]]><![CDATA[>"),
    )
    rendered = render_text_reply(fields, text, now=1700000000.7)
    assert rendered == str(wechatpy.render())
    assert parse_xml(rendered.encode())["Content"] == text.strip()
