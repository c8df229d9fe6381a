"""The token endpoints: ``token`` replaces its token on every call, ``stable_token`` hands
back the one already issued; and the check every other endpoint makes."""

from __future__ import annotations

import secrets
import time
from typing import Any

from bot.wechat.fake_api.replies import Reply, error
from bot.wechat.fake_api.state import FakeWeChat

TOKEN_TTL_S = 7200
# WeChat hands out a new stable token in the last five minutes of the old one's life.
STABLE_RENEW_WINDOW_S = 300


def check_token(fake: FakeWeChat, token: str | None) -> int:
    if not token:
        return 41001
    with fake.lock:
        expires_at = fake.tokens.get(token)
    if expires_at is None:
        return 40001
    return 42001 if expires_at <= time.time() else 0


def _check_credentials(fake: FakeWeChat, grant_type: Any, app_id: Any, secret: Any) -> Reply | None:
    if grant_type != "client_credential":
        return error(40002)
    if app_id != fake.app_id:
        return error(40013)
    if secret != fake.app_secret:
        return error(40125)
    return None


def _issue_token(fake: FakeWeChat) -> str:
    token = f"FAKE_{secrets.token_urlsafe(32)}"
    fake.tokens[token] = time.time() + TOKEN_TTL_S
    return token


def token(fake: FakeWeChat, query: dict[str, str], body: Any) -> Reply:
    """``token``: a new token every call, and the previous one stops working."""
    refused = _check_credentials(
        fake, query.get("grant_type"), query.get("appid"), query.get("secret")
    )
    if refused:
        return refused
    with fake.lock:
        if fake.plain_token is not None:
            fake.tokens.pop(fake.plain_token, None)
        fake.plain_token = _issue_token(fake)
        token = fake.plain_token
    return Reply({"access_token": token, "expires_in": TOKEN_TTL_S})


def stable_token(fake: FakeWeChat, query: dict[str, str], body: Any) -> Reply:
    """``stable_token``: the same token while it has time left; ``force_refresh`` replaces
    it at once. Kept apart from ``token``'s tokens, as WeChat does."""
    if not isinstance(body, dict):
        return error(44002)
    refused = _check_credentials(
        fake, body.get("grant_type"), body.get("appid"), body.get("secret")
    )
    if refused:
        return refused
    force = body.get("force_refresh") is True
    now = time.time()
    with fake.lock:
        current = fake.stable_token
        left = fake.tokens.get(current, now) - now if current else 0.0
        if force or left <= STABLE_RENEW_WINDOW_S:
            if force and current is not None:
                fake.tokens.pop(current, None)
            current = fake.stable_token = _issue_token(fake)
            left = TOKEN_TTL_S
    return Reply({"access_token": current, "expires_in": int(left)})
